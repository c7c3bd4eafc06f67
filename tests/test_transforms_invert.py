"""A map of the fused input goes back to the original image's geometry with MONAI's ``Invertd``.

The neuro bundle's inference preprocessing reorients, resamples and crops/pads the
MRI volume before fusing it with the omics channels; the fused tensor keeps the
volume's ``applied_operations``, so a region map on the network's grid (e.g. an
attribution of the image channels) inverts onto the file's own voxel grid.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor
from monai.transforms import Invertd, LoadImage

from bundle_utils import BUNDLES
from omicsfusion.data import OmicsPreprocessor, OmicsTable
from omicsfusion.layout import OTLayout, modular_table

#: LPS-oriented 2.5 x 3 x 2 mm voxels, so that orientation, spacing and crop/pad all act
AFFINE = np.array([[-2.5, 0, 0, 60.0], [0, -3.0, 0, 40.0], [0, 0, 2.0, -20.0], [0, 0, 0, 1]])
SHAPE = (50, 40, 30)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("neuro")
    (root / "omics").mkdir()
    for name, seed in (("rna", 1), ("cnv", 2)):
        table = modular_table(12, 20, n_modules=2, seed=seed)
        table.columns = [f"{name}{j}" for j in range(20)]
        table.to_csv(root / "omics" / f"{name}.csv")
    tables = {t: str(root / "omics" / f"{t}.csv") for t in ("rna", "cnv")}
    table = OmicsTable(tables)
    (root / "models").mkdir()
    OmicsPreprocessor(layout=OTLayout(method="random", grid=(8, 8))).fit(table).save(root / "models" / "layout.npz")
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in SHAPE], indexing="ij")
    volume = (2.0 + np.exp(-sum(g**2 for g in grid) * 2) + 0.3 * grid[0]).astype(np.float32)  # smooth, positive
    nib.save(nib.Nifti1Image(volume, AFFINE), str(root / "S0001.nii.gz"))
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / "neuro_mri_molecular" / "configs" / "inference.json"))
    parser.update({"bundle_root": str(root), "dataset_dir": str(root), "ckpt_dir": str(root / "models")})
    return parser, root


def test_region_map_inverts_onto_the_original_volume(bundle):
    parser, root = bundle
    preprocessing = parser.get_parsed_content("preprocessing")
    row = {"image": str(root / "S0001.nii.gz"), "omics": "S0001"}
    fused = preprocessing(row)["image"]
    assert fused.shape == (3, 48, 48, 48) and fused.meta["channel_names"] == ["image_0", "rna", "cnv"]
    assert [op["class"] for op in fused.applied_operations] == ["Orientation", "SpatialResample",
                                                              "ResizeWithPadOrCrop"]
    region = MetaTensor(torch.rand(1, *fused.shape[1:]))
    inverted = Invertd(keys="region", orig_keys="image", transform=preprocessing, nearest_interp=False)(
        {"region": region, "image": fused})["region"]
    original = LoadImage(image_only=True, ensure_channel_first=True)(row["image"])
    assert tuple(inverted.shape) == (1, *SHAPE)
    np.testing.assert_allclose(np.asarray(inverted.affine), np.asarray(original.affine), atol=1e-5)
    # the MRI channel itself comes back onto the file's voxels (z-scored, resampled twice)
    mri = Invertd(keys="mri", orig_keys="image", transform=preprocessing, nearest_interp=False)(
        {"mri": MetaTensor(fused[:1].as_tensor()), "image": fused})["mri"]
    assert tuple(mri.shape) == (1, *SHAPE)
    inner = (slice(None),) + tuple(slice(4, n - 4) for n in SHAPE)  # away from the resampled border
    assert np.corrcoef(mri[inner].numpy().ravel(), original[inner].numpy().ravel())[0, 1] > 0.99
