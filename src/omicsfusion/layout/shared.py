"""One layout shared by several omics types, so gene g has one pixel in every channel.

The profile of a feature is the concatenation, over omics types, of its
z-scored values on the samples all types have in common (zeros where a type
lacks the feature), so the correlation of two features averages their
agreement over the types that measure both.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from omicsfusion.errors import first_names

from .errors import LayoutError
from .inputs import as_matrix, fill, impute_values
from .otlayout import OTLayout


def fit_shared_layout(tables: Mapping[str, pd.DataFrame], **layout_params: object) -> OTLayout:
    """Fit one OTLayout over the union of feature names of ``tables``.

    Args:
        tables: omics type -> DataFrame (samples x features, index = sample id).
        **layout_params: OTLayout parameters. ``min_overlap`` (when absent or None) is
            the smallest share of the union any one type covers, so every type's
            table can be transformed with the shared layout.

    Returns:
        The fitted layout; its ``feature_names_`` is the union (first-seen order).
    """
    if not tables:
        raise LayoutError("fit_shared_layout needs at least one omics table")
    matrices = {}
    for kind, table in tables.items():
        if not isinstance(table, pd.DataFrame):
            raise LayoutError(f"omics type {kind!r}: expected a DataFrame, got {type(table).__name__}")
        try:
            matrices[kind] = as_matrix(table)
        except LayoutError as error:
            raise LayoutError(f"omics type {kind!r}: {error}") from None
    common = None
    for matrix in matrices.values():
        common = matrix.sample_ids if common is None else common[np.isin(common, matrix.sample_ids)]
    if common.size < 2:
        counts = ", ".join(f"{k}: {m.sample_ids.size}" for k, m in matrices.items())
        raise LayoutError(f"the omics types share {common.size} sample id(s) ({counts}); need at least 2")
    union = pd.unique(np.concatenate([m.feature_names for m in matrices.values()]))
    column = {name: j for j, name in enumerate(union)}
    blocks = []
    for kind, matrix in matrices.items():
        rows = pd.Index(matrix.sample_ids).get_indexer(common)
        values = matrix.values[rows]
        try:
            values = fill(values, impute_values(matrix, str(layout_params.get("impute", "none"))))
        except LayoutError as error:
            raise LayoutError(f"omics type {kind!r}: {error}") from None
        spread = values.std(axis=0)
        z = np.divide(values - values.mean(axis=0), spread, out=np.zeros_like(values), where=spread > 0)
        block = np.zeros((common.size, union.size))
        block[:, [column[name] for name in matrix.feature_names]] = z
        blocks.append(block)
    coverage = min(m.feature_names.size for m in matrices.values()) / union.size
    params = dict(layout_params)
    if params.get("min_overlap") is None:
        params["min_overlap"] = coverage
    params["impute"] = "none"  # already imputed per type above
    stacked = pd.DataFrame(np.vstack(blocks), columns=union, index=[f"{kind}:{s}" for kind in matrices for s in common])
    layout = OTLayout(**params).fit(stacked)
    if layout.feature_names_.size < union.size:
        dropped = np.setdiff1d(union, layout.feature_names_)
        layout._log("shared layout dropped constant features: %s", first_names(dropped))
    return layout
