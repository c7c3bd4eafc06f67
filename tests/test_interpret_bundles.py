"""Saliency of the bundles on their phantoms: the planted-truth checks and the outputs.

Planted truth (the four checks: pointing game where the phantom has region
masks, gene recovery of the omics-only pair, modality attribution of the
planted pairs, faithfulness) needs a trained model: the spatial run here (30
spots per class, 6 epochs, about 50 s on 2 CPU cores) and the neuro run (32
subjects per class, 15 epochs, 40^3, about 140 s; marked ``heavy``, not in the
default run, like the pan-cancer bundle at its shipped length in
``tests/test_interpret_phantom.py``). One-epoch neuro and two-epoch pan-cancer
runs check what holds for any model: IG completeness, shares summing to one,
region maps on the network input's grid (NIfTI with the preprocessed volume's
affine, PNG tiles), gene tables, the named error of a wrong target layer.
Marked ``slow``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from bundle_utils import BUNDLES, error_chain, explain, run_dirs, run_workflow
from monai.bundle import ConfigParser
from PIL import Image

pytestmark = pytest.mark.slow

NEURO = "neuro_mri_molecular"
SPATIAL = "pathology_spatial_transcriptomics"
# 40^3 crops the 48^3 phantom: region maps and masks must follow the preprocessing, not the source grid
NEURO_SHORT = {"phantom_size": 32, "max_epochs": 15, "batch_size": 8, "spatial_size": [40, 40, 40]}
NEURO_TINY = {"phantom_size": 8, "max_epochs": 1, "batch_size": 8, "spatial_size": [40, 40, 40]}
SPATIAL_SHORT = {"phantom_size": 30, "max_epochs": 6, "batch_size": 32}
PAN = "pan_cancer_classification"
PAN_SHORT = {"phantom_size": 6, "max_epochs": 1, "batch_size": 8}


def validation_inputs(bundle: str, base: Path, **overrides) -> list[dict]:
    """The validation rows through the bundle's own validation preprocessing (what the network is fed)."""
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / "train.json"))
    parser.update({"bundle_root": str(BUNDLES / bundle), **run_dirs(base), **overrides})
    pipeline = parser.get_parsed_content("validate#preprocessing")
    return [pipeline(row) for row in parser.get_parsed_content("val_datalist")]


def pair_classes(checks: dict) -> set[str]:
    return {c["class"] for e in checks.get("modality_pairs", {}).values() for c in e["classes"]}


def assert_planted_truth_found(checks: dict, pointing: bool) -> None:
    """The four checks of issue #7 on a phantom (targets in ``omicsfusion.interpret.checks``)."""
    if pointing:
        assert checks["pointing_game"]["ig"]["passed"], checks["pointing_game"]["ig"]
    pairs = checks["gene_recovery_pairs"]
    assert pairs and all(p["passed"] for p in pairs), pairs
    for name in (p["best_set"] for p in pairs):
        assert (
            checks["gene_recovery"][name]["precision_at_k"]
            > 5 * checks["gene_recovery"][name]["random_ranking_precision_at_k"]
        )
    for estimator in ("integrated_gradients", "feature_ablation"):
        assert checks["modality_pairs"][estimator]["passed_share"] == 1.0, checks["modality_pairs"][estimator]
    assert checks["faithfulness"]["passed"] and checks["faithfulness"]["top_drop"] > 0.1


