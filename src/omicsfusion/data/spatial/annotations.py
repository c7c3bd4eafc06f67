"""Per-spot annotations (pathologist labels, deconvolution calls) joined onto a sample by barcode."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from omicsfusion.data.spatial.errors import AnnotationColumnError, AnnotationJoinError
from omicsfusion.data.spatial.sample import SpatialSample

__all__ = ["annotate"]


def annotate(sample: SpatialSample, table: str | os.PathLike | pd.DataFrame, column: str,
             id_column: str | None = None) -> SpatialSample:
    """Copy ``column`` of an annotation table into ``sample.adata.obs`` (in place; returns the sample).

    Args:
        sample: the spots.
        table: CSV/TSV (first column = barcodes unless ``id_column``) or a DataFrame.
        column: the annotation column to copy, e.g. ``"annot_type"``.
        id_column: column holding barcodes (default: the first column / the index of a DataFrame).

    Spots absent from the table get a missing value; both counts are reported in a warning.

    Raises:
        AnnotationColumnError: ``column`` or ``id_column`` is not in the table (columns listed).
        AnnotationJoinError: no spot of the sample is in the table (first ids of both sides shown).
    """
    source = "<DataFrame>" if isinstance(table, pd.DataFrame) else str(table)
    if isinstance(table, pd.DataFrame):
        frame = table.copy() if id_column is None else table.set_index(id_column)
    else:
        sep = "\t" if Path(table).suffix.lower() in (".tsv", ".txt") else ","
        frame = pd.read_csv(table, sep=sep)
        if id_column is not None and id_column not in frame.columns:
            raise AnnotationColumnError(f"{source}: no id column {id_column!r}; columns: {list(frame.columns)}")
        frame = frame.set_index(id_column or frame.columns[0])
    if column not in frame.columns:
        raise AnnotationColumnError(f"{source}: no annotation column {column!r}; columns: {list(frame.columns)}")
    frame.index = frame.index.astype(str)
    values = frame[column]
    barcodes = sample.adata.obs_names
    present = barcodes.isin(values.index)
    if not present.any():
        raise AnnotationJoinError(
            f"{source}: none of the {len(barcodes)} spots of section {sample.name!r} is in the annotation table; "
            f"spot ids look like {barcodes[:3].tolist()}, table ids like {values.index[:3].tolist()} (a barcode "
            "suffix such as '-1', a section prefix or another id column?)")
    if not present.all():
        warnings.warn(f"{source}: {int((~present).sum())} of {len(barcodes)} spots of section {sample.name!r} have "
                      f"no {column!r} annotation ({len(values.index.difference(barcodes))} annotated barcodes are "
                      "not spots of this section)", UserWarning, stacklevel=2)
    sample.adata.obs[column] = values.reindex(barcodes).to_numpy()
    return sample
