"""Deployment contracts of every bundle: TorchScript export with ``ckpt_export``, MONAI Label's BundleInferTask.

Each bundle is trained for one epoch on its tiny phantom and run through its own
``inference.json``; the exported ``model.ts`` and MONAI Label's way of loading the
bundle must then give that run's probabilities.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from bundle_utils import BUNDLES, REPO, run_dirs, run_workflow
from monai.bundle import ConfigParser
from monai.transforms import LoadImage
from monailabel_task import BundleInferTask

from omicsfusion.transforms import CheckDicomSeriesd, LoadSpotPatch


def inference_config(bundle: str, base: Path) -> ConfigParser:
    """The bundle's inference.json with the run's folders, as ``monai.bundle run`` would see it."""
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / "inference.json"))
    parser.update({"bundle_root": str(BUNDLES / bundle), **run_dirs(base)})
    return parser


@pytest.fixture(scope="module")
def exported(bundle, tiny, tmp_path_factory):
    """A 1-epoch run of each bundle, its inference predictions, and model.ts from the documented command."""
    base = tmp_path_factory.mktemp(bundle)
    run_workflow(bundle, ["train.json"], "train", **run_dirs(base), **tiny(bundle))
    run_workflow(bundle, ["inference.json"], "infer", **run_dirs(base))
    models = base / "models"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "monai.bundle",
            "ckpt_export",
            "network_def",
            "--filepath",
            str(models / "model.ts"),
            "--ckpt_file",
            str(models / "model.pt"),
            "--meta_file",
            "configs/metadata.json",
            "--config_file",
            "configs/inference.json",
            "--bundle_root",
            ".",
        ],
        cwd=BUNDLES / bundle,
        env=env,
        check=True,
        capture_output=True,
    )
    return bundle, base


def bundle_probabilities(bundle: str, base: Path) -> pd.DataFrame:
    """Class probabilities of the bundle's own inference run, indexed by sample id."""
    parser = inference_config(bundle, base)
    table = pd.read_csv(parser.get_parsed_content("predictions_file"), index_col="sample_id")
    return table[[f"prob_{c}" for c in parser.get_parsed_content("class_names")]]


@pytest.mark.slow
def test_torchscript_gives_the_checkpoint_probabilities(exported):
    bundle, base = exported
    parser = inference_config(bundle, base)
    preprocessing = parser.get_parsed_content("preprocessing")
    samples = [preprocessing(row) for row in parser.get_parsed_content("input_data")]
    batch = torch.stack([torch.as_tensor(s["image"]) for s in samples])
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(torch.load(base / "models" / "model.pt", map_location="cpu", weights_only=True))
    extra = {"metadata.json": "", "inference.json": ""}
    scripted = torch.jit.load(base / "models" / "model.ts", map_location="cpu", _extra_files=extra)
    with torch.no_grad():
        from_pt = torch.softmax(network.eval()(batch), dim=1).numpy()
        from_ts = torch.softmax(scripted(batch), dim=1).numpy()
    np.testing.assert_allclose(from_ts, from_pt, atol=1e-5)
    expected = bundle_probabilities(bundle, base).loc[[s["sample_id"] for s in samples]].to_numpy()
    np.testing.assert_allclose(from_pt, expected, atol=1e-5)
    # MONAI Deploy reads the bundle's metadata and inference config from the TorchScript file
    meta = json.loads((BUNDLES / bundle / "configs" / "metadata.json").read_text())
    assert json.loads(extra["metadata.json"])["version"] == meta["version"]
    assert "preprocessing" in json.loads(extra["inference.json"])


def monai_label_app(bundle: str, base: Path, model_file: str, folder: Path) -> Path:
    """The bundle as a MONAI Label app holds it: configs/, models/ (one model file, the layout), data/phantom."""
    (folder / "models").mkdir(parents=True)
    (folder / "configs").symlink_to(BUNDLES / bundle / "configs")
    for item in (base / "models").iterdir():
        if item.name not in {"model.pt", "model.ts"} or item.name == model_file:
            (folder / "models" / item.name).symlink_to(item)
    (folder / "data").mkdir()
    (folder / "data" / "phantom").symlink_to(base / "data")
    return folder


def in_memory_request(bundle: str, row: dict, parser: ConfigParser) -> dict:
    """A request as a viewer sends it: the image already loaded (channel-last array), the omics sample id."""
    request = {"omics": row["omics"]}
    if bundle == "pathology_spatial_transcriptomics":
        reader = LoadSpotPatch(parser.get_parsed_content("patch_um"), parser.get_parsed_content("patch_px"))
        patch = reader(row["image"], row["x"], row["y"], row["mpp"])
        request["image"] = np.moveaxis(patch.numpy(), 0, -1)
    else:
        image = LoadImage(image_only=True)(row["image"])
        if bundle == "neuro_mri_molecular":  # a volume gets a channel axis and its affine
            request["image"] = image.numpy()[..., None]
            request["image_meta_dict"] = {"affine": image.affine.numpy()}
        else:
            request["image"] = image.numpy()
    return request


@pytest.mark.slow
@pytest.mark.parametrize("model_file", ["model.pt", "model.ts"])
def test_monai_label_bundle_infer_task_predicts_an_in_memory_sample(exported, tmp_path, model_file):
    bundle, base = exported
    parser = inference_config(bundle, base)
    row = parser.get_parsed_content("input_data")[0]
    task = BundleInferTask(monai_label_app(bundle, base, model_file, tmp_path / bundle))
    assert task.model_path.name == model_file and (task.network is None) == (model_file == "model.ts")
    _, result = task(in_memory_request(bundle, row, parser))
    class_names = parser.get_parsed_content("class_names")
    assert [p["label"] for p in result["prediction"]] == [c.lower() for c in class_names]
    scores = [p["score"] for p in result["prediction"]]
    np.testing.assert_allclose(scores, bundle_probabilities(bundle, base).loc[row["omics"]], atol=1e-5)


def test_in_memory_images_get_named_errors_or_pass_the_path_checks():
    with pytest.raises(ValueError, match=r"channel-last \(32, 32, 3\).*\(3, 32, 32\)"):
        LoadSpotPatch(100.0, 32).from_array(np.zeros((3, 32, 32), np.uint8))
    volume = torch.ones(8, 8, 8, 1)
    assert CheckDicomSeriesd("image")({"image": volume})["image"] is volume
