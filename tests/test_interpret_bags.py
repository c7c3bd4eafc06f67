"""Saliency of a bag-of-patches network: the patch-wise attributions are exactly the bag's, the maps are put back
where the patches were cut, and what cannot be explained this way (max pooling, a bag handed to the tile
explainer) is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.networks.nets import DenseNet

from omicsfusion.interpret import BagExplainer, BagSaliencyError, FusedExplainer, explainer_for, tile_canvas
from omicsfusion.interpret.modalities import integrated_gradients
from omicsfusion.interpret.targets import class_weights
from omicsfusion.networks import PatchBag

CLASSES = ["a", "b", "c"]


def _bag(pooling: str = "mean") -> PatchBag:
    torch.manual_seed(0)
    tile = DenseNet(spatial_dims=2, in_channels=5, out_channels=3, init_features=8, growth_rate=4, block_config=(1, 1))
    return PatchBag(tile, pooling=pooling).eval()


def _batch() -> dict:
    """Two patients, bags of 3 patches of 16 px (3 image + 2 omics channels) cut at 32 px from one tile each."""
    torch.manual_seed(1)
    x = torch.rand(2, 3, 5, 16, 16)
    x[:, :, 3:] = torch.rand(2, 1, 2, 1, 1)  # a patient's omics channels are the same on every patch
    meta = {
        "n_image_channels": torch.tensor([3, 3]),
        "patch_location": torch.tensor([[[0, 32], [32, 0], [32, 32]], [[0, 0], [0, 32], [0, 64]]]),
        "patch_size": torch.tensor([32, 32]),
        "patch_source": [("t1.png", "t2.png")] * 3,  # collated: one tuple of the batch's names per patch
    }
    return {"image": MetaTensor(x, meta=meta), "label": torch.tensor([0, 2]), "sample_id": ["p1", "p2"]}


def test_bag_attributions_are_the_bag_networks_own():
    bag, batch = _bag(), _batch()
    explainer = BagExplainer(bag, CLASSES, omics_types=["rna", "cnv"], n_steps=16)
    explained = explainer(batch)
    x = batch["image"].as_tensor()
    baseline = explainer.baseline(x.flatten(0, 1), 3).unflatten(0, (2, 3))
    direct = integrated_gradients(bag, x, class_weights(torch.tensor([0, 2]), 3), baseline, n_steps=16)
    assert explained.ig.attr.shape == (2, 3, 5, 16, 16)
    assert torch.allclose(explained.ig.attr, direct.attr, atol=1e-6, rtol=1e-4)
    assert np.allclose(explained.ig.gap, direct.gap, atol=1e-6) and np.allclose(
        explained.ig.delta, direct.delta, atol=1e-5
    )
    with torch.no_grad():
        assert torch.allclose(explained.probs, torch.softmax(bag(x), dim=1), atol=1e-6)
    assert explained.groups == ["image", "rna", "cnv"] and explained.target.tolist() == [0, 2]
    for shares in (explained.ig_shares, explained.ablation_shares):
        assert shares.shape == (2, 3) and np.allclose(shares.sum(axis=1), 1)


def test_region_maps_land_where_the_patches_were_cut():
    explained = BagExplainer(_bag(), CLASSES, omics_types=["rna", "cnv"], n_steps=4)(_batch())
    x = _batch()["image"].as_tensor()
    canvas, maps = explained.batch.x.numpy(), explained.maps["ig"]
    # p1's tile is 2 x 2 cells, p2's 1 x 3: both padded (blank) to 2 x 3 cells
    assert canvas.shape == (2, 3, 32, 48) and maps.shape == (2, 32, 48) and explained.batch.n_image == 3
    assert np.allclose(canvas[0, :, 0:16, 16:32], x[0, 0, :3]) and np.allclose(canvas[0, :, 16:32, 0:16], x[0, 1, :3])
    assert np.allclose(canvas[1, :, 0:16, 32:48], x[1, 2, :3])
    blank = x[0, :, :3].amax(dim=(0, 2, 3))[:, None, None]
    assert np.allclose(canvas[0, :, 0:16, 0:16], blank) and np.allclose(canvas[0, :, :, 32:], blank)  # no patch
    assert (maps[0, 0:16, 0:16] == 0).all() and (maps[1, 16:32] == 0).all()  # nor a map there
    assert explained.batch.ids == ["p1", "p2"]


def test_canvas_falls_back_to_a_row_without_distinct_locations():
    patches = np.arange(2 * 1 * 2 * 2, dtype=float).reshape(2, 1, 2, 2)
    row = tile_canvas(patches, np.array([[0, 0], [0, 0]]), 10, np.zeros(1))
    assert row.shape == (1, 2, 4) and np.array_equal(row[0, :, 2:], patches[1, 0])
    assert tile_canvas(patches, None, None, np.zeros(1)).shape == (1, 2, 4)
    far = np.array([[0, 0], [5000, 5000]])  # two cells of a whole slide far apart: a row, not a huge canvas
    assert tile_canvas(patches, far, 10, np.zeros(1), max_px=64).shape == (1, 2, 4)
    assert tile_canvas(patches, far, 10, np.zeros(1), max_px=2000).shape == (1, 1002, 1002)


def test_max_pooling_and_a_bag_for_the_tile_explainer_are_refused():
    with pytest.raises(BagSaliencyError, match="pooling 'max'"):
        BagExplainer(_bag("max"), CLASSES)
    with pytest.raises(BagSaliencyError, match="BagExplainer"):
        FusedExplainer(_bag(), CLASSES)
    assert type(explainer_for(_bag(), CLASSES)) is BagExplainer
    assert type(explainer_for(_bag().network, CLASSES)) is FusedExplainer
