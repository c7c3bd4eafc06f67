"""Omics tables: samples x features, several omics types by name, O(1) row lookup.

A table is read once into a read-only float32 matrix plus a sample-id -> row
dictionary, so a data loader can fetch one sample's vector per omics type in
constant time. :meth:`OmicsTable.cached` keeps one copy per process, keyed by
resolved path, modification time and size, so code that names the same files
many times (scripts, recipes over many splits) never re-reads them; it keeps the
:data:`CACHED_TABLES` most recently used sets of files (:mod:`omicsfusion.data.cache`).
"""

from __future__ import annotations

import csv
import gzip
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsfusion.data.cache import LRUCache, file_key
from omicsfusion.data.errors import (
    DuplicateSampleError,
    EmptyTableError,
    MissingLayerError,
    MissingSampleError,
    OmicsDataError,
    TableEncodingError,
    TableTooWideError,
)
from omicsfusion.features import match_features

__all__ = [
    "DISPLAY_COLUMNS",
    "FEATURES_SUFFIX",
    "TABLE_SUFFIXES",
    "OmicsTable",
    "TableSource",
    "display_names",
    "read_table",
    "table_suffix",
]

TableSource = str | os.PathLike | pd.DataFrame | Any  # Any: an anndata.AnnData
PerType = None | str | Mapping[str, str]

#: tables kept by :meth:`OmicsTable.cached` (one per set of files; a bundle run names one set)
CACHED_TABLES = 8
_CACHE = LRUCache(CACHED_TABLES)
#: default limit of columns in a text table's header (an EPIC methylation array has ~0.94 M probes)
MAX_COLUMNS = 1_000_000
#: a table file's sidecar ``<stem>.features.csv`` (columns ``feature``, ``display_name``) names its features
FEATURES_SUFFIX = ".features.csv"
#: AnnData ``var`` columns read as display names (gene symbols); the first present wins
DISPLAY_COLUMNS = ("gene_symbols", "gene_symbol", "symbol", "gene_name", "feature_name")
#: file endings of the omics tables :func:`read_table` reads (text tables also gzipped), in order of preference
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".h5ad")


def table_suffix(path: str | os.PathLike) -> str:
    """The :data:`TABLE_SUFFIXES` entry a file name ends with, any case (``rna.CSV.gz`` -> ``.csv.gz``), else ``""``."""
    name = Path(path).name.lower()
    return next((s for s in TABLE_SUFFIXES if name.endswith(s)), "")


def display_names(var: pd.DataFrame) -> np.ndarray:
    """Display name (gene symbol) of each row of an AnnData ``var``: its first :data:`DISPLAY_COLUMNS`, else the id."""
    ids = var.index.astype(str).to_numpy()
    for column in DISPLAY_COLUMNS:
        if column in var.columns:
            values = var[column].astype(str).to_numpy()
            return np.where(var[column].isna().to_numpy() | (values == ""), ids, values)
    return ids


class _Frame:
    """One omics type: values (n, F) float32, ids, features, their display names, id -> row, source."""

    __slots__ = ("features", "ids", "index", "names", "source", "values")

    def __init__(
        self, values: np.ndarray, ids: np.ndarray, features: np.ndarray, source: str, names: np.ndarray | None = None
    ) -> None:
        ids = np.asarray([_sample_id(i, row, source) for row, i in enumerate(ids)], dtype=str)
        features = np.asarray([str(f) for f in features], dtype=str)
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1]
            rows = np.asarray(values, dtype=np.float64)[ids == dup[0]]
            same = (rows == rows[0]) | (np.isnan(rows) & np.isnan(rows[0]))
            differ = int((~same).any(axis=0).sum())
            raise DuplicateSampleError(
                f"{source}: {dup.size} sample id(s) occur more than once, e.g. {dup[:5].tolist()}; ids must be "
                f"unique ({str(dup[0])!r} has {rows.shape[0]} rows, which disagree on {differ} of {rows.shape[1]} "
                "features)"
            )
        funiq, fcounts = np.unique(features, return_counts=True)
        if (fcounts > 1).any():
            dup = funiq[fcounts > 1]
            raise OmicsDataError(f"{source}: {dup.size} feature name(s) occur more than once, e.g. {dup[:5].tolist()}")
        values = np.ascontiguousarray(values, dtype=np.float32)
        values.setflags(write=False)
        features.setflags(write=False)
        self.values = values
        self.ids = ids
        self.features = features
        self.names = features if names is None else np.asarray([str(n) for n in names], dtype=str)
        self.index = {sid: row for row, sid in enumerate(ids.tolist())}
        self.source = source


