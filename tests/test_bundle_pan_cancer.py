"""The pan-cancer bundle through monai.bundle: metadata checks, train, evaluate, inference, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from bundle_utils import error_chain, run_dirs, run_workflow, verified_metadata

BUNDLE = "pan_cancer_classification"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny):
    """One fused and one image-only training run on a tiny phantom (1 epoch)."""
    base = tmp_path_factory.mktemp("pan_cancer")
    runs = {}
    for name, modalities in {"fused": ["image", "rna", "cnv", "meth"], "image": ["image"]}.items():
        # the image-only run also exercises `--tracking mlflow` (offline, local SQLite store)
        tracking = {"tracking": "mlflow"} if name == "image" else {}
        run_workflow(
            BUNDLE, ["train.json"], "train", **run_dirs(base, name), **tiny(BUNDLE), modalities=modalities, **tracking
        )
        runs[name] = base / name
    return base, runs


def test_metadata_verifies_offline_and_version_is_in_changelog():
    meta = verified_metadata(BUNDLE)
    channels = meta["network_data_format"]["inputs"]["image"]["channel_def"]
    assert [channels[str(i)] for i in range(3)] == ["R", "G", "B"]
    assert all(channels[str(i)].startswith("omics:") for i in range(3, 6))


@pytest.mark.slow
def test_train_writes_checkpoint_layout_and_datalist(trained):
    _, runs = trained
    models = runs["fused"] / "models"
    assert {"model.pt", "layout.npz", "datalist.json", "missing_values.json"} <= {p.name for p in models.iterdir()}
    fills = json.loads((models / "missing_values.json").read_text())  # the phantom has no empty cell
    assert fills["missing_values"] == "raise" and all(t["empty_cells"] == 0 for t in fills["tables"].values())
    state = torch.load(models / "model.pt", map_location="cpu", weights_only=True)
    assert state["backbone.features.conv0.weight"].shape[1] == 6 + 2  # + 2 coordinate channels
    image_state = torch.load(runs["image"] / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert image_state["backbone.features.conv0.weight"].shape[1] == 3 + 2
    assert not (runs["image"] / "models" / "layout.npz").exists()


@pytest.mark.slow
def test_mlflow_tracking_writes_a_local_sqlite_store(trained):
    mlflow = pytest.importorskip("mlflow")
    _, runs = trained
    store = runs["image"] / "eval" / "mlruns.db"
    assert store.is_file()
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("monai_experiment")
    (run,) = client.search_runs([experiment.experiment_id])
    assert "train_loss" in run.data.metrics


@pytest.mark.slow
def test_layout_is_fitted_on_the_training_split_only(trained):
    from omicsfusion.preprocessing import OmicsPreprocessor

    _, runs = trained
    datalist = json.loads((runs["fused"] / "models" / "datalist.json").read_text())
    pre = OmicsPreprocessor.load(runs["fused"] / "models" / "layout.npz")
    assert pre.channel_names == ["rna", "cnv", "meth"]
    base = trained[0]
    rna = pd.read_csv(base / "data" / "omics" / "rna.csv", index_col=0)
    train_ids = [row["omics"] for row in datalist["training"]]
    mean_train = rna.loc[train_ids, pre.feature_names("rna")].mean().to_numpy()
    assert abs(pre.normalizers_["rna"].offset_ - mean_train).max() < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fused", "image"])
def test_evaluate_and_inference(trained, name):
    base, runs = trained
    modalities = ["image", "rna", "cnv", "meth"] if name == "fused" else ["image"]
    dirs = run_dirs(base, name)
    run_workflow(BUNDLE, ["train.json", "evaluate.json"], "eval", **dirs, modalities=modalities)
    n_test = len(json.loads((runs[name] / "models" / "datalist.json").read_text())["test"])
    summary = json.loads((runs[name] / "eval" / "summary.json").read_text())
    assert summary["n"] == n_test and 0.0 <= summary["accuracy"] <= 1.0
    per_class = pd.read_csv(runs[name] / "eval" / "per_class_metrics.csv")
    assert list(per_class["class"]) == ["type_a", "type_b", "type_c", "type_d"]
    assert (runs[name] / "eval" / "confusion_matrix.png").stat().st_size > 0

    run_workflow(BUNDLE, ["inference.json"], "infer", **dirs, modalities=modalities)
    predictions = pd.read_csv(runs[name] / "eval" / "predictions.csv")
    assert len(predictions) == n_test
    probs = predictions[[c for c in predictions.columns if c.startswith("prob_")]].to_numpy()
    assert abs(probs.sum(axis=1) - 1).max() < 1e-5


def test_evaluate_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(RuntimeError) as info:
        run_workflow(BUNDLE, ["train.json", "evaluate.json"], "eval", **run_dirs(tmp_path, "none"))
    assert "no trained checkpoint" in error_chain(info.value)


def test_empty_dataset_dir_without_phantom_is_refused(tmp_path, tiny):
    with pytest.raises(RuntimeError) as info:
        run_workflow(BUNDLE, ["train.json"], "train", **run_dirs(tmp_path, "x"), phantom=None, **tiny(BUNDLE))
    assert "phantom generation is disabled" in error_chain(info.value)


@pytest.mark.slow
def test_bag_of_patches_trains_and_gives_one_prediction_per_patient(tmp_path, tiny):
    """``--bag_patches 4 --patch_px 32``: the 64 px phantom tile as its four 32 px patches (read as a whole slide
    too); saliency explains the bag model (one region map per patient over its tile), refused for max pooling."""
    from PIL import Image

    from omicsfusion.interpret import BagSaliencyError

    bags = {"bag_patches": 4, "patch_px": 32, "image_size": [32, 32]}
    dirs = run_dirs(tmp_path)
    run_workflow(BUNDLE, ["train.json"], "train", **dirs, **tiny(BUNDLE), **bags)
    state = torch.load(tmp_path / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert state["network.backbone.features.conv0.weight"].shape[1] == 6 + 2  # PatchBag around the tile network
    run_workflow(BUNDLE, ["train.json", "evaluate.json"], "eval", **dirs, **bags)
    n_test = len(json.loads((tmp_path / "models" / "datalist.json").read_text())["test"])
    assert json.loads((tmp_path / "eval" / "summary.json").read_text())["n"] == n_test
    run_workflow(BUNDLE, ["inference.json"], "infer", **dirs, **bags)
    predictions = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    assert len(predictions) == n_test and predictions["sample_id"].is_unique
    # the same tiles read as whole slides (1 um/px, 32 um cells): the same bags, the same predictions
    slides = {**dirs, "output_dir": str(tmp_path / "eval_slides"), "slide_patch_um": 32.0, "slide_mpp": 1.0}
    run_workflow(BUNDLE, ["inference.json"], "infer", **slides, **bags)
    from_slides = pd.read_csv(tmp_path / "eval_slides" / "predictions.csv")
    probs = [c for c in predictions.columns if c.startswith("prob_")]
    assert np.allclose(from_slides[probs].to_numpy(), predictions[probs].to_numpy(), atol=1e-6)
    run_workflow(BUNDLE, ["train.json", "saliency.json"], "train", **dirs, **bags)
    saliency = tmp_path / "eval" / "saliency"
    samples = pd.read_csv(saliency / "samples.csv")
    n_validation = len(json.loads((tmp_path / "models" / "datalist.json").read_text())["validation"])
    assert len(samples) == n_validation and samples["sample_id"].is_unique
    shares = samples.filter(like="ig_share_")
    assert "ig_share_image" in shares and shares.shape[1] > 2 and np.allclose(shares.sum(axis=1), 1)
    with Image.open(saliency / samples["region_file"].iloc[0]) as region:
        assert region.size == (64, 64)  # the four 32 px patches back on the 64 px tile
    assert (saliency / "genes.csv").is_file()
    assert json.loads((saliency / "summary.json").read_text())["bag_patches"] is True
    with pytest.raises(RuntimeError) as info:
        run_workflow(BUNDLE, ["train.json", "saliency.json"], "train", **dirs, **bags, bag_pooling="max")
    assert BagSaliencyError.__name__ in error_chain(info.value)
