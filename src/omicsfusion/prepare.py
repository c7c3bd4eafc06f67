"""Bundle preparation: data, datalist and fitted layouts exist before training.

A bundle's ``train.json`` holds a ``prepare`` block (``_target_``
:func:`prepare_classification` or :func:`prepare_spatial`, one named key per
argument) that its ``initialize`` step references, so
``python -m monai.bundle run`` works with no arguments
on a fresh clone: an empty ``dataset_dir`` gets the bundle's phantom, a missing
datalist is built from ``samples.csv`` with a stratified, seeded split and
stored next to the checkpoint (the split belongs to the model), and the omics
normalisation + OT layouts (and the fills of empty cells) are fitted on the
TRAINING split only and written to ``models/layout.npz``, with what was filled
and dropped in ``models/missing_values.json`` beside it. Evaluation and inference call :func:`require_trained`
(:mod:`omicsfusion.checkpoint`'s guard) instead, which never fits anything.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from sklearn.base import clone

from omicsfusion.checkpoint import layout_channels, require_trained  # noqa: F401 (the bundle configs call them here)
from omicsfusion.data import OmicsTable
from omicsfusion.data.datalist import SECTIONS, build_datalist, load_datalist, write_datalist
from omicsfusion.data.errors import MissingSampleError, OmicsDataError
from omicsfusion.data.folders import FolderIndex
from omicsfusion.fileio import atomic_write
from omicsfusion.phantoms import make_neuro_phantom, make_pan_cancer_phantom, make_spatial_phantom
from omicsfusion.preprocessing import OmicsPreprocessor

logger = logging.getLogger(__name__)

PHANTOMS: dict[str, Callable[..., dict]] = {
    "pan_cancer": make_pan_cancer_phantom,
    "spatial": make_spatial_phantom,
    "neuro": make_neuro_phantom,
}


def _dataset_is_empty(dataset_dir: Path) -> bool:
    return not dataset_dir.is_dir() or not any(dataset_dir.iterdir())


def ensure_dataset(dataset_dir: str | os.PathLike, phantom: str | None, phantom_size: int = 60, seed: int = 0) -> Path:
    """Return ``dataset_dir``, generating the named phantom there first when it is missing or empty."""
    root = Path(dataset_dir)
    if not _dataset_is_empty(root):
        return root
    if not phantom:
        raise FileNotFoundError(
            f"dataset_dir {root} is missing or empty and phantom generation is disabled (phantom=null): "
            "point dataset_dir at a folder holding samples.csv (sample_id,image,label) and the omics tables, "
            "or give a datalist with --datalist_file"
        )
    if phantom not in PHANTOMS:
        raise ValueError(f"unknown phantom {phantom!r}; available: {sorted(PHANTOMS)}")
    logger.info("dataset_dir %s is empty: writing the %s phantom (%d per class)", root, phantom, phantom_size)
    # written beside dataset_dir and renamed onto it when complete: a run killed meanwhile leaves dataset_dir
    # empty (regenerated next time), never a half phantom that later runs would take for data
    tmp = root.with_name(f".tmp-{os.getpid()}-{root.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        PHANTOMS[phantom](tmp, n_per_class=phantom_size, seed=seed)
        os.replace(tmp, root)  # onto a missing or empty folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def ensure_datalist(
    datalist_file: str | os.PathLike,
    dataset_dir: str | os.PathLike,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    group_column: str | None = None,
    extra_columns: Sequence[str] = (),
    split_column: str | None = None,
) -> Path:
    """Build ``datalist_file`` from ``dataset_dir/samples.csv`` unless it already exists.

    With ``group_column`` whole groups (e.g. tissue sections) are split, never single samples;
    with ``split_column`` each row's section is given; ``extra_columns`` are copied into every row.
    """
    path = Path(datalist_file)
    if path.is_file():
        return path
    samples_csv = Path(dataset_dir) / "samples.csv"
    if not samples_csv.is_file():
        raise FileNotFoundError(
            f"no datalist at {path} and no {samples_csv} to build one from (columns sample_id,image,label)"
        )
    samples = pd.read_csv(samples_csv, dtype={"sample_id": str, **({group_column: str} if group_column else {})})
    datalist = build_datalist(
        samples,
        omics_key="sample_id",
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        group_key=group_column,
        extra_keys=extra_columns,
        split_key=split_column,
    )
    logger.info("datalist %s: %s", path, {k: len(v) for k, v in datalist.items()})
    return write_datalist(datalist, path)


def check_rows(
    rows: Sequence[Mapping],
    class_names: Sequence[str],
    table: OmicsTable | None,
    omics_types: Sequence[str],
    source: str,
) -> None:
    """Refuse rows whose image is missing, whose label is unknown, or whose sample lacks omics."""
    files = FolderIndex()  # one listing per folder, not a stat per row
    for row in rows:
        images = row["image"] if isinstance(row["image"], list) else [row["image"]]  # several tiles of a sample
        absent = [image for image in images if not files.exists(image)]  # a file, or a DICOM series folder
        if absent:
            raise FileNotFoundError(f"{source}: image of sample {row['omics']!r} not found: {absent[0]}")
        label = row.get("label")
        if label is not None and not 0 <= int(label) < len(class_names):
            raise OmicsDataError(
                f"{source}: sample {row['omics']!r} has label {label}, outside the {len(class_names)} classes "
                f"{list(class_names)}"
            )
    for omics_type in omics_types:
        missing = [row["omics"] for row in rows if not table.has(omics_type, str(row["omics"]))]
        if missing:
            raise MissingSampleError(
                f"{source}: {len(missing)} sample(s) absent from the {omics_type!r} table "
                f"{table.source(omics_type)}: {missing[:5]}"
            )


def prepare_classification(
    dataset_dir: str | os.PathLike,
    datalist_file: str | os.PathLike,
    layout_file: str | os.PathLike,
    omics_tables: Mapping[str, str],
    omics_types: Sequence[str],
    class_names: Sequence[str],
    phantom: str | None = None,
    phantom_size: int = 60,
    seed: int = 0,
    preprocessor: OmicsPreprocessor | None = None,
    allow_outside_dataset: bool = False,
) -> Path:
    """Make data, datalist and layout ready for training; return the datalist path.

    Runs on rank 0 only when torch.distributed is initialised; the other ranks
    wait at a barrier and then reuse the files.

    Args:
        dataset_dir: folder of the data (generated from ``phantom`` when empty).
        datalist_file: decathlon-style datalist (built when missing).
        layout_file: fitted normalisation + layouts (fitted on the training split when
            missing or when it lacks one of ``omics_types``).
        omics_tables: omics type -> table file.
        omics_types: the omics channels this run uses (may be empty: image only).
        class_names: output classes; labels must index into it.
        phantom: phantom to generate into an empty ``dataset_dir`` (``None``: never).
        phantom_size: phantom samples per class.
        seed: seed of the phantom and of the split.
        preprocessor: the unfitted ``OmicsPreprocessor`` (with its ``OTLayout``) of the bundle's
            ``preprocessor`` config block; a clone of it is fitted (see :func:`bundle_preprocessor`).
        allow_outside_dataset: accept datalist paths resolving outside ``dataset_dir``
            (see :func:`~omicsfusion.data.datalist.load_datalist`).
    """
    distributed = dist.is_available() and dist.is_initialized()
    if not distributed or dist.get_rank() == 0:
        _prepare(
            dataset_dir,
            datalist_file,
            layout_file,
            omics_tables,
            omics_types,
            class_names,
            phantom,
            phantom_size,
            seed,
            preprocessor,
            allow_outside=allow_outside_dataset,
        )
    if distributed:
        dist.barrier()
    return Path(datalist_file)


def _prepare(
    dataset_dir,
    datalist_file,
    layout_file,
    omics_tables,
    omics_types,
    class_names,
    phantom,
    phantom_size,
    seed,
    preprocessor,
    group_column=None,
    extra_columns=(),
    root=None,
    allow_outside=False,
    split_column=None,
) -> None:
    ensure_dataset(dataset_dir, phantom, phantom_size, seed)
    ensure_datalist(
        datalist_file,
        dataset_dir,
        seed=seed,
        group_column=group_column,
        extra_columns=extra_columns,
        split_column=split_column,
    )
    table = _table(omics_tables, omics_types)
    present = json.loads(Path(datalist_file).read_text())
    for section in (s for s in SECTIONS if s in present):  # a datalist may lack a section (e.g. no test split)
        rows = load_datalist(datalist_file, section, base_dir=dataset_dir, root=root, allow_outside=allow_outside)
        check_rows(rows, class_names, table, omics_types, f"{datalist_file}[{section}]")
    if not omics_types:
        return
    layout_path = Path(layout_file)
    template = bundle_preprocessor(preprocessor, omics_types)
    if layout_path.is_file():
        fitted = OmicsPreprocessor.load(layout_path)
        wanted, held = template.channels_of(omics_types), fitted.channels_of(omics_types)
        if set(omics_types) <= set(fitted.fitted_types()) and wanted == held:  # the indicator as configured too
            return
        logger.info("%s renders %s, not %s: refitting", layout_path, fitted.channel_names, wanted)
    train_ids = [
        row["omics"]
        for row in load_datalist(
            datalist_file, "training", base_dir=dataset_dir, root=root, allow_outside=allow_outside
        )
    ]
    logger.info("fitting omics layouts for %s on %d training samples", list(omics_types), len(train_ids))
    fitted = template.fit(table.select(train_ids))
    fitted.save(layout_path)
    report = layout_path.with_name("missing_values.json")
    atomic_write(report, lambda tmp: tmp.write_text(json.dumps(fitted.missing_report_, indent=1)))
    logger.info("empty cells filled and features dropped per omics type: %s", report)


def bundle_preprocessor(preprocessor: OmicsPreprocessor | None, omics_types: Sequence[str]) -> OmicsPreprocessor:
    """An unfitted clone of the config's ``preprocessor`` (default ``OmicsPreprocessor()``) for ``omics_types``.

    Raises:
        OmicsDataError: the preprocessor names other ``omics_types`` than the run's.
    """
    template = OmicsPreprocessor() if preprocessor is None else preprocessor
    if template.omics_types is not None and list(template.omics_types) != list(omics_types):
        raise OmicsDataError(
            f"the preprocessor's omics_types {list(template.omics_types)} are not the run's "
            f"omics types {list(omics_types)}; leave them out of the preprocessor block"
        )
    return clone(template).set_params(omics_types=list(omics_types))


def prepare_spatial(
    dataset_dir: str | os.PathLike,
    spots_dir: str | os.PathLike,
    datalist_file: str | os.PathLike,
    layout_file: str | os.PathLike,
    omics_types: Sequence[str],
    class_names: Sequence[str],
    annotation_column: str,
    phantom: str | None = None,
    phantom_size: int = 60,
    seed: int = 0,
    preprocessor: OmicsPreprocessor | None = None,
    max_genes: int | None = None,
    allow_outside_dataset: bool = False,
    gene_policy: str = "intersect",
    block_split: Mapping | None = None,
    drop_classes: Sequence[str] = (),
) -> Path:
    """Spatial counterpart of :func:`prepare_classification`: one sample per spot, split by SECTION or block.

    ``dataset_dir`` holds ``sections.csv`` and the sections (the phantom is generated there
    when it is empty). Sections are split first: as an existing datalist has them, else
    by the manifest's ``split`` column, else seeded (20 % / 20 % of the sections). A section
    whose split is ``blocks`` is split within itself into contiguous spatial blocks with a gap
    between them (``block_split``: see :func:`~omicsfusion.data.spatial.blocks.block_split`).
    Every section is then read with its reader and exported to ``spots_dir`` (``samples.csv``
    with spot centre, pixel size, section and split, ``omics/rna.parquet``; ``max_genes``,
    ``gene_policy`` and ``drop_classes``: see :func:`~omicsfusion.data.spatial.export_spots`,
    genes ranked on the training spots); the layout is fitted on the training spots only.
    Datalist rows (relative to ``spots_dir``) must point inside ``dataset_dir`` unless
    ``allow_outside_dataset``. Rank 0 only under torch.distributed; returns the datalist path.

    Raises:
        OmicsDataError: an existing datalist puts spots in other sections than the export (e.g. it
            was made with another seed or ``block_split``).
    """
    from omicsfusion.data.spatial.export import export_spots, section_splits

    distributed = dist.is_available() and dist.is_initialized()
    if not distributed or dist.get_rank() == 0:
        ensure_dataset(dataset_dir, phantom, phantom_size, seed)
        splits = _datalist_splits(datalist_file) or section_splits(dataset_dir, seed)
        export_spots(
            dataset_dir,
            spots_dir,
            annotation_column,
            class_names,
            max_genes=max_genes,
            gene_policy=gene_policy,
            splits=splits,
            blocks=block_split,
            seed=seed,
            drop_classes=drop_classes,
        )
        _check_spot_splits(datalist_file, spots_dir)
        _prepare(
            spots_dir,
            datalist_file,
            layout_file,
            spot_tables(spots_dir),
            omics_types,
            class_names,
            None,
            phantom_size,
            seed,
            preprocessor,
            group_column="group",
            extra_columns=SPOT_COLUMNS,
            root=dataset_dir,
            allow_outside=allow_outside_dataset,
            split_column="split",
        )
    if distributed:
        dist.barrier()
    return Path(datalist_file)


def _datalist_splits(datalist_file: str | os.PathLike) -> dict[str, str] | None:
    """Section (row ``group``) -> its datalist section, ``blocks`` when its spots span several.

    ``None`` when there is no datalist.
    """
    from omicsfusion.data.spatial.export import BLOCKS

    path = Path(datalist_file)
    if not path.is_file():
        return None
    content = json.loads(path.read_text())
    found: dict[str, set[str]] = {}
    for section in (s for s in SECTIONS if s in content):
        for row in content[section]:
            found.setdefault(str(row["group"]), set()).add(section)
    return {group: next(iter(parts)) if len(parts) == 1 else BLOCKS for group, parts in found.items()}


def _check_spot_splits(datalist_file: str | os.PathLike, spots_dir: str | os.PathLike) -> None:
    """Refuse an existing datalist whose spots sit in other sections than the export's ``split`` column."""
    path = Path(datalist_file)
    if not path.is_file():
        return
    content = json.loads(path.read_text())
    given = {str(row["omics"]): section for section in SECTIONS if section in content for row in content[section]}
    export = pd.read_csv(Path(spots_dir) / "samples.csv", dtype={"sample_id": str}).set_index("sample_id")["split"]
    differ = [i for i, section in given.items() if export.get(i) != section]
    if differ:
        raise OmicsDataError(
            f"{path}: {len(differ)} of its {len(given)} spots are not in the same section of the export "
            f"{Path(spots_dir) / 'samples.csv'} (e.g. {differ[:3]}: {[given[i] for i in differ[:3]]} there, "
            f"{[export.get(i) for i in differ[:3]]} here); it was made with another seed or block_split: "
            "use those, or delete it to split anew"
        )


