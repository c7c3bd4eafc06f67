"""Fit one layout on a wide generated table and report time and peak memory.

Measures whether ``OTLayout(method="auto")`` fits tables of tens of thousands
of features within the 24 GiB of the project's machine. Run it alone, with
one thread, under ``/usr/bin/time -v`` (whose "Maximum resident set size" is
the figure quoted in the README)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=src /usr/bin/time -v \
        python scripts/bench_wide_layout.py --features 50000 --samples 200
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time

from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the layout's progress lines
    table = modular_table(n_samples=args.samples, n_features=args.features, seed=args.seed)
    started = time.perf_counter()
    layout = OTLayout(method="auto", random_state=args.seed, verbose=True).fit(table)
    print(
        json.dumps(
            {
                "features": args.features,
                "samples": args.samples,
                "grid": layout.grid_,
                "fit_wall_s": round(time.perf_counter() - started, 1),
                "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
