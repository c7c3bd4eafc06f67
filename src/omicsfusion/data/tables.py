"""Omics tables: samples x features, several omics types by name, O(1) row lookup.

A table is read once into a read-only float32 matrix plus a sample-id -> row
dictionary, so a data loader can fetch one sample's vector per omics type in
constant time. :meth:`OmicsTable.cached` keeps one copy per process, keyed by
resolved path, modification time and size, so transforms built many times (or
forked into DataLoader workers) never re-read the files.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from omicsfusion.data.errors import (
    DuplicateSampleError,
    FeatureMismatchError,
    MissingLayerError,
    MissingSampleError,
    OmicsDataError,
)

__all__ = ["OmicsTable", "TableSource", "read_table"]

TableSource = Union[str, os.PathLike, pd.DataFrame, Any]  # Any: an anndata.AnnData
PerType = Union[None, str, Mapping[str, str]]

_CACHE: dict[tuple, OmicsTable] = {}


class _Frame:
    """One omics type: values (n, F) float32, ids, features, id -> row, source."""

    __slots__ = ("values", "ids", "features", "index", "source")

    def __init__(self, values: np.ndarray, ids: np.ndarray, features: np.ndarray, source: str) -> None:
        ids = np.asarray([str(i) for i in ids], dtype=str)
        features = np.asarray([str(f) for f in features], dtype=str)
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1]
            raise DuplicateSampleError(
                f"{source}: {dup.size} sample id(s) occur more than once, e.g. {list(dup[:5])}; ids must be unique"
            )
        funiq, fcounts = np.unique(features, return_counts=True)
        if (fcounts > 1).any():
            dup = funiq[fcounts > 1]
            raise OmicsDataError(
                f"{source}: {dup.size} feature name(s) occur more than once, e.g. {list(dup[:5])}"
            )
        values = np.ascontiguousarray(values, dtype=np.float32)
        values.setflags(write=False)
        features.setflags(write=False)
        self.values = values
        self.ids = ids
        self.features = features
        self.index = {sid: row for row, sid in enumerate(ids.tolist())}
        self.source = source


def _per_type(option: PerType, omics_type: str) -> str | None:
    if isinstance(option, Mapping):
        return option.get(omics_type)
    return option


def _numeric(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Keep numeric columns; warn naming any dropped (labels, free text)."""
    numeric = df.select_dtypes(include=["number", "bool"])
    dropped = [c for c in df.columns if c not in numeric.columns]
    if dropped:
        warnings.warn(
            f"{source}: dropped {len(dropped)} non-numeric column(s) {dropped[:5]}", UserWarning, stacklevel=3
        )
    if numeric.shape[1] == 0:
        raise OmicsDataError(f"{source}: no numeric feature columns")
    return numeric


def _excluded(names: np.ndarray, exclude: Sequence[str], source: str) -> np.ndarray:
    """Mask of the names to keep; an excluded name that does not exist is an error (typo guard)."""
    unknown = sorted(set(exclude) - set(names.tolist()))
    if unknown:
        raise OmicsDataError(f"{source}: cannot exclude unknown column(s) {unknown[:5]}")
    return ~np.isin(names, list(exclude))


def _read_anndata(
    adata: Any, source: str, id_column: str | None, layer: str | None, exclude: Sequence[str] = ()
) -> _Frame:
    if layer is not None:
        if layer not in adata.layers:
            raise MissingLayerError(
                f"{source}: no layer {layer!r} in the AnnData file; it has layers {list(adata.layers.keys())}"
            )
        matrix = adata.layers[layer]
    else:
        matrix = adata.X
    if hasattr(matrix, "toarray"):  # scipy.sparse
        matrix = matrix.toarray()
    if id_column is not None:
        if id_column not in adata.obs:
            raise OmicsDataError(f"{source}: no obs column {id_column!r}; it has {list(adata.obs.columns)}")
        ids = adata.obs[id_column].to_numpy()
    else:
        ids = adata.obs_names.to_numpy()
    features = adata.var_names.to_numpy().astype(str)
    keep = _excluded(features, exclude, source)
    return _Frame(np.asarray(matrix)[:, keep], ids, features[keep], source)


def _read_dataframe(
    df: pd.DataFrame, source: str, id_column: str | None, from_file: bool, exclude: Sequence[str] = ()
) -> _Frame:
    if id_column is not None:
        if id_column not in df.columns:
            raise OmicsDataError(f"{source}: no id column {id_column!r}; it has {list(df.columns[:10])}...")
        df = df.set_index(id_column)
    elif from_file and isinstance(df.index, pd.RangeIndex):
        df = df.set_index(df.columns[0])  # csv/tsv/parquet: the first column holds the ids
    df = df.loc[:, _excluded(df.columns.to_numpy().astype(str), exclude, source)]
    df = _numeric(df, source)
    return _Frame(df.to_numpy(), df.index.to_numpy(), df.columns.to_numpy(), source)


