"""Benchmark: spots/s for patch read + omics path on phantom pyramidal slides, and peak RSS.

For each slide size a one-section phantom (JPEG-compressed pyramidal TIFF in
Space Ranger layout, ``--spots`` in-tissue spots) is written once, then a
FRESH process reads it through the real reader and, per spot, reads a
``--patch-um`` patch at ``--patch-px`` (LoadSpotPatch: tiles only) and makes the
spot's omics channel (OmicsChannels -> AlignToReference -> FuseChannels).
The layout is fitted before timing. Peak RSS is the measuring process's ru_maxrss.

    PYTHONPATH=src python scripts/bench_spatial.py --sides 20000 40000 --spots 4000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def measure(section: Path, patch_um: float, patch_px: int) -> dict:
    import numpy as np

    from omicsfusion.data import OmicsTable
    from omicsfusion.data.spatial import read_spaceranger
    from omicsfusion.layout import OTLayout
    from omicsfusion.preprocessing import OmicsPreprocessor
    from omicsfusion.transforms import AlignToReference, FuseChannels, LoadSpotPatch, OmicsChannels

    t0 = time.perf_counter()
    sample = read_spaceranger(section, image="image.tif")
    counts = sample.adata.X.toarray()
    expression = np.log1p(counts / counts.sum(1, keepdims=True) * 1e4)
    import pandas as pd

    table = OmicsTable(
        {"rna": pd.DataFrame(expression, index=sample.barcodes, columns=[str(g) for g in sample.adata.var_names])}
    )
    pre = OmicsPreprocessor(layout=OTLayout(random_state=0)).fit(table.select(sample.barcodes))
    setup_s = time.perf_counter() - t0
    load_patch, omics_channels = LoadSpotPatch(patch_um, patch_px), OmicsChannels(table, pre)
    align, fuse = AlignToReference(), FuseChannels()
    t0 = time.perf_counter()
    for barcode, (x, y) in zip(sample.barcodes, sample.xy, strict=True):
        patch = load_patch(sample.slide.path, x, y, sample.mpp)
        fused = fuse([patch, align(omics_channels(barcode), patch)])
    seconds = time.perf_counter() - t0
    return {
        "slide_px": list(sample.slide.shape),
        "levels": sample.slide.n_levels,
        "spots": len(sample.barcodes),
        "genes": int(counts.shape[1]),
        "fused_shape": list(fused.shape),
        "setup_s": round(setup_s, 1),
        "read_s": round(seconds, 1),
        "spots_per_s": round(len(sample.barcodes) / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[20000, 40000])
    parser.add_argument("--spots", type=int, default=4000)
    parser.add_argument("--mpp", type=float, default=0.5)
    parser.add_argument("--patch-um", type=float, default=112.0)
    parser.add_argument("--patch-px", type=int, default=224)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/omicsfusion_bench_spatial"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: the fresh measuring process
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.patch_um, args.patch_px)))
        return 0
    from omicsfusion.phantoms import make_spatial_phantom

    for side in args.sides:
        root = args.workdir / f"side_{side}"
        if not (root / "sections.csv").is_file():
            t0 = time.perf_counter()
            make_spatial_phantom(root, n_sections=1, side_px=side, n_spots=args.spots, mpp=args.mpp, seed=0)
            write_s = time.perf_counter() - t0
            print(
                f"wrote {side} x {side} phantom in {write_s:.0f} s "
                f"(generator peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
            )
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                str(root / "section_1"),
                "--patch-um",
                str(args.patch_um),
                "--patch-px",
                str(args.patch_px),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{side} x {side} px: {json.dumps(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
