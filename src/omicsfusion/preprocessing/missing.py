"""Empty cells of an omics table: refuse them, or fill them with values fitted on the training split.

A cell is empty when it holds NaN or inf (a gene not sequenced for a patient, no
copy-number call). :class:`MissingValues` is the one policy for them:
``OmicsPreprocessor(missing_values=...)`` composes one per omics type, before
normalisation, and the benchmark's tabular baselines fit the same one, so every
model fills the same way. It is distinct from ``missing`` (a patient without a
whole omics type). ``OTLayout(impute=...)``, for a layout fitted on its own,
shares its per-feature statistic (:func:`omicsfusion.layout.inputs.column_fills`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from omicsfusion.data.errors import EmptySampleError, MissingValuesError, OmicsDataError
from omicsfusion.errors import first_names
from omicsfusion.layout.inputs import column_fills

__all__ = [
    "MISSING_VALUES",
    "MissingValues",
    "cell_counts",
    "empty_tallies",
    "fit_imputers",
    "refuse_empty_cells",
    "refuse_empty_samples",
    "refuse_samples_without_values",
]

#: what an empty cell gets (``OmicsPreprocessor(missing_values=...)``, ``--missing-values``)
MISSING_VALUES = ("raise", "median", "mean", "constant")
_FIRST = 5  # features / samples named in reports and messages
logger = logging.getLogger(__name__)


def _most(names: np.ndarray, counts: np.ndarray) -> dict[str, int]:
    """The (at most 5) names with the highest non-zero counts, highest first."""
    order = np.argsort(-counts, kind="stable")[:_FIRST]
    return {str(names[i]): int(counts[i]) for i in order if counts[i] > 0}


def empty_tallies(values: np.ndarray, chunk_rows: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Empty (NaN/inf) cells per feature and per sample of an (n, F) table, ``chunk_rows`` rows at a time.

    Chunked so that a table of a quarter of a million samples is never copied whole (as float64 or as a mask).
    """
    values = np.asarray(values)
    per_feature = np.zeros(values.shape[1], dtype=np.int64)
    per_sample = np.zeros(values.shape[0], dtype=np.int64)
    for start in range(0, values.shape[0], chunk_rows):
        chunk = values[start : start + chunk_rows]
        empty = ~np.isfinite(chunk if chunk.dtype.kind == "f" else chunk.astype(np.float64))
        per_feature += empty.sum(axis=0)
        per_sample[start : start + len(chunk)] = empty.sum(axis=1)
    return per_feature, per_sample


def cell_counts(values: np.ndarray, feature_names: Sequence[str], sample_ids: Sequence[str]) -> dict:
    """How many cells of an (n, F) table are empty, and the most affected features and samples."""
    values = np.asarray(values)
    per_feature, per_sample = empty_tallies(values)
    return {
        "cells": int(values.size),
        "empty_cells": int(per_feature.sum()),
        "features_affected": int((per_feature > 0).sum()),
        "samples_affected": int((per_sample > 0).sum()),
        "most_affected_features": _most(np.asarray(feature_names), per_feature),
        "most_affected_samples": _most(np.asarray(sample_ids), per_sample),
    }


def refuse_empty_cells(counts: Mapping[str, Mapping], where: str = "") -> None:
    """Raise :class:`MissingValuesError` with the counts of every table (type -> :func:`cell_counts`) that has any."""
    bad = {t: c for t, c in counts.items() if c["empty_cells"]}
    if not bad:
        return
    parts = "; ".join(
        f"table {t!r}: {c['empty_cells']} of {c['cells']} cells in {c['features_affected']} feature(s) and "
        f"{c['samples_affected']} sample(s), most in features {list(c['most_affected_features'])} and "
        f"samples {list(c['most_affected_samples'])}"
        for t, c in bad.items()
    )
    raise MissingValuesError(
        f"{where}empty (NaN/inf) cells: {parts}. Fill them from the training split with "
        "missing_values='median' (or 'mean', 'constant'; the benchmark's --missing-values)"
    )


def refuse_empty_samples(rows: Mapping[str, Mapping[str, np.ndarray | None]], sample_ids: Sequence[str]) -> None:
    """Raise :class:`EmptySampleError` naming the samples with no value in any type (type -> id -> row or None)."""
    empty = [s for s in sample_ids if not any(r.get(s) is not None and np.isfinite(r[s]).any() for r in rows.values())]
    refuse_samples_without_values(empty, list(rows))


def refuse_samples_without_values(empty: Sequence[str], types: Sequence[str]) -> None:
    """Raise :class:`EmptySampleError` naming ``empty``, the samples with no value in any of ``types``."""
    if len(empty):
        raise EmptySampleError(
            f"{len(empty)} sample(s) have no value in any omics type {list(types)}: {first_names(empty)}; "
            "remove them from the split or give them a row"
        )


