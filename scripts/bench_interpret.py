"""Benchmark + planted-truth report of the interpretation layer on the pan-cancer phantom.

Trains the pan-cancer bundle briefly (``train.json``, optionally a smaller
network), runs ``saliency.json`` on the validation split, and prints the four
checks (pointing game, gene precision@k, modality shares on the planted pairs,
deletion faithfulness) and the timings of one batch of 16 samples (IG with 32
steps + GradCAM), wall clock and CPU time. With ``--random-layout`` a second
model is trained on a random layout, and its gene precision is printed next to
the OT layout's.

    PYTHONPATH=src python scripts/bench_interpret.py --epochs 15 --phantom-size 100
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from monai.bundle import ConfigWorkflow

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "pan_cancer_classification"
SMALL_NET = {
    "_target_": "omicsfusion.networks.WithCoordinates",
    "in_channels": "@input_channels",
    "spatial_dims": 2,
    "backbone": {
        "_target_": "DenseNet",
        "_mode_": "callable",
        "spatial_dims": 2,
        "out_channels": "@num_classes",
        "init_features": 16,
        "growth_rate": 12,
        "block_config": [2, 2, 2, 2],
    },
}


def workflow(configs: list[str], workflow_type: str, **overrides) -> ConfigWorkflow:
    flow = ConfigWorkflow(
        config_file=[str(BUNDLE / "configs" / c) for c in configs],
        meta_file=str(BUNDLE / "configs" / "metadata.json"),
        logging_file=str(BUNDLE / "configs" / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(BUNDLE),
        **overrides,
    )
    flow.initialize()
    flow.run()
    flow.finalize()
    return flow


def train_and_explain(base: Path, args: argparse.Namespace, layout_method: str) -> dict:
    dirs = {
        "dataset_dir": str(base / "data"),
        "ckpt_dir": str(base / layout_method / "models"),
        "output_dir": str(base / layout_method / "eval"),
    }
    common = {"phantom_size": args.phantom_size, "seed": args.seed, "preprocessor#layout#method": layout_method}
    if args.network == "small":
        common["network_def"] = SMALL_NET
    t = time.perf_counter()
    workflow(["train.json"], "train", **dirs, **common, max_epochs=args.epochs)
    train_seconds = time.perf_counter() - t
    workflow(["train.json", "saliency.json"], "train", **dirs, **common, **{"saliency#compare_methods": args.methods})
    summary = json.loads((base / layout_method / "eval" / "saliency" / "summary.json").read_text())
    summary["train_seconds"] = round(train_seconds, 1)
    # the same IG region maps explaining the target's logit alone instead of the region contrast
    workflow(
        ["train.json", "saliency.json"],
        "train",
        **dirs,
        **common,
        **{
            "saliency#compare_methods": [],
            "saliency#explainer#region_contrast": "logit",
            "saliency#runner#write_regions": False,
            "saliency_dir": str(base / layout_method / "eval" / "saliency_logit"),
        },
    )
    logit = json.loads((base / layout_method / "eval" / "saliency_logit" / "checks.json").read_text())
    summary["pointing_logit"] = logit["pointing_game"]["ig"]
    # timing of exactly one batch of 16: IG (32 steps) + GradCAM, nothing else
    wall, cpu = time.perf_counter(), time.process_time()
    workflow(
        ["train.json", "saliency.json"],
        "train",
        **dirs,
        **common,
        **{
            "saliency#runner#max_samples": 16,
            "saliency#dataloader#batch_size": 16,
            "saliency#compare_methods": ["gradcam"],
            "saliency#ground_truth_dir": None,
            "saliency#runner#write_regions": False,
            "saliency_dir": str(base / layout_method / "eval" / "saliency_timing"),
        },
    )
    timing = json.loads((base / layout_method / "eval" / "saliency_timing" / "summary.json").read_text())
    summary["batch16"] = {
        "ig_32_steps_s": timing["timings_seconds"]["integrated_gradients"],
        "region_ig_32_steps_s": timing["timings_seconds"]["ig"],
        "gradcam_s": timing["timings_seconds"]["gradcam"],
        "run_wall_s": round(time.perf_counter() - wall, 2),
        "run_cpu_s": round(time.process_time() - cpu, 2),
    }
    return summary


def report(name: str, summary: dict) -> None:
    checks = summary["checks"]
    print(f"== {name}: {summary['n_samples']} validation samples, trained in {summary['train_seconds']} s")

    def per_class(value: dict) -> str:
        return ", ".join(f"{c} {v:.2f}" for c, v in value["per_class"].items())

    contrast = ", ".join(f"{c} vs {v or 'own logit'}" for c, v in summary["region_contrast"].items())
    print(f"region maps explain each class against: {contrast}; IG baseline: {summary['region_baseline']}")
    for method, value in checks.get("pointing_game", {}).items():
        print(
            f"pointing game [{method}]: {value['hit_rate']:.2f} of {value['n_correct']} correctly classified "
            f"({per_class(value)})"
        )
    value = summary["pointing_logit"]
    print(f"pointing game [ig, target logit alone]: {value['hit_rate']:.2f} ({per_class(value)})")
    for omics_type, value in checks.get("gene_recovery", {}).items():
        print(
            f"gene precision@{value['k']} [{omics_type}, classes {value['classes']}]: "
            f"{value['precision_at_k']:.2f} (random ranking {value['random_ranking_precision_at_k']:.2f})"
        )
        if "pair_contrast" in value:
            c = value["pair_contrast"]
            print(f"gene precision@{value['k']} [{omics_type}, contrast {c['pair']}]: {c['precision_at_k']:.2f}")
    for pair in checks.get("gene_recovery_pairs", []):
        print(
            f"gene recovery of the omics-only pair {pair['pair']}: best separating set {pair['best_set']} "
            f"precision {pair['precision_at_k']:.2f} (target {pair['target']}) -> "
            f"{'passed' if pair['passed'] else 'not reached'}"
        )
    for estimator, value in checks.get("modality_pairs", {}).items():
        detail = ", ".join(
            f"{c['class']} image {c['image_share']:.2f} / omics {c['omics_share']:.2f}" for c in value["classes"]
        )
        print(f"modality pairs [{estimator}]: {value['passed_share']:.0%} of classes as planted ({detail})")
    if "faithfulness" in checks:
        f = checks["faithfulness"]
        print(f"deletion of {f['k']} genes: top-attributed drop {f['top_drop']:.3f} vs random {f['random_drop']:.3f}")
    print(
        f"IG completeness: mean |delta| {summary['ig_mean_abs_delta']:.4f} vs mean |f(x)-f(b)| "
        f"{summary['ig_mean_abs_gap']:.3f}"
    )
    b = summary["batch16"]
    print(
        f"batch of 16: IG 32 steps {b['ig_32_steps_s']:.1f} s + region-contrast IG {b['region_ig_32_steps_s']:.1f} s "
        f"+ GradCAM {b['gradcam_s']:.1f} s "
        f"(whole run {b['run_wall_s']:.1f} s wall, {b['run_cpu_s']:.1f} s CPU, {torch.get_num_threads()} threads)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--phantom-size", type=int, default=100)
    parser.add_argument(
        "--network",
        choices=["bundle", "small"],
        default="bundle",
        help="the bundle's DenseNet121, or a small DenseNet (faster on CPU)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["gradcam", "gradcampp", "occlusion"],
        help="region methods compared with the default (IG on the image channels)",
    )
    parser.add_argument("--random-layout", action="store_true", help="also train on a random layout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.workdir or Path(tmp)
        report("OT layout", train_and_explain(base, args, "auto"))
        if args.random_layout:
            report("random layout", train_and_explain(base, args, "random"))


if __name__ == "__main__":
    main()
