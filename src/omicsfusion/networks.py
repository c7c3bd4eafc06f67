"""Position-aware wrapper for stock MONAI classifiers.

An OT layout carries its information in *where* a feature sits: gene module k
always fills the same block of pixels of its omics channel. Classifiers that
end in global average pooling (DenseNet121, ResNet) are close to translation
invariant, so on cohorts of a few hundred samples they memorise per-sample
noise instead of learning "block k is up". On the pan-cancer phantom (60
patients per class) an omics-only DenseNet121 reached 0.46 validation accuracy
where a logistic regression on the same pixels reached 0.73; appending
normalised coordinate channels to the input (CoordConv, Liu et al. 2018; MONAI's
``AddCoordinateChannels`` does the same per sample) lifted the fused
DenseNet121 from 0.79 to 0.90 (0.95-0.975 with 100 patients per class, where
image-only stays at 0.73-0.80).

The coordinates are appended inside the network, not by a transform, so the
network's input stays "image channels + one channel per omics type": the
bundle metadata, attribution (coordinates are constants, never attributed),
TorchScript export and MONAI Deploy / Label see the same contract.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CoordinateChannels", "WithCoordinates"]


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
    """Feed ``backbone`` its input plus the coordinate channels of every spatial axis.

    Args:
        backbone: a stock network built with ``in_channels`` = data channels + spatial dims
            (e.g. ``DenseNet121(spatial_dims=2, in_channels=3 + n_omics + 2, ...)``).
    """

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.coordinates = CoordinateChannels()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.coordinates(x))
