"""Join omics tables and labels on sample id, refusing inputs that cannot be compared.

The benchmark is only fair when every model sees the same samples, so the
joined sample set is decided once here and every problem with it is named.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omicsfusion.benchmark.errors import BenchmarkError
from omicsfusion.preprocessing.missing import (
    cell_counts,
    empty_tallies,
    refuse_empty_cells,
    refuse_samples_without_values,
)

#: rows checked for non-finite values at once


@dataclass(frozen=True)
class BenchmarkData:
    """Samples shared by every table and labelled, in one fixed order.

    Attributes:
        tables: omics type -> DataFrame (rows = ``sample_ids``, numeric columns).
        sample_ids: the joined sample ids.
        y: integer class code per sample, ``0..len(classes)-1``.
        classes: class names in code order.
        notes: what was dropped on the way, for the report.
        missing: "raise" when every table holds every sample, "mask" when some samples lack a
            type (their rows are absent from that table; its channel is masked for them).
        empty_cells: table -> :func:`~omicsfusion.preprocessing.missing.cell_counts` of its
            joined rows (empty NaN/inf cells, filled per fold under ``--missing-values``).
    """

    tables: dict[str, pd.DataFrame]
    sample_ids: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    notes: tuple[str, ...]
    missing: str = "raise"
    empty_cells: dict[str, dict] | None = None


def _check_tables(tables: Mapping[str, pd.DataFrame]) -> None:
    """Refuse duplicated sample ids and empty tables."""
    for name, table in tables.items():
        if table.index.has_duplicates:
            dup = table.index[table.index.duplicated()].unique()
            raise BenchmarkError(f"table {name!r}: duplicated sample id(s) {list(dup[:3])}")
        if table.shape[0] == 0 or table.shape[1] == 0:
            raise BenchmarkError(f"table {name!r} is empty ({table.shape[0]} samples x {table.shape[1]} features)")


def _union_ids(tables: Mapping[str, pd.DataFrame], notes: list[str]) -> pd.Index:
    """Sample ids present in any table; each table's absent samples are counted in ``notes``."""
    names = list(tables)
    union = tables[names[0]].index
    for name in names[1:]:
        union = union.union(tables[name].index, sort=False)
    for name, table in tables.items():
        absent = union.difference(table.index, sort=False)
        if len(absent):
            notes.append(
                f"table {name!r}: {len(absent)} of {len(union)} samples have no row; its channel is "
                f"masked for them (e.g. {list(absent[:3])})"
            )
    return union


def _shared_ids(tables: Mapping[str, pd.DataFrame]) -> pd.Index:
    """Sample ids present in every table; refuse an empty overlap."""
    names = list(tables)
    shared = tables[names[0]].index
    for name in names[1:]:
        shared = shared.intersection(tables[name].index, sort=False)
    if len(shared) == 0:
        counts = ", ".join(f"{n!r}: {len(tables[n].index)}" for n in names)
        pairs = ", ".join(
            f"{a!r}&{b!r}: {len(tables[a].index.intersection(tables[b].index))}"
            for i, a in enumerate(names)
            for b in names[i + 1 :]
        )
        raise BenchmarkError(
            f"the tables share no sample id (samples per table: {counts}; pairwise overlap: {pairs}); "
            f"first ids: " + ", ".join(f"{n!r}: {list(tables[n].index[:2])}" for n in names)
        )
    return shared


def _joined_ids(tables: Mapping[str, pd.DataFrame], missing_types: str, notes: list[str]) -> pd.Index:
    """Samples in every table ("drop", the others counted in ``notes``) or in any table ("mask")."""
    if missing_types == "mask":
        return _union_ids(tables, notes)
    shared = _shared_ids(tables)
    for name, table in tables.items():
        if len(shared) < len(table.index):
            notes.append(
                f"table {name!r}: {len(table.index) - len(shared)} of {len(table.index)} samples "
                "are not in every table and were dropped"
            )
    return shared


def _labels_of(labels: pd.Series, shared: pd.Index, max_missing_labels: float, notes: list[str]) -> pd.Series:
    """Text label of each shared sample that has one; unlabelled ones dropped (counted), too many refused."""
    if labels.index.has_duplicates:
        dup = labels.index[labels.index.duplicated()].unique()
        raise BenchmarkError(f"labels: duplicated sample id(s) {list(dup[:3])}")
    found = labels.reindex(shared)
    missing = found.isna()
    if missing.all():
        raise BenchmarkError(
            f"none of the {len(shared)} samples shared by the tables has a label "
            f"(table ids e.g. {list(shared[:3])}, label ids e.g. {list(labels.index[:3])})"
        )
    share = float(missing.mean())
    if share > max_missing_labels:
        raise BenchmarkError(
            f"{int(missing.sum())} of {len(shared)} samples ({share:.0%}) have no label, more than the allowed "
            f"{max_missing_labels:.0%} (--max-missing-labels); first unlabelled: {list(shared[missing.to_numpy()][:3])}"
        )
    if missing.any():
        notes.append(f"{int(missing.sum())} of {len(shared)} samples have no label and were dropped")
    return found[~missing].astype(str)


