"""Omics-type contribution: channel-group attribution of the fused input, as shares that sum to one.

Groups: all image channels together (group "image"), then one group per
omics channel; a mask channel of the missing indicator (``<type>_missing``) is a
group of its own, so its share says how much the model read where cells were
empty, apart from what it read in the values. Two estimators, both against the baseline of
:func:`omicsfusion.interpret.targets.fused_baseline`:

* Integrated Gradients over the whole input; a group's contribution is the
  sum of its pixels' attributions. By completeness the group sums add up to
  ``f(x) - f(baseline)`` up to the reported convergence delta.
* FeatureAblation with a ``feature_mask`` that puts each group under one
  id: a group's contribution is ``f(x) - f(x with that group at baseline)``.

Shares are ``|contribution_g| / sum_g |contribution_g|`` per sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from omicsfusion.interpret.targets import WeightedLogits, channel_groups

__all__ = [
    "GroupAttribution",
    "ablation_groups",
    "group_names",
    "group_sums",
    "integrated_gradients",
    "shares",
]


@dataclass
class GroupAttribution:
    """Attributions of one batch.

    Attributes:
        attr: ``(B, C, *spatial)`` IG attribution of the fused input.
        delta: ``(B,)`` IG convergence delta (``sum(attr) - (f(x) - f(baseline))``).
        gap: ``(B,)`` ``f(x) - f(baseline)``, to judge the delta against.
    """

    attr: torch.Tensor
    delta: np.ndarray
    gap: np.ndarray


def group_names(n_image_channels: int, omics_types: Sequence[str]) -> list[str]:
    """``["image", *omics_types]`` (without "image" when there are no image channels)."""
    return (["image"] if n_image_channels else []) + list(omics_types)


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    weights: torch.Tensor,
    baseline: torch.Tensor,
    n_steps: int = 32,
    internal_batch_size: int | None = None,
) -> GroupAttribution:
    """Captum IG of the weighted logits with the stated baseline, convergence delta included."""
    from captum.attr import IntegratedGradients

    explained = WeightedLogits(model)
    attr, delta = IntegratedGradients(explained).attribute(
        x,
        baselines=baseline,
        additional_forward_args=(weights,),
        n_steps=int(n_steps),
        internal_batch_size=internal_batch_size,
        return_convergence_delta=True,
    )
    with torch.no_grad():
        gap = explained(x, weights) - explained(baseline, weights)
    return GroupAttribution(
        attr.detach(), delta.detach().cpu().numpy().astype(float), gap.detach().cpu().numpy().astype(float)
    )


def group_sums(attr: torch.Tensor, n_image_channels: int) -> np.ndarray:
    """``(B, G)`` contribution of each channel group: image channels summed together, then each omics channel."""
    per_channel = attr.flatten(2).sum(dim=2).double().cpu().numpy()
    omics = per_channel[:, n_image_channels:]
    if not n_image_channels:
        return omics
    return np.concatenate([per_channel[:, :n_image_channels].sum(axis=1, keepdims=True), omics], axis=1)


def ablation_groups(
    model: nn.Module, x: torch.Tensor, weights: torch.Tensor, baseline: torch.Tensor, n_image_channels: int
) -> np.ndarray:
    """``(B, G)`` FeatureAblation contribution of each group (one forward per group, batched)."""
    from captum.attr import FeatureAblation

    mask, n_groups = channel_groups(x, n_image_channels)
    with torch.no_grad():
        attr = FeatureAblation(WeightedLogits(model)).attribute(
            x,
            baselines=baseline,
            additional_forward_args=(weights,),
            feature_mask=mask,
            perturbations_per_eval=n_groups,
        )
    flat_mask = mask[0].reshape(-1)
    first = [int(torch.nonzero(flat_mask == g)[0]) for g in range(n_groups)]
    return attr.reshape(attr.shape[0], -1)[:, first].double().cpu().numpy()


def shares(contributions: np.ndarray) -> np.ndarray:
    """``|c_g| / sum |c_g|`` per row (uniform where every contribution is zero)."""
    magnitude = np.abs(np.asarray(contributions, dtype=float))
    total = magnitude.sum(axis=1, keepdims=True)
    uniform = np.full_like(magnitude, 1.0 / magnitude.shape[1])
    return np.where(total > 0, magnitude / np.where(total > 0, total, 1.0), uniform)
