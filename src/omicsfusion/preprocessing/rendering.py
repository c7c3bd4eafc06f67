"""The fitted state of an ``OmicsPreprocessor`` and what it renders: vectors -> omics images and back.

Channel ``c`` of an image is ``A_c @ normalise_c(x_c)``, where ``A_c`` is the
columns of the type's layout matrix that belong to its normaliser's features;
:meth:`OmicsRendering.backproject` is the adjoint, ``A_c.T @ a_c``. With the
missing indicator, each type ``t`` also has a mask channel ``t_missing`` =
``A_t @ m_t`` (``m_t`` 1 where the cell was empty before filling), so a gene's
mask pixel sits where the gene sits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omicsfusion.data.errors import FeatureMismatchError, OmicsDataError
from omicsfusion.data.tables import OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.layout.errors import check_fitted
from omicsfusion.preprocessing.missing import MissingValues
from omicsfusion.preprocessing.normalize import FeatureNormalizer

#: what a sample without a row of some omics type gets (``OmicsPreprocessor(missing=...)``); empty cells
#: of a row it has are ``missing_values`` (:mod:`omicsfusion.preprocessing.missing`)
MISSING = ("raise", "mask")
#: suffix of the mask channel of an omics type (``OmicsPreprocessor(missing_indicator=True)``)
MASK_SUFFIX = "_missing"


def mask_channel(omics_type: str) -> str:
    """Name of the mask channel of ``omics_type`` (``"rna"`` -> ``"rna_missing"``)."""
    return f"{omics_type}{MASK_SUFFIX}"


def check_missing(missing: str) -> None:
    if missing not in MISSING:
        raise OmicsDataError(f"missing must be one of {MISSING}, got {missing!r}")


def held_ids(table: OmicsTable, omics_type: str, sample_ids: Sequence[str], missing: str) -> list[str]:
    """The ``sample_ids`` whose rows of a type are read: all under ``missing="raise"`` (an absent one
    raises when read), those the type holds under ``"mask"``."""
    check_missing(missing)
    return [str(s) for s in sample_ids if missing == "raise" or table.has(omics_type, s)]


def normalized_rows(
    table: OmicsTable,
    omics_type: str,
    sample_ids: Sequence[str],
    normalizer: FeatureNormalizer,
    *,
    fill_value: float = 0.0,
    min_overlap: float = 0.5,
    missing: str = "raise",
    imputer: MissingValues | None = None,
) -> np.ndarray:
    """``(n, F)`` rows of one type aligned by name to the normaliser's features, normalised.

    Absent features get ``fill_value``; empty cells the fitted ``imputer``'s fills (over the
    normaliser's features), before normalisation. With ``missing="mask"`` a sample without a row of
    this type gets zeros (the training mean under the z-scoring normalisations), so it carries no
    signal there.
    """
    ids = [str(s) for s in sample_ids]
    held = held_ids(table, omics_type, ids, missing)
    out = np.zeros((len(ids), normalizer.feature_names_.size), dtype=np.float32)
    if held:
        rows = table.aligned_rows(
            omics_type, held, normalizer.feature_names_, fill_value=fill_value, min_overlap=min_overlap
        )
        if imputer is not None:
            rows = imputer.transform(rows, sample_ids=held, name=omics_type)
        out[np.isin(ids, held)] = normalizer.transform(rows, sample_ids=held)
    return out


def empty_cells(
    table: OmicsTable,
    omics_type: str,
    sample_ids: Sequence[str],
    feature_names: np.ndarray,
    *,
    min_overlap: float = 0.5,
    missing: str = "raise",
) -> np.ndarray:
    """``(n, F)`` float32 mask over ``feature_names``: 1 where the sample's cell is empty (NaN/inf) before filling.

    A sample without a row of this type (``missing="mask"``) is empty everywhere (all ones); a
    feature absent from the table gets 0 (it is filled by name, not an empty cell).
    """
    ids = [str(s) for s in sample_ids]
    held = held_ids(table, omics_type, ids, missing)
    out = np.ones((len(ids), np.asarray(feature_names).size), dtype=np.float32)
    if held:
        rows = table.aligned_rows(omics_type, held, feature_names, fill_value=0.0, min_overlap=min_overlap)
        out[np.isin(ids, held)] = ~np.isfinite(rows)
    return out


def layout_columns(layout: OTLayout, feature_names: np.ndarray) -> np.ndarray:
    """Column of each feature in ``layout``'s matrix, -1 where the layout did not place it."""
    return pd.Index(np.asarray(layout.feature_names_, str)).get_indexer(np.asarray(feature_names, str))


