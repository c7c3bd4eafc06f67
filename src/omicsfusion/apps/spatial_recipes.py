"""Real spatial data sets as recipe runs: manifests, one spot export and datalist per split, bundle overrides.

:func:`prepare_runs` writes, for the recipes of ``scripts/real_data/spatial_*.sh``:

* ``data/<experiment>/sections.csv``: the manifest of one experiment (absolute paths into the
  read-only source, the ``split`` of each section: ``blocks`` for a section split within itself);
* ``splits/<name>/datalist.json`` and ``splits/<name>/spots/`` for each experiment and seed
  (:func:`~omicsfusion.prepare.prepare_spatial` without a layout: block split, spot export,
  genes ranked on the training spots), so that the image-only, omics-only and fused runs and the
  baselines of a split read the same spots and genes;
* ``bundle.json``: the config every bundle run of the recipe merges (classes, annotation column,
  ``drop_classes``, ``block_split``, ``max_genes``, ``class_weights``, ``max_epochs``, ``spot_um`` of the overlay);
* ``splits.csv`` (one row per split, with its class counts per section) and ``report.json``
  (every warning of the preparation: spots left out by the gap, unlabelled, of dropped classes).

:data:`DATASETS` holds the data sets: DLPFC 151675 / 151676 (``dlpfc``: train on one section with a
validation block held out of it, test on the other, both directions), the DLPFC rotations (``dlpfc_rotations``:
sections 151674, 151675 and 151676 from two source folders, train on two whole sections less a validation
block of each, test on the third, every rotation) and her2st A1 (one section, block split into training /
validation / test; A2 unlabelled, exported for inference).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsfusion.data.datalist import SECTIONS
from omicsfusion.data.spatial.errors import SectionFileError, SpatialDataError
from omicsfusion.data.spatial.export import BLOCKS, MANIFEST, PATH_COLUMNS, export_spots
from omicsfusion.fileio import atomic_write

__all__ = ["DATASETS", "dlpfc_experiments", "dlpfc_rotations", "prepare_runs", "section_counts"]

logger = logging.getLogger(__name__)

DLPFC_LAYERS = ["Layer1", "Layer2", "Layer3", "Layer4", "Layer5", "Layer6", "WM"]
#: the three DLPFC sections of donor Br8100 the rotations train and test on
DLPFC_SECTIONS = ("151674", "151675", "151676")
#: her2st labels with too few spots to train on and score (2 and 5 of 346) or not a tissue class: left out
HER2ST_DROPPED = ["immune infiltrate", "undetermined"]
HER2ST_CLASSES = ["invasive cancer", "connective tissue", "cancer in situ", "adipose tissue"]
#: her2st A1's viewer PNG is its full-resolution H&E (6954 px wide) scaled to 2000 px; A2's scale is not
#: published with the data: A1's is used unless given, and the share of A2 spots on tissue is reported
HER2ST_SCALE = 2000 / 6954

# max_epochs: her2st trains on 103-137 spots, so 6 epochs at batch 32 would be 24-30 optimizer steps
# (DLPFC's 6 are about 460; the rotations' 6 about twice as many, on two training sections)
DLPFC: dict[str, Any] = {
    "class_names": DLPFC_LAYERS,
    "annotation_column": "layer",
    "drop_classes": [],
    "block_split": {"tiles": [4, 4], "val_fraction": 0.2, "test_fraction": 0.0, "gap_spots": 1},
    "class_weights": None,
    "max_epochs": 6,
    "spot_um": 55.0,
}
DATASETS: dict[str, dict[str, Any]] = {
    "dlpfc": DLPFC,
    # the validation blocks only monitor (final checkpoint): a tenth of each training section is enough
    "dlpfc_rotations": {**DLPFC, "block_split": {**DLPFC["block_split"], "val_fraction": 0.1}},
    "her2st": {
        "class_names": HER2ST_CLASSES,
        "annotation_column": "label",
        "drop_classes": HER2ST_DROPPED,
        "block_split": {"tiles": [4, 4], "val_fraction": 0.2, "test_fraction": 0.2, "gap_spots": 1},
        "class_weights": "balanced",
        "max_epochs": 15,
        "spot_um": 100.0,
    },
}


def _absolute(row: Mapping, base: Path) -> dict:
    return {
        k: str((base / str(v)).resolve()) if k in PATH_COLUMNS and isinstance(v, str) and v else v
        for k, v in row.items()
    }


def _sections(sources: Sequence[Path], needed: Sequence[str]) -> dict[str, dict]:
    """Section -> its manifest row (paths absolute) over the ``sections.csv`` of every source folder.

    Raises:
        SectionFileError: a source has no ``sections.csv``.
        SpatialDataError: a section is listed twice, or a section of ``needed`` is in none of them (the sections
            they list are named).
    """
    rows: dict[str, dict] = {}
    for source in sources:
        path = source / MANIFEST
        if not path.is_file():
            raise SectionFileError(f"{path} not found: the DLPFC source lists its sections there")
        for row in pd.read_csv(path, dtype={"section": str}).to_dict("records"):
            if row["section"] in rows:
                raise SpatialDataError(f"{path}: section {row['section']!r} is listed twice over {list(sources)}")
            rows[row["section"]] = _absolute(row, source)
    absent = sorted(set(needed) - set(rows))
    if absent:
        where = ", ".join(str(s / MANIFEST) for s in sources)
        raise SpatialDataError(
            f"{where}: no section(s) {absent}; {'it lists' if len(sources) == 1 else 'they list'} {list(rows)}"
        )
    return rows


def _experiments(sources: Sequence[Path], designs: Mapping[str, tuple[Sequence[str], str]]) -> dict[str, list[dict]]:
    """Experiment -> manifest rows: its training sections split in blocks, its test section whole."""
    rows = _sections(sources, sorted({s for train, test in designs.values() for s in (*train, test)}))
    return {
        name: [{**rows[s], "split": BLOCKS} for s in train] + [{**rows[test], "split": "test"}]
        for name, (train, test) in designs.items()
    }


def dlpfc_experiments(
    source: Path, pairs: Sequence[tuple[str, str]] = (("151675", "151676"), ("151676", "151675"))
) -> dict[str, list[dict]]:
    """``<train>_to_<test>`` -> manifest rows: the training section split in blocks, the other the test set.

    Raises:
        SectionFileError: ``source`` has no ``sections.csv``.
        SpatialDataError: a section of ``pairs`` is not in it (the sections it lists are named).
    """
    return _experiments([source], {f"{train}_to_{test}": ([train], test) for train, test in pairs})


def dlpfc_rotations(sources: Sequence[Path], sections: Sequence[str] = DLPFC_SECTIONS) -> dict[str, list[dict]]:
    """``<train>_<train>_to_<test>`` -> manifest rows: each section once the test set, whole, the others training
    (each split in blocks: its validation block only monitors). ``sources``: folders whose ``sections.csv``
    together list ``sections``, each section once.

    Raises:
        SectionFileError: a source has no ``sections.csv``.
        SpatialDataError: a section is listed twice or in none of them.
    """
    designs = {}
    for test in sections:
        train = [s for s in sections if s != test]
        designs[f"{'_'.join(train)}_to_{test}"] = (train, test)
    return _experiments(sources, designs)


def her2st_section(source: Path, section: str, labelled: bool = True, scale: float = HER2ST_SCALE) -> dict:
    """Manifest row of a her2st section: viewer PNG at its scale, labels joined by rounded array x/y."""
    folder = source if labelled else source / f"{section}_unlabelled"
    row = {
        "section": section,
        "format": "legacy_st",
        "path": f"{section}_counts.tsv.gz",
        "spots": f"{section}_selection.tsv",
        "image": f"{section}_HE_image_dark.png",
        # 2 selected spots of A1 have no counts: kept out, with a warning
        "barcode_policy": "intersect",
        "image_scale": scale,
    }
    if labelled:
        row.update(annotations=f"{section}_labeled_coordinates.tsv", annotation_id="{x:.0f}x{y:.0f}", split=BLOCKS)
    return _absolute(row, folder)


def her2st_experiments(source: Path) -> dict[str, list[dict]]:
    """``A1_blocks`` -> the manifest of A1 alone, split within itself."""
    return {"A1_blocks": [her2st_section(source, "A1")]}


def _write_manifest(folder: Path, rows: Sequence[Mapping]) -> None:
    """``folder/sections.csv``, rewritten only when it changes (its mtime keys the spot exports)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = pd.DataFrame(list(rows)).to_csv(index=False)
    path = folder / MANIFEST
    if not path.is_file() or path.read_text() != text:
        atomic_write(path, lambda p: p.write_text(text))


