"""Score saliency region maps of slice-folder MRI (TCGA-LGG) against the data set's tumour masks.

    python scripts/real_data/region_masks.py SALIENCY_DIR [SALIENCY_DIR ...] --source SOURCE_DIR
        --samples RUN_DIR/samples.csv [--spacing 1 1 1] [--out region_masks.md]

Each ``SALIENCY_DIR`` is the output of ``configs/saliency.json`` (``samples.csv`` with ``region_file``:
``regions/<patient>.nii.gz`` on the network's input grid, with its affine). The patient's
``<case>_<k>_mask.tif`` slices are read with ``SliceFolderReader(mask=True)`` at the spacing the
recipe stated and resampled onto that grid (nearest), as the image was; the brain is the image's
non-zero voxels on the same grid. Per patient:

* ``hit``: the map's maximum lies in the tumour mask (pointing game);
* ``chance``: the tumour's fraction of the brain, what a map peaking at a random brain voxel would hit;
* ``mass_in_mask``: the map's share of its brain total that lies in the mask, and ``enrichment``
  = mass_in_mask / chance (1: no better than a uniform map).

Writes a per-patient CSV beside ``--out`` and a Markdown table (``--out``) with the means.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from monai.transforms import EnsureChannelFirst, LoadImage, ResampleToMatch

from omicsfusion.interpret.checks import pointing_hits
from omicsfusion.transforms import SliceFolderReader


def on_grid(folder: Path, mask: bool, spacing: list[float], reference) -> np.ndarray:
    """A case folder's mask (or image) volume resampled (nearest) onto the reference map's grid."""
    volume = LoadImage(reader=SliceFolderReader(mask=mask, spacing=spacing), image_only=True)(str(folder))
    volume = EnsureChannelFirst()(volume)
    resampled = ResampleToMatch(mode="nearest", padding_mode="zeros")(volume, reference)
    return np.asarray(resampled)


def score_patient(region_file: Path, folder: Path, spacing: list[float]) -> dict:
    """Pointing game, chance and mass in the tumour mask of one patient's region map."""
    reference = EnsureChannelFirst()(LoadImage(image_only=True)(str(region_file)))
    saliency = np.asarray(reference)[0]
    tumour = on_grid(folder, True, spacing, reference)[0] > 0
    brain = on_grid(folder, False, spacing, reference).max(axis=0) > 0
    if not tumour.any():
        raise ValueError(f"{folder}: the tumour mask is empty on the saliency grid of {region_file}")
    weights = np.where(brain, np.clip(saliency, 0, None), 0.0)
    total = weights.sum()
    chance = float(tumour[brain].mean())
    mass = float(weights[tumour].sum() / total) if total > 0 else float("nan")
    return {
        "hit": bool(pointing_hits(saliency[None], tumour[None])[0]),
        "chance": chance,
        "mass_in_mask": mass,
        "enrichment": mass / chance,
        "tumour_voxels": int(tumour.sum()),
        "brain_voxels": int(brain.sum()),
    }


def score(saliency_dirs: list[Path], source: Path, samples_csv: Path, spacing: list[float]) -> pd.DataFrame:
    """One row per explained patient of every saliency folder."""
    folders = pd.read_csv(samples_csv, dtype={"sample_id": str}).set_index("sample_id")["image"]
    rows = []
    for directory in saliency_dirs:
        explained = pd.read_csv(directory / "samples.csv", dtype={"sample_id": str})
        if "region_file" not in explained:
            raise ValueError(f"{directory / 'samples.csv'} has no region_file column: run saliency with region files")
        for record in explained.itertuples():
            if record.sample_id not in folders.index:
                raise KeyError(f"patient {record.sample_id!r} of {directory} is not in {samples_csv}")
            row = score_patient(directory / record.region_file, source / folders[record.sample_id], spacing)
            rows.append(
                {
                    "saliency_dir": str(directory),
                    "sample_id": record.sample_id,
                    "class": record.label,
                    "correct": record.label == record.predicted,
                    **row,
                }
            )
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """Means over patients (and the count of pointing-game hits) as a Markdown table."""
    lines = [
        "| patients | pointing-game hits | chance (tumour / brain) | map mass in tumour | enrichment |",
        "|---|---|---|---|---|",
        f"| {len(table)} | {int(table['hit'].sum())} of {len(table)} | {table['chance'].mean():.3f} "
        f"| {table['mass_in_mask'].mean():.3f} ± {table['mass_in_mask'].std(ddof=1):.3f} "
        f"| {table['enrichment'].mean():.2f} ± {table['enrichment'].std(ddof=1):.2f} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saliency_dirs", nargs="+", type=Path)
    parser.add_argument("--source", type=Path, required=True, help="the slice folders' root (samples.csv image paths)")
    parser.add_argument("--samples", type=Path, required=True, help="the recipe's samples.csv (sample_id,image,...)")
    parser.add_argument("--spacing", type=float, nargs=3, default=[1.0, 1.0, 1.0])
    parser.add_argument("--out", type=Path, default=Path("region_masks.md"))
    args = parser.parse_args(argv)
    table = score(args.saliency_dirs, args.source, args.samples, args.spacing)
    table.to_csv(args.out.with_suffix(".csv"), index=False)
    args.out.write_text(markdown(table))
    print(args.out.read_text(), end="")


if __name__ == "__main__":
    main()
