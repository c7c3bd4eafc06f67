"""TCGA-LGG as published with the kaggle_3m MRI: molecular table, IDH labels, datalists per split.

``data.csv`` holds per patient the TCGA cluster assignments (RNA-seq,
methylation, miRNA, copy number, RPPA, OncoSign, cluster-of-clusters; blank =
not available) beside clinical fields; ``mutations.csv`` the IDH status; each
patient's MRI is a folder ``images/<patient>_<scan date>/`` of TIFF slices
(:mod:`omicsfusion.data.slices`). :func:`cluster_table` one-hot encodes the
clusters, :func:`idh_labels` reads the labels, :func:`prepare_lgg` joins them
and writes what the neuro bundle reads (molecular table, ``samples.csv``, one
datalist per split). Every patient or column left out is named in the report.
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

from omicsfusion.data.datalist import stratified_split, write_datalist
from omicsfusion.data.errors import DuplicateSampleError, OmicsDataError
from omicsfusion.data.slices import is_slice_folder
from omicsfusion.fileio import atomic_write

__all__ = [
    "CLASS_NAMES",
    "CLUSTER_COLUMNS",
    "SCHEMES",
    "case_folders",
    "cluster_table",
    "idh_labels",
    "lgg_splits",
    "prepare_lgg",
]

logger = logging.getLogger(__name__)

#: the molecular cluster columns of ``data.csv``
CLUSTER_COLUMNS = (
    "RNASeqCluster",
    "MethylationCluster",
    "miRNACluster",
    "CNCluster",
    "RPPACluster",
    "OncosignCluster",
    "COCCluster",
)
#: label order of the IDH task (index = label)
CLASS_NAMES = ("wildtype", "mutant")
#: split schemes of :func:`lgg_splits`
SCHEMES = ("loo", "repeated")
_MISSING = {"", "na", "nan", "n/a", "none"}
_CASE_FOLDER = re.compile(r"^(?P<patient>.+)_(?P<date>\d{8})$")
_SHOWN = 5  # patients named per report entry


def _read_csv(path: str | os.PathLike, id_column: str) -> pd.DataFrame:
    """All cells as stripped text, indexed by ``id_column``; duplicates and a missing id column refused."""
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).apply(lambda c: c.str.strip())
    if id_column not in frame.columns:
        raise OmicsDataError(f"{path}: no id column {id_column!r}; it has {list(frame.columns)}")
    ids = frame[id_column]
    if (ids == "").any():
        raise OmicsDataError(f"{path}: {int((ids == '').sum())} row(s) without a {id_column!r}")
    if ids.duplicated().any():
        raise DuplicateSampleError(f"{path}: patient(s) listed twice: {ids[ids.duplicated()].tolist()[:_SHOWN]}")
    return frame.set_index(id_column)


def _category(value: str) -> str:
    """``"2.0"`` and ``"2"`` name the same cluster."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else value


def _order(value: str) -> tuple[int, float, str]:
    try:
        return 0, float(value), value
    except ValueError:
        return 1, 0.0, value


