"""The pan-cancer bundle on real TCGA patients: repeated stratified patient-level splits and their bundle overrides.

:func:`prepare_runs` reads a cohort laid out as ``shared/data/tcga_he_monuseg`` (``labels.csv`` with
``sample_id`` and a label column, ``images/<patient>/<slide barcode>.jpg``, ``omics/mutation.csv`` and
``omics/cnv.csv``, patients as rows, empty cells where nothing was called) and writes, for the recipe
``scripts/real_data/pan_cancer_tcga.sh``:

* ``splits/<name>/datalist.json`` per split: training / validation / test are disjoint sets of PATIENTS,
  stratified by class (each part holds at least one patient of every kept class); rows
  ``{"image": <absolute path into the source>, "omics": patient, "label": k}``, one tile per patient;
* ``bundle.json``: the config every bundle run merges (classes, the source's tables, empty cells filled
  with the training median, mutation calls kept binary and copy number ordinal, ``allow_outside_dataset``);
* ``splits.csv`` (per split the patients per class in each part) and ``report.json`` (the classes dropped
  for having fewer than ``min_class`` patients, patients left out and why, extra tiles not used).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsfusion.apps.bundle_runs import read_features
from omicsfusion.apps.spatial_recipes import section_counts
from omicsfusion.data.errors import MissingSampleError, OmicsDataError
from omicsfusion.fileio import atomic_write

__all__ = ["OMICS_TABLES", "patient_split", "prepare_runs"]

logger = logging.getLogger(__name__)

#: omics type -> table under the source folder, and how the bundle normalises it (0/1 calls, GISTIC -2..2)
OMICS_TABLES = {"mutation": "omics/mutation.csv", "cnv": "omics/cnv.csv"}
NORMALIZATION = {"mutation": "binary", "cnv": "ordinal"}
#: a crop of the slide beside its tile: ``<barcode>_<k>.jpg``
_CROP = re.compile(r"_\d+$")


def _tiles(source: Path, patients: Sequence[str], report: dict) -> dict[str, str]:
    """Patient -> absolute path of its tile (the image named by its slide barcode; crops ``_<k>`` are reported)."""
    tiles, absent = {}, []
    for patient in patients:
        images = sorted((source / "images" / patient).glob("*.jpg"))
        main = [p for p in images if not _CROP.search(p.stem)]
        if len(main) != 1:
            absent.append(patient)
            continue
        tiles[patient] = str(main[0].resolve())
        crops = [p.name for p in images if _CROP.search(p.stem)]
        if crops:
            report["crops_not_used"][patient] = crops
    if absent:
        raise MissingSampleError(
            f"{source / 'images'}: {len(absent)} patient(s) without exactly one <slide barcode>.jpg tile: {absent[:5]}"
        )
    return tiles


def patient_split(
    labels: pd.Series, *, test_fraction: float, val_fraction: float, rng: np.random.Generator
) -> dict[str, list[str]]:
    """Section -> patients: per class, ``round(n * fraction)`` (at least 1) to test and validation, the rest trains.

    Raises:
        OmicsDataError: a class has fewer than 3 patients (it could not appear in every part).
    """
    parts: dict[str, list[str]] = {"training": [], "validation": [], "test": []}
    for name, group in labels.groupby(labels, sort=True):
        n = len(group)
        if n < 3:
            raise OmicsDataError(f"class {name!r} has {n} patient(s); a split needs 3 (training, validation, test)")
        n_test = min(n - 2, max(1, round(n * test_fraction)))
        n_val = min(n - n_test - 1, max(1, round(n * val_fraction)))
        order = rng.permutation(group.index.to_numpy())
        parts["test"] += order[:n_test].tolist()
        parts["validation"] += order[n_test : n_test + n_val].tolist()
        parts["training"] += order[n_test + n_val :].tolist()
    return {k: sorted(v) for k, v in parts.items()}


def _cohort(source: Path, label: str, min_class: int, report: dict) -> pd.Series:
    """Patient -> class of the patients with a value in every omics table, classes of at least ``min_class``."""
    table = pd.read_csv(source / "labels.csv", dtype={"sample_id": str})
    if label not in table.columns:
        raise OmicsDataError(f"{source / 'labels.csv'}: no label column {label!r}; it has {list(table.columns)}")
    labels = table.set_index("sample_id")[label]
    report["unlabelled"] = sorted(labels.index[labels.isna()])
    labels = labels.dropna().astype(str)
    for path in OMICS_TABLES.values():  # a patient with no call at all cannot enter that type's model
        frame = read_features(source / path)
        absent = sorted(set(labels.index) - set(frame.index))
        if absent:
            raise MissingSampleError(f"{source / path}: {len(absent)} labelled patient(s) absent: {absent[:5]}")
        empty = sorted(frame.index[frame.isna().all(axis=1)].intersection(labels.index))
        report["left_out"].update({p: f"no value in {path}" for p in empty})
    labels = labels.drop(index=list(report["left_out"]))
    sizes = labels.value_counts()
    report["dropped_classes"] = {str(c): int(n) for c, n in sizes[sizes < min_class].sort_index().items()}
    report["class_sizes"] = {str(c): int(n) for c, n in sizes[sizes >= min_class].sort_index().items()}
    return labels[labels.isin(report["class_sizes"])]


def prepare_runs(
    source_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    label: str = "organ",
    splits: int = 5,
    test_fraction: float = 0.3,
    val_fraction: float = 0.15,
    min_class: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Write per-split datalists, ``bundle.json``, ``splits.csv`` and ``report.json``; return the splits table.

    Args:
        source_dir: the cohort as shared (only read).
        out_dir: the run folder.
        label: the ``labels.csv`` column to predict (``organ``, ``study``).
        splits: repeated splits; split ``k`` draws with seed ``seed + k``, which its bundle runs use too.
        test_fraction, val_fraction: share of each class's patients held out for testing / validation.
        min_class: classes with fewer patients are dropped (counted in ``report.json``); at least 3.

    Raises:
        OmicsDataError: an unknown label column, ``min_class`` below 3, or fewer than two classes left.
        MissingSampleError: a labelled patient lacks a tile or an omics row.
    """
    if min_class < 3:
        raise OmicsDataError(f"min_class {min_class}: a split needs 3 patients per class (training, validation, test)")
    source, out = Path(source_dir).resolve(), Path(out_dir).resolve()
    report: dict[str, Any] = {"source_dir": str(source), "label": label, "left_out": {}, "crops_not_used": {}}
    labels = _cohort(source, label, min_class, report)
    class_names = sorted(report["class_sizes"])
    if len(class_names) < 2:
        raise OmicsDataError(f"{source}: {len(class_names)} class(es) of at least {min_class} patients: {class_names}")
    tiles = _tiles(source, labels.index.tolist(), report)
    rows = []
    for k in range(splits):
        parts = patient_split(
            labels, test_fraction=test_fraction, val_fraction=val_fraction, rng=np.random.default_rng(seed + k)
        )
        datalist = {
            section: [{"image": tiles[p], "omics": p, "label": class_names.index(labels[p])} for p in patients]
            for section, patients in parts.items()
        }
        path = out / "splits" / f"split{k}" / "datalist.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda p, d=datalist: p.write_text(json.dumps(d, indent=1) + "\n"))
        rows.append(
            {"name": f"split{k}", "seed": seed + k, "datalist": os.path.relpath(path, out)}
            | section_counts(datalist, class_names)
        )
    config = {
        "class_names": class_names,
        "dataset_dir": str(source),
        "phantom": None,
        "allow_outside_dataset": True,  # the tiles stay in the read-only source folder
        "omics_tables": {t: str(source / p) for t, p in OMICS_TABLES.items()},
        "image_size": [128, 128],  # each patch of the bag, resized
        "bag_patches": 8,  # the 8 darkest (most tissue) of a 1000 px tile's 4 x 4 grid of 250 px patches
        "patch_px": 250,
        "preprocessor#missing_values": "median",
        "preprocessor#normalization": NORMALIZATION,
    }
    table = pd.DataFrame(rows)
    atomic_write(out / "bundle.json", lambda p: p.write_text(json.dumps(config, indent=4) + "\n"))
    atomic_write(out / "splits.csv", lambda p: table.to_csv(p, index=False))
    atomic_write(out / "report.json", lambda p: p.write_text(json.dumps(report, indent=1) + "\n"))
    logger.info(
        "classes kept %s, dropped %s, patients left out %s",
        report["class_sizes"],
        report["dropped_classes"],
        report["left_out"],
    )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omicsfusion.apps.pan_cancer_recipes SOURCE RUN [--label organ] [--splits 5] ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m omicsfusion.apps.pan_cancer_recipes", description=prepare_runs.__doc__.splitlines()[0]
    )
    parser.add_argument("source_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--label", default="organ", help="labels.csv column to predict (organ, study)")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--min-class", type=int, default=3, help="drop classes of fewer patients")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = prepare_runs(
        args.source_dir,
        args.out_dir,
        label=args.label,
        splits=args.splits,
        test_fraction=args.test_fraction,
        val_fraction=args.val_fraction,
        min_class=args.min_class,
        seed=args.seed,
    )
    print(table.drop(columns="datalist").to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
