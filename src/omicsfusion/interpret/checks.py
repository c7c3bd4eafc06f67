"""Attributions checked against the planted truth of a phantom.

A phantom's ``ground_truth.json`` names the informative features per omics
type (and which classes carry them), the pairs of classes that differ only in
omics or only in image, and ``masks/<sample>`` marks each sample's planted
region; :func:`planted_truth` reads the phantoms' two ways of writing it into
one shape. Four checks:

* pointing game: the region map's maximum lies inside the planted region;
* gene recovery: precision@k of a class's gene ranking, k = number planted.
  Scored for every planted set, but only NECESSARY evidence can be required
  of a faithful attribution: a set that merely repeats what the image shows,
  or one of two sets that each split an omics-only pair on their own, may be
  ignored by a model that uses the alternative. :func:`pair_gene_check`
  therefore requires, for each omics-only pair, one of the sets that separate
  it to be recovered;
* modality attribution: for the decision between two classes that differ only
  in omics, the omics share beats the image share (and the reverse for
  image-only pairs);
* faithfulness: deleting (setting to the training mean) the top-attributed
  genes lowers the true-class probability more than deleting as many random
  genes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from omicsfusion.interpret.genes import render_omics
from omicsfusion.preprocessing.preprocess import OmicsPreprocessor
from omicsfusion.transforms import AlignToReference

__all__ = [
    "POINTING_TARGET",
    "PRECISION_TARGET",
    "deletion_curves",
    "pair_gene_check",
    "pair_modality_check",
    "planted_truth",
    "pointing_hits",
    "precision_at_k",
    "random_ranking_precision",
]


#: targets of the planted-truth checks (issue #7): share of hits, precision@k
POINTING_TARGET = 0.8
PRECISION_TARGET = 0.8

#: omics type of the spatial phantom's expression table (``omicsfusion.prepare.spot_tables`` calls it "rna")
SPOT_OMICS_TYPE = "rna"


def planted_truth(truth: Mapping) -> dict:
    """Feature sets and class pairs of a phantom's ground truth, whichever phantom wrote it.

    The pan-cancer and neuro phantoms list ``planted`` sets (omics type, features,
    carrier classes) and ``omics_only_pairs`` / ``image_only_pairs``; the spatial
    phantom lists ``informative_genes`` per class of its one expression table and
    one ``ambiguous_pair`` (same morphology, different expression: an omics-only pair).

    Returns:
        ``{"feature_sets": [{"name", "omics", "classes", "features"}], "omics_only_pairs": [[a, b], ...],
        "image_only_pairs": [...]}``; ``name`` is the omics type, or ``omics:class`` where one
        omics type carries a set per class.
    """
    sets = [
        {
            "name": str(p["omics"]),
            "omics": str(p["omics"]),
            "classes": [str(c) for c in p["classes"]],
            "features": [str(f) for f in p["features"]],
        }
        for p in truth.get("planted", [])
    ]
    sets += [
        {
            "name": f"{SPOT_OMICS_TYPE}:{c}",
            "omics": SPOT_OMICS_TYPE,
            "classes": [str(c)],
            "features": [str(f) for f in features],
        }
        for c, features in truth.get("informative_genes", {}).items()
    ]
    omics_only = [list(p) for p in truth.get("omics_only_pairs", [])]
    if truth.get("ambiguous_pair"):
        omics_only.append(list(truth["ambiguous_pair"]))
    return {
        "feature_sets": sets,
        "omics_only_pairs": omics_only,
        "image_only_pairs": [list(p) for p in truth.get("image_only_pairs", [])],
    }


def pointing_hits(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``(B,)`` bool: whether each map's maximum falls inside its mask (same orientation and shape)."""
    maps = np.asarray(maps)
    masks = np.asarray(masks).astype(bool)
    if maps.shape != masks.shape:
        raise ValueError(f"saliency maps {maps.shape} and masks {masks.shape} differ in shape")
    flat = maps.reshape(maps.shape[0], -1)
    peak = flat.argmax(axis=1)
    return masks.reshape(masks.shape[0], -1)[np.arange(len(peak)), peak]


def precision_at_k(ranked: Sequence[str], informative: Sequence[str], k: int | None = None) -> float:
    """Share of the top ``k`` ranked features that are informative (``k`` defaults to their number)."""
    k = len(informative) if k is None else int(k)
    return len(set(map(str, ranked[:k])) & set(map(str, informative))) / float(k)


def random_ranking_precision(
    features: Sequence[str], informative: Sequence[str], n_draws: int = 200, seed: int = 0
) -> float:
    """Mean precision@k of random rankings of ``features``: what a layout that carries no feature identity gives."""
    rng = np.random.default_rng(seed)
    features = np.asarray(features, dtype=str)
    return float(np.mean([precision_at_k(list(rng.permutation(features)), informative) for _ in range(n_draws)]))