def _on_tissue(spots_dir: Path) -> float:
    """Share of exported spot centres on non-black pixels of their (background-masked) image.

    A centre outside the image (a wrong ``image_scale``) counts as off tissue.
    """
    from PIL import Image

    samples = pd.read_csv(spots_dir / "samples.csv")
    image = np.asarray(Image.open(spots_dir / samples["image"].iloc[0]).convert("L"))
    cols, rows = np.rint(samples["x"].to_numpy()).astype(int), np.rint(samples["y"].to_numpy()).astype(int)
    inside = (rows >= 0) & (rows < image.shape[0]) & (cols >= 0) & (cols < image.shape[1])
    return float((image[rows[inside], cols[inside]] > 0).sum() / len(samples))


def section_counts(datalist: Mapping, class_names: Sequence[str]) -> dict[str, str]:
    """Per datalist section: its row count (``n_<section>``) and rows per class (``<section>_classes``)."""
    out = {}
    for section in SECTIONS:
        labels = pd.Series([class_names[r["label"]] for r in datalist.get(section, [])], dtype=object)
        out[f"n_{section}"] = len(labels)
        out[f"{section}_classes"] = "; ".join(f"{c}: {n}" for c, n in labels.value_counts().items())
    return out


def _config(dataset: str, max_genes: int, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The data set's entry of :data:`DATASETS` with ``overrides``: what ``bundle.json`` holds."""
    if dataset not in DATASETS:
        raise SpatialDataError(f"unknown data set {dataset!r}; use one of {sorted(DATASETS)}")
    unknown = sorted(set(overrides) - set(DATASETS[dataset]))
    if unknown:  # a typo would otherwise land in bundle.json unused
        raise SpatialDataError(
            f"unknown override(s) {unknown} of data set {dataset!r}; use {sorted(DATASETS[dataset])}"
        )
    return {
        **DATASETS[dataset],
        **overrides,
        "max_genes": int(max_genes),
        "phantom": None,
        "allow_outside_dataset": True,
    }  # the slides stay in the read-only source folder


def _caught(name: str, report: dict, step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``step(*args, **kwargs)``, every warning it gives kept in ``report["warnings"][name]``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = step(*args, **kwargs)
    report["warnings"][name] = [str(w.message) for w in caught]
    return result


def _prepare_split(
    out: Path, data: Path, experiment: str, seed: int, config: Mapping[str, Any], report: dict
) -> dict[str, Any]:
    """One split's spot export and datalist (``prepare_spatial`` without a layout): its ``splits.csv`` row."""
    from omicsfusion.prepare import prepare_spatial

    options = {
        k: config[k]
        for k in (
            "class_names",
            "annotation_column",
            "drop_classes",
            "block_split",
            "max_genes",
            "allow_outside_dataset",
        )
    }
    name = f"{experiment}_seed{seed}"
    split = out / "splits" / name
    datalist = _caught(
        name,
        report,
        prepare_spatial,
        data,
        split / "spots",
        split / "datalist.json",
        split / "layout.npz",
        omics_types=[],
        seed=int(seed),
        **options,
    )
    for message in report["warnings"][name]:
        logger.warning("%s: %s", name, message)
    return {
        "name": name,
        "seed": int(seed),
        "experiment": experiment,
        "dataset": os.path.relpath(data, out),
        "spots": os.path.relpath(split / "spots", out),
        "datalist": os.path.relpath(datalist, out),
        "table": os.path.relpath(split / "spots" / "omics" / "rna.parquet", out),
        **section_counts(json.loads(datalist.read_text()), config["class_names"]),
    }


def _export_a2(source: Path, out: Path, a2_scale: float, report: dict) -> None:
    """her2st A2 (unlabelled) exported for inference; the share of its spot centres on tissue reported."""
    _write_manifest(out / "data" / "A2", [her2st_section(source, "A2", labelled=False, scale=a2_scale)])
    _caught("A2", report, export_spots, out / "data" / "A2", out / "A2" / "spots")
    report["A2"] = {"image_scale": a2_scale, "spots_on_tissue": _on_tissue(out / "A2" / "spots")}
    logger.info(
        "A2 (unlabelled): image_scale %.4f, %.1f %% of its spot centres on tissue",
        a2_scale,
        100 * report["A2"]["spots_on_tissue"],
    )


def prepare_runs(
    dataset: str,
    source_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    seeds: Sequence[int] = (0, 1, 2),
    max_genes: int = 2000,
    a2_scale: float = HER2ST_SCALE,
    extra_sources: Sequence[str | os.PathLike] = (),
    **overrides,
) -> pd.DataFrame:
    """Write manifests, per-split exports and datalists, ``bundle.json``, ``splits.csv``, ``report.json``.

    Args:
        dataset: ``"dlpfc"``, ``"dlpfc_rotations"`` or ``"her2st"`` (see :data:`DATASETS`).
        source_dir: the data set as shared (only read).
        out_dir: the run folder.
        seeds: one split per seed and experiment (the block split and the bundle's seed).
        max_genes: genes kept per split, ranked on its training spots.
        a2_scale: image pixels per selection pixel of her2st A2's viewer PNG.
        extra_sources: ``dlpfc_rotations`` only: further folders with a ``sections.csv`` (151674 ships apart).
        overrides: keys of :data:`DATASETS` to replace (e.g. ``class_weights=None``, ``block_split={...}``).

    Raises:
        SpatialDataError: an unknown ``dataset`` or override key, ``extra_sources`` for another data set than
            ``dlpfc_rotations``, or a section the recipe needs is absent.
    """
    config = _config(dataset, max_genes, overrides)
    source, out = Path(source_dir).resolve(), Path(out_dir).resolve()
    extras = [Path(p).resolve() for p in extra_sources]
    if extras and dataset != "dlpfc_rotations":
        raise SpatialDataError(
            f"extra sources {[str(p) for p in extras]} are read by dlpfc_rotations only, not {dataset}"
        )
    if dataset == "dlpfc_rotations":
        experiments = dlpfc_rotations([source, *extras])
    elif dataset == "dlpfc":
        experiments = dlpfc_experiments(source)
    else:
        experiments = her2st_experiments(source)
    rows, report = [], {"dataset": dataset, "source_dir": str(source), "bundle": config, "warnings": {}}
    for experiment, manifest in experiments.items():
        data = out / "data" / experiment
        _write_manifest(data, manifest)
        rows += [_prepare_split(out, data, experiment, seed, config, report) for seed in seeds]
    if dataset == "her2st" and (source / "A2_unlabelled").is_dir():
        _export_a2(source, out, a2_scale, report)
    splits = pd.DataFrame(rows)
    atomic_write(out / "bundle.json", lambda p: p.write_text(json.dumps(config, indent=4) + "\n"))
    atomic_write(out / "splits.csv", lambda p: splits.to_csv(p, index=False))
    atomic_write(out / "report.json", lambda p: p.write_text(json.dumps(report, indent=1) + "\n"))
    return splits


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omicsfusion.apps.spatial_recipes {dlpfc,dlpfc_rotations,her2st} SOURCE OUT [--seeds 0 1 2]``."""
    parser = argparse.ArgumentParser(
        prog="python -m omicsfusion.apps.spatial_recipes", description=prepare_runs.__doc__.splitlines()[0]
    )
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("source_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-genes", type=int, default=2000)
    parser.add_argument(
        "--class-weights",
        choices=["none", "balanced"],
        help="loss class weights (default: none for dlpfc, balanced for her2st)",
    )
    parser.add_argument("--tiles", type=int, nargs=2, metavar=("COLUMNS", "ROWS"), help="block-split tiles")
    parser.add_argument("--gap-spots", type=int, help="spot rows between splits (default 1)")
    parser.add_argument("--a2-scale", type=float, default=HER2ST_SCALE, help="her2st A2 viewer PNG scale")
    parser.add_argument(
        "--extra-source",
        action="append",
        default=[],
        help="dlpfc_rotations: a further folder with a sections.csv (e.g. dlpfc_151674); repeatable",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    overrides: dict[str, Any] = {}
    if args.class_weights is not None:
        overrides["class_weights"] = None if args.class_weights == "none" else args.class_weights
    blocks = dict(DATASETS[args.dataset]["block_split"])
    blocks.update({k: v for k, v in (("tiles", args.tiles), ("gap_spots", args.gap_spots)) if v is not None})
    splits = prepare_runs(
        args.dataset,
        args.source_dir,
        args.out_dir,
        args.seeds,
        args.max_genes,
        args.a2_scale,
        args.extra_source,
        block_split=blocks,
        **overrides,
    )
    print(splits.drop(columns=["dataset", "spots", "datalist", "table"]).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
