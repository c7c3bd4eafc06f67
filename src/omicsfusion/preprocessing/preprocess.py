"""Omics preprocessing fitted once on the training split: normaliser + layout per type.

:class:`OmicsPreprocessor` is a scikit-learn transformer. ``fit(X)`` learns,
from every sample of ``X`` (an :class:`~omicsfusion.data.OmicsTable`, e.g.
``table.select(train_ids)``, or a mapping omics type -> DataFrame with
samples as rows), a :class:`FeatureNormalizer` and an ``OTLayout`` per omics
type (or one layout shared by all types), after filling the empty cells of
each type (:class:`~omicsfusion.preprocessing.missing.MissingValues`, fitted on
the same rows); ``transform(X)`` renders every
sample of ``X`` as an image ``(C, *grid)``; ``score(X)`` and ``quality(X)``
rate the layouts on ``X``. The rendering itself lives in
:mod:`omicsfusion.preprocessing.rendering`, the one-file storage in
:mod:`omicsfusion.preprocessing.preprocessor_file`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone

from omicsfusion.data.errors import FeatureMismatchError, OmicsDataError
from omicsfusion.data.tables import OmicsTable
from omicsfusion.errors import first_names
from omicsfusion.layout import LayoutWarning, OTLayout, coherent_signs, fit_shared_layout
from omicsfusion.layout.grid import pixel_coordinates
from omicsfusion.layout.metrics import feature_positions
from omicsfusion.preprocessing.missing import MISSING_VALUES, fit_imputers, refuse_empty_samples
from omicsfusion.preprocessing.normalize import FeatureNormalizer
from omicsfusion.preprocessing.preprocessor_file import FORMAT, PreprocessorFile
from omicsfusion.preprocessing.rendering import (
    MISSING,
    OmicsRendering,
    check_missing,
    empty_cells,
    held_ids,
    layout_columns,
    mask_channel,
)

__all__ = ["FORMAT", "MISSING", "MISSING_VALUES", "SIGNS", "OmicsPreprocessor"]

#: how features are signed when rendered (``OmicsPreprocessor(signs=...)``)
SIGNS = ("auto", "coherent", "none")
#: normalisations whose 0 carries no signal, so ``missing="mask"`` may fill an absent type with 0:
#: the training mean after a z-score, "no mutation called" / "no copy-number change" for binary / ordinal
_MASKABLE = ("zscore", "log1p_zscore", "binary", "ordinal")
#: why ``normalization="auto"`` chose what it chose (see ``detect_normalization``)
_AUTO_REASONS = {
    "binary": "training values all 0/1",
    "ordinal": "training values all integers in -2..2",
    "zscore": "training values neither 0/1 nor integers in -2..2",
}


def _flag(value: object, name: str) -> bool:
    """A yes/no parameter: a bool or, as the bundle command line passes it, ``"true"`` / ``"false"``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise OmicsDataError(f"{name} must be True or False, got {value!r}")


def _as_table(X: OmicsTable | Mapping[str, pd.DataFrame]) -> OmicsTable:
    """``X`` as an :class:`OmicsTable` (a mapping omics type -> DataFrame, samples as rows, is wrapped)."""
    if isinstance(X, OmicsTable):
        return X
    if isinstance(X, Mapping):
        return OmicsTable(X)
    raise OmicsDataError(f"expected an OmicsTable or a mapping omics type -> DataFrame, got {type(X).__name__}")


