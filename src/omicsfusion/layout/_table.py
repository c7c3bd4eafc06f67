"""Minimal table reader for the layout CLI (the data layer's OmicsTable can replace it).

CSV/TSV/parquet via pandas, h5ad via anndata; samples are rows and the first
column (or the index) holds sample ids; an optional label column is removed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import LayoutError, first_names


def read_table(path: str | Path, label_column: str | None = None) -> pd.DataFrame:
    """Samples x features DataFrame (index = sample id), label column removed."""
    path = Path(path)
    if not path.is_file():
        raise LayoutError(f"{path}: no such table file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            table = pd.read_csv(path, sep="\t" if suffix != ".csv" else ",", index_col=0)
        elif suffix in (".parquet", ".pq"):
            table = pd.read_parquet(path)
            if isinstance(table.index, pd.RangeIndex):
                table = table.set_index(table.columns[0])
        elif suffix == ".h5ad":
            import anndata

            adata = anndata.read_h5ad(path)
            matrix = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
            table = pd.DataFrame(matrix, index=adata.obs_names, columns=adata.var_names)
            if label_column is not None and label_column in adata.obs:
                table[label_column] = adata.obs[label_column].to_numpy()
        else:
            raise LayoutError(f"{path}: unknown table format {suffix!r} (csv, tsv, parquet, h5ad)")
    except (OSError, ValueError, KeyError) as error:
        if isinstance(error, LayoutError):
            raise
        raise LayoutError(f"{path}: cannot read table ({error})") from None
    table.columns = [str(c) for c in table.columns]
    if label_column is not None:
        if label_column not in table.columns:
            raise LayoutError(f"{path}: no label column {label_column!r}")
        table = table.drop(columns=[label_column])
    bad = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if bad:
        raise LayoutError(f"{path}: {len(bad)} non-numeric column(s) other than the id/label: {first_names(bad)}")
    return table
