"""The bundles under torchrun: 2 CPU processes (gloo), multi_gpu_train.json then multi_gpu_evaluate.json.

The multi-GPU configs are one file copied into every bundle, so the default run launches the
pan-cancer bundle and checks that the copies are equal; ``-m heavy`` launches the other two.
Each bundle trains 1 epoch on a tiny phantom, then evaluates the rows it
validated on, with the model-zoo command line (``torchrun --standalone
--nproc_per_node=2 -m monai.bundle run --config_file "[...]"``). The workers run
with ``tests/rank_audit`` on ``PYTHONPATH``, which logs every file each rank
reads or writes, so the tests can tell which rank wrote what, and when.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import torch
from bundle_utils import BUNDLES, REPO, run_dirs

#: the multi-GPU configs are one file shared by every bundle (test_every_bundle_ships_the_same_multi_gpu_configs),
#: so the default run launches torchrun for this bundle only; the heavy tier (``-m heavy``) the other two as well
DEFAULT_RUN = "pan_cancer_classification"

BUNDLE_NAMES = sorted(p.parent.parent.name for p in BUNDLES.glob("*/configs/multi_gpu_train.json"))
AUDIT = Path(__file__).resolve().parent / "rank_audit"
# beyond the tiny runs: smaller pan-cancer tiles, and one more patient per class; the training
# overrides also apply to the evaluation (image size must match)
UNDER_TORCHRUN = {"pan_cancer_classification": {"phantom_size": 7, "image_size": [32, 32]}}
# the balanced phantoms have even sections: dropping one validation row gives the two ranks uneven
# shares (DistributedSampler(even_divisible=False)), and with batches of one, different iteration counts
ODD = {"validate#dataset#data": "$@val_datalist[:-1]"}
EVAL_BATCH = 1
TIMEOUT_S = 300  # per torchrun launch; a run takes ~20 s
STATS_LINE = re.compile(r"Metrics -- val_accuracy: ([0-9.]+) val_auc: ([0-9.]+|nan)")


def torchrun(bundle: str, configs: list[str], base: Path, **overrides) -> str:
    """Run ``monai.bundle run`` under torchrun with 2 CPU workers; return the combined output."""
    root = BUNDLES / bundle
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "monai.bundle",
        "run",
        "--bundle_root",
        str(root),
        "--config_file",
        str([str(root / "configs" / c) for c in configs]),
        "--meta_file",
        str(root / "configs" / "metadata.json"),
        "--logging_file",
        str(root / "configs" / "logging.conf"),
    ]
    for key, value in {**run_dirs(base), **overrides}.items():
        command += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    inherited = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = [str(AUDIT), str(REPO / "src"), *inherited]  # absolute: the workers run in ``base``
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(paths),
        "OMICSFUSION_RANK_AUDIT": str(base),
    }
    # own process group, so that a hung run takes its workers with it when killed
    with subprocess.Popen(
        command, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            pytest.fail(
                f"{bundle} {configs}: no result in {TIMEOUT_S} s (ranks waiting on each other?):\n{output[-6000:]}"
            )
    assert proc.returncode == 0, f"{bundle} {configs} failed:\n{output[-6000:]}"
    return output


def audit(base: Path) -> dict[int, list[tuple[int, str, Path]]]:
    """Per rank, the ``(time_ns, read|write|append, path)`` events of tests/rank_audit (the logs are removed)."""
    events = {}
    for rank in (0, 1):
        log = base / f"rank{rank}.log"
        lines = [line.split(" ", 2) for line in log.read_text().splitlines()]
        events[rank] = [(int(t), kind, Path(path)) for t, kind, path in lines]
        log.unlink()
    return events


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(b, marks=[pytest.mark.slow] if b == DEFAULT_RUN else [pytest.mark.slow, pytest.mark.heavy])
        for b in BUNDLE_NAMES
    ],
)
def bundle(request) -> str:
    """Each bundle in turn (conftest's ``bundle``), the ones besides :data:`DEFAULT_RUN` in the heavy tier."""
    return request.param


def test_every_bundle_ships_the_same_multi_gpu_configs():
    for name in ("multi_gpu_train.json", "multi_gpu_evaluate.json"):
        texts = {b: (BUNDLES / b / "configs" / name).read_text() for b in BUNDLE_NAMES}
        assert len(set(texts.values())) == 1, f"{name} differs between bundles: {sorted(texts)}"


@pytest.fixture(scope="module")
def run(bundle, tiny, tmp_path_factory):
    """Train with multi_gpu_train.json, then evaluate the same validation rows with multi_gpu_evaluate.json."""
    base = tmp_path_factory.mktemp(bundle)
    overrides = tiny(bundle, **UNDER_TORCHRUN.get(bundle, {}))
    train_log = torchrun(bundle, ["train.json", "multi_gpu_train.json"], base, **overrides, **ODD)
    train_events = audit(base)
    eval_log = torchrun(
        bundle,
        ["train.json", "evaluate.json", "multi_gpu_evaluate.json"],
        base,
        **{**overrides, "batch_size": EVAL_BATCH},
        **ODD,
        eval_section="validation",
    )
    return {"base": base, "train_log": train_log, "train": train_events, "eval_log": eval_log, "eval": audit(base)}


def writes(events: list[tuple[int, str, Path]], kinds: tuple[str, ...] = ("write",)) -> list[Path]:
    return [path for _, kind, path in events if kind in kinds]


def test_prepare_runs_once_on_rank0_while_rank1_waits(run):
    assert run["train_log"].count("fitting omics layouts") == 1
    models = run["base"] / "models"
    for name in ("datalist.json", "layout.npz"):
        path = models / name
        rank0 = [t for t, kind, p in run["train"][0] if kind == "write" and p == path]
        rank1_reads = [t for t, kind, p in run["train"][1] if kind == "read" and p == path]
        assert len(rank0) == 1, f"{name} written {len(rank0)} times by rank 0"
        assert rank1_reads and min(rank1_reads) > rank0[0], f"rank 1 read {name} before rank 0 had written it"


def test_only_rank0_writes_and_each_file_once(run):
    for step in ("train", "eval"):
        assert writes(run[step][1], ("write", "append")) == [], f"rank 1 wrote files during {step}"
    # files of the run, less the temporary files of atomic writes (".tmp-*", ".<name>.*.tmp", ignite's "tmp*")
    written = Counter(
        p
        for step in ("train", "eval")
        for p in writes(run[step][0])
        if p.parent.name in ("models", "eval") and not p.name.startswith((".", "tmp"))
    )
    assert {p: n for p, n in written.items() if n > 1} == {}
    names = {p.name for p in written} | {p.name for p in writes(run["train"][0], ("append",))}
    assert {"layout.npz", "datalist.json", "summary.json", "metrics.csv", "validation_predictions.csv"} <= names
    assert sum(n.startswith("events.out.tfevents") for n in names) == 2  # trainer + validator, rank 0 only
    for log in ("train_log", "eval_log"):  # only rank 0 reports
        assert run[log].count("Key metric: val_accuracy best value") == 1


def test_checkpoint_is_the_bare_network(run):
    """model.pt (torch.save writes it from C++, unseen by the audit) holds the unwrapped network, not DDP's."""
    state = torch.load(run["base"] / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert state and not [k for k in state if k.startswith("module.")]


def test_metrics_cover_every_validation_row(run):
    base = run["base"]
    rows = json.loads((base / "models" / "datalist.json").read_text())["validation"][:-1]  # as ODD
    assert len(rows) % 2 == 1
    summary = json.loads((base / "eval" / "summary.json").read_text())
    assert summary["n"] == len(rows)
    predictions = pd.read_csv(base / "eval" / "validation_predictions.csv", dtype={"sample_id": str})
    assert sorted(predictions["sample_id"]) == sorted(str(row["omics"]) for row in rows)
    # ignite's metrics (MetricsSaver) are reduced across ranks: they match the report over all gathered rows
    metrics = pd.read_csv(base / "eval" / "metrics.csv", header=None, index_col=0)[1]
    assert metrics["val_accuracy"] == pytest.approx(summary["accuracy"], abs=1e-6)
    if len({row["label"] for row in rows}) == len(pd.read_csv(base / "eval" / "per_class_metrics.csv")):
        assert metrics["val_auc"] == pytest.approx(summary["macro_auc"], abs=1e-6)
    else:  # a class absent from the rows: MONAI's macro AUC is nan, the report averages the classes present
        assert math.isnan(metrics["val_auc"])
    # and rank 0's validation during training saw the same rows: same checkpoint, same numbers
    (train_stats,) = STATS_LINE.findall(run["train_log"])
    assert [float(v) for v in train_stats] == pytest.approx(
        [metrics["val_accuracy"], metrics["val_auc"]], abs=1e-4, nan_ok=True
    )
