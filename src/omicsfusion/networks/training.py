"""Training helpers for pretrained encoders: optimizer parameter groups and frozen features for a linear probe."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.utils import convert_to_tensor
from torch import nn

from omicsfusion.networks.encoders import ImageEncoder

__all__ = ["encoder_features", "param_groups"]


def param_groups(network: nn.Module, encoder_lr: float | None = None) -> list[dict]:
    """The trainable parameters of ``network`` as optimizer groups: pretrained backbones at ``encoder_lr``.

    Every :class:`ImageEncoder` backbone inside ``network`` forms one group with learning rate
    ``encoder_lr`` (fine-tuning slower than the freshly initialised rest, which keeps the optimizer's
    ``lr``); frozen parameters are left out. With ``encoder_lr=None`` there is one group.
    """
    encoder_ids = {id(p) for m in network.modules() if isinstance(m, ImageEncoder) for p in m.backbone.parameters()}
    trainable = [p for p in network.parameters() if p.requires_grad]
    if encoder_lr is None:
        return [{"params": trainable}]
    rest = [p for p in trainable if id(p) not in encoder_ids]
    encoder = [p for p in trainable if id(p) in encoder_ids]
    groups = [{"params": rest}, {"params": encoder, "lr": float(encoder_lr)}]
    return [g for g in groups if g["params"]]


@torch.no_grad()
def encoder_features(
    encoder: ImageEncoder,
    images: Sequence[np.ndarray | torch.Tensor] | torch.Tensor,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """The encoder's pooled features ``(n, features)`` of ``n`` images ``(3, H, W)`` in [0, 1], batched, no grad.

    For a linear probe (logistic regression on frozen features, a baseline for the fine-tuned network);
    the encoder is run in eval mode and left in the mode it was in.
    """
    was_training = encoder.training
    encoder.eval().to(device)
    try:
        rows = []
        for start in range(0, len(images), int(batch_size)):
            chunk = images[start : start + int(batch_size)]
            batch = torch.stack([convert_to_tensor(i, dtype=torch.float32, track_meta=False) for i in chunk])
            rows.append(encoder.encode(batch.to(device)).cpu().numpy())
    finally:
        encoder.train(was_training)
    return np.concatenate(rows, axis=0) if rows else np.zeros((0, encoder.features), dtype=np.float32)
