"""Image-region saliency restricted to the IMAGE channels of a fused input, one class per method.

MONAI's GradCAM sums a late layer over all its channels, and that layer has
already mixed tissue with the omics blocks that early fusion paints onto the
same pixel grid; its OcclusionSensitivity occludes every channel at once.
The methods here keep the image apart, in the manner of ``monai.visualize``
(a base class holding the network, one subclass per method), and are
registered by name in :data:`REGION_METHODS`:

* ``"ig"`` (:class:`IGRegions`): Integrated Gradients over the image channels
  only, from a Gaussian-blurred copy of the image (the structure removed, the
  intensity kept) with the omics channels held at the sample's values; the
  magnitude is summed over channels and lightly smoothed, since pixel-level
  gradients are speckled. The image part of the fused IG would also move the
  omics channels along its path, and a network that weighs the pixels under a
  gene block strongly then credits the image pixels there too. A blurred
  baseline leaves no difference to credit where the image is flat (Sturmfels
  et al., Distill 2020, "Visualizing the impact of feature attribution baselines");
* ``"occlusion"`` (:class:`OcclusionRegions`): captum ``Occlusion`` sliding a
  window over the image channels only, the omics channels held fixed;
* ``"gradcam"`` / ``"gradcampp"`` (:class:`GradCAMRegions`, :class:`GradCAMppRegions`):
  ``monai.visualize.GradCAM`` / ``GradCAMpp`` on a named layer (the network sees both modalities there).

Maps are ``(B, *spatial)`` float32 arrays in the network's orientation
(the orientation of the loaded image tensor). Why these defaults were chosen,
with the measurements: docs/interpret.md.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from omicsfusion.interpret.errors import SaliencyError, TargetLayerError
from omicsfusion.interpret.modalities import integrated_gradients
from omicsfusion.interpret.targets import WeightedLogits, fused_baseline
from omicsfusion.networks import PatchBag

__all__ = [
    "REGION_BASELINES",
    "REGION_METHODS",
    "GradCAMRegions",
    "GradCAMppRegions",
    "IGRegions",
    "OcclusionRegions",
    "RegionMethod",
    "blurred",
    "check_target_layer",
    "default_sigma",
    "default_target_layer",
    "gradcam_maps",
    "ig_image_maps",
    "layer_names",
    "occlusion_maps",
    "region_methods",
    "register",
    "smoothed_magnitude",
]

#: region method classes by name (filled by :func:`register`)
REGION_METHODS: dict[str, type[RegionMethod]] = {}
#: baselines of the "ig" region map (see :func:`ig_image_maps`)
REGION_BASELINES = ("blur", "mean", "fused")


def layer_names(model: nn.Module) -> list[str]:
    """Names of every sub-module (what ``target_layer`` may be)."""
    return [name for name, _ in model.named_modules() if name]


def check_target_layer(model: nn.Module, target_layer: str) -> str:
    """Return ``target_layer`` or raise :class:`TargetLayerError` listing the valid names."""
    names = layer_names(model)
    if target_layer not in names:
        raise TargetLayerError(
            f"target layer {target_layer!r} does not exist in {type(model).__name__}; valid layer names: "
            f"{', '.join(names)}"
        )
    return target_layer


def default_target_layer(model: nn.Module, x: torch.Tensor) -> str:
    """The last module (in execution order) whose output is still a spatial map larger than 1 pixel.

    For MONAI's DenseNet121 that is ``class_layers.relu`` (the final feature
    map before global pooling), the layer MONAI's own GradCAM examples use.
    A module called more than once per forward (one activation instance shared by
    every block, as in EfficientNet-Lite) is passed over: CAM's hooks would pair
    its last activation with the gradient of another call.
    """
    spatial: list[str] = []
    calls: Counter[str] = Counter()
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(_m, _i, out, name=name):
            calls[name] += 1
            if isinstance(out, torch.Tensor) and out.ndim == x.ndim and int(np.prod(out.shape[2:])) > 1:
                spatial.append(name)

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for handle in handles:
            handle.remove()
    spatial = [name for name in spatial if calls[name] == 1]
    if not spatial:
        raise TargetLayerError(f"{type(model).__name__} has no layer with a spatial output to run GradCAM on")
    return spatial[-1]


class _WeightedColumn(nn.Module):
    """``forward(x) = (logits * weights).sum`` as a ``(B, 1)`` output, so one CAM call serves a whole batch."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.model(x) * self.weights).sum(dim=1, keepdim=True)