class OmicsRendering:
    """Mixin of ``OmicsPreprocessor``: its fitted attributes and the images they render.

    Fitted attributes: ``types_`` (channel order), ``normalizers_`` (type ->
    normaliser over exactly the features its layout placed), ``layouts_``
    (type -> ``OTLayout``; the same object for every type when ``shared_``),
    ``grid_``, ``display_names_`` (type -> display name of each feature, e.g.
    the gene symbol of an Ensembl id; the id where the table knew none), ``imputers_``
    (type -> :class:`MissingValues` over the normaliser's features: the fills of empty cells).
    """

    def _set(
        self,
        types: list[str],
        normalizers: dict[str, FeatureNormalizer],
        layouts: dict[str, OTLayout],
        shared: bool,
        display: Mapping[str, Mapping[str, str]],
        imputers: Mapping[str, MissingValues] | None = None,
        missing_indicator: bool = False,
    ) -> None:
        """Store the fitted parts, cache each ``A_c`` and align the display names.

        Without ``imputers`` (a file written before empty cells were filled) every type refuses them.
        ``missing_indicator`` adds the mask channel :func:`mask_channel` of every type.
        """
        grids = {tuple(int(g) for g in layouts[t].grid_) for t in types}
        if len(grids) != 1:
            raise FeatureMismatchError(f"layouts of {types} have different grids {sorted(grids)}")
        self.types_, self.shared_, self.grid_ = list(types), bool(shared), grids.pop()
        self.missing_indicator_ = bool(missing_indicator)
        masks = {mask_channel(t): t for t in types} if self.missing_indicator_ else {}
        clash = sorted(set(masks) & set(types))
        if clash:
            raise OmicsDataError(f"omics type(s) {clash} clash with the names of the missing-indicator channels")
        self._sources = {**{t: t for t in types}, **masks}
        self.layouts_ = {t: layouts[t] for t in types}
        self.normalizers_ = {t: normalizers[t] for t in types}
        self.imputers_ = {
            t: MissingValues.refusing(normalizers[t].feature_names_) if imputers is None else imputers[t] for t in types
        }
        self._matrices, self._fingerprint = {}, None
        for t in types:
            columns = layout_columns(layouts[t], normalizers[t].feature_names_)
            if (columns < 0).any():
                raise FeatureMismatchError(
                    f"omics type {t!r}: {int((columns < 0).sum())} normaliser feature(s) are not in its layout"
                )
            self._matrices[t] = sp.csr_matrix(sp.csr_matrix(layouts[t].matrix_, dtype=np.float32)[:, columns])
        self.display_names_ = {
            t: np.asarray([display.get(t, {}).get(f, f) for f in self.feature_names(t).tolist()], dtype=str)
            for t in types
        }

    # ------------------------------------------------------------------ queries
    @property
    def channel_names(self) -> list[str]:
        """The omics channels in order (the bundle's ``channel_def`` names): the types, then their mask channels."""
        self.fitted_types()
        return list(self._sources)

    def channel_type(self, channel: str) -> str:
        """The omics type a channel renders (a mask channel ``"rna_missing"`` -> ``"rna"``)."""
        self.fitted_types()
        try:
            return self._sources[channel]
        except KeyError:
            raise OmicsDataError(
                f"no omics channel {channel!r} in the preprocessor; it has {self.channel_names}"
            ) from None

    def is_mask(self, channel: str) -> bool:
        """Whether ``channel`` is a missing-indicator mask channel."""
        return self.channel_type(channel) != channel

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the fitted state, so transforms can check they share one preprocessor."""
        if getattr(self, "_fingerprint", None) is None:
            digest = hashlib.sha256()
            for t in self.types_:
                norm, matrix = self.normalizers_[t], self._matrices[t]
                for array in (
                    norm.feature_names_,
                    norm.offset_,
                    norm.scale_,
                    matrix.data,
                    matrix.indices,
                    matrix.indptr,
                ):
                    digest.update(np.ascontiguousarray(array).tobytes())
                digest.update(f"{t}|{norm.method_}|{matrix.shape}|{self.missing_indicator_}".encode())
                if self.imputers_[t].strategy != "raise":  # the fills are fitted state too
                    digest.update(f"{self.imputers_[t].strategy}".encode() + self.imputers_[t].fill_values_.tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def feature_names(self, omics_type: str) -> np.ndarray:
        """Features a vector of this type (or channel: a mask channel has its type's) must hold, in order."""
        return self._normalizer(omics_type).feature_names_

    def display_names(self, omics_type: str) -> np.ndarray:
        """Display names (gene symbols) of :meth:`feature_names`, same order; ids stay the key."""
        self._normalizer(omics_type)
        return self.display_names_[self._sources[omics_type]]

    def normalize(self, omics_type: str, x: np.ndarray, sample_id: str | None = None) -> np.ndarray:
        """Normalise a vector (F,) or matrix (n, F) of one type with the fitted statistics."""
        return self._normalizer(omics_type).transform(x, sample_ids=None if sample_id is None else [sample_id])

    def fill_missing(self, omics_type: str, x: np.ndarray, sample_id: str | None = None) -> np.ndarray:
        """Fill the empty cells of a raw vector (F,) or matrix (n, F) of one type with the training fills.

        Raises:
            MissingValuesError: an empty cell and the layout was fitted with ``missing_values="raise"``
                (names the sample, type and first features).
        """
        self._normalizer(omics_type)
        ids = None if sample_id is None else [sample_id]
        return self.imputers_[omics_type].transform(x, sample_ids=ids, name=omics_type)

    def training_means(self, omics_types: Sequence[str] | None = None) -> dict[str, np.ndarray] | None:
        """Type -> mean normalised training row ``(F,)``; ``None`` for a file written before the means were stored."""
        channels = self.fitted_types() if omics_types is None else list(omics_types)
        means = {c: self._normalizer(c).mean_ for c in channels}
        if any(m is None for m in means.values()):
            return None
        return {c: np.zeros_like(m) if self.is_mask(c) else m for c, m in means.items()}  # mask: no cell empty

    def matrix(self, omics_type: str) -> sp.csr_matrix:
        """The float32 (n_pixels, F_type) matrix ``A_c``: image = A_c @ x (a mask channel: its type's)."""
        self._normalizer(omics_type)
        return self._matrices[self._sources[omics_type]]

    def fitted_types(self) -> list[str]:
        """The channel order, or :class:`~omicsfusion.layout.LayoutNotFittedError` before ``fit`` / ``load``."""
        check_fitted(self, "types_")
        return list(self.types_)

    def _normalizer(self, omics_type: str) -> FeatureNormalizer:
        self.fitted_types()  # not fitted: the named error
        if omics_type not in self._sources:
            raise OmicsDataError(f"no omics type {omics_type!r} in the preprocessor; it has {self.channel_names}")
        return self.normalizers_[self._sources[omics_type]]

    # ------------------------------------------------------------------ apply
    def images(
        self,
        vectors: Mapping[str, np.ndarray],
        omics_types: Sequence[str] | None = None,
        normalized: bool = False,
    ) -> np.ndarray:
        """Vectors per channel -> image ``(C, *grid)`` (or ``(n, C, *grid)`` for (n, F) inputs).

        Args:
            vectors: channel -> ``(F_type,)`` or ``(n, F_type)``, features in the
                order of :meth:`feature_names`; a mask channel's vector is 1 where the cell was empty.
            omics_types: channels to produce, in order (default :attr:`channel_names`).
            normalized: the vectors are already normalised (else their empty cells are filled, then
                normalised, and a mask channel without a vector is read off its type's empty cells).

        Raises:
            FeatureMismatchError: a vector has the wrong number of features, or a mask channel has
                no vector and the vectors are normalised.
        """
        names = self.channel_names if omics_types is None else list(omics_types)
        channels = []
        for c in names:
            t = self.channel_type(c)
            if c not in vectors and c != t and not normalized:
                x = (~np.isfinite(np.asarray(vectors[t], dtype=np.float32))).astype(np.float32)
            elif c not in vectors:
                raise FeatureMismatchError(f"no vector for omics channel {c!r}; got {sorted(vectors)}")
            else:
                x = np.asarray(vectors[c], dtype=np.float32)
            if x.shape[-1] != self.feature_names(t).size:
                raise FeatureMismatchError(
                    f"omics channel {c!r}: vector has {x.shape[-1]} features, the layout expects "
                    f"{self.feature_names(t).size}"
                )
            if not normalized and c == t:
                x = self.normalize(t, self.fill_missing(t, x))
            channels.append(np.asarray(self._matrices[t] @ x.T, dtype=np.float32).T)
        stacked = np.stack(channels, axis=-2)  # (..., C, n_pixels)
        return stacked.reshape(stacked.shape[:-1] + self.grid_)

    def normalized_rows(
        self,
        table: OmicsTable,
        omics_type: str,
        sample_ids: Sequence[str],
        *,
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
        missing: str = "raise",
    ) -> np.ndarray:
        """Normalised ``(n, F)`` rows of one type, features aligned by name (see :func:`normalized_rows`)."""
        return normalized_rows(
            table,
            omics_type,
            sample_ids,
            self._normalizer(omics_type),
            fill_value=fill_value,
            min_overlap=min_overlap,
            missing=missing,
            imputer=self.imputers_[omics_type],
        )

    def backproject(self, maps: np.ndarray, omics_types: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Adjoint of :meth:`images` (after normalisation): per channel ``A_c.T @ a_c``.

        Args:
            maps: ``(C, *grid)`` or ``(n, C, *grid)`` attributions on the layout grid.
            omics_types: the channels ``maps`` holds, in order (default :attr:`channel_names`).

        Returns:
            channel -> ``(F_type,)`` (or ``(n, F_type)``) float64 attributions; a mask channel's
            lands on its type's genes and is reported under its own name.
        """
        types = self.channel_names if omics_types is None else list(omics_types)
        maps = np.asarray(maps, dtype=np.float64)
        n_grid = len(self.grid_)
        if maps.shape[-n_grid:] != self.grid_ or maps.shape[-n_grid - 1] != len(types):
            raise FeatureMismatchError(
                f"attribution maps of shape {maps.shape} do not match {len(types)} channels on grid {self.grid_}"
            )
        flat = maps.reshape((*maps.shape[: -n_grid - 1], len(types), -1))
        return {t: np.asarray(self.matrix(t).T @ flat[..., c, :].T).T for c, t in enumerate(types)}