def read_table(
    source: TableSource,
    *,
    id_column: str | None = None,
    layer: str | None = None,
    exclude: Sequence[str] = (),
) -> _Frame:
    """Read one omics type from a file or an in-memory frame.

    Args:
        source: ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``), ``.parquet``,
            ``.h5ad`` path, a pandas DataFrame (index = sample ids) or an AnnData.
        id_column: column (obs column for h5ad) holding the sample ids; default
            the first column of a text/parquet file, the index of a DataFrame,
            ``obs_names`` of an AnnData.
        layer: AnnData layer to read instead of ``X``.
        exclude: columns (features) to leave out, e.g. outcome or bookkeeping
            columns of a clinical-molecular table.

    Raises:
        MissingLayerError: the AnnData file has no such layer.
        DuplicateSampleError: a sample id occurs twice.
        OmicsDataError: unknown file type, no numeric columns, bad id column.
    """
    if isinstance(source, pd.DataFrame):
        return _read_dataframe(source, "<DataFrame>", id_column, False, exclude)
    if hasattr(source, "obs") and hasattr(source, "var_names"):
        return _read_anndata(source, "<AnnData>", id_column, layer, exclude)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"omics table not found: {path}")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".h5ad"):
        import anndata  # imported lazily: heavy, and only h5ad needs it

        return _read_anndata(anndata.read_h5ad(path), str(path), id_column, layer, exclude)
    if layer is not None:
        raise OmicsDataError(f"{path}: layer={layer!r} only applies to .h5ad files")
    if name.endswith(".parquet"):
        df = pd.read_parquet(path)
        if id_column is None and not isinstance(df.index, pd.RangeIndex):
            return _read_dataframe(df, str(path), None, False, exclude)
        return _read_dataframe(df, str(path), id_column, True, exclude)
    if name.endswith((".csv", ".tsv", ".txt")):
        sep = "," if name.endswith(".csv") else "\t"
        df = pd.read_csv(path, sep=sep, dtype={id_column: str} if id_column else None)
        if id_column is None:
            df[df.columns[0]] = df[df.columns[0]].astype(str)
        return _read_dataframe(df, str(path), id_column, True, exclude)
    raise OmicsDataError(f"{path}: unsupported omics table type (use .csv, .tsv, .txt, .parquet or .h5ad)")


