"""Omics preprocessing fitted once on the training split: normaliser + layout per type.

An :class:`OmicsPreprocessor` turns one sample's feature vectors (one per omics
type) into a ``(C, *grid)`` image: channel ``c`` is ``A_c @ normalise_c(x_c)``
where ``A_c`` is the columns of the fitted layout's pixel x feature matrix
that belong to type ``c`` (with ``signs="coherent"`` the normaliser's scale
carries each feature's sign). Everything is stored in ONE ``.npz`` file (the
bundle's ``models/layout.npz``) written by ``OTLayout.save`` with the
normalisers as extras: plain arrays, checksummed, atomic, so evaluation and
inference reproduce training exactly.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omicsfusion.data.cache import LRUCache
from omicsfusion.data.errors import FeatureMismatchError, OmicsDataError
from omicsfusion.data.normalize import FeatureNormalizer
from omicsfusion.data.tables import OmicsTable
from omicsfusion.layout import OTLayout, coherent_signs, fit_shared_layout
from omicsfusion.layout.grid import pixel_coordinates
from omicsfusion.layout.metrics import feature_positions

__all__ = ["OmicsPreprocessor", "FORMAT", "MISSING", "SIGNS"]

#: value of the ``format`` entry of a preprocessor file
FORMAT = "omicsfusion.OmicsPreprocessor/1"
#: how features are signed when rendered (``OmicsPreprocessor.fit(signs=...)``)
SIGNS = ("auto", "coherent", "none")
#: what a sample without a row of some omics type gets (``fit`` / ``transform`` ``missing=...``)
MISSING = ("raise", "mask")
_CACHE = LRUCache(8)  # the most recently used layout files of :meth:`OmicsPreprocessor.cached`


def _coherent_signs(frame: pd.DataFrame, layout: OTLayout, names: np.ndarray) -> np.ndarray:
    """+1 / -1 per normaliser feature: coherent signs of the features the layout placed, +1 for the others."""
    placed = pd.Index(np.asarray(layout.feature_names_, str))
    columns = frame.columns[placed.get_indexer(frame.columns) >= 0]
    positions = feature_positions(layout.matrix_, pixel_coordinates(layout.grid_))[placed.get_indexer(columns)]
    signs = pd.Series(1.0, index=pd.Index(np.asarray(names, str)))
    signs[columns] = coherent_signs(frame[columns].to_numpy(np.float64), positions)
    return signs.to_numpy()


def _check_missing(missing: str) -> None:
    if missing not in MISSING:
        raise OmicsDataError(f"missing must be one of {MISSING}, got {missing!r}")


def _held(table: OmicsTable, omics_type: str, sample_ids: Sequence[str], missing: str) -> list[str]:
    """The ids a type is fitted on: all of them ("raise": an absent one raises later), or those it holds."""
    ids = [str(s) for s in sample_ids]
    return ids if missing == "raise" else [s for s in ids if table.has(omics_type, s)]


def _prefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


class OmicsPreprocessor:
    """Per omics type a :class:`FeatureNormalizer` and an ``OTLayout`` (or one shared layout).

    Fitted attributes: ``types_`` (channel order), ``normalizers_`` (type ->
    normaliser over exactly the features the layout kept), ``layouts_`` (type
    -> ``OTLayout``; the same object for every type when ``shared_``),
    ``grid_``, ``display_names_`` (type -> display name of each feature, e.g.
    the gene symbol of an Ensembl id; the id where the table knew none).

    Example:
        >>> pre = OmicsPreprocessor().fit(table, train_ids, grid=(64, 64))  # doctest: +SKIP
        >>> pre.save("models/layout.npz")                                   # doctest: +SKIP
    """

    def fit(
        self,
        table: OmicsTable,
        sample_ids: Sequence[str],
        normalization: str | Mapping[str, str] = "zscore",
        shared: bool = False,
        omics_types: Sequence[str] | None = None,
        max_features: int | None = None,
        signs: str = "auto",
        missing: str = "raise",
        **layout_params,
    ) -> OmicsPreprocessor:
        """Fit normalisers and layout(s) on the training samples only.

        Args:
            table: the omics table.
            sample_ids: training sample ids (must exist in every type used).
            normalization: one method for all types or a mapping type -> method.
            shared: one layout over the union of features of all types (the
                same gene lands on the same pixel in every channel).
            omics_types: types to use, in channel order (default all).
            max_features: per type, lay out only the features of highest training
                variance (after ``log1p`` for the log normalisations); the others are
                left out of the image. Bounds time and memory on very wide tables (see
                the README's wide-table figures); ``None`` keeps every feature.
            signs: "coherent" renders each feature times a sign so that correlated grid
                neighbours move together (``omicsfusion.layout.signs``; stored as the sign of
                the normaliser's scale), "none" renders every feature as it is, "auto" is
                "coherent" for the unsigned metrics (``abs_correlation``, ``abs_spearman``),
                which place anti-correlated features side by side, and "none" otherwise.
            missing: "raise" (every training id must be in every type) or "mask": each type is
                fitted on the training ids it holds (a patient lacking one omics type still
                trains the others); :meth:`transform` then masks the absent channel.
            layout_params: passed to ``OTLayout`` / ``fit_shared_layout``.
                Without an explicit ``grid`` and ``shared=False`` the type with
                most features chooses the grid and the others reuse it, so the
                channels stack.
        """
        if signs not in SIGNS:
            raise OmicsDataError(f"signs must be one of {SIGNS}, got {signs!r}")
        _check_missing(missing)
        types = list(table.types if omics_types is None else omics_types)
        normalizers, frames = {}, {}
        for t in types:
            method = normalization[t] if isinstance(normalization, Mapping) else normalization
            if missing == "mask" and not method.endswith("zscore"):
                raise OmicsDataError(f"missing='mask' fills an absent type with 0, the training mean only after "
                                     f"z-scoring; omics type {t!r} uses normalization {method!r} (use 'zscore' "
                                     "or 'log1p_zscore')")
            ids = _held(table, t, sample_ids, missing)
            if len(ids) < 2:
                raise OmicsDataError(f"omics type {t!r} ({table.source(t)}) holds {len(ids)} of the "
                                     f"{len(sample_ids)} training samples; a layout needs at least 2")
            X = table.rows(t, ids)
            norm = FeatureNormalizer(method).fit(X, table.features(t))
            normalizers[t] = norm
            frames[t] = pd.DataFrame(norm.transform(X, ids), index=ids, columns=norm.feature_names_)
            if max_features is not None and frames[t].shape[1] > max_features:
                spread = np.var(np.log1p(X) if method.startswith("log1p") else X, axis=0)
                keep = np.sort(np.argsort(-spread, kind="stable")[: int(max_features)])
                frames[t] = frames[t].iloc[:, keep]  # _set() narrows the normaliser to these features
        layouts: dict[str, OTLayout] = {}
        if shared:
            layout = fit_shared_layout(frames, **layout_params)
            layouts = {t: layout for t in types}
        else:
            params = dict(layout_params)
            for t in sorted(types, key=lambda t: -frames[t].shape[1]):
                layouts[t] = OTLayout(**params).fit(frames[t])
                params.setdefault("grid", layouts[t].grid_)
        unsigned = any(layouts[t].metric.startswith("abs_") for t in types)
        if signs == "coherent" or (signs == "auto" and unsigned):
            for t in types:
                normalizers[t].flip(_coherent_signs(frames[t], layouts[t], normalizers[t].feature_names_))
        display = {t: dict(zip(table.features(t).tolist(), table.display_names(t).tolist(), strict=True))
                   for t in types}
        self._set(types, normalizers, layouts, shared, display)
        return self

    def _set(
        self,
        types: list[str],
        normalizers: dict[str, FeatureNormalizer],
        layouts: dict[str, OTLayout],
        shared: bool,
        display: Mapping[str, Mapping[str, str]],
    ) -> None:
        """Restrict each normaliser to the features its layout kept; cache ``A_c``; align the display names."""
        self.types_ = list(types)
        self.shared_ = bool(shared)
        self.layouts_ = {t: layouts[t] for t in types}
        grids = {tuple(int(g) for g in layouts[t].grid_) for t in types}
        if len(grids) != 1:
            raise FeatureMismatchError(f"layouts of {types} have different grids {sorted(grids)}")
        self.grid_ = grids.pop()
        self.normalizers_, self._matrices, self._fingerprint = {}, {}, None
        for t in types:
            layout_names = pd.Index(np.asarray(layouts[t].feature_names_, str))
            position = layout_names.get_indexer(normalizers[t].feature_names_)
            keep = np.flatnonzero(position >= 0)
            if keep.size == 0:
                raise FeatureMismatchError(f"omics type {t!r} shares no feature with its layout")
            self.normalizers_[t] = normalizers[t].subset(keep)
            matrix = sp.csr_matrix(layouts[t].matrix_, dtype=np.float32)
            self._matrices[t] = sp.csr_matrix(matrix[:, position[keep]])
        self.display_names_ = {t: np.asarray([display.get(t, {}).get(f, f) for f in self.feature_names(t).tolist()],
                                             dtype=str) for t in types}

    # ------------------------------------------------------------------ queries
    @property
    def channel_names(self) -> list[str]:
        """Omics types in channel order (the bundle's ``channel_def`` names)."""
        return list(self.types_)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the fitted state, so transforms can check they share one preprocessor."""
        if getattr(self, "_fingerprint", None) is None:
            digest = hashlib.sha256()
            for t in self.types_:
                norm, matrix = self.normalizers_[t], self._matrices[t]
                for array in (norm.feature_names_, norm.offset_, norm.scale_, matrix.data, matrix.indices,
                              matrix.indptr):
                    digest.update(np.ascontiguousarray(array).tobytes())
                digest.update(f"{t}|{norm.method}|{matrix.shape}".encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def feature_names(self, omics_type: str) -> np.ndarray:
        """Features a vector of this type must hold, in order."""
        return self._normalizer(omics_type).feature_names_

    def display_names(self, omics_type: str) -> np.ndarray:
        """Display names (gene symbols) of :meth:`feature_names`, same order; ids stay the key."""
        self._normalizer(omics_type)
        return self.display_names_[omics_type]

    def normalize(self, omics_type: str, x: np.ndarray, sample_id: str | None = None) -> np.ndarray:
        """Normalise a vector (F,) or matrix (n, F) of one type with the fitted statistics."""
        return self._normalizer(omics_type).transform(x, None if sample_id is None else [sample_id])

    def matrix(self, omics_type: str) -> sp.csr_matrix:
        """The float32 (n_pixels, F_type) matrix ``A_c``: image = A_c @ x."""
        self._normalizer(omics_type)
        return self._matrices[omics_type]

    def _normalizer(self, omics_type: str) -> FeatureNormalizer:
        try:
            return self.normalizers_[omics_type]
        except KeyError:
            raise OmicsDataError(f"no omics type {omics_type!r} in the preprocessor; it has {self.types_}") from None

    # ------------------------------------------------------------------ apply
    def images(
        self,
        vectors: Mapping[str, np.ndarray],
        omics_types: Sequence[str] | None = None,
        normalized: bool = False,
    ) -> np.ndarray:
        """Vectors per type -> image ``(C, *grid)`` (or ``(n, C, *grid)`` for (n, F) inputs).

        Args:
            vectors: type -> ``(F_type,)`` or ``(n, F_type)``, features in the
                order of :meth:`feature_names`.
            omics_types: channels to produce, in order (default all types).
            normalized: the vectors are already normalised.

        Raises:
            FeatureMismatchError: a vector has the wrong number of features.
        """
        types = self.types_ if omics_types is None else list(omics_types)
        channels = []
        for t in types:
            x = np.asarray(vectors[t], dtype=np.float32)
            if x.shape[-1] != self.feature_names(t).size:
                raise FeatureMismatchError(
                    f"omics type {t!r}: vector has {x.shape[-1]} features, the layout expects "
                    f"{self.feature_names(t).size}"
                )
            if not normalized:
                x = self.normalize(t, x)
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
        """Normalised ``(n, F)`` rows of one type, features aligned by name (absent ones get ``fill_value``).

        With ``missing="mask"`` a sample without a row of this type gets zeros (the training mean under
        the z-scoring normalisations), so the absent type carries no signal for that sample.
        """
        _check_missing(missing)
        ids = [str(s) for s in sample_ids]
        out = np.zeros((len(ids), self.feature_names(omics_type).size), dtype=np.float32)
        held = [i for i, s in enumerate(ids) if missing == "raise" or table.has(omics_type, s)]
        if held:
            rows = table.aligned_rows(omics_type, [ids[i] for i in held], self.feature_names(omics_type),
                                      fill_value=fill_value, min_overlap=min_overlap)
            out[held] = self.normalize(omics_type, rows)
        return out

    def transform(
        self,
        table: OmicsTable,
        sample_ids: Sequence[str],
        omics_types: Sequence[str] | None = None,
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
        missing: str = "raise",
    ) -> np.ndarray:
        """Images ``(n, C, *grid)`` for many samples of a table (see :meth:`normalized_rows`)."""
        types = self.types_ if omics_types is None else list(omics_types)
        vectors = {
            t: self.normalized_rows(table, t, sample_ids, fill_value=fill_value, min_overlap=min_overlap,
                                    missing=missing)
            for t in types
        }
        return self.images(vectors, types, normalized=True)

    def backproject(self, maps: np.ndarray, omics_types: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Adjoint of :meth:`images` (after normalisation): per type ``A_c.T @ a_c``.

        Args:
            maps: ``(C, *grid)`` or ``(n, C, *grid)`` attributions on the layout grid.
            omics_types: the channels ``maps`` holds, in order (default all).

        Returns:
            type -> ``(F_type,)`` (or ``(n, F_type)``) float64 attributions.
        """
        types = self.types_ if omics_types is None else list(omics_types)
        maps = np.asarray(maps, dtype=np.float64)
        n_grid = len(self.grid_)
        if maps.shape[-n_grid:] != self.grid_ or maps.shape[-n_grid - 1] != len(types):
            raise FeatureMismatchError(
                f"attribution maps of shape {maps.shape} do not match {len(types)} channels on grid {self.grid_}"
            )
        flat = maps.reshape(maps.shape[: -n_grid - 1] + (len(types), -1))
        return {t: np.asarray(self._matrices[t].T @ flat[..., c, :].T).T for c, t in enumerate(types)}

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write ONE ``.npz`` through ``OTLayout.save`` (atomic, checksummed, no pickle).

        The first type's layout (or the shared one) is the file's layout, so
        ``OTLayout.load`` reads it too; the normalisers, channel order and the
        other types' layouts travel in its ``extras``.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extras = {
            "format": np.asarray(FORMAT),
            "types": np.asarray(self.types_, dtype=str),
            "shared": np.asarray(self.shared_),
        }
        for t in self.types_:
            extras.update({f"norm/{t}/{k}": v for k, v in self.normalizers_[t].to_arrays().items()})
            extras[f"display/{t}"] = self.display_names_[t]
        if not self.shared_:
            for t in self.types_[1:]:
                extras.update({f"layout/{t}/{k}": np.asarray(v) for k, v in self.layouts_[t].to_arrays().items()})
        return self.layouts_[self.types_[0]].save(path, extras=extras)

    @classmethod
    def load(cls, path: str | os.PathLike) -> OmicsPreprocessor:
        """Read a file written by :meth:`save` (format and checksums checked; no pickle)."""
        first = OTLayout.load(path)
        extras = first.extras_
        if str(extras.get("format", "")) != FORMAT:
            raise OmicsDataError(f"{path}: a bare layout file, not an omicsfusion preprocessor ({FORMAT!r})")
        types = [str(t) for t in extras["types"]]
        shared = bool(extras["shared"])
        normalizers = {t: FeatureNormalizer.from_arrays(_prefixed(extras, f"norm/{t}/")) for t in types}
        layouts = {types[0]: first}
        for t in types[1:]:
            layouts[t] = first if shared else OTLayout.from_arrays(_prefixed(extras, f"layout/{t}/"), f"{path}[{t}]")
        display = {t: dict(zip(normalizers[t].feature_names_.tolist(), np.asarray(extras[f"display/{t}"]).tolist(),
                                strict=True)) for t in types if f"display/{t}" in extras}
        out = cls()
        out._set(types, normalizers, layouts, shared, display)
        return out

    @classmethod
    def cached(cls, path: str | os.PathLike) -> OmicsPreprocessor:
        """Process-wide copy of :meth:`load`, keyed by resolved path, mtime and size."""
        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"preprocessor / layout file not found: {path}")
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in _CACHE:
            _CACHE[key] = cls.load(path)
        return _CACHE[key]
