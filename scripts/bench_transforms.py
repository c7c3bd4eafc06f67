"""Benchmark the omics path: OmicsChannelsd (sample id -> channels on the reference's grid).

Prints samples/s for 5,000 genes laid out on 64x64, aligned to 64x64 and
224x224 slide patches and to a 96^3 volume; the layout step alone (per sample
through ``OmicsChannels`` and vectorised through ``OmicsPreprocessor.images``);
and the omics path of one batch as a share of one DenseNet121 training step
on that batch. Targets (issue 3): >= 100,000 samples/s for the layout step
at 5k genes -> 64x64; omics path <= 10% of a training step.

Usage: ``PYTHONPATH=src python scripts/bench_transforms.py [--genes 5000] [--batch 16]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch
from monai.data import MetaTensor
from monai.networks.nets import DenseNet121

from omicsfusion.data import OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import FuseChannelsd, OmicsChannels, OmicsChannelsd


def rate(fn, n_items: int, min_seconds: float = 1.0) -> float:
    """Items per second of ``fn`` (which processes ``n_items``), best of repeated runs."""
    fn()  # warm-up (caches, lazy imports)
    best, spent = float("inf"), 0.0
    while spent < min_seconds:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
    return n_items / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=300, help="rows of the generated table")
    parser.add_argument("--grid", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16, help="batch of the DenseNet121 comparison")
    parser.add_argument("--method", default="auto", help="layout method (default: the OT 'auto')")
    args = parser.parse_args()
    train_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-sample transforms run in DataLoader workers, one thread each

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        modular_table(args.samples, args.genes, seed=0).to_csv(tmp / "rna.csv")
        tables = {"rna": str(tmp / "rna.csv")}
        table = OmicsTable.cached(tables)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pre = OmicsPreprocessor(layout=OTLayout(grid=(args.grid, args.grid), method=args.method)).fit(
                table.select(table.sample_ids()[: args.samples * 4 // 5])
            )
        layout = str(pre.save(tmp / "layout.npz"))
        print(
            f"fit: {args.genes} genes -> {pre.grid_} ({args.method}) in {time.perf_counter() - start:.1f}s; "
            f"matrix nnz {pre.matrix('rna').nnz}"
        )
        ids = table.sample_ids()
        x = table.rows("rna", ids[:256])
        print(f"\n{'step (1 thread, as in a DataLoader worker)':58s} samples/s")
        vec = pre.normalize("rna", x)
        print(
            f"{'layout step, vectorised (images, 256 per call)':58s} "
            f"{rate(lambda: pre.images({'rna': vec}, normalized=True), len(vec)):12,.0f}"
        )
        channels = OmicsChannels(tables, layout)
        print(
            f"{'OmicsChannels, per sample (sample id -> grid channels)':58s} "
            f"{rate(lambda: [channels(s) for s in ids[:200]], 200):12,.0f}"
        )

        refs = {
            "64x64 patch": (3, 64, 64),
            "224x224 patch": (3, 224, 224),
            "96^3 volume (broadcast 2-D map)": (1, 96, 96, 96),
        }
        omics_path = OmicsChannelsd(keys="omics", tables=tables, preprocessor=layout, ref_key="image")
        fuse = FuseChannelsd(keys=["image", "omics"], name="image")
        per_sample_s = {}
        for name, shape in refs.items():
            ref = MetaTensor(torch.rand(shape))
            n = 200 if len(shape) == 3 else 20
            per = rate(lambda r=ref, k=n: [omics_path({"image": r, "omics": s}) for s in ids[:k]], n)
            per_sample_s[name] = 1.0 / per
            fused = rate(lambda r=ref, k=n: [fuse(omics_path({"image": r, "omics": s})) for s in ids[:k]], n)
            print(f"{'omics path -> ' + name:58s} {per:12,.0f}   (+FuseChannelsd: {fused:,.0f})")

        torch.set_num_threads(train_threads)
        print(f"\nDenseNet121 training step, batch {args.batch}, CPU threads {torch.get_num_threads()}:")
        for name, shape, batch in (
            ("224x224 patch", (3, 224, 224), args.batch),
            ("96^3 volume (broadcast 2-D map)", (1, 96, 96, 96), 2),
        ):
            net = DenseNet121(spatial_dims=len(shape) - 1, in_channels=shape[0] + 1, out_channels=3)
            opt = torch.optim.SGD(net.parameters(), lr=1e-3)
            inputs = torch.rand((batch, shape[0] + 1, *shape[1:]))
            labels = torch.randint(0, 3, (batch,))

            def step(net=net, opt=opt, inputs=inputs, labels=labels) -> None:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(inputs), labels).backward()
                opt.step()

            step_s = 1.0 / rate(step, 1, min_seconds=3.0)
            omics_s = per_sample_s[name] * batch
            print(
                f"  {name:32s} step {step_s * 1000:8.1f} ms; omics path for the batch {omics_s * 1000:7.2f} ms "
                f"= {100 * omics_s / step_s:.2f}% of the step"
            )


if __name__ == "__main__":
    main()