class OmicsTable:
    """Several omics types by name, each a samples x features float32 matrix.

    Args:
        sources: omics type -> table (path, DataFrame or AnnData), e.g.
            ``{"rna": "rna.csv", "cnv": "cnv.parquet"}``. The order of the
            mapping is the order of :attr:`types`.
        id_column: sample-id column, one for all types or a mapping per type.
        layer: AnnData layer, one for all types or a mapping per type.
        exclude: columns to leave out, one list for all types or a mapping
            per type (e.g. ``{"clin": ["Survival months"]}``).

    Example:
        >>> table = OmicsTable({"rna": "rna.csv"})            # doctest: +SKIP
        >>> table.row("rna", "TCGA-06-0174")                  # doctest: +SKIP
    """

    def __init__(
        self,
        sources: Mapping[str, TableSource],
        *,
        id_column: PerType = None,
        layer: PerType = None,
        exclude: Sequence[str] | Mapping[str, Sequence[str]] = (),
    ) -> None:
        if not sources:
            raise OmicsDataError("OmicsTable needs at least one omics type")
        self._frames = {
            str(t): read_table(
                src,
                id_column=_per_type(id_column, t),
                layer=_per_type(layer, t),
                exclude=exclude.get(t, ()) if isinstance(exclude, Mapping) else exclude,
            )
            for t, src in sources.items()
        }

    @classmethod
    def cached(
        cls,
        sources: Mapping[str, str | os.PathLike],
        *,
        id_column: PerType = None,
        layer: PerType = None,
        exclude: Sequence[str] | Mapping[str, Sequence[str]] = (),
    ) -> OmicsTable:
        """Return the process-wide table for these files, reading them only once.

        The key holds each file's resolved path, mtime and size, so an edited
        file is re-read while unchanged ones are shared by every transform.
        """
        parts = []
        for t, src in sources.items():
            path = Path(src).resolve()
            if not path.is_file():
                raise FileNotFoundError(f"omics table for {t!r} not found: {path}")
            st = path.stat()
            parts.append((str(t), str(path), st.st_mtime_ns, st.st_size))
        key = (tuple(parts), repr(id_column), repr(layer), repr(exclude))
        table = _CACHE.get(key)
        if table is None:
            table = _CACHE[key] = cls(sources, id_column=id_column, layer=layer, exclude=exclude)
        return table

    @property
    def types(self) -> tuple[str, ...]:
        """Omics types in the order given."""
        return tuple(self._frames)

    def _frame(self, omics_type: str) -> _Frame:
        try:
            return self._frames[omics_type]
        except KeyError:
            raise OmicsDataError(f"no omics type {omics_type!r}; the table has {list(self._frames)}") from None

    def source(self, omics_type: str) -> str:
        """File (or ``<DataFrame>``) the type was read from, for messages."""
        return self._frame(omics_type).source

    def features(self, omics_type: str) -> np.ndarray:
        """Feature names of one type, read-only, in column order."""
        return self._frame(omics_type).features

    def sample_ids(self, omics_type: str | None = None) -> list[str]:
        """Sample ids of one type, or (``None``) those present in every type."""
        if omics_type is not None:
            return self._frame(omics_type).ids.tolist()
        first, *rest = self._frames.values()
        return [s for s in first.ids.tolist() if all(s in f.index for f in rest)]

    def has(self, omics_type: str, sample_id: str) -> bool:
        """Whether the type holds a row for ``sample_id``."""
        return str(sample_id) in self._frame(omics_type).index

    def row(self, omics_type: str, sample_id: str) -> np.ndarray:
        """One sample's read-only float32 vector, O(1).

        Raises:
            MissingSampleError: the id is not in this type's table.
        """
        frame = self._frame(omics_type)
        try:
            return frame.values[frame.index[str(sample_id)]]
        except KeyError:
            raise MissingSampleError(
                f"sample {sample_id!r} not found in omics table {omics_type!r} ({frame.source})"
            ) from None

    def rows(self, omics_type: str, sample_ids: Iterable[str]) -> np.ndarray:
        """Matrix (n, F) of the given samples, in the given order (a copy).

        Raises:
            MissingSampleError: an id is not in this type's table.
        """
        frame = self._frame(omics_type)
        rows = []
        for sid in sample_ids:
            row = frame.index.get(str(sid))
            if row is None:
                self.row(omics_type, sid)  # raises the named error
            rows.append(row)
        return frame.values[np.asarray(rows, dtype=np.int64)]

    def frame(self, omics_type: str, sample_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """A DataFrame (index sample ids, columns features), e.g. to fit a layout."""
        ids = self.sample_ids(omics_type) if sample_ids is None else [str(s) for s in sample_ids]
        return pd.DataFrame(self.rows(omics_type, ids), index=ids, columns=self.features(omics_type))

    def feature_index(self, omics_type: str, feature_names: Sequence[str], min_overlap: float = 0.5) -> np.ndarray:
        """For each wanted feature, its column in this type (``-1`` where absent).

        Warns with the count of absent features; refuses below ``min_overlap``.

        Raises:
            FeatureMismatchError: fewer than ``min_overlap`` of the wanted
                features exist in the table (message names some absent ones).
        """
        wanted = pd.Index(np.asarray(feature_names, dtype=str))
        index = pd.Index(self.features(omics_type)).get_indexer(wanted)
        absent = int((index < 0).sum())
        if wanted.size and (wanted.size - absent) / wanted.size < min_overlap:
            raise FeatureMismatchError(
                f"omics table {omics_type!r} ({self.source(omics_type)}) has only {wanted.size - absent} of "
                f"{wanted.size} layout features (min_overlap={min_overlap}); absent e.g. "
                f"{wanted[index < 0][:5].tolist()}"
            )
        if absent:
            warnings.warn(
                f"omics table {omics_type!r} ({self.source(omics_type)}): {absent} of {wanted.size} layout "
                f"features absent, e.g. {wanted[index < 0][:5].tolist()}; they are filled",
                UserWarning,
                stacklevel=2,
            )
        return index

    def aligned_rows(
        self,
        omics_type: str,
        sample_ids: Sequence[str],
        feature_names: Sequence[str],
        *,
        fill_value: float = 0.0,
        min_overlap: float = 0.5,
    ) -> np.ndarray:
        """Rows reordered to ``feature_names``; absent features get ``fill_value``."""
        index = self.feature_index(omics_type, feature_names, min_overlap)
        out = self.rows(omics_type, sample_ids)[:, np.maximum(index, 0)]
        out[:, index < 0] = fill_value
        return out
