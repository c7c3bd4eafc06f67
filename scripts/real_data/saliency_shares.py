"""Modality shares of several saliency runs pooled per class (each run's ``samples.csv``).

    python scripts/real_data/saliency_shares.py SALIENCY_DIR [SALIENCY_DIR ...] [--out shares.md]

For each true class: the number of explained samples, and per estimator (Integrated Gradients, FeatureAblation)
and modality the mean ± sd of the per-sample shares, so runs of several seeds or splits give one table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from marker_ranks import markdown_table  # beside this script

ESTIMATORS = {"ig_share_": "IG", "ablation_share_": "FA"}


def pooled_shares(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per true class: ``n`` and ``<estimator> <modality>`` as ``mean ± sd`` over its samples."""
    columns = [c for c in samples.columns if c.startswith(tuple(ESTIMATORS))]
    if not columns:
        raise SystemExit("samples.csv has no ig_share_* / ablation_share_* columns")
    rows = []
    for cls, group in samples.groupby("label", sort=True):
        row = {"class": cls, "n": len(group)}
        for column in columns:
            prefix = next(p for p in ESTIMATORS if column.startswith(p))
            values = group[column]
            row[f"{ESTIMATORS[prefix]} {column[len(prefix) :]}"] = f"{values.mean():.2f} ± {values.std(ddof=0):.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("saliency_dirs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    missing = [str(d / "samples.csv") for d in args.saliency_dirs if not (d / "samples.csv").is_file()]
    if missing:
        raise SystemExit(f"not found (run the bundle's saliency.json first): {missing}")
    samples = pd.concat([pd.read_csv(d / "samples.csv", dtype={"sample_id": str}) for d in args.saliency_dirs])
    frame = pooled_shares(samples)
    table = markdown_table(frame)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
