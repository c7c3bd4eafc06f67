"""Time the bundles' ``prepare`` step on a generated datalist of many rows, and where the time goes.

Makes a dataset folder of N empty image files, a ``samples.csv`` and an omics table of N rows, fits
the layout once on a few hundred samples (so ``prepare`` finds it and fits nothing), then times
``prepare_classification`` twice: building the datalist from ``samples.csv`` and checking it, and
checking an existing datalist. Prints the seconds and their ratio to a run at N / 10 (10 means linear
in the rows); ``--profile`` prints cProfile's top entries of the first. Run it alone::

    OMP_NUM_THREADS=1 PYTHONPATH=src python scripts/bench_prepare.py --rows 250000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from omicsfusion.layout import OTLayout
from omicsfusion.prepare import prepare_classification
from omicsfusion.preprocessing import OmicsPreprocessor

CLASSES = ("a", "b", "c")


def make_dataset(folder: Path, rows: int, seed: int) -> dict[str, str]:
    """N empty images in one folder, samples.csv, an omics table and a layout fitted on 300 samples."""
    rng = np.random.default_rng(seed)
    images = folder / "images"
    images.mkdir(parents=True)
    ids = [f"S{i:07d}" for i in range(rows)]
    for sample in ids:
        (images / f"{sample}.png").touch()
    labels = rng.integers(0, len(CLASSES), rows)
    pd.DataFrame({"sample_id": ids, "image": [f"images/{s}.png" for s in ids], "label": labels}).to_csv(
        folder / "samples.csv", index=False
    )
    values = rng.normal(size=(rows, 16)).astype(np.float32)
    table = pd.DataFrame(values, index=pd.Index(ids, name="sample_id"), columns=[f"g{j}" for j in range(16)])
    table.reset_index().to_parquet(folder / "rna.parquet", index=False)
    pre = OmicsPreprocessor(layout=OTLayout(method="random", random_state=seed)).fit({"rna": table.iloc[:300]})
    pre.save(folder / "layout.npz")
    return {"rna": str(folder / "rna.parquet")}


def timed_prepare(folder: Path, tables: dict[str, str], profile: bool) -> float:
    """Seconds of one ``prepare_classification`` call (cProfile's top 15 printed when ``profile``)."""
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    prepare_classification(folder, folder / "datalist.json", folder / "layout.npz", tables, ["rna"], CLASSES, seed=0)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
    return time.perf_counter() - started


def measure(rows: int, seed: int, profile: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tables = make_dataset(folder, rows, seed)
        build = timed_prepare(folder, tables, profile)
        sections = {k: len(v) for k, v in json.loads((folder / "datalist.json").read_text()).items()}
        check = timed_prepare(folder, tables, False)
    return {"rows": rows, "build_and_check_s": round(build, 2), "check_only_s": round(check, 2), **sections}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries at --rows")
    args = parser.parse_args()
    small = measure(max(args.rows // 10, 1), args.seed, False)
    large = measure(args.rows, args.seed, args.profile)
    for key in ("build_and_check_s", "check_only_s"):
        large[f"{key}_ratio_to_tenth"] = round(large[key] / max(small[key], 1e-3), 1)
    print(json.dumps({"tenth": small, "full": large}, indent=1))


if __name__ == "__main__":
    main()
