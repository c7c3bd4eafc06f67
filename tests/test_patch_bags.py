"""Tiles as bags of patches: TileBag (GridPatch, darkest first, several files), StackPatchesd, PatchBag pooling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.transforms import Compose, SplitDimd
from PIL import Image

from omicsfusion.data import load_datalist
from omicsfusion.errors import TransformError
from omicsfusion.networks import PatchBag
from omicsfusion.transforms import StackPatchesd, TileBag, TileBagd


def white_tile(height: int, width: int, dark: tuple[int, int] | None = None, size: int = 8) -> np.ndarray:
    """A white RGB tile (H, W, 3) uint8 with a dark ``size`` square at row/column ``dark``."""
    tile = np.full((height, width, 3), 255, np.uint8)
    if dark is not None:
        tile[dark[0] : dark[0] + size, dark[1] : dark[1] + size] = 40
    return tile


def test_tile_bag_keeps_the_darkest_patches_with_their_locations():
    image = torch.from_numpy(white_tile(16, 24, dark=(8, 16))).permute(2, 0, 1).float()
    bag = TileBag(num_patches=8, patch_px=8)(image)
    assert bag.shape == (8, 3, 8, 8)
    assert bag.meta["patch_location"].tolist()[0] == [8, 16] and bag.meta["patch_size"] == 8
    assert float(bag[0].mean()) == 40.0
    # 6 patches in the tile; the 2 that fill the bag are white and have no source
    assert bag.meta["patch_source"][6:] == ["", ""] and float(bag[6:].min()) == 255.0


def test_two_images_of_different_sizes_make_one_bag(tmp_path):
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    Image.fromarray(white_tile(32, 40, dark=(0, 8))).save(big)
    Image.fromarray(white_tile(5, 6, dark=(0, 0), size=4)).save(small)  # smaller than a patch: padded white
    bag = TileBag(num_patches=3, patch_px=8)([str(big), str(small)])
    assert bag.shape == (3, 3, 8, 8)
    assert sorted(bag.meta["patch_source"][:2]) == sorted([str(big), str(small)])
    assert bag.meta["patch_location"].shape == (3, 2)


def test_patch_dictionaries_stack_back_into_one_sample():
    image = torch.from_numpy(white_tile(16, 16, dark=(0, 8))).permute(2, 0, 1).float()
    pipeline = Compose(
        [TileBagd("image", num_patches=4, patch_px=8), SplitDimd("image", dim=0, keepdim=False, list_output=True)]
    )
    patches = pipeline({"image": image, "label": 2, "sample_id": "p1"})
    assert len(patches) == 4 and patches[0]["image"].shape == (3, 8, 8)
    sample = StackPatchesd("image")(patches)
    assert sample["image"].shape == (4, 3, 8, 8) and sample["label"] == 2 and sample["sample_id"] == "p1"
    assert sample["image"].meta["patch_location"].tolist()[0] == [0, 8]
    patches[1]["label"] = 3
    with pytest.raises(TransformError, match="'label' differs"):
        StackPatchesd("image")(patches)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_patch_bag_pools_the_patch_logits(pooling):
    torch.manual_seed(0)
    tile_network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5 * 4 * 4, 3))
    bags = torch.randn(2, 6, 5, 4, 4)
    pooled = PatchBag(tile_network, pooling=pooling)(bags)
    per_patch = torch.stack([tile_network(bag) for bag in bags])  # (2, 6, 3)
    expected = per_patch.mean(dim=1) if pooling == "mean" else per_patch.amax(dim=1)
    torch.testing.assert_close(pooled, expected)
    torch.testing.assert_close(torch.jit.script(PatchBag(tile_network, pooling=pooling))(bags), expected)
    with pytest.raises(ValueError, match="batch of bags"):
        PatchBag(tile_network)(bags[:, 0])


def test_datalist_rows_may_hold_several_images(tmp_path):
    row = {"image": ["a/1.png", "a/2.png"], "omics": "p1", "label": 0}
    (tmp_path / "datalist.json").write_text(json.dumps({"training": [row]}))
    (loaded,) = load_datalist(tmp_path / "datalist.json")
    assert loaded["image"] == [str(tmp_path / "a" / "1.png"), str(tmp_path / "a" / "2.png")]


def test_slide_bag_reads_what_tile_bag_cuts_from_the_same_image(tmp_path):
    """A plain image read as a slide (1 um/px, 8 um cells at 8 px) gives TileBag's bag: patches, order, axes."""
    from omicsfusion.transforms import SlideBag, SlideBagd

    rng = np.random.default_rng(0)
    tile = white_tile(24, 40, dark=(8, 16))
    tile[16:24, 0:8] = rng.integers(60, 120, (8, 8, 3), dtype=np.uint8)  # a second, lighter tissue cell
    Image.fromarray(tile).save(tmp_path / "slide.png")
    tiles = TileBag(num_patches=4, patch_px=8)(str(tmp_path / "slide.png"))
    slides = SlideBag(num_patches=4, patch_um=8.0, patch_px=8, mpp=1.0)(str(tmp_path / "slide.png"))
    assert slides.shape == tiles.shape == (4, 3, 8, 8)
    assert torch.equal(slides.as_tensor(), tiles.as_tensor())  # the darkest cells, columns first as PIL loads
    assert np.array_equal(slides.meta["patch_location"][:2], tiles.meta["patch_location"][:2])
    assert slides.meta["patch_size"] == 8.0 and slides.meta["patch_source"] == [str(tmp_path / "slide.png")] * 4
    short = SlideBagd("image", num_patches=20, patch_um=8.0, patch_px=4, mpp=1.0)({"image": tmp_path / "slide.png"})
    bag = short["image"]  # 15 cells: the bag is padded with 5 white patches that come from no file
    assert bag.shape == (20, 3, 4, 4) and (bag[15:] == 255).all() and bag.meta["patch_source"][15:] == [""] * 5
    with pytest.raises(TransformError, match="reads a slide file"):
        SlideBag(2, 8.0, 8, mpp=1.0)(torch.zeros(3, 8, 8))
