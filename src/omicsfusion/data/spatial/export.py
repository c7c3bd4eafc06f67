"""Sections manifest -> one spot table for training: ``samples.csv`` + ``omics/rna.parquet``.

A data set is a folder with ``sections.csv`` (one row per section: ``section``,
``format`` = spaceranger | hest | legacy_st, ``path``, and optionally ``image``,
``metadata``, ``spots``, ``annotations``, ``annotation_id``, ``mpp``, ``image_scale``,
``barcode_policy``, ``swap_xy``, ``split``; paths relative to the folder). Every section is read with its reader, so the
bundles see exactly what the readers return. Each spot becomes one sample
``<section>:<barcode>`` with its slide, centre ``x``/``y`` (level-0 px), the slide's
microns per pixel, its section as ``group`` (the split unit) and, when an
annotation column is named, its label. A section whose split is ``blocks`` is
split within itself (:func:`~omicsfusion.data.spatial.blocks.block_split`) and
each spot carries its own ``split``. Expression is library-size normalised
and log-transformed (``log1p(counts / total * 1e4)``) once here.

Nothing is dropped without a word: sections with differing gene sets are
reported per section (kept / dropped or zero-filled, by ``gene_policy``),
``max_genes`` ranks genes on the training sections only, and
``omics/rna.features.csv`` lists every gene seen with its display name, the
sections that measured it and whether it was kept.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from omicsfusion.data.datalist import SECTIONS, grouped_split
from omicsfusion.data.errors import OmicsDataError
from omicsfusion.data.spatial.annotations import annotate
from omicsfusion.data.spatial.blocks import GAP, block_split
from omicsfusion.data.spatial.errors import NoLabelledSpotError, SectionFileError, SpatialDataError
from omicsfusion.data.spatial.hest import read_hest
from omicsfusion.data.spatial.legacy_st import read_legacy_st
from omicsfusion.data.spatial.sample import SpatialSample
from omicsfusion.data.spatial.spaceranger import read_spaceranger
from omicsfusion.data.tables import FEATURES_SUFFIX, display_names
from omicsfusion.fileio import atomic_write

__all__ = [
    "BLOCKS",
    "FORMATS",
    "GENE_POLICIES",
    "MANIFEST",
    "PATH_COLUMNS",
    "export_spots",
    "read_section",
    "section_splits",
    "spot_rows",
]

logger = logging.getLogger(__name__)

MANIFEST = "sections.csv"
FORMATS = ("spaceranger", "hest", "legacy_st")
#: what ``export_spots`` does with genes that some sections lack
GENE_POLICIES = ("intersect", "union")
#: ``split`` value of a section split within itself into spatial blocks
BLOCKS = "blocks"
_SOURCE = "source.json"
#: manifest columns holding paths (relative to the data set folder)
PATH_COLUMNS = ("path", "image", "annotations", "spots", "metadata")


def _opt(row: Mapping, key: str):
    value = row.get(key)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or value == "" else value


def read_section(row: Mapping, base_dir: str | os.PathLike, where: str | None = None) -> SpatialSample:
    """Read one manifest row with the reader its ``format`` names (paths relative to ``base_dir``).

    A relative path of the row is resolved here, once, against ``base_dir`` made absolute: a reader gets
    absolute paths only, so its own rule for relative paths (Space Ranger: ``image`` relative to ``path``)
    never joins the manifest folder a second time, whatever the working directory.

    Raises:
        SectionFileError: a file the row names (or one its reader needs) does not exist; the message
            starts with ``where`` (default: the section name) and gives the path.
    """
    base = Path(base_dir).absolute()
    fmt = str(row.get("format", ""))
    where = where or f"section {str(row['section'])!r}"
    for key in PATH_COLUMNS:
        value = _opt(row, key)
        if value is not None and not (base / str(value)).exists():
            raise SectionFileError(f"{where}: {key} {str(value)!r} not found ({base / str(value)})")
    try:
        return _read(row, base, fmt)
    except SectionFileError:
        raise
    except FileNotFoundError as error:
        raise SectionFileError(f"{where}: {error}") from error


def _read(row: Mapping, base: Path, fmt: str) -> SpatialSample:

    def path(key: str):
        value = _opt(row, key)
        return None if value is None else base / str(value)

    mpp = None if _opt(row, "mpp") is None else float(row["mpp"])
    name = str(row["section"])
    policy = str(_opt(row, "barcode_policy") or "strict")
    if fmt == "spaceranger":
        sample = read_spaceranger(path("path"), image=path("image"), mpp=mpp, barcode_policy=policy, name=name)
    elif fmt == "hest":
        sample = read_hest(
            path("path"),
            image=path("image"),
            metadata=path("metadata"),
            mpp=mpp,
            swap_xy=str(_opt(row, "swap_xy") or "false").lower() in ("1", "true"),
            name=name,
        )
    elif fmt == "legacy_st":
        scale = None if _opt(row, "image_scale") is None else float(row["image_scale"])
        sample = read_legacy_st(
            path("path"), path("spots"), path("image"), mpp=mpp, barcode_policy=policy, name=name, image_scale=scale
        )
    else:
        raise SpatialDataError(f"section {name!r}: unknown format {fmt!r}; use one of {FORMATS}")
    if sample.slide is None:
        raise SpatialDataError(f"section {name!r}: no image; patches need a slide")
    return sample


def section_splits(
    dataset_dir: str | os.PathLike, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> dict[str, str]:
    """Section -> ``training`` / ``validation`` / ``test`` / ``blocks``: the manifest's ``split``, else seeded.

    Without a ``split`` column whole sections are split by :func:`~omicsfusion.data.datalist.grouped_split`;
    ``blocks`` sections are split within themselves by the export.

    Raises:
        OmicsDataError: a ``split`` value outside ``training``, ``validation``, ``test``, ``blocks``, or no
            training (or blocks) section.
    """
    manifest = Path(dataset_dir) / MANIFEST
    sections = pd.read_csv(manifest, dtype={"section": str})
    names = sections["section"].tolist()
    if "split" in sections.columns:
        splits = dict(zip(names, sections["split"].astype(str).str.strip(), strict=True))
        bad = {s: k for s, k in splits.items() if k not in (*SECTIONS, BLOCKS)}
        if bad:
            raise OmicsDataError(f"{manifest}: split values {bad} are not one of {(*SECTIONS, BLOCKS)}")
    else:
        parts = grouped_split(names, [val_fraction, test_fraction], seed)
        splits = {names[i]: part for part, index in zip(SECTIONS, parts, strict=True) for i in index}
    if "training" not in splits.values() and BLOCKS not in splits.values():
        raise OmicsDataError(f"{manifest}: no training section in the split {splits}")
    return splits


def _normalised(sample: SpatialSample) -> pd.DataFrame:
    X = sample.adata.X
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    X = X.astype(np.float64)
    total = X.sum(axis=1, keepdims=True)
    values = np.log1p(X / np.where(total > 0, total, 1.0) * 1e4).astype(np.float32)
    return pd.DataFrame(values, index=sample.barcodes, columns=[str(g) for g in sample.adata.var_names])


def _stamp(manifest: Path, **options) -> dict:
    st = manifest.stat()
    return {"manifest": str(manifest.resolve()), "mtime_ns": st.st_mtime_ns, "size": st.st_size, **options}


def _first(names) -> str:
    names = list(names)
    return ", ".join(repr(str(n)) for n in names[:3]) + (", ..." if len(names) > 3 else "")


def _gene_sets(manifest: Path, tables: Mapping[str, pd.DataFrame], policy: str) -> list[str]:
    """The genes of the export under ``policy``; differing gene sets are reported per section."""
    present = {name: pd.Index(t.columns) for name, t in tables.items()}
    union = sorted(set().union(*present.values()))
    common = sorted(set.intersection(*(set(p) for p in present.values())))
    if policy == "intersect" and not common:
        raise OmicsDataError(
            f"{manifest}: the sections share no gene ({len(union)} genes in all; "
            "gene_policy='union' keeps them with zeros where a section lacks one)"
        )
    if len(common) < len(union):
        if policy == "intersect":
            parts = [
                f"section {name!r} keeps {len(common)} of {len(p)}, drops {len(p) - len(common)} "
                f"(e.g. {_first(p.difference(common))})"
                for name, p in present.items()
                if len(p) > len(common)
            ]
            action = f"gene_policy='intersect' keeps the {len(common)} genes every section has"
        else:
            parts = [
                f"section {name!r} has {len(p)}, {len(union) - len(p)} zero-filled "
                f"(e.g. {_first(pd.Index(union).difference(p))})"
                for name, p in present.items()
                if len(p) < len(union)
            ]
            action = f"gene_policy='union' keeps all {len(union)}, zero where a section lacks a gene"
        warnings.warn(
            f"{manifest}: the sections' gene sets differ ({len(union)} genes in all, {len(common)} in "
            f"every section); {action}: {'; '.join(parts)}. Per-gene presence: omics/rna{FEATURES_SUFFIX}",
            UserWarning,
            stacklevel=3,
        )
    return common if policy == "intersect" else union


def _top_expressed(expression: pd.DataFrame, train: np.ndarray, max_genes: int, train_sections) -> list[str]:
    """The ``max_genes`` genes of highest total expression over the training spots (reported with counts)."""
    if not train.any():
        raise OmicsDataError(f"max_genes={max_genes} ranks genes on the training spots, but no spot is in training")
    totals = expression[train].sum()
    keep = totals.sort_values(ascending=False, kind="stable").index[:max_genes]
    dropped = expression.columns.difference(keep)
    logger.info(
        "max_genes=%d keeps %d of %d genes, ranked by total expression over the %d training spots of the "
        "sections %s; dropped e.g. %s",
        max_genes,
        len(keep),
        expression.shape[1],
        int(train.sum()),
        sorted(train_sections),
        _first(dropped),
    )
    keep = set(keep)
    return [g for g in expression.columns if g in keep]


def _split_blocks(frame: pd.DataFrame, name: str, blocks: Mapping, seed: int) -> pd.DataFrame:
    """Spots of a ``blocks`` section with their block split (every labelled class in training); the gap spots
    are left out with a warning."""
    labels = frame["class_name"].astype(str).to_numpy() if "class_name" in frame.columns else None
    try:
        result = block_split(frame[["x", "y"]].to_numpy(), seed=seed, labels=labels, **blocks)
    except OmicsDataError as error:  # name the section: the split itself only sees coordinates
        raise OmicsDataError(f"section {name!r} ({len(frame)} spots): {error}") from error
    frame = frame.assign(split=result.split)
    counts = {k: v for k, v in result.counts().items() if k != GAP}
    message = (
        f"section {name!r}: block split ({dict(blocks)}, seed {seed}, draw {result.draws}, spot pitch "
        f"{result.pitch:.1f} px): {counts}"
    )
    if result.n_gap:
        warnings.warn(
            f"{message}; {result.n_gap} spot(s) of the gap between splits left out (e.g. "
            f"{_first(frame.loc[frame['split'] == GAP, 'barcode'])})",
            UserWarning,
            stacklevel=3,
        )
    else:
        logger.info(message)
    return frame[frame["split"] != GAP]


def _labelled(
    frame: pd.DataFrame,
    labels: pd.Series,
    where: str,
    source: str,
    column: str,
    class_names: Sequence[str],
    drop_classes: Sequence[str],
) -> pd.DataFrame:
    """Spots with a label in ``class_names``; unlabelled spots and ``drop_classes`` are left out with warnings."""
    frame = frame.assign(class_name=labels.reindex(frame["barcode"]).to_numpy())
    keep = frame["class_name"].notna().to_numpy()
    if not keep.any():
        raise NoLabelledSpotError(
            f"{where}: none of its {len(keep)} spots has a {column!r} label (annotations: {source})"
        )
    if not keep.all():
        warnings.warn(f"{where}: {int((~keep).sum())} spot(s) without {column!r} left out", UserWarning, stacklevel=3)
    frame = frame[keep]
    dropped = frame["class_name"].astype(str).isin(drop_classes).to_numpy()
    if dropped.any():
        counts = frame.loc[dropped, "class_name"].astype(str).value_counts().to_dict()
        warnings.warn(
            f"{where}: drop_classes leaves out {int(dropped.sum())} spot(s): {counts}", UserWarning, stacklevel=3
        )
        frame = frame[~dropped]
    unknown = sorted(set(frame["class_name"].astype(str)) - set(class_names))
    if unknown:
        raise OmicsDataError(
            f"{where}: annotation values {unknown} are not in class_names {list(class_names)} "
            "(list them in drop_classes to leave their spots out)"
        )
    return frame.assign(label=[list(class_names).index(str(c)) for c in frame["class_name"]])


def _section_spots(
    row: Mapping,
    where: str,
    dataset_dir: Path,
    out_dir: Path,
    annotation_column: str | None,
    class_names: Sequence[str] | None,
    drop_classes: Sequence[str],
    splits: Mapping[str, str] | None,
    blocks: Mapping | None,
    seed: int,
) -> tuple[str, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """One manifest row: section name, kept spots (``samples.csv`` rows), their expression, gene id -> display name."""
    sample = read_section(row, dataset_dir, where)
    name = sample.name
    frame = pd.DataFrame({"barcode": sample.barcodes, "x": sample.xy[:, 0], "y": sample.xy[:, 1]})
    if annotation_column is not None:
        if _opt(row, "annotations") is not None:
            annotate(
                sample, dataset_dir / str(row["annotations"]), annotation_column, id_column=_opt(row, "annotation_id")
            )
        frame = _labelled(
            frame,
            sample.labels(annotation_column),
            where,
            _opt(row, "annotations") or "the reader",
            annotation_column,
            class_names,
            drop_classes,
        )
    if splits is not None:  # after the labels: a block split keeps every class of the section in training
        frame = _split_blocks(frame, name, blocks, seed) if splits[name] == BLOCKS else frame.assign(split=splits[name])
    frame.insert(0, "sample_id", [f"{name}:{b}" for b in frame["barcode"]])
    frame["image"] = os.path.relpath(Path(sample.slide.path).resolve(), out_dir.resolve())
    frame["mpp"] = sample.mpp
    frame["group"] = name
    if "split" in frame.columns:  # last, as before the block split
        frame = frame[[c for c in frame.columns if c != "split"] + ["split"]]
    table = _normalised(sample).loc[frame["barcode"]]
    table.index = frame["sample_id"].to_numpy()
    shown = dict(zip(table.columns, display_names(sample.adata.var), strict=True))
    return name, frame, table, shown


def export_spots(
    dataset_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    annotation_column: str | None = None,
    class_names: Sequence[str] | None = None,
    max_genes: int | None = None,
    gene_policy: str = "intersect",
    splits: Mapping[str, str] | None = None,
    blocks: Mapping | None = None,
    seed: int = 0,
    drop_classes: Sequence[str] = (),
) -> Path:
    """Write ``out_dir/samples.csv``, ``out_dir/omics/rna.parquet`` and its features file from ``sections.csv``.

    Skipped when ``out_dir`` already holds an export of the same manifest (path, mtime, size)
    and options. Spots without an annotation are left out (counted in a warning).

    Args:
        dataset_dir: folder holding ``sections.csv`` and the sections.
        out_dir: where the spot table goes.
        annotation_column: label column of the sections' annotation files (``None``: no labels,
            e.g. for inference).
        class_names: allowed labels, in class-index order (required with ``annotation_column``).
        max_genes: keep the genes with the highest total expression over the TRAINING spots of
            ``splits``; label-free; default all genes of ``gene_policy``.
        gene_policy: ``"intersect"`` keeps the genes every section has; ``"union"`` keeps every gene,
            zero where a section lacks it. Either way differing gene sets are warned about per section,
            and ``omics/rna.features.csv`` records which section measured which gene.
        splits: section -> ``training`` / ``validation`` / ``test`` / ``blocks`` (see :func:`section_splits`),
            written to ``samples.csv`` as each spot's ``split``; needed with ``max_genes``.
        blocks: :func:`~omicsfusion.data.spatial.blocks.block_split` arguments (``tiles``, ``val_fraction``,
            ``test_fraction``, ``gap_spots``) for the ``blocks`` sections; the gap spots are left out
            (counted in a warning).
        seed: seed of the block split.
        drop_classes: annotation values whose spots are left out (counted per class in a warning),
            e.g. classes too rare to learn or score.

    Raises:
        SectionFileError: a file a manifest row names is missing (row, section and path named).
        AnnotationColumnError: the annotation column does not exist.
        AnnotationJoinError: a section's annotations join none of its spots.
        NoLabelledSpotError: a section has no labelled spot.
        OmicsDataError: labels outside ``class_names`` and ``drop_classes``, sections sharing no gene
            (``intersect``), ``max_genes`` without ``splits``, sections missing from ``splits``, or a
            ``blocks`` section without ``blocks``.
    """
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    manifest = dataset_dir / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: list the sections (section,format,path,image,...) there")
    if gene_policy not in GENE_POLICIES:
        raise OmicsDataError(f"gene_policy must be one of {GENE_POLICIES}, got {gene_policy!r}")
    if max_genes is not None and splits is None:
        raise OmicsDataError("max_genes ranks genes on the training sections: pass splits (see section_splits)")
    stamp = _stamp(
        manifest,
        annotation_column=annotation_column,
        class_names=list(class_names or []),
        max_genes=max_genes,
        gene_policy=gene_policy,
        splits=dict(splits or {}),
        blocks=None if blocks is None else dict(blocks),
        seed=int(seed),
        drop_classes=list(drop_classes),
    )
    samples_csv = out_dir / "samples.csv"
    if (out_dir / _SOURCE).is_file() and samples_csv.is_file() and json.loads((out_dir / _SOURCE).read_text()) == stamp:
        return samples_csv
    if annotation_column is not None and not class_names:
        raise OmicsDataError("class_names are needed to turn annotations into labels")
    sections = pd.read_csv(manifest, dtype={"section": str})
    _check_splits(manifest, sections, splits, blocks)
    rows, tables, names = [], {}, {}
    for i, section in sections.iterrows():
        name, frame, table, shown = _section_spots(
            section.to_dict(),
            f"{manifest} row {i + 1} (section {str(section['section'])!r})",
            dataset_dir,
            out_dir,
            annotation_column,
            class_names,
            drop_classes,
            splits,
            blocks,
            seed,
        )
        rows.append(frame)
        tables[name] = table
        names.update({g: d for g, d in shown.items() if names.get(g, g) == g})
    expression, features = _expression_and_features(manifest, rows, tables, names, gene_policy, max_genes)
    atomic_write(out_dir / "omics" / "rna.parquet", expression.to_parquet)
    atomic_write(out_dir / "omics" / f"rna{FEATURES_SUFFIX}", lambda p: features.to_csv(p, index=False))
    atomic_write(samples_csv, lambda p: pd.concat(rows).to_csv(p, index=False))
    atomic_write(out_dir / _SOURCE, lambda p: p.write_text(json.dumps(stamp)))  # last: it marks the export done
    return samples_csv


def _check_splits(
    manifest: Path, sections: pd.DataFrame, splits: Mapping[str, str] | None, blocks: Mapping | None
) -> None:
    """Every section of the manifest has a split, and ``blocks`` sections have block settings."""
    if splits is None:
        return
    unsplit = [s for s in sections["section"] if s not in splits]
    if unsplit:
        raise OmicsDataError(f"{manifest}: sections {unsplit} have no split in {dict(splits)}")
    if BLOCKS in splits.values() and blocks is None:
        raise OmicsDataError(
            f"{manifest}: sections {[s for s, k in splits.items() if k == BLOCKS]} are split in "
            "blocks: pass blocks (tiles, val_fraction, test_fraction, gap_spots)"
        )


def _expression_and_features(
    manifest: Path,
    rows: list[pd.DataFrame],
    tables: Mapping[str, pd.DataFrame],
    names: Mapping[str, str],
    gene_policy: str,
    max_genes: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The spots x genes table of ``gene_policy`` (and ``max_genes`` on training spots), and per gene its
    display name, the sections that measured it and whether it was kept."""
    genes = _gene_sets(manifest, tables, gene_policy)
    expression = pd.concat([t.reindex(columns=genes, fill_value=0.0) for t in tables.values()])
    if max_genes is not None and len(genes) > max_genes:
        train = np.concatenate([(f["split"] == "training").to_numpy() for f in rows])
        train_sections = [f["group"].iloc[0] for f in rows if (f["split"] == "training").any()]
        expression = expression[_top_expressed(expression, train, int(max_genes), train_sections)]
    expression.index.name = "sample_id"
    features = pd.DataFrame({"feature": sorted(names), "display_name": [names[g] for g in sorted(names)]})
    for name, table in tables.items():
        features[f"in_{name}"] = features["feature"].isin(table.columns)
    features["kept"] = features["feature"].isin(expression.columns)
    return expression, features


def spot_rows(spots_dir: str | os.PathLike) -> list[dict]:
    """Every spot of an export as a datalist row (``image``, ``omics``, ``x``, ``y``, ``mpp``, ``barcode``,
    ``group``)."""
    spots_dir = Path(spots_dir)
    frame = pd.read_csv(spots_dir / "samples.csv", dtype={"sample_id": str, "barcode": str, "group": str})
    return [
        {
            "image": str(spots_dir / r.image),
            "omics": r.sample_id,
            "x": float(r.x),
            "y": float(r.y),
            "mpp": float(r.mpp),
            "barcode": r.barcode,
            "group": r.group,
        }
        for r in frame.itertuples()
    ]
