"""Saliency of the pan-cancer bundle on its phantom: the four planted-truth checks and readable outputs.

One module-scoped run trains the bundle as shipped (DenseNet121, phantom of
100 patients/class, 15 epochs: 2-7 minutes on 2 CPU cores) and runs
``saliency.json`` on 48 validation tiles. Marked ``slow`` and ``heavy`` (not in
the default run; ``-m heavy``). The saliency outputs of a short pan-cancer run
are checked in the default run by ``tests/test_interpret_bundles.py``. Asserted: the
pointing game of the IG region maps (>= 0.8), gene precision@20 of the rna
module (>= 0.8; the only evidence between type_a and type_b), the modality
attribution of both planted pairs (100 % of their classes, IG and
FeatureAblation), faithfulness of the gene ranking, readable outputs.
Smaller networks did not pass the pointing game (a small ResNet 0.53, its
maps peak on the pixels under the gene blocks; docs/interpret.md).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from bundle_utils import explain
from PIL import Image

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

BUNDLE = "pan_cancer_classification"
TRAIN = {"phantom_size": 100, "max_epochs": 15}  # the bundle's defaults, stated
SALIENCY = {"saliency#runner#max_samples": 48, "saliency#compare_methods": ["gradcam"]}


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    base = tmp_path_factory.mktemp("interpret")
    out = explain(BUNDLE, base, saliency=SALIENCY, **TRAIN)
    return base, out, json.loads((out / "checks.json").read_text())


def test_region_maps_point_at_the_planted_tissue(explained):
    _, out, checks = explained
    pointing = checks["pointing_game"]["ig"]
    assert pointing["passed"] and pointing["hit_rate"] >= 0.8 and pointing["n_correct"] >= 40, pointing
    summary = json.loads((out / "summary.json").read_text())
    assert summary["region_baseline"] == "blur" and summary["region_contrast"]["type_b"] == ["type_c", "type_d"]


def test_deleting_top_genes_hurts_more_than_random(explained):
    _, out, checks = explained
    assert checks["faithfulness"]["passed"]
    curves = pd.read_csv(out / "deletion_curves.csv")
    assert (curves.loc[curves["k"] >= 5, "top_drop"] > curves.loc[curves["k"] >= 5, "random_drop"]).all()


def test_each_planted_pair_is_attributed_to_the_modality_that_separates_it(explained):
    """omics-only pair a/b -> omics share wins, image-only pair c/d -> image share wins, for 100 % of those classes."""
    _, out, checks = explained
    for estimator in ("integrated_gradients", "feature_ablation"):
        result = checks["modality_pairs"][estimator]
        assert result["passed_share"] == 1.0, (estimator, result["classes"])
    contrast = pd.read_csv(out / "pair_contrast_shares.csv")
    assert (contrast["n_references"] >= 1).all() and set(contrast["class"]) == {"type_a", "type_b", "type_c", "type_d"}


def test_the_planted_rna_module_leads_the_gene_ranking(explained):
    """The rna module is the only evidence between type_a and type_b: the type_b ranking must recover it."""
    _, _, checks = explained
    rna = checks["gene_recovery"]["rna"]
    assert checks["gene_recovery_pairs"] == [
        {
            "pair": "type_a/type_b",
            "separating_sets": ["rna"],
            "best_set": "rna",
            "precision_at_k": rna["precision_at_k"],
            "target": 0.8,
            "passed": True,
        }
    ]
    assert rna["precision_at_k"] > 10 * rna["random_ranking_precision_at_k"]
    contrast = rna["pair_contrast"]
    assert contrast["pair"] == "type_a/type_b"
    assert contrast["precision_at_k"] >= 0.5


def test_outputs_open_in_standard_tools(explained):
    _base, out, _ = explained
    samples = pd.read_csv(out / "samples.csv", dtype={"sample_id": str})
    assert len(samples) == 48
    shares = samples[[c for c in samples.columns if c.startswith("ig_share_")]].to_numpy()
    assert np.allclose(shares.sum(axis=1), 1.0)
    modality = pd.read_csv(out / "modality_shares.csv")
    assert set(modality["estimator"]) == {"integrated_gradients", "feature_ablation"}
    assert np.allclose(modality[["image", "rna", "cnv", "meth"]].sum(axis=1), 1.0)
    genes = pd.read_csv(out / "genes.csv")
    assert {"class", "omics_type", "feature", "mean_abs_attribution", "signed_mean_attribution"} <= set(genes)
    assert genes["feature"].str.match(r"^(GENE\d{4}|cg\d{8})$").all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ig_mean_abs_delta"] < 0.1 * summary["ig_mean_abs_gap"]
    for name in ("modality_shares.png", "layout_rna_type_b.png", "deletion_curves.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 100


def test_overlay_hot_spot_lies_in_the_mask_in_viewer_orientation(explained):
    """The PNG overlay is in PIL orientation: its hottest pixel sits in the PIL-read mask when the sample hits."""
    base, out, _ = explained
    samples = pd.read_csv(out / "samples.csv", dtype={"sample_id": str})
    hits = samples[samples["pointing_ig"] & (samples["label"] == samples["predicted"])]
    inside = []
    for sample_id in hits["sample_id"][:10]:
        overlay = np.asarray(Image.open(out / "regions" / f"{sample_id}.png"), dtype=float)
        tile = np.asarray(Image.open(base / "data" / "images" / f"{sample_id}.png"), dtype=float)
        low, high = tile.min(axis=(0, 1)), tile.max(axis=(0, 1))
        tile = np.round((tile - low) / (high - low) * 255)  # the overlay shows each channel rescaled to 0..255
        mask = np.asarray(Image.open(base / "data" / "masks" / f"{sample_id}.png")) > 0
        change = np.abs(overlay - tile).sum(axis=2)
        inside.append(mask[np.unravel_index(change.argmax(), change.shape)])
    assert len(inside) >= 5 and np.mean(inside) >= 0.8
