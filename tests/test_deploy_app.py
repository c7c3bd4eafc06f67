"""The MONAI Deploy application on phantom samples; runs where the ``deploy`` extra is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("monai.deploy", reason="MONAI Deploy App SDK not installed: pip install -e '.[deploy]'")

from monai.bundle import ckpt_export  # noqa: E402

from bundle_utils import BUNDLES, REPO, run_dirs, run_workflow  # noqa: E402
from omicsfusion.deploy.app import bundle_overrides  # noqa: E402

BUNDLE = "pan_cancer_classification"
TINY = {"phantom_size": 6, "max_epochs": 1, "batch_size": 8}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A 1-epoch run, its inference predictions, model.ts + layout.npz, and an app input folder of test samples."""
    base = tmp_path_factory.mktemp("deploy")
    run_workflow(BUNDLE, ["train.json"], "train", **run_dirs(base), **TINY)
    run_workflow(BUNDLE, ["inference.json"], "infer", **run_dirs(base))
    root = BUNDLES / BUNDLE
    ckpt_export("network_def", filepath=str(base / "models" / "model.ts"), ckpt_file=str(base / "models" / "model.pt"),
                meta_file=str(root / "configs" / "metadata.json"), config_file=str(root / "configs" / "inference.json"),
                bundle_root=str(root))
    expected = pd.read_csv(base / "eval" / "predictions.csv", index_col="sample_id")
    inputs = base / "input"
    shutil.copytree(base / "data" / "omics", inputs / "omics")
    for sample_id in expected.index[:2]:
        shutil.copy(base / "data" / "images" / f"{sample_id}.png", inputs / f"{sample_id}.png")
    return base, inputs, expected


def run_app(inputs, output, model):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "omicsfusion.deploy", "-i", str(inputs), "-o", str(output),
                           "-m", str(model)], env=env, capture_output=True, text=True, timeout=300)


def test_app_gives_the_bundle_inference_probabilities(deployed):
    base, inputs, expected = deployed
    done = run_app(inputs, base / "output", base / "models" / "model.ts")
    assert done.returncode == 0, done.stderr[-3000:]
    predictions = pd.read_csv(base / "output" / "predictions.csv", index_col="sample_id")
    assert list(predictions.index) == sorted(p.stem for p in inputs.glob("*.png"))
    reference = expected.loc[predictions.index]
    assert list(predictions["predicted_class"]) == list(reference["predicted_class"])
    probs = [c for c in predictions.columns if c.startswith("prob_")]
    np.testing.assert_allclose(predictions[probs].to_numpy(), reference[probs].to_numpy(), atol=1e-5)


def test_sample_absent_from_the_omics_tables_fails_the_app(deployed, tmp_path):
    base, inputs, _ = deployed
    shutil.copytree(inputs, tmp_path / "input")
    next((tmp_path / "input").glob("*.png")).rename(tmp_path / "input" / "NO_SUCH_SAMPLE.png")
    done = run_app(tmp_path / "input", tmp_path / "output", base / "models" / "model.ts")
    assert done.returncode != 0
    assert "MissingSampleError" in done.stderr and "NO_SUCH_SAMPLE" in done.stderr


def test_missing_omics_table_or_layout_is_named(deployed, tmp_path):
    base, inputs, _ = deployed
    shutil.copytree(inputs, tmp_path / "input")
    (tmp_path / "input" / "omics" / "cnv.csv").unlink()
    with pytest.raises(FileNotFoundError, match="omics type 'cnv'"):
        bundle_overrides(base / "models" / "model.ts", tmp_path / "input")
    (tmp_path / "models").mkdir()
    shutil.copy(base / "models" / "model.ts", tmp_path / "models" / "model.ts")
    with pytest.raises(FileNotFoundError, match="layout.npz"):
        bundle_overrides(tmp_path / "models" / "model.ts", inputs)
