"""Turn a user table into a clean float matrix, or say exactly what is wrong.

Checks shared by ``fit``, ``transform`` and ``score``: numeric columns only,
unique feature names and sample ids, finite values (or an impute policy),
at least two samples; ``fit`` also drops constant features. The feature-overlap
check is :func:`omicsfusion.features.match_features`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omicsfusion.errors import first_names

from .errors import LayoutError, LayoutWarning

IMPUTE_POLICIES = ("none", "mean", "median")


@dataclass
class Matrix:
    """A validated (n_samples, n_features) table."""

    values: np.ndarray
    feature_names: np.ndarray
    sample_ids: np.ndarray


def _duplicates(values: np.ndarray) -> list[str]:
    uniques, counts = np.unique(values, return_counts=True)
    return [str(u) for u in uniques[counts > 1]]


def as_matrix(X: object, min_samples: int = 2) -> Matrix:
    """Validate ``X`` (ndarray or DataFrame) and name its rows and columns.

    ``min_samples`` is 2 when features are correlated (fit, score) and 1
    when samples are only mapped (transform).
    """
    if isinstance(X, pd.DataFrame):
        dup = _duplicates(np.asarray([str(c) for c in X.columns]))
        if dup:
            raise LayoutError(f"{len(dup)} duplicate feature name(s): {first_names(dup)}")
        bad = [
            c
            for c, dtype in X.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
        ]
        if bad:
            raise LayoutError(f"{len(bad)} non-numeric feature column(s): {first_names(bad)}")
        names = np.asarray([str(c) for c in X.columns])
        samples = np.asarray([str(i) for i in X.index])
        values = X.to_numpy(dtype=np.float64)
    else:
        try:
            values = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise LayoutError("X holds non-numeric values; pass numbers or a DataFrame") from None
        if values.ndim != 2:
            raise LayoutError(f"X must be 2-D (samples x features), got shape {values.shape}")
        samples = np.asarray([f"sample{i}" for i in range(values.shape[0])])
        names = np.asarray([f"f{j}" for j in range(values.shape[1])])
    dup = _duplicates(samples)
    if dup:
        raise LayoutError(f"{len(dup)} duplicate sample id(s): {first_names(dup)}")
    if values.shape[0] < min_samples:
        raise LayoutError(
            f"need at least {min_samples} samples, got {values.shape[0]}"
            + (" (features are correlated over samples)" if min_samples > 1 else "")
        )
    if values.shape[1] < 1:
        raise LayoutError("the table has no feature columns")
    return Matrix(values, names, samples)


def impute_values(matrix: Matrix, policy: str) -> np.ndarray | None:
    """Per-feature fill values for non-finite entries, or refuse them.

    Returns None when every value is finite; raises LayoutError naming the
    first bad (sample, feature) cells when ``policy`` is "none".
    """
    if policy not in IMPUTE_POLICIES:
        raise LayoutError(f"impute must be one of {IMPUTE_POLICIES}, got {policy!r}")
    finite = np.isfinite(matrix.values)
    if finite.all():
        return None
    if policy == "none":
        rows, cols = np.nonzero(~finite)
        cells = [f"{matrix.sample_ids[r]}/{matrix.feature_names[c]}" for r, c in zip(rows[:5], cols[:5], strict=False)]
        raise LayoutError(
            f"{rows.size} NaN/inf value(s) (sample/feature: {first_names(cells)}); "
            "clean the table or choose an impute policy ('mean' or 'median')"
        )
    empty = ~finite.any(axis=0)
    if empty.any():
        raise LayoutError(
            f"{empty.sum()} feature(s) have no finite value to impute from: {first_names(matrix.feature_names[empty])}"
        )
    return column_fills(matrix.values, policy)


def column_fills(values: np.ndarray, policy: str) -> np.ndarray:
    """Per-column mean or median (``policy``) of the finite entries of ``values``; NaN where a column has none.

    The one statistic behind ``OTLayout(impute=...)`` and the preprocessor's
    ``omicsfusion.preprocessing.missing.MissingValues``.
    """
    masked = np.where(np.isfinite(values), values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-empty column: NaN, handled by the caller
        return np.nanmean(masked, axis=0) if policy == "mean" else np.nanmedian(masked, axis=0)


def fill(values: np.ndarray, fills: np.ndarray | None) -> np.ndarray:
    """Replace non-finite entries by the per-feature ``fills``."""
    if fills is None:
        return values
    bad = ~np.isfinite(values)
    if bad.any():
        values = values.copy()
        values[bad] = np.broadcast_to(fills, values.shape)[bad]
    return values


def drop_constant(matrix: Matrix) -> tuple[Matrix, np.ndarray]:
    """Drop features with zero variance (they have no correlation), warning with a count.

    Returns the reduced matrix and the boolean mask of kept features.
    """
    spread = np.ptp(matrix.values, axis=0)
    constant = spread == 0
    if constant.any():
        warnings.warn(
            f"dropped {constant.sum()} constant feature(s) of {constant.size}: "
            f"{first_names(matrix.feature_names[constant])}",
            LayoutWarning,
            stacklevel=3,
        )
    keep = ~constant
    if keep.sum() < 2:
        raise LayoutError(f"only {keep.sum()} non-constant feature(s); a layout needs at least 2")
    return Matrix(matrix.values[:, keep], matrix.feature_names[keep], matrix.sample_ids), keep


def aligned_values(
    X: object,
    feature_names: np.ndarray,
    feature_index: Callable[[np.ndarray], np.ndarray],
    fills: np.ndarray | None,
    min_samples: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as (n, F) values in the order of a layout's ``feature_names``, and the present mask.

    A DataFrame is aligned by name through ``feature_index`` (the layout's overlap check);
    features it lacks are 0 and reported. An array must already hold the F columns.
    Non-finite values take ``fills`` (the training fill values) or are refused.
    """
    n_feat = feature_names.size
    if isinstance(X, pd.DataFrame):
        matrix = as_matrix(X, min_samples=min_samples)
        index = feature_index(matrix.feature_names)
        present = index >= 0
        if not present.all():
            warnings.warn(
                f"{(~present).sum()} of {n_feat} layout features missing from the table, "
                f"filled with 0: {first_names(feature_names[~present])}",
                LayoutWarning,
                stacklevel=4,
            )
        values = np.zeros((matrix.values.shape[0], n_feat))
        values[:, present] = matrix.values[:, index[present]]
        samples = matrix.sample_ids
    else:
        values = np.asarray(X, dtype=np.float64)
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2 or values.shape[1] != n_feat:
            raise LayoutError(
                f"X has shape {values.shape}; the layout expects (n, {n_feat}) columns in "
                "feature_names_ order (or pass a DataFrame to align by name)"
            )
        if values.shape[0] < min_samples:
            raise LayoutError(f"need at least {min_samples} samples, got {values.shape[0]}")
        present = np.ones(n_feat, dtype=bool)
        samples = np.asarray([f"sample{i}" for i in range(values.shape[0])])
    bad = ~np.isfinite(values)
    if bad.any():
        if fills is None:
            rows, cols = np.nonzero(bad)
            cells = [f"{samples[r]}/{feature_names[c]}" for r, c in zip(rows[:5], cols[:5], strict=False)]
            raise LayoutError(f"{rows.size} NaN/inf value(s) (sample/feature: {first_names(cells)})")
        values = fill(values, fills)
    return values, present