#: ``class_weights`` values of :func:`class_weights`
CLASS_WEIGHTS = (None, "balanced")


def class_weights(
    rows: Sequence[Mapping], class_names: Sequence[str], mode: str | None = None, device: torch.device | str = "cpu"
) -> torch.Tensor | None:
    """Per-class loss weights from the training rows' labels (``CrossEntropyLoss(weight=...)``); ``None`` when off.

    ``"balanced"`` weighs class ``k`` by ``n / (K * n_k)`` (scikit-learn's rule), so that every
    class contributes equally to the loss however rare it is in the training split.

    Raises:
        OmicsDataError: an unknown ``mode``, a label outside ``class_names``, or a class without a training
            row (its weight is undefined).
    """
    if mode not in CLASS_WEIGHTS:
        raise OmicsDataError(f"class_weights must be one of {CLASS_WEIGHTS}, got {mode!r}")
    if mode is None:
        return None
    labels = np.asarray([int(r["label"]) for r in rows], dtype=np.int64)
    outside = sorted(set(labels[(labels < 0) | (labels >= len(class_names))].tolist()))
    if outside:
        raise OmicsDataError(
            f"class_weights: training label(s) {outside[:5]} are outside 0..{len(class_names) - 1} "
            f"(class_names {list(class_names)})"
        )
    counts = np.bincount(labels, minlength=len(class_names))
    if (counts == 0).any():
        absent = [c for c, n in zip(class_names, counts, strict=True) if n == 0]
        raise OmicsDataError(
            f"class_weights='balanced': class(es) {absent} have no training sample "
            f"(counts {dict(zip(class_names, counts.tolist(), strict=True))})"
        )
    weights = counts.sum() / (len(class_names) * counts)
    logger.info(
        "class_weights='balanced': %s", {c: round(float(w), 3) for c, w in zip(class_names, weights, strict=True)}
    )
    return torch.as_tensor(weights, dtype=torch.float32, device=device)


#: per-spot columns of a spot export that travel into datalist rows
SPOT_COLUMNS = ("x", "y", "mpp", "barcode", "group")


def spot_tables(spots_dir: str | os.PathLike) -> dict[str, str]:
    """Omics tables of a spot export (type -> file)."""
    return {"rna": str(Path(spots_dir) / "omics" / "rna.parquet")}


def _table(omics_tables: Mapping[str, str], omics_types: Sequence[str]) -> OmicsTable | None:
    unknown = [t for t in omics_types if t not in omics_tables]
    if unknown:
        raise OmicsDataError(f"modalities {unknown} have no table in omics_tables ({sorted(omics_tables)})")
    return OmicsTable.cached({t: omics_tables[t] for t in omics_types}) if omics_types else None