def _without_small_classes(found: pd.Series, drop_classes_below: int, notes: list[str]) -> pd.Series:
    """``found`` without the classes of fewer than ``drop_classes_below`` samples (named in ``notes``)."""
    if drop_classes_below <= 0:
        return found
    counts = found.value_counts()
    small = counts[counts < drop_classes_below]
    if not len(small):
        return found
    notes.append(
        "dropped class(es) with fewer than "
        f"{drop_classes_below} samples: " + ", ".join(f"{c!r} ({n})" for c, n in small.items())
    )
    return found[~found.isin(small.index)]


def _restricted(tables: Mapping[str, pd.DataFrame], ids: pd.Index) -> dict[str, pd.DataFrame]:
    """Each table's rows of ``ids`` it holds; refuse non-numeric columns (empty cells are counted by the caller)."""
    joined: dict[str, pd.DataFrame] = {}
    for name, table in tables.items():
        held = ids.intersection(table.index, sort=False)
        frame = table if held.equals(table.index) else table.loc[held]  # no copy when every row is kept
        bad = [c for c, dtype in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
        if bad:
            raise BenchmarkError(f"table {name!r}: non-numeric feature column(s) {bad[:3]}")
        joined[name] = frame
    return joined


def _refuse_empty_samples(joined: Mapping[str, pd.DataFrame], ids: pd.Index) -> None:
    """Raise :class:`EmptySampleError` naming the samples with no value in any table (counted in chunks)."""
    valued = np.zeros(len(ids), dtype=bool)
    for frame in joined.values():
        _, per_sample = empty_tallies(frame.to_numpy())
        held = ids.get_indexer(frame.index)
        valued[held[per_sample < frame.shape[1]]] = True
    refuse_samples_without_values(ids[~valued], list(joined))


def join_inputs(
    tables: Mapping[str, pd.DataFrame],
    labels: pd.Series,
    *,
    max_missing_labels: float = 0.2,
    drop_classes_below: int = 0,
    missing_types: str = "drop",
    missing_values: str = "raise",
) -> BenchmarkData:
    """Restrict every table to samples shared by all tables and carrying a label.

    Args:
        tables: omics type -> DataFrame indexed by sample id.
        labels: class label per sample id (NaN / absent = unlabelled).
        max_missing_labels: largest share of the shared samples that may lack a
            label; those are dropped with a warning, more is refused.
        drop_classes_below: drop (with a warning) classes with fewer samples
            than this; 0 keeps every class.
        missing_types: a sample absent from some tables: "drop" it (counted in the notes) or
            "mask" the types it lacks (kept when it is in at least one table).
        missing_values: empty (NaN/inf) cells of the rows a sample has: "raise" refuses
            them here, with the counts per table; any other policy of
            :class:`~omicsfusion.preprocessing.missing.MissingValues` lets them through, to be
            filled per fold from the training samples.

    Raises:
        BenchmarkError: no tables, no shared sample id, duplicated ids, a
            non-numeric feature, or too many missing labels.
        MissingValuesError: empty cells under ``missing_values="raise"``.
        EmptySampleError: a sample with no value in any table (named).
    """
    if not tables:
        raise BenchmarkError("no omics table given")
    if missing_types not in ("drop", "mask"):
        raise BenchmarkError(f"missing_types must be 'drop' or 'mask', got {missing_types!r}")
    _check_tables(tables)
    notes: list[str] = []
    shared = _joined_ids(tables, missing_types, notes)
    found = _without_small_classes(_labels_of(labels, shared, max_missing_labels, notes), drop_classes_below, notes)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    ids = found.index
    joined = _restricted(tables, ids)
    empty_cells = {name: cell_counts(frame.to_numpy(), frame.columns, frame.index) for name, frame in joined.items()}
    if missing_values == "raise":
        refuse_empty_cells(empty_cells)
    _refuse_empty_samples(joined, ids)
    classes, y = np.unique(found.to_numpy(), return_inverse=True)
    held_by_all = all(len(frame) == len(ids) for frame in joined.values())
    return BenchmarkData(
        joined,
        np.asarray(ids, dtype=str),
        y.astype(np.int64),
        classes,
        tuple(notes),
        "raise" if held_by_all else "mask",
        empty_cells,
    )
