"""Gene ranking: omics-channel pixel attributions read back through alignment and layout to features.

Also the forward direction (:func:`render_omics`: normalised vectors to omics
channels), which the stated baseline and the deletion curves re-render with.

The per-sample back-projection is :func:`omicsfusion.transforms.omics_feature_attributions`
(the exact adjoint ``A_c^T R^T`` of layout and alignment); this module only
aggregates it per class (mean ``|attribution|`` for importance, signed mean
for direction) and finds where each feature sits on the layout grid, so the
OT map can be drawn with the top genes labelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from omicsfusion.preprocessing.preprocess import OmicsPreprocessor
from omicsfusion.transforms import AlignToReference, omics_feature_attributions

__all__ = ["class_gene_table", "feature_attributions", "feature_positions", "grid_maps", "render_omics", "top_features"]


def feature_attributions(
    attr: torch.Tensor,
    preprocessor: OmicsPreprocessor,
    n_image_channels: int,
    omics_types: Sequence[str],
    align: AlignToReference,
) -> dict[str, np.ndarray]:
    """Per omics type ``(B, F_type)`` attributions of a fused ``(B, C, *spatial)`` attribution."""
    return omics_feature_attributions(
        attr.detach().cpu(),
        preprocessor,
        n_image_channels,
        mode=align.mode,
        axis=align.axis,
        omics_types=list(omics_types),
        spatial_dims=attr.ndim - 2,
    )


def class_gene_table(
    per_sample: Mapping[str, np.ndarray],
    classes: np.ndarray,
    class_names: Sequence[str],
    preprocessor: OmicsPreprocessor,
) -> pd.DataFrame:
    """Long table: class, omics_type, feature, display_name, n_samples, mean_abs_attribution,
    signed_mean_attribution, rank.

    ``feature`` is the id (the key); ``display_name`` its gene symbol where the
    table named one. ``rank`` is 1 for the feature with the largest mean
    ``|attribution|`` within its class and omics type. Classes without samples are left out.
    """
    frames = []
    classes = np.asarray(classes)
    for k, name in enumerate(class_names):
        rows = classes == k
        if not rows.any():
            continue
        for omics_type, values in per_sample.items():
            v = np.asarray(values)[rows]
            mean_abs = np.abs(v).mean(axis=0)
            order = np.argsort(-mean_abs, kind="stable")
            rank = np.empty(order.size, dtype=int)
            rank[order] = np.arange(1, order.size + 1)
            frames.append(
                pd.DataFrame(
                    {
                        "class": name,
                        "omics_type": omics_type,
                        "feature": preprocessor.feature_names(omics_type),
                        "display_name": preprocessor.display_names(omics_type),
                        "n_samples": int(rows.sum()),
                        "mean_abs_attribution": mean_abs,
                        "signed_mean_attribution": v.mean(axis=0),
                        "rank": rank,
                    }
                )
            )
    columns = [
        "class",
        "omics_type",
        "feature",
        "display_name",
        "n_samples",
        "mean_abs_attribution",
        "signed_mean_attribution",
        "rank",
    ]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).sort_values(["class", "omics_type", "rank"], ignore_index=True)


def top_features(table: pd.DataFrame, class_name: str, omics_type: str, k: int) -> list[str]:
    """The ``k`` highest-ranked features of one class and omics type in a :func:`class_gene_table`."""
    rows = table[(table["class"] == class_name) & (table["omics_type"] == omics_type)]
    return rows.nsmallest(int(k), "rank")["feature"].astype(str).tolist()


def render_omics(
    vectors: Mapping[str, np.ndarray],
    preprocessor: OmicsPreprocessor,
    omics_types: Sequence[str],
    align: AlignToReference,
    reference: torch.Tensor,
) -> torch.Tensor:
    """Normalised vectors ``{type: (B, F)}`` -> omics channels ``(B, C_omics, *spatial)`` on ``reference``'s grid.

    The forward of :func:`feature_attributions`' adjoint: layout, then alignment.
    """
    grids = preprocessor.images(vectors, list(omics_types), normalized=True)
    return torch.stack([torch.as_tensor(align(g, r).as_tensor()) for g, r in zip(grids, reference, strict=False)])


def grid_maps(
    attr: torch.Tensor, n_image_channels: int, preprocessor: OmicsPreprocessor, align: AlignToReference
) -> np.ndarray:
    """Omics-channel attributions moved back onto the layout grid: ``(B, C_omics, *grid)`` (adjoint of alignment)."""
    omics = attr[:, n_image_channels:].detach().cpu()
    flat = omics.reshape((-1, *tuple(omics.shape[2:])))
    maps = align.adjoint(flat, preprocessor.grid_)
    return maps.reshape((omics.shape[0], omics.shape[1], *tuple(preprocessor.grid_))).numpy()


def feature_positions(preprocessor: OmicsPreprocessor, omics_type: str) -> np.ndarray:
    """``(F, ndim)`` grid coordinates of each feature: its heaviest pixel in the layout matrix ``A_c``."""
    matrix = preprocessor.matrix(omics_type).tocsc()
    pixel = np.asarray(abs(matrix).argmax(axis=0)).reshape(-1)
    return np.stack(np.unravel_index(pixel, preprocessor.grid_), axis=1)
