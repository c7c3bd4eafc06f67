"""The pan-cancer recipe's table: bundle runs beside tabular baselines and a linear probe on the same patients.

Reads a run folder written by :mod:`omicsfusion.apps.pan_cancer_recipes` (``splits.csv``, ``bundle.json``,
``report.json``) and :func:`~omicsfusion.apps.bundle_runs.summarize_runs` scores, per split, the bundle
runs named in ``models`` and each baseline fitted on each feature set: the mutation table, the copy-number
table, both joined, and frozen EfficientNet-Lite0 ImageNet features of the tiles
(:func:`~omicsfusion.apps.probe_features.tile_features`, cached under ``RUN/features/``): logistic regression
on them is the linear probe. Writes ``per_split.csv``, ``summary.csv`` and ``summary.md`` (with the class sizes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from omicsfusion.apps.bundle_runs import summarize_runs, summary_parser
from omicsfusion.apps.probe_features import tile_features

__all__ = ["summarize"]


def _tiles(run: Path) -> dict[str, str]:
    """Patient -> tile of every patient in any split's datalist."""
    splits = pd.read_csv(run / "splits.csv")
    tiles = {}
    for datalist in splits["datalist"]:
        for rows in json.loads((run / datalist).read_text()).values():
            tiles.update({str(r["omics"]): r["image"] for r in rows})
    return dict(sorted(tiles.items()))


def _note(report: dict, n_splits: int) -> str:
    sizes = ", ".join(f"{c} {n}" for c, n in report["class_sizes"].items())
    dropped = ", ".join(f"{c} {n}" for c, n in report["dropped_classes"].items()) or "none"
    left_out = "; ".join(f"{p} ({why})" for p, why in report["left_out"].items()) or "none"
    return (
        f"{n_splits} repeated stratified patient-level splits, one seed each: mean ± sd over the splits. "
        f"Patients per class ({report['label']}): {sizes}; classes dropped (too few patients): {dropped}; "
        f"patients left out: {left_out}. `logreg:tile_features` is the linear probe (frozen ImageNet "
        "EfficientNet-Lite0 features of the tile); empty omics cells are filled with the training median."
    )


def summarize(
    run_dir: str | os.PathLike,
    models: Sequence[str] = (),
    baselines: Sequence[str] = ("logreg", "random_forest"),
    *,
    encoder: str = "efficientnet_lite0",
    grid: int = 4,
    patch_px: int = 224,
) -> pd.DataFrame:
    """Tile features (cached), then the table of ``models`` and ``baselines`` per feature set; see the module."""
    run = Path(run_dir)
    config = json.loads((run / "bundle.json").read_text())
    report = json.loads((run / "report.json").read_text())
    features = run / "features" / f"{encoder}_grid{grid}_px{patch_px}.csv"
    tile_features(_tiles(run), features, encoder=encoder, grid=grid, patch_px=patch_px)
    omics = config["omics_tables"]
    tables = {
        "mutation": [omics["mutation"]],
        "cnv": [omics["cnv"]],
        "mutation+cnv": [omics["mutation"], omics["cnv"]],
        "tile_features": [features],
    }
    n_splits = len(pd.read_csv(run / "splits.csv"))
    return summarize_runs(
        run,
        None,
        config["class_names"],
        models,
        baselines,
        tables=tables,
        per_seed_file="per_split.csv",
        note=_note(report, n_splits),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omicsfusion.apps.pan_cancer_summary RUN [--models ...] [--baselines ...] [--grid 4]``."""
    parser = summary_parser("python -m omicsfusion.apps.pan_cancer_summary", __doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=4, help="cells per side of a tile for the probe's features")
    parser.add_argument("--patch-px", type=int, default=224, help="encoder input size of a cell")
    args = parser.parse_args(argv)
    summarize(args.run_dir, args.models, args.baselines, encoder=args.encoder, grid=args.grid, patch_px=args.patch_px)
    print((Path(args.run_dir) / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