def _sample_id(value: Any, row: int, source: str) -> str:
    """A sample id as text, exactly as written: none missing, none padded, bytes only as UTF-8."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise TableEncodingError(f"{source}: sample id of row {row} is not UTF-8 text: {value!r}") from None
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        raise OmicsDataError(f"{source}: row {row} has no sample id")
    text = str(value)
    if text != text.strip():
        raise OmicsDataError(
            f"{source}: sample id {text!r} (row {row}) has leading or trailing spaces; it would "
            "never match the same id written without them in another table or the datalist"
        )
    return text


def _open(path: Path, mode: str = "rb", **kwargs):
    return (gzip.open if path.name.lower().endswith(".gz") else open)(path, mode, **kwargs)


def _header_width(path: Path, sep: str, limit: int) -> int:
    """Columns of a text table's first line, read in 1 MiB chunks and given up past ``limit``.

    Counts separators (quoted ones too, so it is an upper bound) without ever holding the
    line whole, so a header of millions of columns costs a few MiB, not a parse.
    """
    width, separator = 1, sep.encode()
    with _open(path) as stream:
        while chunk := stream.read(1 << 20):
            end = chunk.find(b"\n")
            width += (chunk if end < 0 else chunk[:end]).count(separator)
            if end >= 0 or width > limit:
                break
    return width


def _first_bad_line(path: Path) -> tuple[int, bytes]:
    """Line number (1-based) and text of the first line that is not UTF-8, for the error message."""
    with _open(path) as stream:
        for number, line in enumerate(stream, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, line[:80]
    return 0, b""


def _check_header(header: list[str], id_column: str | None, path: Path) -> None:
    """Refuse blank or repeated feature names, which pandas would silently rename (``Unnamed: 3``, ``g.1``)."""
    first = 1 if id_column is None else 0  # without id_column the first column holds the ids, named or not
    features = [(i, name) for i, name in enumerate(header) if i >= first and name != id_column]
    blank = [i for i, name in features if not name.strip()]
    if blank:
        raise OmicsDataError(f"{path}: header column(s) {blank[:5]} (0-based) have no name; every feature needs one")
    repeated = sorted(name for name, count in Counter(name for _, name in features).items() if count > 1)
    if repeated:
        raise OmicsDataError(f"{path}: {len(repeated)} feature name(s) occur more than once, e.g. {repeated[:5]}")


def _read_text(path: Path, sep: str, id_column: str | None, max_columns: int) -> pd.DataFrame:
    """A CSV/TSV read with its ids as text, once its header is known to be sane and it is UTF-8."""
    width = _header_width(path, sep, max_columns)
    if width > max_columns:
        raise TableTooWideError(
            f"{path}: the header has more than {max_columns:,} columns; refused before parsing (a table that wide "
            "needs more memory than a sample-by-feature frame should). Select features first, or pass a larger "
            "max_columns to read_table"
        )
    try:
        with _open(path, "rt", encoding="utf-8-sig", newline="") as stream:
            header = next(csv.reader(stream, delimiter=sep), [])
        # ids stay text as written: "007" is not "7", "1" is not "1.0", and "NA" is an id, not a gap
        frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", converters={id_column if id_column else 0: str})
    except pd.errors.EmptyDataError:
        raise EmptyTableError(f"{path}: no header and no rows (the file holds only blank text)") from None
    except UnicodeDecodeError:
        number, line = _first_bad_line(path)
        raise TableEncodingError(
            f"{path}: not UTF-8 text (line {number}: {line!r}); re-save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None
    _check_header(header, id_column, path)
    return frame


def _check_rows(n_rows: int, n_columns: int, source: str) -> None:
    """Refuse a table without sample rows, which would otherwise fail later without naming the file."""
    if n_rows == 0:
        raise EmptyTableError(f"{source}: no sample rows (a header of {n_columns} column(s) and nothing under it)")


def _per_type(option: PerType, omics_type: str) -> str | None:
    if isinstance(option, Mapping):
        return option.get(omics_type)
    return option


def _numeric(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Refuse non-numeric feature columns, naming them: silently dropping a label would hide a mistake."""
    if df.shape[1] and all(pd.api.types.is_numeric_dtype(dtype) for dtype in df.dtypes):  # bool is numeric
        return df  # no copy: select_dtypes would copy a table of a quarter of a million samples
    numeric = df.select_dtypes(include=["number", "bool"])
    bad = [str(c) for c in df.columns if c not in numeric.columns]
    if bad:
        raise OmicsDataError(
            f"{source}: {len(bad)} non-numeric column(s) other than the sample id: {bad[:5]}; "
            "leave them out with exclude=[...] (a label column, free text)"
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
    _check_rows(len(ids), len(features), source)
    keep = _excluded(features, exclude, source)
    return _Frame(np.asarray(matrix)[:, keep], ids, features[keep], source, display_names(adata.var)[keep])


def _indexed(df: pd.DataFrame, column: str, own: bool) -> pd.DataFrame:
    """``df`` indexed by ``column``; in place when the frame is the reader's own (read from a file), since
    ``set_index`` otherwise copies every value (a GB for a quarter of a million samples)."""
    if not own:
        return df.set_index(column)
    df.set_index(column, inplace=True)
    return df


def _read_dataframe(
    df: pd.DataFrame, source: str, id_column: str | None, from_file: bool, exclude: Sequence[str] = ()
) -> _Frame:
    if id_column is not None:
        if id_column not in df.columns:
            raise OmicsDataError(f"{source}: no id column {id_column!r}; it has {list(df.columns[:10])}...")
        df = _indexed(df, id_column, from_file)
    elif from_file and isinstance(df.index, pd.RangeIndex):
        df = _indexed(df, df.columns[0], from_file)  # csv/tsv/parquet: the first column holds the ids
    _check_rows(len(df), df.shape[1], source)
    keep = _excluded(df.columns.to_numpy().astype(str), exclude, source)
    df = _numeric(df if keep.all() else df.loc[:, keep], source)
    return _Frame(df.to_numpy(), df.index.to_numpy(), df.columns.to_numpy(), source)


def _sidecar_names(path: Path, frame: _Frame) -> _Frame:
    """Display names from the table's ``<stem>.features.csv`` when it exists (features it omits keep their id)."""
    sidecar = path.with_name(path.name[: -len(table_suffix(path))] + FEATURES_SUFFIX)
    if not sidecar.is_file():
        return frame
    names = pd.read_csv(sidecar, dtype=str, keep_default_na=False)
    if not {"feature", "display_name"} <= set(names.columns):
        raise OmicsDataError(
            f"{sidecar}: a features file needs columns 'feature' and 'display_name'; it has {list(names.columns)}"
        )
    lookup = dict(zip(names["feature"], names["display_name"], strict=True))
    frame.names = np.asarray([lookup.get(f) or f for f in frame.features.tolist()], dtype=str)
    return frame


def read_table(
    source: TableSource,
    *,
    id_column: str | None = None,
    layer: str | None = None,
    exclude: Sequence[str] = (),
    max_columns: int = MAX_COLUMNS,
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
        max_columns: most columns a text table's header may have; checked before parsing.

    Sample ids are text exactly as written (a CSV's ``007`` stays ``"007"``).

    Raises:
        MissingLayerError: the AnnData file has no such layer.
        DuplicateSampleError: a sample id occurs twice.
        TableTooWideError: a text table's header has more than ``max_columns`` columns.
        TableEncodingError: a text table, or a sample id, is not UTF-8.
        EmptyTableError: the file is empty or holds no sample row.
        OmicsDataError: unknown file type, no numeric columns, bad id column, a missing or
            space-padded sample id.
    """
    if isinstance(source, pd.DataFrame):
        return _read_dataframe(source, "<DataFrame>", id_column, False, exclude)
    if hasattr(source, "obs") and hasattr(source, "var_names"):
        return _read_anndata(source, "<AnnData>", id_column, layer, exclude)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"omics table not found: {path}")
    suffix = table_suffix(path)
    if not suffix:
        raise OmicsDataError(f"{path}: unsupported omics table type (use one of {', '.join(TABLE_SUFFIXES)})")
    if path.stat().st_size == 0:
        raise EmptyTableError(f"{path}: the file is empty (0 bytes); an omics table needs a header and sample rows")
    if suffix == ".h5ad":
        import anndata  # imported lazily: heavy, and only h5ad needs it

        return _read_anndata(anndata.read_h5ad(path), str(path), id_column, layer, exclude)
    if layer is not None:
        raise OmicsDataError(f"{path}: layer={layer!r} only applies to .h5ad files")
    if suffix == ".parquet":
        frame = _read_parquet_matrix(path, id_column, exclude)
        if frame is None:  # a layout the direct read does not cover: pandas, and its named errors
            df = read_parquet_frame(path)
            from_file = id_column is not None or isinstance(df.index, pd.RangeIndex)
            frame = _read_dataframe(df, str(path), id_column, from_file, exclude)
        return _sidecar_names(path, frame)
    df = _read_text(path, "," if suffix.startswith(".csv") else "\t", id_column, max_columns)
    return _sidecar_names(path, _read_dataframe(df, str(path), id_column, True, exclude))


def read_parquet_frame(path: str | os.PathLike) -> pd.DataFrame:
    """A parquet file as ``pd.read_parquet`` gives it, read and converted without Arrow's thread pools.

    Arrow tears its pools down at interpreter exit, and a pool thread still alive then ends the
    process in ``std::terminate`` (apache/arrow#34314): a run that finished its work exits with
    SIGABRT, which under torchrun fails the whole launch.
    """
    import pyarrow.parquet as pq  # pandas' own parquet engine

    return pq.read_table(path, use_threads=False).to_pandas(use_threads=False)


#: feature columns converted per step of :func:`_read_parquet_matrix` (250,000 rows: 64 x 2 MB in flight)
PARQUET_COLUMN_BLOCK = 64


def _read_parquet_matrix(path: Path, id_column: str | None, exclude: Sequence[str]) -> _Frame | None:
    """A parquet table read column block by column block into one preallocated float32 matrix.

    Going through pandas holds the Arrow table, the DataFrame and a C-ordered copy at once:
    3.6 GB of peak for a 1 GB float32 table of a quarter of a million samples. Here the peak is
    the matrix plus one block of columns. Returns None (the caller reads through pandas) when the
    file has no rows, an index of several columns, or a column that is not a number, so that
    those cases keep their named errors.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    index_columns = (schema.pandas_metadata or {}).get("index_columns", [])
    stored_index = [c for c in index_columns if isinstance(c, str)]  # a RangeIndex is metadata, not a column
    if len(stored_index) > 1 or parquet.metadata.num_rows == 0:
        return None
    if id_column is None:
        id_column = stored_index[0] if stored_index else schema.names[0]
    if id_column not in schema.names:
        return None
    features = [n for n in schema.names if n != id_column and n not in stored_index]
    keep = _excluded(np.asarray(features, dtype=str), exclude, str(path))
    features = [f for f, k in zip(features, keep, strict=True) if k]

    def numeric(t: pa.DataType) -> bool:
        return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)

    if not features or not all(numeric(schema.field(f).type) for f in features):
        return None
    ids = parquet.read(columns=[id_column], use_threads=False).column(0).to_pylist()
    values = np.empty((len(ids), len(features)), dtype=np.float32)
    for start in range(0, len(features), PARQUET_COLUMN_BLOCK):
        block = parquet.read(columns=features[start : start + PARQUET_COLUMN_BLOCK], use_threads=False)
        for j, column in enumerate(block.columns, start):
            values[:, j] = column.cast(pa.float32(), safe=False).to_numpy()  # nulls -> NaN
        del block
    return _Frame(values, np.asarray(ids, dtype=object), np.asarray(features, dtype=object), str(path))


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
        self._order: list[str] | None = None  # set by select()

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
        file is re-read while unchanged ones are shared by every caller.
        """
        parts = []
        for t, src in sources.items():
            if not Path(src).is_file():
                raise FileNotFoundError(f"omics table for {t!r} not found: {Path(src).resolve()}")
            parts.append((str(t), *file_key(src)))
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

    def display_names(self, omics_type: str) -> np.ndarray:
        """Display names (gene symbols) of one type's features, in column order; the id where none is known.

        From an AnnData's ``var`` (:data:`DISPLAY_COLUMNS`) or a table file's ``<stem>.features.csv``.
        """
        return self._frame(omics_type).names

    def sample_ids(self, omics_type: str | None = None) -> list[str]:
        """Sample ids of one type, or (``None``) those present in every type."""
        if omics_type is not None:
            return self._frame(omics_type).ids.tolist()
        first, *rest = self._frames.values()
        return [s for s in first.ids.tolist() if all(s in f.index for f in rest)]

    def all_sample_ids(self, omics_types: Sequence[str] | None = None) -> list[str]:
        """Every sample of the table: the ids given to :meth:`select` in their order, else those of
        ``omics_types`` (default all) in first-seen order."""
        if self._order is not None:
            return list(self._order)
        frames = [self._frame(t) for t in (self.types if omics_types is None else omics_types)]
        return list(dict.fromkeys(s for f in frames for s in f.ids.tolist()))

    def select(self, sample_ids: Sequence[str]) -> OmicsTable:
        """The table restricted to ``sample_ids``, in that order; each type keeps the ids it holds.

        What an estimator is fitted on, e.g. ``OmicsPreprocessor().fit(table.select(train_ids))``.

        Raises:
            MissingSampleError: an id is in none of the types.
        """
        ids = list(dict.fromkeys(str(s) for s in sample_ids))
        absent = [s for s in ids if not any(s in f.index for f in self._frames.values())]
        if absent:
            raise MissingSampleError(
                f"{len(absent)} sample id(s) in none of the omics tables {list(self.types)}, e.g. {absent[:5]}"
            )
        out = object.__new__(OmicsTable)
        out._frames = {}
        for t, f in self._frames.items():
            held = [s for s in ids if s in f.index]
            out._frames[t] = _Frame(
                f.values[np.asarray([f.index[s] for s in held], dtype=np.int64)],
                np.asarray(held),
                f.features,
                f.source,
                f.names,
            )
        out._order = ids
        return out

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
        """A DataFrame (index sample ids, columns features), e.g. to fit a layout.

        Every sample (``sample_ids=None``): a read-only view of the table's values, no copy (a table of a
        quarter of a million samples is a GB); chosen samples: a copy of their rows.
        """
        if sample_ids is None:
            frame = self._frame(omics_type)
            return pd.DataFrame(frame.values, index=frame.ids, columns=frame.features, copy=False)
        ids = [str(s) for s in sample_ids]
        return pd.DataFrame(self.rows(omics_type, ids), index=ids, columns=self.features(omics_type))

    def feature_index(self, omics_type: str, feature_names: Sequence[str], min_overlap: float = 0.5) -> np.ndarray:
        """For each wanted feature, its column in this type (``-1`` where absent).

        Warns with the count of absent features; refuses below ``min_overlap``.

        Raises:
            FeatureMismatchError: fewer than ``min_overlap`` of the wanted
                features exist in the table (message names some absent ones).
        """
        wanted = np.asarray(feature_names, dtype=str)
        where = f"omics table {omics_type!r} ({self.source(omics_type)})"
        index = match_features(wanted, self.features(omics_type), min_overlap, where)
        absent = int((index < 0).sum())
        if absent:
            warnings.warn(
                f"{where}: {absent} of {wanted.size} layout features absent, e.g. {wanted[index < 0][:5].tolist()}; "
                "they are filled",
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
