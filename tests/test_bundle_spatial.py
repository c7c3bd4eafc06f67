"""The spatial bundle through monai.bundle: metadata, train (fused + image-only), evaluate, inference, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from bundle_utils import error_chain, run_dirs, run_workflow, verified_metadata

BUNDLE = "pathology_spatial_transcriptomics"
CLASSES = ["tumor", "normal_epithelium", "stroma", "immune"]
CONFIGS = Path(__file__).resolve().parents[1] / "bundles" / BUNDLE / "configs"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny):
    """Fused and image-only runs of 1 epoch on a tiny 4-section phantom."""
    base = tmp_path_factory.mktemp("spatial_bundle")
    for name, modalities in {"fused": ["image", "rna"], "image": ["image"]}.items():
        run_workflow(BUNDLE, ["train.json"], "train", **run_dirs(base, name), **tiny(BUNDLE), modalities=modalities)
    return base


def test_metadata_verifies_offline_and_names_every_channel():
    meta = verified_metadata(BUNDLE)
    fmt = meta["network_data_format"]
    assert [fmt["inputs"]["image"]["channel_def"][str(i)] for i in range(3)] == ["R", "G", "B"]
    assert fmt["inputs"]["image"]["channel_def"]["3"].startswith("omics:rna")
    assert list(fmt["outputs"]["pred"]["channel_def"].values()) == CLASSES


@pytest.mark.parametrize("config", ["train.json", "inference.json"])
def test_early_fusion_override_gives_one_resnet_on_all_channels(config):
    from monai.bundle import ConfigParser
    from monai.networks.nets import ResNet

    from omicsfusion.networks import MidFusion

    configs = Path(__file__).resolve().parents[1] / "bundles" / BUNDLE / "configs"
    for extra, kind in [([], MidFusion), (["early_fusion.json"], ResNet)]:
        parser = ConfigParser()
        parser.read_config([str(configs / c) for c in [config, *extra]])
        network = parser.get_parsed_content("network_def")
        assert isinstance(network, kind)
        assert network.eval()(torch.zeros(2, 4, 32, 32)).shape == (2, len(CLASSES))


@pytest.mark.parametrize("config", ["train.json", "inference.json"])
def test_fusion_switch_gives_one_head_per_stem(config):
    from monai.bundle import ConfigParser

    networks = {}
    for fusion in ["concat", "late", None]:
        parser = ConfigParser()
        parser.read_config(str(CONFIGS / config))
        if fusion:
            parser["fusion"] = fusion
        networks[fusion] = parser.get_parsed_content("network_def").eval()
    default = networks[None]
    assert default.fusion == "concat" and default.state_dict().keys() == networks["concat"].state_dict().keys()
    assert default.head is not None and not default.heads
    late = networks["late"]
    assert late.head is None and list(late.heads) == ["omics", "image"] and late.modality_dropout == 0.25
    x = torch.zeros(2, 4, 32, 32)
    with torch.no_grad():
        assert late(x).shape == (2, len(CLASSES)) and late.modality_logits(x)["omics"].shape == (2, len(CLASSES))


@pytest.mark.slow
def test_late_fusion_trains_and_its_checkpoint_serves_inference(tmp_path, tiny):
    dirs = run_dirs(tmp_path, "late")
    fused = {"modalities": ["image", "rna"], "fusion": "late"}
    run_workflow(BUNDLE, ["train.json"], "train", **dirs, **tiny(BUNDLE), **fused)
    state = torch.load(tmp_path / "late" / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert state["heads.image.1.weight"].shape == state["heads.omics.1.weight"].shape == (len(CLASSES), 64)
    assert not any(k.startswith("head.") for k in state)
    run_workflow(BUNDLE, ["inference.json"], "infer", **dirs, **fused)  # loads the checkpoint strictly
    predictions = pd.read_csv(tmp_path / "late" / "eval" / "spot_predictions.csv")
    assert abs(predictions[[f"prob_{c}" for c in CLASSES]].to_numpy().sum(axis=1) - 1).max() < 1e-5


@pytest.mark.slow
def test_split_is_by_section_and_layout_fitted_on_training_sections(trained):
    from monai.bundle import ConfigParser

    from omicsfusion.data import OmicsTable
    from omicsfusion.data.tables import read_parquet_frame
    from omicsfusion.prepare import bundle_preprocessor
    from omicsfusion.preprocessing import OmicsPreprocessor

    models = trained / "fused" / "models"
    datalist = json.loads((models / "datalist.json").read_text())
    groups = {k: {row["group"] for row in rows} for k, rows in datalist.items()}
    assert (
        groups["training"]
        and not (groups["training"] & groups["validation"])
        and not (groups["training"] & groups["test"])
        and not (groups["validation"] & groups["test"])
    )
    expression = OmicsTable({"rna": read_parquet_frame(models / "spots" / "omics" / "rna.parquet")})
    pre = OmicsPreprocessor.load(models / "layout.npz")
    # the channel holds the export's log1p CP10k as they are; the layout is the one fitted on the training spots
    assert pre.normalizers_["rna"].method == "none"
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    template = parser.get_parsed_content("preprocessor")  # the config's unfitted OmicsPreprocessor block
    train_ids = [row["omics"] for row in datalist["training"]]
    refit = bundle_preprocessor(template, ["rna"]).fit(expression.select(train_ids))
    on_all = bundle_preprocessor(template, ["rna"]).fit(expression)
    fitted = pre.layouts_["rna"].matrix_.toarray()
    assert np.array_equal(refit.layouts_["rna"].matrix_.toarray(), fitted)
    assert not np.array_equal(on_all.layouts_["rna"].matrix_.toarray(), fitted)
    fused = torch.load(models / "model.pt", map_location="cpu", weights_only=True)
    image = torch.load(trained / "image" / "models" / "model.pt", map_location="cpu", weights_only=True)
    # mid fusion: an RGB stem and a one-channel (rna) omics stem; the image-only run has no omics stem
    assert fused["image_net.conv1.weight"].shape[1] == 3 and fused["omics_net.net.layer_0.conv.weight"].shape[1] == 1
    assert image["image_net.conv1.weight"].shape[1] == 3 and not any(k.startswith("omics_net.") for k in image)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fused", "image"])
def test_evaluate_and_inference_write_spot_outputs(trained, name):
    modalities = ["image", "rna"] if name == "fused" else ["image"]
    dirs = run_dirs(trained, name)
    run_workflow(BUNDLE, ["train.json", "evaluate.json"], "eval", **dirs, modalities=modalities)
    eval_dir = trained / name / "eval"
    test_rows = json.loads((trained / name / "models" / "datalist.json").read_text())["test"]
    assert json.loads((eval_dir / "summary.json").read_text())["n"] == len(test_rows)
    run_workflow(BUNDLE, ["inference.json"], "infer", **dirs, modalities=modalities)
    predictions = pd.read_csv(eval_dir / "spot_predictions.csv")
    assert list(predictions.columns[1:4]) == ["barcode", "x", "y"] and len(predictions) == len(test_rows)
    probs = predictions[[f"prob_{c}" for c in CLASSES]].to_numpy()
    assert abs(probs.sum(axis=1) - 1).max() < 1e-5
    section = test_rows[0]["group"]
    assert (eval_dir / f"overlay_{section}.png").stat().st_size > 0


@pytest.mark.slow
def test_missing_annotation_column_is_named(trained, tiny):
    dirs = run_dirs(trained, "bad")
    with pytest.raises(RuntimeError) as info:
        run_workflow(BUNDLE, ["train.json"], "train", **dirs, **tiny(BUNDLE), annotation_column="grade")
    assert "AnnotationColumnError" in error_chain(info.value) and "tissue_class" in error_chain(info.value)


def test_evaluate_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(RuntimeError) as info:
        run_workflow(BUNDLE, ["train.json", "evaluate.json"], "eval", **run_dirs(tmp_path, "none"))
    assert "no trained checkpoint" in error_chain(info.value)
