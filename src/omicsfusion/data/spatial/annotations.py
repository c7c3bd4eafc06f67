"""Per-spot annotations (pathologist labels, deconvolution calls) joined onto a sample by barcode.

The spot id of an annotation row is one of its columns, or a ``str.format``
template over its columns when the file keys spots otherwise (her2st labels
carry array coordinates ``x``, ``y`` as floats: ``"{x:.0f}x{y:.0f}"`` gives the
legacy ST ``XxY`` ids).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from omicsfusion.data.spatial.errors import AnnotationColumnError, AnnotationJoinError
from omicsfusion.data.spatial.sample import SpatialSample

__all__ = ["annotate"]


def annotate(
    sample: SpatialSample, table: str | os.PathLike | pd.DataFrame, column: str, id_column: str | None = None
) -> SpatialSample:
    """Copy ``column`` of an annotation table into ``sample.adata.obs`` (in place; returns the sample).

    Args:
        sample: the spots.
        table: CSV/TSV (first column = barcodes unless ``id_column``) or a DataFrame.
        column: the annotation column to copy, e.g. ``"annot_type"``.
        id_column: column holding barcodes, or a ``str.format`` template over the columns
            (e.g. ``"{x:.0f}x{y:.0f}"``); default the first column / the index of a DataFrame.

    Spots absent from the table get a missing value; both counts are reported in a warning.

    Raises:
        AnnotationColumnError: ``column``, ``id_column`` or a template's column is not in the table
            (columns listed).
        AnnotationJoinError: no spot of the sample is in the table (first ids of both sides shown),
            or two rows give the same spot id.
    """
    source = "<DataFrame>" if isinstance(table, pd.DataFrame) else str(table)
    if isinstance(table, pd.DataFrame):
        frame = table.copy()
    else:
        sep = "\t" if Path(table).suffix.lower() in (".tsv", ".txt") else ","
        frame = pd.read_csv(table, sep=sep)
        id_column = id_column or frame.columns[0]
    if column not in frame.columns:
        raise AnnotationColumnError(f"{source}: no annotation column {column!r}; columns: {list(frame.columns)}")
    if id_column is not None:
        frame.index = _ids(frame, str(id_column), source)
    frame.index = frame.index.astype(str)
    repeated = frame.index[frame.index.duplicated()].unique()
    if len(repeated):
        raise AnnotationJoinError(
            f"{source}: {len(repeated)} spot id(s) repeat in the annotation table (by "
            f"{id_column or 'its index'}), e.g. {repeated[:3].tolist()}"
        )
    values = frame[column]
    barcodes = sample.adata.obs_names
    present = barcodes.isin(values.index)
    if not present.any():
        raise AnnotationJoinError(
            f"{source}: none of the {len(barcodes)} spots of section {sample.name!r} is in the annotation table; "
            f"spot ids look like {barcodes[:3].tolist()}, table ids like {values.index[:3].tolist()} (a barcode "
            "suffix such as '-1', a section prefix or another id column?)"
        )
    extra = values.index.difference(barcodes)
    if not present.all() or len(extra):
        parts = [
            f"{int((~present).sum())} of {len(barcodes)} spots of section {sample.name!r} have no {column!r} "
            f"annotation (e.g. {barcodes[~present][:3].tolist()})"
            if not present.all()
            else "",
            f"{len(extra)} annotated spot ids are not spots of this section (e.g. {extra[:3].tolist()})"
            if len(extra)
            else "",
        ]
        warnings.warn(f"{source}: " + "; ".join(p for p in parts if p), UserWarning, stacklevel=2)
    sample.adata.obs[column] = values.reindex(barcodes).to_numpy()
    return sample


def _ids(frame: pd.DataFrame, id_column: str, source: str) -> pd.Index:
    """Spot ids of the rows: the column ``id_column``, or the template ``id_column`` filled from each row."""
    if "{" not in id_column:
        if id_column not in frame.columns:
            raise AnnotationColumnError(f"{source}: no id column {id_column!r}; columns: {list(frame.columns)}")
        return pd.Index(frame[id_column])
    try:
        return pd.Index([id_column.format(**row) for row in frame.to_dict("records")])
    except KeyError as error:
        raise AnnotationColumnError(
            f"{source}: the id template {id_column!r} names column {error.args[0]!r}, not among {list(frame.columns)}"
        ) from None
