"""A 2-D image encoder applied slice by slice to a volume (2.5-D), its slice features pooled into one.

A pretrained 2-D encoder (:func:`~omicsfusion.networks.pretrained_encoder`) transfers to MRI where a
3-D network must learn from a few hundred volumes: each axial slice is encoded as an image (one
sequence repeated to the encoder's three channels, or three sequences as its three channels), and
the slices' features are averaged, or weighted by gated attention (Ilse et al. 2018) so that slices
through the lesion count more than background.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AttentionPool", "MeanPool", "SliceEncoder"]


class MeanPool(nn.Module):
    """Mean over the slices: ``(N, slices, F)`` -> ``(N, F)``."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.mean(dim=1)


class AttentionPool(nn.Module):
    """Gated attention over the slices (Ilse et al. 2018): ``(N, slices, F)`` -> ``(N, F)``."""

    def __init__(self, features: int, hidden: int = 64) -> None:
        super().__init__()
        self.value, self.gate = nn.Linear(features, hidden), nn.Linear(features, hidden)
        self.score = nn.Linear(hidden, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = self.score(torch.tanh(self.value(h)) * torch.sigmoid(self.gate(h)))
        return (torch.softmax(scores, dim=1) * h).sum(dim=1)


class SliceEncoder(nn.Module):
    """Encode every slice of ``(N, C, H, W, D)`` along the last axis with a 2-D encoder; pool the slices.

    Args:
        encoder: a 2-D network from ``(M, 3, H, W)`` to ``(M, out_features)`` with an ``out_features``
            attribute (an :class:`~omicsfusion.networks.ImageEncoder`).
        pooling: ``"mean"`` or ``"attention"`` over the slices.
        channels: the volume's channels: 1 (repeated to the encoder's three) or 3 (one per sequence).
    """

    def __init__(self, encoder: nn.Module, *, pooling: str = "mean", channels: int = 1) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"SliceEncoder takes 1 or 3 image channels (sequences), got {channels}")
        if pooling not in ("mean", "attention"):
            raise ValueError(f"pooling must be 'mean' or 'attention', got {pooling!r}")
        self.encoder, self.channels = encoder, int(channels)
        self.out_features = int(encoder.out_features)
        self.pool = AttentionPool(self.out_features) if pooling == "attention" else MeanPool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w, d = x.shape
        if c != self.channels:
            raise ValueError(f"SliceEncoder expected {self.channels} image channels, got {c}")
        slices = x.permute(0, 4, 1, 2, 3).reshape(n * d, c, h, w).expand(-1, 3, -1, -1)
        return self.pool(self.encoder(slices).view(n, d, -1))
