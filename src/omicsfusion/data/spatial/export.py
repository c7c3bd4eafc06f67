"""Sections manifest -> one spot table for training: ``samples.csv`` + ``omics/rna.parquet``.

A data set is a folder with ``sections.csv`` (one row per section: ``section``,
``format`` = spaceranger | hest | legacy_st, ``path``, and optionally ``image``,
``metadata``, ``spots``, ``annotations``, ``mpp``, ``barcode_policy``, ``swap_xy``;
paths relative to the folder). Every section is read with its reader, so the
bundles see exactly what the readers return. Each spot becomes one sample
``<section>:<barcode>`` with its slide, centre ``x``/``y`` (level-0 px), the slide's
microns per pixel, its section as ``group`` (the split unit) and, when an
annotation column is named, its label. Expression is library-size normalised
and log-transformed (``log1p(counts / total * 1e4)``) once here.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from omicsfusion.data.errors import OmicsDataError
from omicsfusion.data.spatial.annotations import annotate
from omicsfusion.data.spatial.errors import SpatialDataError
from omicsfusion.data.spatial.hest import read_hest
from omicsfusion.data.spatial.legacy_st import read_legacy_st
from omicsfusion.data.spatial.sample import SpatialSample
from omicsfusion.data.spatial.spaceranger import read_spaceranger

__all__ = ["FORMATS", "read_section", "export_spots", "spot_rows", "MANIFEST"]

MANIFEST = "sections.csv"
FORMATS = ("spaceranger", "hest", "legacy_st")
_SOURCE = "source.json"


def _opt(row: Mapping, key: str):
    value = row.get(key)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or value == "" else value


def read_section(row: Mapping, base_dir: str | os.PathLike) -> SpatialSample:
    """Read one manifest row with the reader its ``format`` names (paths relative to ``base_dir``)."""
    base = Path(base_dir)
    fmt = str(row.get("format", ""))

    def path(key: str):
        value = _opt(row, key)
        return None if value is None else base / str(value)

    mpp = None if _opt(row, "mpp") is None else float(row["mpp"])
    name = str(row["section"])
    policy = str(_opt(row, "barcode_policy") or "strict")
    if fmt == "spaceranger":
        sample = read_spaceranger(path("path"), image=path("image"), mpp=mpp, barcode_policy=policy, name=name)
    elif fmt == "hest":
        sample = read_hest(path("path"), image=path("image"), metadata=path("metadata"), mpp=mpp,
                           swap_xy=str(_opt(row, "swap_xy") or "false").lower() in ("1", "true"), name=name)
    elif fmt == "legacy_st":
        sample = read_legacy_st(path("path"), path("spots"), path("image"), mpp=mpp, barcode_policy=policy, name=name)
    else:
        raise SpatialDataError(f"section {name!r}: unknown format {fmt!r}; use one of {FORMATS}")
    if sample.slide is None:
        raise SpatialDataError(f"section {name!r}: no image; patches need a slide")
    return sample


def _normalised(sample: SpatialSample) -> pd.DataFrame:
    X = sample.adata.X
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    X = X.astype(np.float64)
    total = X.sum(axis=1, keepdims=True)
    values = np.log1p(X / np.where(total > 0, total, 1.0) * 1e4).astype(np.float32)
    return pd.DataFrame(values, index=sample.barcodes, columns=[str(g) for g in sample.adata.var_names])


def _stamp(manifest: Path, annotation_column, class_names) -> dict:
    st = manifest.stat()
    return {"manifest": str(manifest.resolve()), "mtime_ns": st.st_mtime_ns, "size": st.st_size,
            "annotation_column": annotation_column, "class_names": list(class_names or [])}


def export_spots(
    dataset_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    annotation_column: str | None = None,
    class_names: Sequence[str] | None = None,
    max_genes: int | None = None,
) -> Path:
    """Write ``out_dir/samples.csv`` and ``out_dir/omics/rna.parquet`` from ``dataset_dir/sections.csv``.

    Skipped when ``out_dir`` already holds an export of the same manifest (path, mtime, size)
    and options. Spots without an annotation are left out (counted in a warning).

    Args:
        dataset_dir: folder holding ``sections.csv`` and the sections.
        out_dir: where the spot table goes.
        annotation_column: label column of the sections' annotation files (``None``: no labels,
            e.g. for inference).
        class_names: allowed labels, in class-index order (required with ``annotation_column``).
        max_genes: keep the genes with the highest total counts over all spots (label-free); default all
            genes shared by every section.

    Raises:
        AnnotationColumnError: the annotation column does not exist.
        OmicsDataError: labels outside ``class_names``, or sections sharing no gene.
    """
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    manifest = dataset_dir / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: list the sections (section,format,path,image,...) there")
    stamp = _stamp(manifest, annotation_column, class_names)
    samples_csv = out_dir / "samples.csv"
    if (out_dir / _SOURCE).is_file() and samples_csv.is_file() and json.loads((out_dir / _SOURCE).read_text()) == stamp:
        return samples_csv
    if annotation_column is not None and not class_names:
        raise OmicsDataError("class_names are needed to turn annotations into labels")
    sections = pd.read_csv(manifest)
    rows, tables = [], []
    for _, section in sections.iterrows():
        sample = read_section(section.to_dict(), dataset_dir)
        name = sample.name
        frame = pd.DataFrame({"barcode": sample.barcodes, "x": sample.xy[:, 0], "y": sample.xy[:, 1]})
        if annotation_column is not None:
            if _opt(section, "annotations") is not None:
                annotate(sample, dataset_dir / str(section["annotations"]), annotation_column)
            labels = sample.labels(annotation_column)
            frame["class_name"] = labels.to_numpy()
            keep = frame["class_name"].notna().to_numpy()
            if not keep.all():
                warnings.warn(f"section {name!r}: {int((~keep).sum())} spot(s) without {annotation_column!r} left out",
                              UserWarning, stacklevel=2)
            unknown = sorted(set(frame.loc[keep, "class_name"].astype(str)) - set(class_names))
            if unknown:
                raise OmicsDataError(f"section {name!r}: annotation values {unknown} are not in class_names "
                                     f"{list(class_names)}")
            frame = frame[keep]
            frame["label"] = [list(class_names).index(str(c)) for c in frame["class_name"]]
        frame.insert(0, "sample_id", [f"{name}:{b}" for b in frame["barcode"]])
        frame["image"] = os.path.relpath(Path(sample.slide.path).resolve(), out_dir.resolve())
        frame["mpp"] = sample.mpp
        frame["group"] = name
        rows.append(frame)
        table = _normalised(sample).loc[frame["barcode"]]
        table.index = frame["sample_id"].to_numpy()
        tables.append(table)
    genes = sorted(set.intersection(*(set(t.columns) for t in tables)))
    if not genes:
        raise OmicsDataError(f"{manifest}: the sections share no gene")
    expression = pd.concat([t[genes] for t in tables])
    if max_genes is not None and len(genes) > max_genes:
        expression = expression[expression.sum().sort_values(ascending=False).index[:max_genes]]
    expression.index.name = "sample_id"
    (out_dir / "omics").mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "omics" / ".rna.parquet.tmp"
    expression.to_parquet(tmp)
    os.replace(tmp, out_dir / "omics" / "rna.parquet")
    tmp = out_dir / ".samples.csv.tmp"
    pd.concat(rows).to_csv(tmp, index=False)
    os.replace(tmp, samples_csv)
    tmp = out_dir / f".{_SOURCE}.tmp"
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, out_dir / _SOURCE)
    return samples_csv


def spot_rows(spots_dir: str | os.PathLike) -> list[dict]:
    """Every spot of an export as a datalist row (``image``, ``omics``, ``x``, ``y``, ``mpp``, ``barcode``, ``group``)."""
    spots_dir = Path(spots_dir)
    frame = pd.read_csv(spots_dir / "samples.csv", dtype={"sample_id": str, "barcode": str, "group": str})
    return [{"image": str(spots_dir / r.image), "omics": r.sample_id, "x": float(r.x), "y": float(r.y),
             "mpp": float(r.mpp), "barcode": r.barcode, "group": r.group} for r in frame.itertuples()]
