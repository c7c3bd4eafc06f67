"""A tile network applied to every patch of a bag; the patients' logits pooled over the patches.

A 1000 px H&E tile at 40x shrunk to the network's input loses the cells; cut into a bag
of patches (:class:`~omicsfusion.transforms.TileBag`), each patch keeps them. MONAI's
``MILModel`` pools patch *features* of its own torchvision ResNet (mean, max or attention);
:class:`PatchBag` pools the *logits* instead, so that it wraps any network of the bundles'
input contract unchanged: the early-fusion DenseNet whose input already holds the omics
channels stacked onto each patch, or :class:`~omicsfusion.networks.MidFusion` with a
pretrained encoder. The mean of patch logits is a bag classifier in its own right
(each patch votes in log-odds) and keeps the checkpoint of a tile network meaningful
patch by patch.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PatchBag"]

_POOLING = ("mean", "max")


class PatchBag(nn.Module):
    """``(B, N, C, *spatial)`` -> ``network`` on the ``B * N`` patches -> ``(B, N, K)`` -> pooled ``(B, K)``.

    Args:
        network: a network from ``(M, C, *spatial)`` to logits ``(M, K)``.
        pooling: ``"mean"`` (mean of the patch logits) or ``"max"`` (per class, the highest patch logit).
    """

    def __init__(self, network: nn.Module, pooling: str = "mean") -> None:
        super().__init__()
        if pooling not in _POOLING:
            raise ValueError(f"pooling must be one of {_POOLING}, got {pooling!r}")
        self.network, self.pooling = network, pooling

    def patch_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of every patch, ``(B, N, K)``."""
        if x.dim() < 5:
            raise ValueError(f"PatchBag expects a batch of bags (B, N, C, H, W[, D]), got shape {list(x.shape)}")
        return self.network(x.flatten(0, 1)).unflatten(0, (x.shape[0], x.shape[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.patch_logits(x)
        return logits.mean(dim=1) if self.pooling == "mean" else logits.amax(dim=1)