def gradcam_maps(
    model: nn.Module, x: torch.Tensor, weights: torch.Tensor, target_layer: str, plus: bool = False
) -> np.ndarray:
    """GradCAM (or GradCAM++) of the weighted logits ``weights[b]`` per sample, upsampled to the input grid.

    MONAI's CAM takes one class index per call; wrapping the model so that its
    single output column is each sample's explained score (a one-hot row: that
    class's logit; a contrast row: a difference of logits) lets one forward and
    backward serve the whole batch (GradCAM++ runs sample by sample: MONAI's
    GradCAMpp broadcasts the class score against the wrong axis for batches
    > 1). The CAM runs on a copy of the model: ``ModelWithHooks`` registers
    hooks it never removes. The copy's weights all require gradients, so that a
    frozen stem (a pretrained encoder trained as fixed features) still passes
    gradients to its target layer; the model itself is left as it is.
    """
    from monai.visualize import GradCAM, GradCAMpp

    check_target_layer(model, target_layer)
    wrapped = _WeightedColumn(copy.deepcopy(model).eval().requires_grad_(True))
    cam = (GradCAMpp if plus else GradCAM)(wrapped, target_layers=f"model.{target_layer}", postprocessing=lambda m: m)
    weights = weights.to(device=x.device, dtype=x.dtype)
    out = np.zeros((x.shape[0], *tuple(x.shape[2:])), dtype=np.float32)
    chunks = torch.arange(x.shape[0]).split(1 if plus else x.shape[0])
    for chunk in chunks:
        wrapped.weights = weights[chunk.to(x.device)]
        maps = cam(x[chunk.to(x.device)], class_idx=0)
        out[chunk.numpy()] = maps[:, 0].detach().float().cpu().numpy()
    return out


class _ImageChannels(nn.Module):
    """``forward(image, omics, weights)``: the fused model seen as a function of the image channels only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.explained = WeightedLogits(model)

    def forward(self, image: torch.Tensor, omics: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.explained(torch.cat([image, omics], dim=1), weights)


def occlusion_maps(
    model: nn.Module,
    x: torch.Tensor,
    weights: torch.Tensor,
    baseline: torch.Tensor,
    n_image_channels: int,
    window: int | Sequence[int] = 8,
    stride: int | Sequence[int] = 4,
) -> np.ndarray:
    """Occlusion over the image channels only: drop of the explained score when a window is set to baseline."""
    from captum.attr import Occlusion

    spatial_dims = x.ndim - 2
    window = (int(window),) * spatial_dims if isinstance(window, int) else tuple(int(w) for w in window)
    stride = (int(stride),) * spatial_dims if isinstance(stride, int) else tuple(int(s) for s in stride)
    image, omics = x[:, :n_image_channels], x[:, n_image_channels:]
    with torch.no_grad():
        attr = Occlusion(_ImageChannels(model)).attribute(
            image,
            sliding_window_shapes=(n_image_channels, *window),
            strides=(n_image_channels, *stride),
            baselines=baseline[:, :n_image_channels],
            additional_forward_args=(omics, weights),
            perturbations_per_eval=16,
        )
    return attr.sum(dim=1).detach().float().cpu().numpy()


def default_sigma(spatial: Sequence[int]) -> float:
    """Gaussian sigma in pixels for region maps: 1/16 of the smallest spatial edge, at least 1."""
    return max(1.0, min(int(n) for n in spatial) / 16.0)


def blurred(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(B, C, *spatial)`` with every channel Gaussian-blurred over its spatial axes (the region IG baseline)."""
    values = image.detach().double().cpu().numpy()
    sigmas = (0.0, 0.0) + (float(sigma),) * (image.ndim - 2)
    return torch.as_tensor(ndimage.gaussian_filter(values, sigmas), dtype=image.dtype, device=image.device)


