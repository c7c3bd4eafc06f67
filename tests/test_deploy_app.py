"""The MONAI Deploy application on phantom samples (2-D pan-cancer, 3-D neuro); needs the ``deploy`` extra."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("monai.deploy", reason="MONAI Deploy App SDK not installed: pip install -e '.[deploy]'")

from bundle_utils import BUNDLES, REPO, run_dirs, run_workflow
from monai.bundle import ckpt_export

from omicsfusion.deploy.app import bundle_overrides, omics_tables


def deploy(bundle: str, base, overrides: dict):
    """A 1-epoch run, its inference predictions, model.ts + layout.npz, an app input folder of 2 test samples."""
    run_workflow(bundle, ["train.json"], "train", **run_dirs(base), **overrides)
    run_workflow(bundle, ["inference.json"], "infer", **run_dirs(base))
    root = BUNDLES / bundle
    ckpt_export(
        "network_def",
        filepath=str(base / "models" / "model.ts"),
        ckpt_file=str(base / "models" / "model.pt"),
        meta_file=str(root / "configs" / "metadata.json"),
        config_file=str(root / "configs" / "inference.json"),
        bundle_root=str(root),
    )
    inputs = base / "input"
    shutil.copytree(base / "data" / "omics", inputs / "omics")
    test_rows = json.loads((base / "models" / "datalist.json").read_text())["test"]
    images = [base / "data" / row["image"] for row in test_rows if (base / "data" / row["image"]).is_file()][:2]
    for image in images:  # the phantoms name each image file by its omics sample id
        shutil.copy(image, inputs / image.name)
    expected = pd.read_csv(base / "eval" / "predictions.csv", index_col="sample_id")
    return base, inputs, expected


@pytest.fixture(scope="module")
def pan_cancer(tmp_path_factory, tiny):
    bundle = "pan_cancer_classification"
    return deploy(bundle, tmp_path_factory.mktemp("deploy_pan_cancer"), tiny(bundle))


@pytest.fixture(scope="module")
def neuro(tmp_path_factory, tiny):
    bundle = "neuro_mri_molecular"
    return deploy(bundle, tmp_path_factory.mktemp("deploy_neuro"), tiny(bundle))


def run_app(inputs, output, model):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "omicsfusion.deploy", "-i", str(inputs), "-o", str(output), "-m", str(model)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize("bundle", ["pan_cancer", "neuro"])
def test_app_gives_the_bundle_inference_probabilities(bundle, request):
    base, inputs, expected = request.getfixturevalue(bundle)
    done = run_app(inputs, base / "output", base / "models" / "model.ts")
    assert done.returncode == 0, done.stderr[-3000:]
    predictions = pd.read_csv(base / "output" / "predictions.csv", index_col="sample_id")
    assert len(predictions) == 2 and set(predictions.index) <= set(expected.index)
    reference = expected.loc[predictions.index]
    assert list(predictions["predicted_class"]) == list(reference["predicted_class"])
    probs = [c for c in predictions.columns if c.startswith("prob_")]
    np.testing.assert_allclose(predictions[probs].to_numpy(), reference[probs].to_numpy(), atol=1e-5)


@pytest.mark.slow
def test_sample_absent_from_the_omics_tables_fails_the_app(pan_cancer, tmp_path):
    base, inputs, _ = pan_cancer
    shutil.copytree(inputs, tmp_path / "input")
    next((tmp_path / "input").glob("*.png")).rename(tmp_path / "input" / "NO_SUCH_SAMPLE.png")
    done = run_app(tmp_path / "input", tmp_path / "output", base / "models" / "model.ts")
    assert done.returncode != 0
    assert "MissingSampleError" in done.stderr and "NO_SUCH_SAMPLE" in done.stderr


@pytest.mark.slow
def test_missing_omics_table_or_layout_is_named(pan_cancer, tmp_path):
    base, inputs, _ = pan_cancer
    shutil.copytree(inputs, tmp_path / "input")
    (tmp_path / "input" / "omics" / "cnv.csv").unlink()
    with pytest.raises(FileNotFoundError, match="omics type 'cnv'"):
        bundle_overrides(base / "models" / "model.ts", tmp_path / "input")
    (tmp_path / "models").mkdir()
    shutil.copy(base / "models" / "model.ts", tmp_path / "models" / "model.ts")
    with pytest.raises(FileNotFoundError, match=r"layout.npz"):
        bundle_overrides(tmp_path / "models" / "model.ts", inputs)


def test_omics_tables_of_every_table_suffix(tmp_path):
    """The app reads the data layer's TABLE_SUFFIXES: .txt and gzipped text tables too."""
    (tmp_path / "omics").mkdir()
    for name in ("rna.txt", "cnv.csv.gz", "meth.tsv.gz", "skip.xlsx"):
        (tmp_path / "omics" / name).write_text("")
    found = omics_tables(tmp_path, ["rna", "cnv", "meth"])
    assert {t: os.path.basename(p) for t, p in found.items()} == {
        "rna": "rna.txt",
        "cnv": "cnv.csv.gz",
        "meth": "meth.tsv.gz",
    }
    with pytest.raises(FileNotFoundError, match=r"omics type 'skip'.*\.txt\.gz"):
        omics_tables(tmp_path, ["skip"])