def assert_common_invariants(out: Path, n_samples: int, groups: list[str], omics_types: list[str]) -> pd.DataFrame:
    samples = pd.read_csv(out / "samples.csv", dtype={"sample_id": str})
    assert len(samples) == n_samples and samples["sample_id"].is_unique
    for prefix in ("ig_share_", "ablation_share_"):
        shares = samples[[f"{prefix}{g}" for g in groups]].to_numpy()
        assert (shares >= 0).all() and np.allclose(shares.sum(axis=1), 1.0)
    modality = pd.read_csv(out / "modality_shares.csv")
    assert set(modality["estimator"]) == {"integrated_gradients", "feature_ablation"}
    assert np.allclose(modality[groups].sum(axis=1), 1.0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_samples"] == n_samples and summary["ig_steps"] == 32
    # IG completeness: attributions add up to f(x) - f(baseline) up to the convergence delta
    assert summary["ig_mean_abs_delta"] < 0.1 * summary["ig_mean_abs_gap"]
    assert {"integrated_gradients", "gradcam"} <= set(summary["timings_seconds"])
    genes = pd.read_csv(out / "genes.csv")
    assert set(genes["omics_type"]) == set(omics_types)
    for _, part in genes.groupby(["class", "omics_type"]):
        assert sorted(part["rank"]) == list(range(1, len(part) + 1)) and part["feature"].is_unique
    for name in ["modality_shares.png", "deletion_curves.png"] + [p.name for p in out.glob("layout_*.png")]:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 100
    curves = pd.read_csv(out / "deletion_curves.csv")
    assert curves["k"].iloc[0] == 0 and curves.loc[0, ["top_drop", "random_drop"]].abs().max() < 1e-9
    return samples


@pytest.fixture(scope="module")
def neuro(tmp_path_factory):
    base = tmp_path_factory.mktemp("neuro_saliency")
    return base, explain(NEURO, base, **NEURO_SHORT)


@pytest.fixture(scope="module")
def neuro_tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("neuro_saliency_tiny")
    return base, explain(NEURO, base, **NEURO_TINY)


@pytest.fixture(scope="module")
def spatial(tmp_path_factory):
    base = tmp_path_factory.mktemp("spatial_saliency")
    return base, explain(SPATIAL, base, **SPATIAL_SHORT, saliency_section="test")


def test_neuro_saliency_writes_nifti_maps_on_the_preprocessed_grid(neuro_tiny):
    base, out = neuro_tiny
    inputs = {d["sample_id"]: d["image"] for d in validation_inputs(NEURO, base, **NEURO_TINY)}
    samples = assert_common_invariants(out, len(inputs), ["image", "rna", "cnv"], ["rna", "cnv"])
    assert set(samples["sample_id"]) == set(inputs)
    for row in samples.itertuples():
        saved = nib.load(out / row.region_file)
        fused = inputs[row.sample_id]
        assert row.region_file == f"regions/{row.sample_id}.nii.gz"
        assert saved.shape == tuple(fused.shape[1:]) == (40, 40, 40)
        assert np.allclose(saved.affine, fused.affine.numpy(), atol=1e-5)
        data = np.asarray(saved.dataobj)
        assert np.isfinite(data).all() and np.abs(data).max() > 0
    # controls have an empty planted mask (no pointing entry); atrophy / glioma masks are resampled and scored
    has_mask = samples["label"] != "control"
    assert has_mask.any() and not has_mask.all()
    assert samples.loc[~has_mask, "pointing_ig"].isna().all()
    assert samples.loc[has_mask, ["pointing_ig", "pointing_gradcam"]].notna().all().all()
    pairs = pd.read_csv(out / "pair_contrast_shares.csv")
    assert np.allclose(pairs["image_share"] + pairs["omics_share"], 1.0)


@pytest.mark.heavy
def test_neuro_saliency_finds_the_planted_truth(neuro):
    base, out = neuro
    samples = pd.read_csv(out / "samples.csv", dtype={"sample_id": str})
    checks = json.loads((out / "checks.json").read_text())
    truth = json.loads((base / "data" / "ground_truth.json").read_text())
    assert set(checks["gene_recovery"]) <= {p["omics"] for p in truth["planted"]}
    for value in checks["gene_recovery"].values():
        assert 0.0 <= value["precision_at_k"] <= 1.0 and len(value["top_k"]) == value["k"]
    assert pair_classes(checks) == set(samples["target"])  # all four classes sit in a planted pair
    assert checks["faithfulness"]["k"] == 20  # the larger planted set (20 RNA genes)
    assert_planted_truth_found(checks, pointing=True)


def test_spatial_saliency_explains_a_chosen_section_with_the_spot_truth(spatial):
    base, out = spatial
    test_rows = json.loads((base / "models" / "datalist.json").read_text())["test"]
    samples = assert_common_invariants(out, len(test_rows), ["image", "rna"], ["rna"])
    assert set(samples["sample_id"]) == {r["omics"] for r in test_rows}
    assert not any(c.startswith("pointing_") for c in samples)  # spots have no planted-region masks
    row = samples.iloc[0]
    assert ":" in row["sample_id"] and row["region_file"] == f"regions/{row['sample_id'].replace(':', '_')}.png"
    with Image.open(out / row["region_file"]) as overlay:
        assert overlay.size == (32, 32) and overlay.mode == "RGB"
        overlay = np.asarray(overlay, dtype=float) / 255.0
    # the overlay is drawn on the patch as a viewer shows it (rows = y), not on its transpose
    from omicsfusion.transforms import LoadSpotPatch

    spot = next(r for r in test_rows if r["omics"] == row["sample_id"])
    slide = os.path.normpath(base / "models" / "spots" / spot["image"])
    patch = np.asarray(LoadSpotPatch(100.0, 32)(slide, spot["x"], spot["y"], spot["mpp"])).transpose(1, 2, 0)
    low, high = patch.min(axis=(0, 1)), patch.max(axis=(0, 1))
    patch = (patch - low) / (high - low)  # the overlay rescales each channel on its own
    error = np.abs(overlay - patch).mean()
    assert error < 0.8 * np.abs(overlay - patch.transpose(1, 0, 2)).mean(), error
    checks = json.loads((out / "checks.json").read_text())
    truth = json.loads((base / "data" / "ground_truth.json").read_text())
    present = set(samples["target"])
    assert set(checks["gene_recovery"]) == {f"rna:{c}" for c in truth["informative_genes"] if c in present}
    for name, value in checks["gene_recovery"].items():
        assert value["classes"] == [name.split(":")[1]] and value["k"] == 10
    assert pair_classes(checks) == present & set(truth["ambiguous_pair"])  # the omics-only pair
    assert checks["faithfulness"]["k"] == 10
    assert_planted_truth_found(checks, pointing=False)  # a spot patch is one tissue: no region to point at


@pytest.fixture(scope="module")
def pan_cancer(tmp_path_factory):
    base = tmp_path_factory.mktemp("pan_cancer_saliency")
    return base, explain(PAN, base, saliency={"saliency#runner#max_samples": 4}, **PAN_SHORT)


def test_pan_cancer_saliency_writes_tile_overlays_and_gene_tables(pan_cancer):
    _base, out = pan_cancer
    samples = assert_common_invariants(out, 4, ["image", "rna", "cnv", "meth"], ["rna", "cnv", "meth"])
    genes = pd.read_csv(out / "genes.csv")
    assert genes["feature"].str.match(r"^(GENE\d{4}|cg\d{8})$").all()
    for row in samples.itertuples():
        assert row.region_file == f"regions/{row.sample_id}.png"
        with Image.open(out / row.region_file) as overlay:
            assert overlay.size == (64, 64) and overlay.mode == "RGB"
    assert samples["pointing_ig"].notna().all()  # the phantom's tumour masks are scored, whatever the model


def test_saliency_with_a_wrong_target_layer_lists_valid_ones(pan_cancer):
    base, _ = pan_cancer
    with pytest.raises(RuntimeError) as info:
        run_workflow(
            PAN,
            ["train.json", "saliency.json"],
            "train",
            **run_dirs(base),
            **PAN_SHORT,
            **{"saliency#target_layer": "layer4"},
        )
    chain = error_chain(info.value)
    assert "TargetLayerError" in chain and "features.denseblock4" in chain
