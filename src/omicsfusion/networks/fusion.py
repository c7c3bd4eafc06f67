"""Fusion networks around stock MONAI classifiers for image + omics-channel inputs.

Every network here takes the bundles' one input contract, ``(N, image channels +
one channel per omics type, *spatial)``, so bundle metadata, attribution,
TorchScript export and MONAI Deploy / Label see the same thing whichever is used.

- :class:`WithCoordinates` (early fusion): one backbone reads all channels plus
  normalised coordinate channels (CoordConv, Liu et al. 2018), because a
  backbone that ends in global pooling is close to translation invariant while
  an OT layout says *which* feature a value is by *where* it sits.
- :class:`MidFusion`: separate stems for the image and the omics channels,
  their features concatenated before one linear head, with modality dropout,
  so that neither modality can drown the other (docs/benchmark.md, "Fusion");
  or (``fusion="late"``) one head per stem, their logits averaged, so that the
  fused prediction cannot lean on a modality its own head cannot predict from.
- :func:`omics_cnn`: the omics stem, a small MONAI ``Classifier`` with a
  flatten + linear head (position aware); the benchmark's ``ot_cnn`` is the same
  network, so what is measured there is what the bundles train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.networks.nets import Classifier
from torch import nn

__all__ = ["CoordinateChannels", "MidFusion", "WithCoordinates", "omics_cnn"]


class CoordinateChannels(nn.Module):
    """Append one channel per spatial axis holding that axis's coordinate, scaled to [-1, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"expected a batch of images (N, C, *spatial), got shape {x.shape}")
        axes = [torch.linspace(-1.0, 1.0, n, device=x.device, dtype=x.dtype) for n in x.shape[2:]]
        grids = torch.meshgrid(axes, indexing="ij")
        coords = torch.stack(grids, dim=0).unsqueeze(0)
        sizes = [x.shape[0]] + [-1] * (x.dim() - 1)
        return torch.cat([x, coords.expand(sizes)], dim=1)


class WithCoordinates(nn.Module):
    """Feed a backbone its input plus the coordinate channels of every spatial axis.

    Args:
        backbone: a stock network, or a callable (e.g. a MONAI config block with
            ``"_mode_": "callable"``) that builds one given its input channel count
            as ``channels_arg``; a built network must already take the data
            channels + ``spatial_dims``.
        in_channels: data channels (image + omics); needed when ``backbone`` is a callable.
        spatial_dims: 2 or 3; needed when ``backbone`` is a callable.
        channels_arg: the input-channel argument of the backbone's constructor
            (``in_channels`` for DenseNet, ``n_input_channels`` for ResNet).
    """

    def __init__(
        self,
        backbone: nn.Module | Callable[..., nn.Module],
        in_channels: int | None = None,
        spatial_dims: int | None = None,
        channels_arg: str = "in_channels",
    ) -> None:
        super().__init__()
        self.coordinates = CoordinateChannels()
        if not isinstance(backbone, nn.Module):
            if in_channels is None or spatial_dims is None:
                raise ValueError("WithCoordinates needs in_channels and spatial_dims to build its backbone")
            backbone = backbone(**{channels_arg: int(in_channels) + int(spatial_dims)})
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.coordinates(x))


def omics_cnn(
    in_shape: Sequence[int], out_features: int, dropout: float = 0.2, channels: Sequence[int] = (16, 32)
) -> nn.Module:
    """A two-stage strided MONAI ``Classifier`` for omics images ``(C, H, W)`` or ``(C, H, W, D)``.

    Small on purpose (cohorts of a few hundred to a few thousand samples); the
    head is flatten + linear rather than global pooling, because in a layout
    image *where* a value sits says *which* feature it is. ``channels`` are the two
    stages' widths.
    """
    in_shape = tuple(int(n) for n in in_shape)
    grid = in_shape[1:]
    # stride only while the grid is still large enough to be halved
    strides = tuple(2 if min(grid) >= 4 * 2**i else 1 for i in range(2))
    return Classifier(
        in_shape=in_shape,
        classes=int(out_features),
        channels=tuple(int(c) for c in channels),
        strides=strides,
        num_res_units=0,
        act="RELU",
        norm="BATCH",
        dropout=dropout,
    )


_FUSIONS = ("concat", "late")


def _linear_head(in_features: int, num_classes: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Linear(in_features, num_classes))


