"""What an attribution explains: one weighted sum of logits per sample, and against which baseline.

Captum attributes a scalar per sample. Explaining "the logit of class k" is a
one-hot weight vector; explaining "class i rather than class j" (the decision
between two classes designed to differ in one modality only) is ``e_i - e_j``.
Explaining "class k rather than the classes in ``V_k``" (where in the image
the evidence against the classes it can be told apart from lies) is
``e_k - mean_{j in V_k} e_j``. All run through the same wrapper, whose
weights travel as an additional forward argument so that Integrated
Gradients expands them with its steps.

The stated baseline of the fused input ``[image | omics]``: every image
channel replaced by its own spatial mean (a flat tile of the sample's average
colour: no morphology, same stain), every omics channel by the training mean of
every feature rendered through layout and alignment ("no molecular
deviation"; 0 after a z-score fitted on the training split).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from omicsfusion.interpret.errors import ClassIndexError, SaliencyError

__all__ = [
    "REGION_CONTRASTS",
    "WeightedLogits",
    "channel_groups",
    "check_class_index",
    "class_weights",
    "contrast_weights",
    "fused_baseline",
    "region_versus",
    "versus_matrix",
]

#: the named choices of ``region_contrast`` (a mapping ``{class: [classes]}`` is the fourth)
REGION_CONTRASTS = ("auto", "logit", "others")


class WeightedLogits(nn.Module):
    """``forward(x, weights) = (model(x) * weights).sum(1)``: one scalar per sample.

    Args:
        model: a classifier returning logits ``(B, K)``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return (self.model(x) * weights).sum(dim=1)


def check_class_index(index: int | Sequence[int] | torch.Tensor, class_names: Sequence[str]) -> None:
    """Raise :class:`ClassIndexError` unless every index lies in ``[0, len(class_names))``."""
    values = torch.as_tensor(index).reshape(-1).tolist()
    bad = [int(v) for v in values if not 0 <= int(v) < len(class_names)]
    if bad:
        raise ClassIndexError(
            f"class index {bad[0]} is out of range: the model has {len(class_names)} classes "
            f"{list(class_names)} (valid indices 0..{len(class_names) - 1})"
        )


def class_weights(target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """One-hot ``(B, K)`` weights that select the logit of ``target[b]`` for each sample."""
    return torch.nn.functional.one_hot(torch.as_tensor(target).long(), n_classes).float()


def contrast_weights(target: torch.Tensor, other: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``(B, K)`` weights of ``logit[target] - logit[other]`` for each sample."""
    return class_weights(target, n_classes) - class_weights(other, n_classes)


def versus_matrix(versus: Mapping[int, Sequence[int]], n_classes: int) -> torch.Tensor:
    """``(K, K)`` matrix whose row k weighs ``logit[k] - mean(logit[j] for j in versus[k])``.

    ``matrix[target]`` gives per-sample weights. A class missing from ``versus`` or with an empty
    list is explained by its own logit (row = one-hot).
    """
    matrix = torch.eye(n_classes)
    for k, others in versus.items():
        others = sorted({int(j) for j in others} - {int(k)})
        check_class_index([int(k), *others], [str(i) for i in range(n_classes)])
        if others:
            matrix[int(k), others] -= 1.0 / len(others)
    return matrix


def region_versus(
    region_contrast: str | Mapping[str, Sequence[str]],
    class_names: Sequence[str],
    same_image_pairs: Sequence[Sequence[str]] = (),
) -> dict[int, list[int]]:
    """Class index -> the class indices its region map is contrasted with (absent or empty: its own logit).

    A logit alone is a poor question for "where in the image": when the image moves
    two classes together (both share a morphology) the network may raise neither logit
    and lower the others instead, and the target logit then reads whatever else its
    filters see (in early fusion: tissue under a gene block). Contrasting with the
    classes the image does tell apart asks where the evidence against them lies.

    Args:
        region_contrast: ``"logit"``: own logit; ``"others"``: every other class; ``"auto"``: every
            class except those sharing the target's image (``same_image_pairs``: a phantom's
            omics-only pairs; none known: ``"others"``); a mapping ``{class: [classes]}``: those classes.
        same_image_pairs: pairs of class names whose images look alike.

    Raises:
        SaliencyError: an unknown choice, or a mapping naming classes the model does not have.
    """
    names = [str(c) for c in class_names]
    if isinstance(region_contrast, str):
        if region_contrast not in REGION_CONTRASTS:
            raise SaliencyError(
                f"region_contrast must be one of {REGION_CONTRASTS} or a mapping "
                f"{{class: [classes]}}, got {region_contrast!r}"
            )
    else:
        chosen = {str(k): [str(c) for c in v] for k, v in dict(region_contrast).items()}
        unknown = sorted({c for k, v in chosen.items() for c in [k, *v]} - set(names))
        if unknown:
            raise SaliencyError(f"region_contrast names classes {unknown} that the model does not have ({names})")
        return {names.index(k): [names.index(c) for c in v] for k, v in chosen.items()}
    if region_contrast == "logit":
        return {}
    shares_image: dict[int, set[int]] = {k: {k} for k in range(len(names))}
    if region_contrast == "auto":
        for pair in same_image_pairs:
            members = [names.index(c) for c in pair if c in names]
            for k in members:
                shares_image[k].update(members)
    return {k: [j for j in range(len(names)) if j not in shares_image[k]] for k in range(len(names))}


def fused_baseline(x: torch.Tensor, n_image_channels: int, omics: torch.Tensor | None = None) -> torch.Tensor:
    """The stated baseline: image channels -> their per-sample spatial mean; omics channels -> ``omics`` (default 0).

    ``omics``: ``(B, C_omics, *spatial)``, the training mean rendered onto ``x``'s grid
    (:meth:`omicsfusion.interpret.explainer.FusedExplainer.baseline`).
    """
    baseline = torch.zeros_like(x)
    if omics is not None:
        baseline[:, n_image_channels:] = omics.to(baseline)
    if n_image_channels:
        image = x[:, :n_image_channels]
        spatial = tuple(range(2, x.ndim))
        baseline[:, :n_image_channels] = image.mean(dim=spatial, keepdim=True).expand_as(image)
    return baseline


def channel_groups(x: torch.Tensor, n_image_channels: int) -> tuple[torch.Tensor, int]:
    """Captum ``feature_mask`` (shape of one sample, batch dim 1): image channels group 0, omics channel k group k+1.

    Returns:
        ``(mask, n_groups)``; with no image channels the omics groups start at 0.
    """
    n_channels = x.shape[1]
    offset = 1 if n_image_channels else 0
    group_of = [0] * n_image_channels + [offset + k for k in range(n_channels - n_image_channels)]
    mask = torch.as_tensor(group_of, dtype=torch.long).reshape((1, n_channels) + (1,) * (x.ndim - 2))
    return mask.expand((1, *tuple(x.shape[1:]))).contiguous(), offset + n_channels - n_image_channels