def ig_image_maps(
    model: nn.Module,
    x: torch.Tensor,
    weights: torch.Tensor,
    n_image_channels: int,
    n_steps: int = 32,
    internal_batch_size: int | None = None,
    baseline: str = "blur",
    sigma: float | None = None,
) -> np.ndarray:
    """IG of the weighted logits over the image channels (omics held at the sample's values, except ``"fused"``).

    ``"blur"`` credits texture and edges (tissue morphology); ``"mean"`` also credits
    low-frequency changes such as the size of a dark ventricle, which a blurred baseline keeps.

    Args:
        baseline: ``"blur"``: the image Gaussian-blurred by ``sigma`` (texture and edges are credited,
            smooth regions are not); ``"mean"``: each channel's spatial mean (every deviation is credited);
            ``"fused"``: the image part of IG over the fused input from the image channel means and omics
            channels at 0, so the omics move along the path too.
        sigma: blur of the baseline and smoothing of the map, in pixels (default :func:`default_sigma`).
    """
    from captum.attr import IntegratedGradients

    if baseline not in REGION_BASELINES:
        raise ValueError(f"region baseline must be one of {REGION_BASELINES}, got {baseline!r}")
    sigma = default_sigma(x.shape[2:]) if sigma is None else float(sigma)
    image, omics = x[:, :n_image_channels], x[:, n_image_channels:]
    if baseline == "fused":
        attr = integrated_gradients(
            model, x, weights, fused_baseline(x, n_image_channels), n_steps, internal_batch_size
        ).attr[:, :n_image_channels]
        return smoothed_magnitude(attr, sigma)
    start = blurred(image, sigma) if baseline == "blur" else fused_baseline(x, n_image_channels)[:, :n_image_channels]
    attr = IntegratedGradients(_ImageChannels(model)).attribute(
        image,
        baselines=start,
        additional_forward_args=(omics, weights),
        n_steps=int(n_steps),
        internal_batch_size=internal_batch_size,
    )
    return smoothed_magnitude(attr, sigma)


def smoothed_magnitude(attr: torch.Tensor, sigma: float) -> np.ndarray:
    """``(B, *spatial)``: |attribution| summed over channels, Gaussian-smoothed.

    Magnitude, not signed evidence: with channel-wise normalised stain channels the same
    structure pushes one channel up and another down, so a signed sum cancels it.
    """
    maps = attr.abs().sum(dim=1).detach().double().cpu().numpy()
    if sigma > 0:
        maps = np.stack([ndimage.gaussian_filter(m, float(sigma)) for m in maps])
    return maps.astype(np.float32)


class RegionMethod:
    """Base of the region methods: holds the network; ``__call__(x, weights, n_image_channels)`` returns the maps.

    ``weights`` ``(B, K)`` say what each sample's map explains (see :mod:`omicsfusion.interpret.targets`);
    subclasses implement :meth:`compute_map`.

    Args:
        nn_module: the fused classifier (logits ``(B, K)``).
    """

    #: the name the method is registered and written under (``pointing_<name>`` in ``samples.csv``)
    name: str = ""

    def __init__(self, nn_module: nn.Module) -> None:
        self.nn_module = nn_module

    def compute_map(self, x: torch.Tensor, weights: torch.Tensor, n_image_channels: int) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement compute_map")

    def __call__(self, x: torch.Tensor, weights: torch.Tensor, n_image_channels: int) -> np.ndarray:
        return self.compute_map(x, weights, n_image_channels)


def register(cls: type[RegionMethod]) -> type[RegionMethod]:
    """Class decorator: make ``cls`` available under ``cls.name`` in :data:`REGION_METHODS`."""
    REGION_METHODS[cls.name] = cls
    return cls