class MissingValues(TransformerMixin, BaseEstimator):
    """Per-feature fills of the empty cells of one omics type, learnt from training rows only.

    Args:
        strategy: one of :data:`MISSING_VALUES`: "raise" refuses empty cells
            (:class:`MissingValuesError` with counts and the option to use); "median" /
            "mean" fill a feature's empty cells with its training median / mean;
            "constant" with ``fill_value``.
        fill_value: the fill of "constant", in the table's units (before normalisation).
        max_missing_fraction: a feature empty in more than this share of the training
            rows is dropped (counted and named in ``report_``); so is one with no
            training value at all, whatever this is.

    Fitted attributes: ``keep_`` (bool per input column), ``feature_names_`` (the kept
    ones), ``fill_values_`` (float32, one per kept feature), ``n_features_in_`` and
    ``report_`` (:func:`cell_counts` of the training rows plus ``cells_filled``,
    ``features_dropped`` and the first dropped names).
    """

    def __init__(self, *, strategy: str = "raise", fill_value: float = 0.0, max_missing_fraction: float = 0.5) -> None:
        self.strategy = strategy
        self.fill_value = fill_value
        self.max_missing_fraction = max_missing_fraction

    def fit(
        self,
        X: np.ndarray,
        y: object = None,
        *,
        feature_names: Sequence[str] | None = None,
        sample_ids: Sequence[str] | None = None,
        name: str = "table",
    ) -> MissingValues:
        """Learn the fills (and the dropped features) from training rows ``X`` (n, F); ``y`` is ignored.

        Raises:
            OmicsDataError: an unknown ``strategy`` or a ``max_missing_fraction`` outside [0, 1].
            MissingValuesError: empty cells under ``strategy="raise"``.
        """
        if self.strategy not in MISSING_VALUES:
            raise OmicsDataError(f"missing_values must be one of {MISSING_VALUES}, got {self.strategy!r}")
        if not 0.0 <= float(self.max_missing_fraction) <= 1.0:
            raise OmicsDataError(f"max_missing_fraction must be in [0, 1], got {self.max_missing_fraction!r}")
        values = np.asarray(X)
        values = values if values.dtype.kind == "f" else values.astype(np.float64)  # float32 tables stay float32
        if values.ndim != 2 or values.shape[0] == 0:
            raise OmicsDataError(f"MissingValues.fit needs (n, F) training rows, got shape {values.shape}")
        names = np.asarray(range(values.shape[1]) if feature_names is None else feature_names).astype(str)
        ids = [f"row {i}" for i in range(values.shape[0])] if sample_ids is None else [str(s) for s in sample_ids]
        counts = cell_counts(values, names, ids)
        if self.strategy == "raise":
            refuse_empty_cells({name: counts})
        empty = ~np.isfinite(values)
        dropped = empty.all(axis=0) | (empty.mean(axis=0) > float(self.max_missing_fraction))
        if self.strategy == "constant":
            fills = np.full(values.shape[1], float(self.fill_value))
        else:
            fills = column_fills(values, "mean" if self.strategy == "mean" else "median")
        self.keep_ = ~dropped
        self.n_features_in_ = values.shape[1]
        self.feature_names_ = names[self.keep_]
        self.fill_values_ = np.nan_to_num(fills[self.keep_]).astype(np.float32)
        self.report_ = {
            **counts,
            "cells_filled": int(empty[:, self.keep_].sum()),
            "features_dropped": int(dropped.sum()),
            "features_dropped_first": names[dropped][:_FIRST].tolist(),
        }
        if counts["empty_cells"]:
            logger.info(
                "%s: %d of %d training cells empty; %d filled (%s), %d feature(s) dropped (more than %.0f%% empty)%s",
                name,
                counts["empty_cells"],
                counts["cells"],
                self.report_["cells_filled"],
                self.strategy,
                self.report_["features_dropped"],
                100 * float(self.max_missing_fraction),
                f": {first_names(names[dropped])}" if dropped.any() else "",
            )
        return self

    def transform(self, X: np.ndarray, *, sample_ids: Sequence[str] | None = None, name: str = "table") -> np.ndarray:
        """Rows (F,) or (n, F) over the fitted columns -> float32 over ``feature_names_``, empty cells filled.

        Raises:
            MissingValuesError: an empty cell under ``strategy="raise"`` (names the sample, type and features).
        """
        check_is_fitted(self, "fill_values_")
        values = np.array(X, dtype=np.float32)
        if values.shape[-1] != self.n_features_in_:
            raise OmicsDataError(
                f"{name}: rows have {values.shape[-1]} features, MissingValues was fitted on {self.n_features_in_}"
            )
        values = values[..., self.keep_]
        empty = ~np.isfinite(values)
        if not empty.any():
            return values
        rows = np.atleast_2d(empty)
        ids = [f"row {i}" for i in range(rows.shape[0])] if sample_ids is None else [str(s) for s in sample_ids]
        first = int(np.flatnonzero(rows.any(axis=1))[0])
        if self.strategy == "raise":
            raise MissingValuesError(
                f"sample {ids[first]!r}, omics type {name!r}: {int(rows[first].sum())} empty (NaN/inf) cell(s) in "
                f"features {first_names(self.feature_names_[rows[first]])}; the layout file was fitted with "
                "missing_values='raise' (refit it with missing_values='median', 'mean' or 'constant')"
            )
        values[empty] = np.broadcast_to(self.fill_values_, values.shape)[empty]
        logger.log(
            logging.INFO if rows.shape[0] > 1 else logging.DEBUG,
            "%s: filled %d empty cell(s) in %d sample(s) (%s), e.g. sample %r",
            name,
            int(empty.sum()),
            int(rows.any(axis=1).sum()),
            self.strategy,
            ids[first],
        )
        return values

    def restrict(self, feature_names: Sequence[str]) -> MissingValues:
        """A fitted copy over ``feature_names`` (kept features, in that order), e.g. those a layout placed."""
        check_is_fitted(self, "fill_values_")
        index = {f: i for i, f in enumerate(self.feature_names_.tolist())}
        try:
            columns = np.asarray([index[str(f)] for f in feature_names], dtype=np.int64)
        except KeyError as error:
            raise OmicsDataError(f"feature {error.args[0]!r} was dropped or never fitted by MissingValues") from None
        return self._fitted(self.feature_names_[columns], self.fill_values_[columns], getattr(self, "report_", None))

    def _fitted(self, names: np.ndarray, fills: np.ndarray, report: dict | None) -> MissingValues:
        out = MissingValues(
            strategy=self.strategy, fill_value=self.fill_value, max_missing_fraction=self.max_missing_fraction
        )
        out.keep_ = np.ones(names.size, dtype=bool)
        out.n_features_in_ = names.size
        out.feature_names_ = np.asarray(names, dtype=str)
        out.fill_values_ = np.asarray(fills, dtype=np.float32)
        if report is not None:
            out.report_ = report
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects) for the layout file."""
        return {
            "strategy": np.asarray(self.strategy),
            "fill_value": np.asarray(float(self.fill_value)),
            "max_missing_fraction": np.asarray(float(self.max_missing_fraction)),
            "feature_names": self.feature_names_.astype(str),
            "fill_values": self.fill_values_,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> MissingValues:
        """Inverse of :meth:`to_arrays` (the ``report_`` of the training rows is not stored)."""
        template = cls(
            strategy=str(arrays["strategy"]),
            fill_value=float(arrays["fill_value"]),
            max_missing_fraction=float(arrays["max_missing_fraction"]),
        )
        return template._fitted(np.asarray(arrays["feature_names"], str), np.asarray(arrays["fill_values"]), None)

    @classmethod
    def refusing(cls, feature_names: Sequence[str]) -> MissingValues:
        """The fitted "raise" policy over ``feature_names``: a layout file written before empty cells were filled."""
        names = np.asarray(feature_names, dtype=str)
        return cls()._fitted(names, np.zeros(names.size, np.float32), None)


def fit_imputers(
    rows: Mapping[str, np.ndarray],
    sample_ids: Mapping[str, Sequence[str]],
    feature_names: Mapping[str, Sequence[str]],
    all_ids: Sequence[str],
    **params: object,
) -> dict[str, MissingValues]:
    """One fitted :class:`MissingValues` (``params``) per omics type, from its training rows.

    Refuses first what no fill can mend: a sample with no value in any type (named), and, under
    ``strategy="raise"``, every empty cell with the counts of every table at once.

    Raises:
        EmptySampleError, MissingValuesError, OmicsDataError: a type left with fewer than 2 features.
    """
    refuse_empty_samples({t: dict(zip(sample_ids[t], rows[t], strict=True)) for t in rows}, all_ids)
    if params.get("strategy", "raise") == "raise":
        refuse_empty_cells({t: cell_counts(rows[t], feature_names[t], sample_ids[t]) for t in rows}, "training rows: ")
    imputers = {}
    for t in rows:
        imputer = imputers[t] = MissingValues(**params).fit(
            rows[t], feature_names=feature_names[t], sample_ids=sample_ids[t], name=t
        )
        if imputer.feature_names_.size < 2:
            raise OmicsDataError(
                f"omics type {t!r}: {imputer.report_['features_dropped']} of {len(feature_names[t])} features are "
                f"empty in more than {float(imputer.max_missing_fraction):.0%} of the training samples and were "
                "dropped; fewer than 2 are left (raise max_missing_fraction)"
            )
    return imputers