def cluster_table(
    data_csv: str | os.PathLike, columns: Sequence[str] = CLUSTER_COLUMNS, id_column: str = "Patient"
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One-hot molecular table from the cluster columns of ``data.csv``, and a report.

    Each column becomes one 0/1 feature per cluster seen (``RNASeqCluster=2``); a
    patient without a value for a column has zeros in its group and 1 in
    ``<column>=missing`` (written only for columns with missing values).

    Returns:
        the table (float32, index = patient id, named ``sample_id``) and a report:
        ``source``, ``n_patients``, ``n_features``, ``categories`` per column,
        ``missing`` per column (``count`` and the first ``patients``) and
        ``unused_columns`` (the clinical columns, not part of the molecular table).

    Raises:
        OmicsDataError: a cluster column or the id column is absent (file and columns named).
        DuplicateSampleError: a patient is listed twice.
    """
    frame = _read_csv(data_csv, id_column)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise OmicsDataError(f"{data_csv}: no cluster column(s) {absent}; it has {list(frame.columns)}")
    features: dict[str, np.ndarray] = {}
    report: dict[str, Any] = {"source": str(data_csv), "n_patients": len(frame), "categories": {}, "missing": {}}
    for column in columns:
        missing = frame[column].str.lower().isin(_MISSING).to_numpy()
        values = frame[column].map(_category).to_numpy()
        categories = sorted({v for v, m in zip(values, missing, strict=True) if not m}, key=_order)
        for category in categories:
            features[f"{column}={category}"] = (values == category) & ~missing
        if missing.any():
            features[f"{column}=missing"] = missing
            report["missing"][column] = {
                "count": int(missing.sum()),
                "patients": frame.index[missing].tolist()[:_SHOWN],
            }
        report["categories"][column] = categories
    table = pd.DataFrame(features, index=pd.Index(frame.index, name="sample_id")).astype(np.float32)
    report["n_features"] = table.shape[1]
    report["unused_columns"] = [c for c in frame.columns if c not in columns]
    return table, report


def idh_labels(
    mutations_csv: str | os.PathLike,
    id_column: str = "patient",
    label_column: str = "idh",
    class_names: Sequence[str] = CLASS_NAMES,
) -> tuple[pd.Series, dict[str, Any]]:
    """IDH label per patient (index into ``class_names``) from ``mutations.csv``, and a report.

    Patients whose value is blank or not one of ``class_names`` are left out and named
    in the report (``unlabelled``), with the class counts of the rest.
    """
    frame = _read_csv(mutations_csv, id_column)
    if label_column not in frame.columns:
        raise OmicsDataError(f"{mutations_csv}: no label column {label_column!r}; it has {list(frame.columns)}")
    values = frame[label_column].str.lower()
    known = values.isin([c.lower() for c in class_names])
    codes = {c.lower(): k for k, c in enumerate(class_names)}
    labels = values[known].map(codes).astype(int).rename("label")
    report = {
        "source": str(mutations_csv),
        "n_patients": len(frame),
        "counts": {c: int((labels == k).sum()) for k, c in enumerate(class_names)},
        "unlabelled": {p: frame.at[p, label_column] for p in frame.index[~known]},
    }
    return labels, report


def case_folders(images_dir: str | os.PathLike) -> tuple[dict[str, Path], list[str]]:
    """Patient id -> slice folder (``TCGA_CS_4941_19960909`` -> ``TCGA_CS_4941``), and the folders skipped.

    A folder is skipped (and listed) when its name lacks the ``_<yyyymmdd>`` scan date or it
    holds no TIFF slice.

    Raises:
        FileNotFoundError: ``images_dir`` does not exist.
        OmicsDataError: two folders belong to one patient (both named; choose one).
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"image folder not found: {images_dir}")
    folders: dict[str, Path] = {}
    skipped = []
    for folder in sorted(p for p in images_dir.iterdir() if p.is_dir()):
        match = _CASE_FOLDER.match(folder.name)
        if not match or not is_slice_folder(folder):
            skipped.append(folder.name)
            continue
        patient = match["patient"]
        if patient in folders:
            raise OmicsDataError(
                f"{images_dir}: patient {patient} has two scan folders, {folders[patient].name} "
                f"and {folder.name}; keep one"
            )
        folders[patient] = folder
    return folders, skipped


def lgg_splits(
    labels: pd.Series,
    scheme: str = "loo",
    seeds: Sequence[int] = (0, 1, 2),
    val_fraction: float = 0.15,
    test_fraction: float = 0.25,
) -> list[dict[str, Any]]:
    """Seeded splits of the labelled patients into training / validation / test id lists.

    ``"loo"``: per seed, every patient is the test set once; validation is drawn from the
    others per class (:func:`~omicsfusion.data.datalist.stratified_split`, at least one per
    class). ``"repeated"``: per seed, one stratified split by ``val_fraction`` and
    ``test_fraction`` (the scheme for a cohort too large for leave-one-out).
    """
    if scheme not in SCHEMES:
        raise OmicsDataError(f"unknown split scheme {scheme!r}; use one of {SCHEMES}")
    if val_fraction <= 0:
        raise OmicsDataError("val_fraction must be > 0: the bundle's trainer needs a validation section")
    ids = np.asarray(labels.index, dtype=str)
    values = labels.to_numpy()
    splits = []
    for seed in seeds:
        if scheme == "repeated":
            train, val, test = stratified_split(values, [val_fraction, test_fraction], seed)
            splits.append(
                {
                    "name": f"seed{seed}",
                    "seed": int(seed),
                    "fold": 0,
                    "training": ids[train].tolist(),
                    "validation": ids[val].tolist(),
                    "test": ids[test].tolist(),
                }
            )
            continue
        for fold, patient in enumerate(ids):
            rest = np.flatnonzero(ids != patient)
            train, val = stratified_split(values[rest], [val_fraction], seed * 1000 + fold)
            splits.append(
                {
                    "name": f"seed{seed}_loo{fold:03d}",
                    "seed": int(seed),
                    "fold": fold,
                    "training": ids[rest[train]].tolist(),
                    "validation": ids[rest[val]].tolist(),
                    "test": [str(patient)],
                }
            )
    return splits