class MidFusion(nn.Module):
    """Image stem and omics stem side by side, joined by one shared head or by one head per stem.

    The first ``image_channels`` input channels go to ``image_net``, the rest to
    ``omics_net``; either may be None for a single-modality run of the same bundle.
    The omics stem runs first, so the last spatial layer in execution order
    (GradCAM's default target) is the image stem's.

    ``fusion="concat"``: the stems' features concatenated before one linear head (``head``),
    which may lean on either modality. ``fusion="late"``: one ReLU + linear head per stem
    (``heads["omics"]``, ``heads["image"]``), the fused logits the *mean* of the per-stem
    logits, so no modality's evidence can be weighed away by a head that learnt to prefer the
    other. The mean rather than a sum of log-softmax: a sample scored by one head alone (modality
    dropout, :meth:`modality_logits`) is then on the fused output's scale, and the output stays a
    logit for any loss (its softmax is the tempered product of the heads' softmaxes).

    Args:
        image_channels: how many leading input channels are image channels.
        features: output size of each stem.
        num_classes: logits.
        image_net: stock network on the image channels, ending in ``features`` outputs, or None
            (a disabled config block is left out, hence the default).
        omics_net: network on the omics channels (e.g. :func:`omics_cnn`) ending in ``features``, or None.
        modality_dropout: per training sample, probability that one stem (chosen at random) is
            dropped, so each modality must predict on its own: "concat" zeroes its features,
            "late" leaves its logits out of the mean (the other head alone scores the sample).
        fusion: "concat" or "late" (see above).
    """

    def __init__(
        self,
        image_channels: int,
        features: int,
        num_classes: int,
        image_net: nn.Module | None = None,
        omics_net: nn.Module | None = None,
        modality_dropout: float = 0.0,
        *,
        fusion: str = "concat",
    ) -> None:
        super().__init__()
        if image_net is None and omics_net is None:
            raise ValueError("MidFusion needs an image_net, an omics_net or both")
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {modality_dropout}")
        if fusion not in _FUSIONS:
            raise ValueError(f"fusion must be one of {_FUSIONS}, got {fusion!r}")
        self.image_net, self.omics_net = image_net, omics_net
        self.image_channels = int(image_channels) if image_net is not None else 0
        self.modality_dropout = float(modality_dropout)
        self.fusion = fusion
        # the stems present, in execution order (the omics stem first)
        self.modalities = [name for name, net in (("omics", omics_net), ("image", image_net)) if net is not None]
        features, num_classes = int(features), int(num_classes)
        late = fusion == "late"
        self.head = None if late else _linear_head(len(self.modalities) * features, num_classes)
        self.heads = nn.ModuleDict(
            {name: _linear_head(features, num_classes) for name in self.modalities} if late else {}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = self._stem_features(x)
        kept: torch.Tensor | None = None
        if self.training and self.modality_dropout > 0 and len(parts) == 2:
            kept = self._kept(parts[0])
        if self.head is not None:
            if kept is not None:
                parts = [p * kept[:, k].unsqueeze(1) for k, p in enumerate(parts)]
            return self.head(torch.cat(parts, dim=1))
        logits = []
        for k, head in enumerate(self.heads.values()):
            logits.append(head(parts[k]))
        stacked = torch.stack(logits, dim=1)
        if kept is None:
            return stacked.mean(dim=1)
        weights = kept.unsqueeze(2)
        return (stacked * weights).sum(dim=1) / weights.sum(dim=1)

    def modality_logits(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of each modality alone, ``{"omics": ..., "image": ...}`` (the stems present).

        "late": each head on its own stem; "concat": the shared head with the other stem's
        features zeroed (what modality dropout trains it to answer). To score each modality
        alone, or to see which one drove a prediction.
        """
        parts = self._stem_features(x)
        if self.head is None:
            return {name: self.heads[name](part) for name, part in zip(self.modalities, parts, strict=True)}
        return {
            name: self.head(torch.cat([p if j == k else torch.zeros_like(p) for j, p in enumerate(parts)], dim=1))
            for k, name in enumerate(self.modalities)
        }

    def _stem_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        parts = []
        if self.omics_net is not None:
            parts.append(self.omics_net(x[:, self.image_channels :]))
        if self.image_net is not None:
            parts.append(self.image_net(x[:, : self.image_channels]))
        return parts

    def _kept(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, 2)`` 1 where a sample keeps a stem, 0 where dropped; at most one stem of a sample is dropped."""
        n = features.shape[0]
        dropped = torch.rand(n, device=features.device) < self.modality_dropout
        which = torch.randint(0, 2, (n,), device=features.device)
        return torch.stack([~(dropped & (which == k)) for k in range(2)], dim=1).to(features.dtype)
