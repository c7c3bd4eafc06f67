"""Time ``python -m omicsfusion benchmark`` on a generated panel cohort of N patients: wall and peak memory.

Generates the cohort with ``make_panel_cohort.py`` (unless ``--out`` already holds it) and runs the
benchmark on its tables as given, empty cells included (``--missing-values median``: filled per split
from the training samples), under ``/usr/bin/time -v``: ot_cnn, the random-layout control and logistic
regression on the cohort's fixed 70/30 split, one seed. Prints one JSON line: patients, wall and CPU
seconds, peak RSS, the accuracies. Run it alone on a quiet machine::

    OMP_NUM_THREADS=2 PYTHONPATH=src python scripts/bench_scale.py --patients 25000 --out /tmp/panel25k
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=25_000)
    parser.add_argument("--out", type=Path, required=True, help="cohort folder (generated when empty)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--extra", default="", help="further benchmark arguments, e.g. '--fit-samples 0'")
    args = parser.parse_args()
    if not (args.out / "labels.csv").is_file():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "make_panel_cohort.py"),
                "--patients",
                str(args.patients),
                "--out",
                str(args.out),
                "--seed",
                str(args.seed),
            ],
            check=True,
        )
    tables = [f"{t}={args.out / f'{t}.parquet'}" for t in ("mutation", "cnv")]
    result = args.out / "bench.json"
    command = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "omicsfusion",
        "benchmark",
        *tables,
        "--label-table",
        str(args.out / "labels.csv"),
        "--label-column",
        "study",
        "--train-ids",
        str(args.out / "train.txt"),
        "--test-ids",
        str(args.out / "test.txt"),
        "--models",
        "ot_cnn,random_layout_cnn,logreg",
        "--seeds",
        str(args.seed),
        "--max-epochs",
        str(args.max_epochs),
        "--batch-size",
        str(args.batch_size),
        "--threads",
        str(args.threads),
        "--missing-values",
        "median",
        "--no-progress",
        "--json",
        str(result),
        *args.extra.split(),
    ]
    run = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    print(run.stdout)
    if run.returncode != 0:
        sys.exit(run.stderr[-4000:])
    wall = re.search(r"Elapsed \(wall clock\) time.*: (.+)", run.stderr).group(1)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    cpu = sum(
        float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", run.stderr).group(1)) for kind in ("User", "System")
    )
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    found = json.loads(result.read_text())
    print(
        json.dumps(
            {
                "patients": args.patients,
                "command": " ".join(command[2:]),
                "wall_s": round(seconds, 1),
                "cpu_s": round(cpu, 1),  # user + system: what a loaded machine does not inflate
                "peak_rss_gb": round(rss / 1024**2, 2),
                "accuracy": {m: round(v["accuracy"], 3) for m, v in found.items() if not m.startswith("_")},
                "epochs": {m: v.get("epochs_mean") for m, v in found.items() if "epochs_mean" in v},
                "fit_s": {m: round(v["fit_s"], 1) for m, v in found.items() if not m.startswith("_")},
            }
        )
    )


if __name__ == "__main__":
    main()