@register
class IGRegions(RegionMethod):
    """Integrated Gradients over the image channels (:func:`ig_image_maps`).

    Args:
        n_steps: IG steps.
        internal_batch_size: inputs per forward pass inside IG (``None``: all at once).
        baseline: ``"blur"``, ``"mean"`` or ``"fused"`` (see :func:`ig_image_maps`).
        sigma: blur and smoothing in pixels (default :func:`default_sigma`).
    """

    name = "ig"

    def __init__(
        self,
        nn_module: nn.Module,
        n_steps: int = 32,
        internal_batch_size: int | None = None,
        baseline: str = "blur",
        sigma: float | None = None,
    ) -> None:
        super().__init__(nn_module)
        if baseline not in REGION_BASELINES:
            raise SaliencyError(f"region_baseline must be one of {REGION_BASELINES}, got {baseline!r}")
        self.n_steps = int(n_steps)
        self.internal_batch_size = None if internal_batch_size is None else int(internal_batch_size)
        self.baseline = baseline
        self.sigma = sigma

    def compute_map(self, x: torch.Tensor, weights: torch.Tensor, n_image_channels: int) -> np.ndarray:
        return ig_image_maps(
            self.nn_module,
            x,
            weights,
            n_image_channels,
            self.n_steps,
            self.internal_batch_size,
            self.baseline,
            self.sigma,
        )


@register
class OcclusionRegions(RegionMethod):
    """Occlusion of the image channels against the stated baseline (:func:`occlusion_maps`).

    Args:
        window, stride: occlusion window and stride in pixels.
    """

    name = "occlusion"

    def __init__(self, nn_module: nn.Module, window: int | Sequence[int] = 8, stride: int | Sequence[int] = 4) -> None:
        super().__init__(nn_module)
        self.window, self.stride = window, stride

    def compute_map(self, x: torch.Tensor, weights: torch.Tensor, n_image_channels: int) -> np.ndarray:
        return occlusion_maps(
            self.nn_module, x, weights, fused_baseline(x, n_image_channels), n_image_channels, self.window, self.stride
        )


@register
class GradCAMRegions(RegionMethod):
    """GradCAM of the explained score on ``target_layer`` (:func:`gradcam_maps`), upsampled to the input grid.

    Args:
        target_layer: a sub-module name; ``None``: the network's last spatial layer for the input
            (:func:`default_target_layer`), found anew for each input, so the method holds no run state.
    """

    name = "gradcam"
    plus = False

    def __init__(self, nn_module: nn.Module, target_layer: str | None = None) -> None:
        super().__init__(nn_module)
        self.target_layer = None if target_layer is None else check_target_layer(nn_module, target_layer)

    def layer(self, x: torch.Tensor) -> str:
        """The layer the maps of ``x`` are computed on."""
        return self.target_layer or default_target_layer(self.nn_module, x)

    def compute_map(self, x: torch.Tensor, weights: torch.Tensor, n_image_channels: int) -> np.ndarray:
        return gradcam_maps(self.nn_module, x, weights, self.layer(x), plus=self.plus)


@register
class GradCAMppRegions(GradCAMRegions):
    """GradCAM++ (``monai.visualize.GradCAMpp``, sample by sample) on ``target_layer``."""

    name = "gradcampp"
    plus = True


def region_methods(
    names: Sequence[str], nn_module: nn.Module, options: Mapping[str, Mapping] | None = None
) -> dict[str, RegionMethod]:
    """Region methods by name, in order (the first is the map a run writes), built with ``options[name]``.

    A :class:`~omicsfusion.networks.PatchBag` is explained patch by patch: the methods are built on its
    patch network.

    Raises:
        SaliencyError: a name that is not registered (the message lists the registered ones).
    """
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in REGION_METHODS]
    if unknown:
        raise SaliencyError(f"unknown region method(s) {unknown}; choose from {tuple(REGION_METHODS)}")
    options = options or {}
    if isinstance(getattr(nn_module, "module", nn_module), PatchBag):
        nn_module = getattr(nn_module, "module", nn_module).network
    return {n: REGION_METHODS[n](nn_module, **dict(options.get(n) or {})) for n in names}