class OmicsPreprocessor(PreprocessorFile, OmicsRendering, TransformerMixin, BaseEstimator):
    """Per omics type a :class:`FeatureNormalizer` and an ``OTLayout`` (or one shared layout).

    Args:
        layout: the ``OTLayout`` whose parameters every type's layout gets (cloned, never fitted
            itself; default ``OTLayout()``). With grid "auto" and ``shared=False`` the type with
            most features chooses the grid and the others reuse it, so the channels stack.
        normalization: one method for all types or a mapping type -> method (see
            ``NORMALIZATIONS``: "binary" for mutation calls, "ordinal" for copy-number calls,
            "auto" picks binary / ordinal / zscore from each type's training values, reported).
        shared: one layout over the union of feature names of all types, so a gene the types
            share (its mutation, copy number, expression) lands on the same pixel in every
            channel; a type's pixels of the genes it lacks stay 0 (counted in ``absent_``).
        omics_types: types to use, in channel order (default all).
        max_features: per type, lay out only the features of highest training
            variance (after ``log1p`` for the log normalisations); the others are
            left out of the image. Bounds time and memory on very wide tables (see
            the README's wide-table figures); ``None`` keeps every feature.
        min_samples_per_feature: per type, leave out the features non-zero in fewer than this
            many training samples (a gene mutated in one or two patients is noise to a filter);
            counted in ``left_out_``. ``None`` keeps every feature.
        signs: "coherent" renders each feature times a sign so that correlated grid
            neighbours move together (``omicsfusion.layout.signs``; stored as the sign of
            the normaliser's scale), "none" renders every feature as it is, "auto" is
            "coherent" for the unsigned metrics (``abs_correlation``, ``abs_spearman``),
            which place anti-correlated features side by side, and "none" otherwise.
        missing: a patient WITHOUT A WHOLE omics type (no row): "raise" (every sample must be
            in every type) or "mask": each type is fitted on the samples it holds (a patient
            lacking one omics type still trains the others), and :meth:`transform` masks the
            absent channel.
        missing_values: EMPTY CELLS (NaN/inf) of the rows a sample has: "raise" refuses them
            with the counts per table (``MissingValuesError``); "median", "mean" or "constant"
            (``fill_value``) fill each feature from the training rows only, before
            normalisation; the fills travel in the layout file, so evaluation and inference
            fill the same way. A sample with no value in any type is refused by name
            (``EmptySampleError``).
        fill_value: the fill of ``missing_values="constant"``, in the table's units.
        max_missing_fraction: a feature empty in more than this share of the training
            samples (or in all of them) is dropped; counted and named in ``missing_report_``.
        missing_indicator: add, after the type channels, one mask channel ``<type>_missing`` per
            type (every type, so the channel count is known before fitting and a test sample
            may have holes where training had none): 1 where the sample's cell was empty
            before filling, rendered through the type's layout matrix (a gene's mask pixel
            sits where the gene sits). A sample without a row of the type (``missing="mask"``)
            gets an all-ones mask there. Needs ``missing_values`` other than "raise" or
            ``missing="mask"`` (else nothing could be marked).

    Fitted attributes (besides those of ``OmicsRendering``): ``missing_report_`` (what
    ``fit`` filled and dropped per type: the empty cells, the most affected features and
    samples, ``cells_filled``, ``features_dropped``; logged too, and written by ``prepare``
    to ``models/missing_values.json``).

    Fitted attributes besides :class:`OmicsRendering`'s: ``normalizations_`` (type -> the method
    used, what "auto" chose), ``left_out_`` (type -> names ``min_samples_per_feature`` left out),
    ``absent_`` (type -> names of the shared layout the type lacks; empty per type). What was
    chosen, left out or absent is also reported as one :class:`~omicsfusion.layout.LayoutWarning`.

    Example:
        >>> pre = OmicsPreprocessor(layout=OTLayout(grid=(64, 64))).fit(table.select(train_ids))  # doctest: +SKIP
        >>> pre.save("models/layout.npz")                                                        # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        layout: OTLayout | None = None,
        normalization: str | Mapping[str, str] = "zscore",
        shared: bool = False,
        omics_types: Sequence[str] | None = None,
        max_features: int | None = None,
        min_samples_per_feature: int | None = None,
        signs: str = "auto",
        missing: str = "raise",
        missing_values: str = "raise",
        fill_value: float = 0.0,
        max_missing_fraction: float = 0.5,
        missing_indicator: bool = False,
    ) -> None:
        self.layout = layout
        self.normalization = normalization
        self.shared = shared
        self.omics_types = omics_types
        self.max_features = max_features
        self.min_samples_per_feature = min_samples_per_feature
        self.signs = signs
        self.missing = missing
        self.missing_values = missing_values
        self.fill_value = fill_value
        self.max_missing_fraction = max_missing_fraction
        self.missing_indicator = missing_indicator

    def fit(self, X: OmicsTable | Mapping[str, pd.DataFrame], y: object = None) -> OmicsPreprocessor:
        """Fit normalisers and layout(s) on every sample of ``X`` (the training split); ``y`` is ignored."""
        if self.signs not in SIGNS:
            raise OmicsDataError(f"signs must be one of {SIGNS}, got {self.signs!r}")
        check_missing(self.missing)
        if self.missing_values not in MISSING_VALUES:
            raise OmicsDataError(f"missing_values must be one of {MISSING_VALUES}, got {self.missing_values!r}")
        indicator = _flag(self.missing_indicator, "missing_indicator")
        if indicator and self.missing_values == "raise" and self.missing == "raise":
            raise OmicsDataError(
                "missing_indicator=True marks empty cells and absent omics types, but missing_values='raise' "
                "and missing='raise' allow neither; set missing_values='median' (or 'mean', 'constant')"
            )
        table = _as_table(X)
        types = list(table.types if self.omics_types is None else self.omics_types)
        ids = table.all_sample_ids(types)
        held, rows = {}, {}
        self.normalizations_, self.left_out_ = {}, {}
        for t in types:
            held[t] = held_ids(table, t, ids, self.missing)
            if len(held[t]) < 2:
                raise OmicsDataError(
                    f"omics type {t!r} ({table.source(t)}) holds {len(held[t])} of the "
                    f"{len(ids)} training samples; a layout needs at least 2"
                )
            rows[t] = table.rows(t, held[t])
        imputers = fit_imputers(
            rows,
            held,
            {t: table.features(t) for t in types},
            ids,
            strategy=self.missing_values,
            fill_value=self.fill_value,
            max_missing_fraction=self.max_missing_fraction,
        )
        frames = {}
        for t in types:
            rows[t] = imputers[t].transform(rows[t], sample_ids=held[t], name=t)
            frames[t] = self._layout_frame(t, rows[t], held[t], imputers[t].feature_names_)
        layouts = self._fit_layouts(types, frames)
        self.absent_ = {
            t: np.setdiff1d(layouts[t].feature_names_, frames[t].columns) if self.shared else np.array([], str)
            for t in types
        }
        signed = self.signs == "coherent" or (
            self.signs == "auto" and any(layouts[t].metric.startswith("abs_") for t in types)
        )
        normalizers = {
            t: self._final_normalizer(t, rows[t], imputers[t].feature_names_, frames[t], layouts[t], signed)
            for t in types
        }
        display = {
            t: dict(zip(table.features(t).tolist(), table.display_names(t).tolist(), strict=True)) for t in types
        }
        placed = {t: imputers[t].restrict(normalizers[t].feature_names_) for t in types}
        self._set(types, normalizers, layouts, self.shared, display, placed, indicator)
        self.missing_report_ = {
            "missing_values": self.missing_values,
            "fill_value": float(self.fill_value),
            "max_missing_fraction": float(self.max_missing_fraction),
            "n_training_samples": len(ids),
            "tables": {t: imputers[t].report_ for t in types},
        }
        self._report(types)
        return self

    def channels_of(self, omics_types: Sequence[str]) -> list[str]:
        """The omics channels rendered for ``omics_types``: the types, then their mask channels with the
        missing indicator (the fitted one after ``fit`` / ``load``, else the parameter).

        The bundles' ``omics_channels`` (their count is the network's omics ``in_channels``).
        """
        fitted = getattr(self, "missing_indicator_", None)
        indicator = _flag(self.missing_indicator, "missing_indicator") if fitted is None else fitted
        types = [str(t) for t in omics_types]
        return types + ([mask_channel(t) for t in types] if indicator else [])

    def _method(self, omics_type: str) -> str:
        method = self.normalization
        return method[omics_type] if isinstance(method, Mapping) else method

    def _report(self, types: list[str]) -> None:
        """One ``LayoutWarning`` saying what "auto" chose, what was left out and what a type lacks."""
        lines = [
            f"omics type {t!r}: normalization 'auto' chose {self.normalizations_[t]!r} "
            f"({_AUTO_REASONS[self.normalizations_[t]]})"
            for t in types
            if self._method(t) == "auto"
        ]
        lines += [
            f"omics type {t!r}: left out {names.size} feature(s) non-zero in fewer than "
            f"{self.min_samples_per_feature} training samples: {first_names(names)}"
            for t, names in self.left_out_.items()
            if names.size
        ]
        lines += [
            f"omics type {t!r} lacks {names.size} of the shared layout's {self.layouts_[t].feature_names_.size} "
            f"feature(s), its pixels there stay 0: {first_names(names)}"
            for t, names in self.absent_.items()
            if names.size
        ]
        if lines:
            warnings.warn("; ".join(lines), LayoutWarning, stacklevel=3)

    def _layout_frame(self, omics_type: str, X: np.ndarray, ids: list[str], names: np.ndarray) -> pd.DataFrame:
        """Normalised training rows the layout is fitted on: the features non-zero in at least
        ``min_samples_per_feature`` of them, of those the ``max_features`` most variable."""
        method = self._method(omics_type)
        if self.missing == "mask" and method not in (*_MASKABLE, "auto"):  # "auto" picks one of _MASKABLE
            raise OmicsDataError(
                f"missing='mask' fills an absent type with 0, which must carry no signal (the training mean "
                f"after z-scoring, no call for binary / ordinal); omics type {omics_type!r} uses normalization "
                f"{method!r} (use one of {_MASKABLE})"
            )
        normalizer = FeatureNormalizer(method=method).fit(X, feature_names=names)
        method = self.normalizations_[omics_type] = normalizer.method_
        frame = pd.DataFrame(normalizer.transform(X, sample_ids=ids), index=ids, columns=names)
        if self.min_samples_per_feature is not None:
            rare = (X != 0).sum(axis=0) < int(self.min_samples_per_feature)
            self.left_out_[omics_type] = names[rare]
            frame, X = frame.loc[:, ~rare], X[:, ~rare]
        if self.max_features is not None and frame.shape[1] > self.max_features:
            spread = np.var(np.log1p(X) if method.startswith("log1p") else X, axis=0)
            frame = frame.iloc[:, np.sort(np.argsort(-spread, kind="stable")[: int(self.max_features)])]
        return frame

    def _fit_layouts(self, types: list[str], frames: dict[str, pd.DataFrame]) -> dict[str, OTLayout]:
        template = OTLayout() if self.layout is None else self.layout
        if self.shared:
            layout = fit_shared_layout(frames, **template.get_params())
            return {t: layout for t in types}
        layouts, grid = {}, template.grid
        for t in sorted(types, key=lambda t: -frames[t].shape[1]):
            layouts[t] = clone(template).set_params(grid=grid).fit(frames[t])
            grid = layouts[t].grid_ if grid == "auto" else grid
        return layouts

    def _final_normalizer(
        self, omics_type: str, X: np.ndarray, names: np.ndarray, frame: pd.DataFrame, layout: OTLayout, signed: bool
    ) -> FeatureNormalizer:
        """The normaliser over the features of ``frame`` the layout placed, signed coherently when ``signed``.

        Only ``frame``'s: a shared layout also places other types' features, which may include
        ones this type's ``max_features`` / ``min_samples_per_feature`` left out.
        """
        keep = np.flatnonzero((layout_columns(layout, names) >= 0) & np.isin(names, frame.columns))
        if keep.size == 0:
            raise FeatureMismatchError(f"omics type {omics_type!r} shares no feature with its layout")
        signs = None
        if signed:
            placed = names[keep]
            positions = feature_positions(layout.matrix_, pixel_coordinates(layout.grid_))
            signs = coherent_signs(frame[placed].to_numpy(np.float64), positions[layout_columns(layout, placed)])
        normalizer = FeatureNormalizer(method=self.normalizations_[omics_type])
        return normalizer.fit(X[:, keep], feature_names=names[keep], signs=signs)

    def transform(self, X: OmicsTable | Mapping[str, pd.DataFrame]) -> np.ndarray:
        """Images ``(n, C, *grid)`` of every sample of ``X``, empty cells filled (see :meth:`normalized_rows`),
        then the mask channels of the missing indicator (:attr:`channel_names`).

        Raises:
            MissingValuesError: an empty cell under ``missing_values="raise"``.
            EmptySampleError: a sample with no value in any type (named).
        """
        types = self.fitted_types()
        table = _as_table(X)
        ids = table.all_sample_ids(types)
        refuse_empty_samples(
            {t: {s: table.row(t, s) for s in held_ids(table, t, ids, self.missing)} for t in types}, ids
        )
        vectors = {t: self.normalized_rows(table, t, ids, missing=self.missing) for t in types}
        if self.missing_indicator_:
            vectors.update(
                {
                    mask_channel(t): empty_cells(table, t, ids, self.feature_names(t), missing=self.missing)
                    for t in types
                }
            )
        return self.images(vectors, normalized=True)

    def quality(self, X: OmicsTable | Mapping[str, pd.DataFrame]) -> dict[str, dict]:
        """Per omics type, ``OTLayout.quality`` of its layout on the samples of ``X`` that type holds.

        The rows are normalised as the layout saw them when fitted (without the rendering signs);
        a shared layout is scored on each type's own features.
        """
        table = _as_table(X)
        ids = table.all_sample_ids(self.fitted_types())
        figures = {}
        for t in self.types_:
            held = held_ids(table, t, ids, "mask")
            rows = self.normalized_rows(table, t, held) * np.sign(self.normalizers_[t].scale_)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LayoutWarning)  # a shared layout's other types' features
                figures[t] = self.layouts_[t].quality(pd.DataFrame(rows, index=held, columns=self.feature_names(t)))
        return figures

    def score(self, X: OmicsTable | Mapping[str, pd.DataFrame], y: object = None) -> float:
        """Mean over omics types of the layouts' ``spearman`` (see :meth:`quality`); ``y`` is ignored."""
        return float(np.mean([figures["spearman"] for figures in self.quality(X).values()]))