def _cohort(
    source: Path, mutations_csv: Path, class_names: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Molecular table, samples (patients with images, molecular row and label) and the join's report."""
    table, molecular = cluster_table(source / "data.csv")
    labels, label_report = idh_labels(mutations_csv, class_names=class_names)
    # the shared copy keeps the case folders in images/, kaggle_3m as published beside data.csv
    folders, skipped = case_folders(source / "images" if (source / "images").is_dir() else source)
    kept = [p for p in folders if p in table.index and p in labels.index]
    report = {
        "molecular": molecular,
        "labels": label_report,
        "skipped_folders": skipped,
        "excluded": {
            "images_without_molecular_row": sorted(p for p in folders if p not in table.index),
            "images_without_label": sorted(p for p in folders if p in table.index and p not in labels.index),
            "molecular_rows_without_images": sorted(p for p in table.index if p not in folders),
        },
        "n_patients": len(kept),
        "class_counts": {c: int((labels[kept] == k).sum()) for k, c in enumerate(class_names)},
    }
    samples = pd.DataFrame(
        {
            "sample_id": kept,
            "image": [folders[p].relative_to(source).as_posix() for p in kept],
            "label": labels[kept].to_numpy(),
            "class": [class_names[labels[p]] for p in kept],
        }
    )
    return table, samples, report


def prepare_lgg(
    source_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    scheme: str = "loo",
    seeds: Sequence[int] = (0, 1, 2),
    val_fraction: float = 0.15,
    test_fraction: float = 0.25,
    class_names: Sequence[str] = CLASS_NAMES,
    mutations_csv: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write the neuro bundle's inputs for TCGA-LGG into ``out_dir``; return the report.

    ``source_dir`` holds ``data.csv`` and the case folders (in ``images/`` or, as
    kaggle_3m is published, beside ``data.csv``); the IDH table is
    ``mutations_csv`` (default ``source_dir/mutations.csv``). Files:
    ``omics/clusters.csv`` (:func:`cluster_table`, every patient of ``data.csv``),
    ``samples.csv`` (``sample_id,image,label,class``; image relative to ``source_dir``,
    which is the bundle's ``dataset_dir``), ``splits/<name>.json`` (one decathlon
    datalist per split of :func:`lgg_splits`), ``splits.csv`` (one row per split) and
    ``report.json`` (what was encoded, missing and left out). ``source_dir`` is only read.

    Raises:
        OmicsDataError: fewer than two labelled patients per class (the split needs them).
    """
    source, out = Path(source_dir), Path(out_dir)
    mutations = Path(mutations_csv) if mutations_csv is not None else source / "mutations.csv"
    table, samples, report = _cohort(source, mutations, class_names)
    small = {c: n for c, n in report["class_counts"].items() if n < 2}
    if small:
        raise OmicsDataError(
            f"{source}: class(es) with fewer than 2 patients that have images, a molecular row "
            f"and a label: {small}; see the exclusions {report['excluded']}"
        )
    rows = {r.sample_id: {"image": r.image, "omics": r.sample_id, "label": int(r.label)} for r in samples.itertuples()}
    splits = lgg_splits(samples.set_index("sample_id")["label"], scheme, seeds, val_fraction, test_fraction)
    for split in splits:
        write_datalist(
            {s: [rows[p] for p in split[s]] for s in ("training", "validation", "test")},
            out / "splits" / f"{split['name']}.json",
        )
    index = pd.DataFrame(
        [
            {
                "name": s["name"],
                "seed": s["seed"],
                "fold": s["fold"],
                "datalist": f"splits/{s['name']}.json",
                "n_training": len(s["training"]),
                "n_validation": len(s["validation"]),
                "test": " ".join(s["test"]),
            }
            for s in splits
        ]
    )
    (out / "omics").mkdir(parents=True, exist_ok=True)
    atomic_write(out / "omics" / "clusters.csv", table.to_csv)
    atomic_write(out / "samples.csv", lambda p: samples.to_csv(p, index=False))
    atomic_write(out / "splits.csv", lambda p: index.to_csv(p, index=False))
    report.update(
        {
            "source_dir": str(source),
            "scheme": scheme,
            "seeds": [int(s) for s in seeds],
            "n_splits": len(splits),
            "class_names": list(class_names),
        }
    )
    atomic_write(out / "report.json", lambda p: p.write_text(json.dumps(report, indent=1)))
    missing = {c: m["count"] for c, m in report["molecular"]["missing"].items()}
    logger.info(
        "TCGA-LGG: %d patients %s, %d molecular features (missing per column: %s), %d %s splits; left out: %s",
        report["n_patients"],
        report["class_counts"],
        table.shape[1],
        missing,
        len(splits),
        scheme,
        {k: v for k, v in report["excluded"].items() if v},
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omicsfusion.apps.lgg SOURCE OUT [--scheme loo] [--seeds 0 1 2]``: run :func:`prepare_lgg`."""
    parser = argparse.ArgumentParser(prog="python -m omicsfusion.apps.lgg", description=prepare_lgg.__doc__)
    parser.add_argument("source_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--scheme", choices=SCHEMES, default="loo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--mutations", help="IDH table (patient,idh); default SOURCE/mutations.csv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = prepare_lgg(
        args.source_dir,
        args.out_dir,
        args.scheme,
        args.seeds,
        args.val_fraction,
        args.test_fraction,
        mutations_csv=args.mutations,
    )
    print(json.dumps({k: report[k] for k in ("n_patients", "class_counts", "n_splits", "excluded")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