def pair_gene_check(
    precision: Mapping[str, float],
    feature_sets: Sequence[Mapping],
    omics_only_pairs: Sequence[Sequence[str]],
    target: float = PRECISION_TARGET,
) -> list[dict]:
    """Per omics-only pair: is one of the planted sets that separate it recovered (precision@k >= ``target``)?

    A set separates a pair when exactly one class of the pair carries it; either such
    set is enough for a model to split the pair, so the best one must reach the target.

    Args:
        precision: set name -> precision@k of its carrier classes' ranking (sets not scored are absent).
        feature_sets: ``planted_truth(...)["feature_sets"]``.
    """
    rows = []
    for a, b in omics_only_pairs:
        separating = [
            s["name"] for s in feature_sets if (a in s["classes"]) != (b in s["classes"]) and s["name"] in precision
        ]
        if not separating:
            continue
        best = max(separating, key=lambda name: precision[name])
        rows.append(
            {
                "pair": f"{a}/{b}",
                "separating_sets": separating,
                "best_set": best,
                "precision_at_k": float(precision[best]),
                "target": target,
                "passed": bool(precision[best] >= target),
            }
        )
    return rows


def pair_modality_check(
    table: pd.DataFrame, omics_only_pairs: Sequence[Sequence[str]], image_only_pairs: Sequence[Sequence[str]]
) -> pd.DataFrame:
    """Per class of each planted pair: image vs omics share of the pair contrast, and whether the expected one wins.

    Args:
        table: one row per class with columns ``image_share`` and ``omics_share`` (class names as index).
    """
    rows = []
    for kind, pairs, expected in (("omics_only", omics_only_pairs, "omics"), ("image_only", image_only_pairs, "image")):
        for pair in pairs:
            for name in pair:
                if name not in table.index:
                    continue
                image, omics = float(table.loc[name, "image_share"]), float(table.loc[name, "omics_share"])
                winner = "omics" if omics > image else "image"
                rows.append(
                    {
                        "class": name,
                        "pair": "/".join(pair),
                        "pair_kind": kind,
                        "image_share": image,
                        "omics_share": omics,
                        "expected": expected,
                        "passed": winner == expected,
                    }
                )
    return pd.DataFrame(
        rows, columns=["class", "pair", "pair_kind", "image_share", "omics_share", "expected", "passed"]
    )


def deletion_curves(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    vectors: Mapping[str, np.ndarray],
    attributions: Mapping[str, np.ndarray],
    preprocessor: OmicsPreprocessor,
    omics_types: Sequence[str],
    align: AlignToReference,
    n_image_channels: int,
    ks: Sequence[int] = (1, 2, 5, 10, 20, 50, 100),
    n_random: int = 5,
    seed: int = 0,
    means: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """True-class probability after deleting the ``k`` top-attributed vs ``k`` random features, per ``k``.

    Features of all omics types are pooled; a sample's top features are those
    with the largest signed attribution (most support for its class). Deleting
    sets a feature to its training mean (``means``, type -> ``(F,)`` in normalised
    units; default 0, the mean after a z-score) and re-renders the omics channels
    through layout and alignment.

    Returns:
        columns ``k``, ``top_probability``, ``random_probability``, ``top_drop``,
        ``random_drop`` (means over samples; drops relative to no deletion).
    """
    types = list(omics_types)
    sizes = [np.asarray(vectors[t]).shape[1] for t in types]
    offsets = np.cumsum([0, *sizes])
    pooled_x = np.concatenate([np.asarray(vectors[t], dtype=np.float32) for t in types], axis=1)
    pooled_a = np.concatenate([np.asarray(attributions[t]) for t in types], axis=1)
    pooled_mean = (
        np.zeros(pooled_x.shape[1], np.float32)
        if means is None
        else np.concatenate([np.asarray(means[t], dtype=np.float32) for t in types])
    )
    image = x[:, :n_image_channels]
    rng = np.random.default_rng(seed)

    def probability(pooled: np.ndarray) -> np.ndarray:
        split = {t: pooled[:, offsets[i] : offsets[i + 1]] for i, t in enumerate(types)}
        fused = torch.cat([image, render_omics(split, preprocessor, types, align, x).to(x.dtype)], dim=1)
        with torch.no_grad():
            probs = torch.softmax(model(fused), dim=1)
        return probs[torch.arange(len(target)), target].cpu().numpy().astype(float)

    def deleted(columns: np.ndarray) -> np.ndarray:
        out = pooled_x.copy()
        np.put_along_axis(out, columns, pooled_mean[columns], axis=1)
        return out

    base = probability(pooled_x)
    order = np.argsort(-pooled_a, axis=1, kind="stable")
    rows = [
        {"k": 0, "top_probability": base.mean(), "random_probability": base.mean(), "top_drop": 0.0, "random_drop": 0.0}
    ]
    for k in sorted({int(k) for k in ks if 0 < int(k) <= pooled_x.shape[1]}):
        top = probability(deleted(order[:, :k]))
        random = np.mean(
            [
                probability(
                    deleted(np.stack([rng.choice(pooled_x.shape[1], k, replace=False) for _ in range(len(target))]))
                )
                for _ in range(n_random)
            ],
            axis=0,
        )
        rows.append(
            {
                "k": k,
                "top_probability": top.mean(),
                "random_probability": random.mean(),
                "top_drop": (base - top).mean(),
                "random_drop": (base - random).mean(),
            }
        )
    return pd.DataFrame(rows)
