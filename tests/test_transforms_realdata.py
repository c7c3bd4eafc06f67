"""Real formats through the transforms: Xenium h5ad + H&E, TCGA MRI NRRD, TCGA H&E tiles.

The data live in ``../shared/data`` next to the repository (read-only, never
copied in; ``OMICSFUSION_SHARED_DATA`` points elsewhere, e.g. from a git
worktree); every test skips with a reason when that folder is absent.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Resized, SpatialCropd

from omicsfusion.data import OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import (
    FuseChannelsd,
    OmicsChannelsd,
    omics_feature_attributions,
)

DATA = Path(os.environ.get("OMICSFUSION_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
XENIUM = DATA / "deepspot_NCBI858"
MRI = DATA / "pyradiomics_mri"
TCGA = DATA / "pathomicfusion_tcga_gbmlgg"
# bookkeeping and outcome columns of the PathomicFusion rows, not molecular features
NOT_FEATURES = ["indexes", "censored", "Survival months"]


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data not available: {path} (expected ../shared/data next to the repository)")


@pytest.fixture(scope="module")
def molecular(tmp_path_factory):
    """Layout over the CNV/mutation rows of the 4 TCGA glioma patients."""
    _need(TCGA / "molecular_rows_subset.csv")
    tables = {"cnv": str(TCGA / "molecular_rows_subset.csv")}
    table = OmicsTable.cached(tables, exclude=NOT_FEATURES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant CNV columns over 4 patients are dropped, with a warning
        pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(8, 8))).fit(table.select(table.sample_ids()))
    path = pre.save(tmp_path_factory.mktemp("models") / "layout.npz")
    return tables, str(path)


def test_xenium_h5ad_cell_patch(tmp_path):
    """HEST-style Xenium: each cell's expression becomes a channel on the H&E patch around it."""
    _need(XENIUM / "NCBI858.h5ad")
    tables = {"rna": str(XENIUM / "NCBI858.h5ad")}
    table = OmicsTable.cached(tables)
    assert table.features("rna").size == 338 and len(table.sample_ids("rna")) == 200
    ids = table.sample_ids("rna")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pre = OmicsPreprocessor(layout=OTLayout(n_epochs=30), normalization="log1p_zscore").fit(table.select(ids[:150]))
    layout = str(pre.save(tmp_path / "layout.npz"))
    import anndata  # obs holds each cell's pixel position in the H&E crop

    obs = anndata.read_h5ad(XENIUM / "NCBI858.h5ad", backed="r").obs
    cell = ids[170]
    # MONAI's PIL reader puts the image x axis first, so the centre is (x_pixel, y_pixel)
    centre = [int(obs.loc[cell, "x_pixel"]), int(obs.loc[cell, "y_pixel"])]
    pipeline = Compose(
        [
            LoadImaged(keys="image", image_only=True),
            EnsureChannelFirstd(keys="image"),
            SpatialCropd(keys="image", roi_center=centre, roi_size=(96, 96)),
            OmicsChannelsd(keys="omics", tables=tables, preprocessor=layout, ref_key="image"),
            FuseChannelsd(keys=["image", "omics"], name="image", image_channel_names=["R", "G", "B"]),
        ]
    )
    out = pipeline({"image": str(XENIUM / "NCBI858.jpg"), "omics": cell})["image"]
    assert out.shape == (4, 96, 96)
    assert out.meta["channel_names"] == ["R", "G", "B", "rna"] and out.meta["omics_sample_id"] == cell
    expected = pre.transform(table.select([cell]))[0, 0]  # (H, W) grid image of the held-out cell
    blocks = out[3].numpy()[:: 96 // pre.grid_[0] + 1, :: 96 // pre.grid_[1] + 1]
    assert np.isin(np.round(np.unique(blocks), 4), np.round(np.unique(expected), 4)).all()
    genes = omics_feature_attributions(out, pre, n_image_channels=3)["rna"]
    assert genes.shape == pre.feature_names("rna").shape and np.isfinite(genes).all()


def test_tcga_mri_nrrd_volume_reference(molecular):
    """3-D reference: the patient's molecular map broadcast along the axial axis, affine kept."""
    _need(MRI / "brain1_image.nrrd")
    tables, layout = molecular
    pipeline = Compose(
        [
            LoadImaged(keys="image", image_only=True),
            EnsureChannelFirstd(keys="image"),
            Resized(keys="image", spatial_size=(64, 64, 25)),
            OmicsChannelsd(
                keys="omics", tables=tables, preprocessor=layout, ref_key="image", exclude=NOT_FEATURES, axis=-1
            ),
            FuseChannelsd(keys=["image", "omics"], name="fused"),
        ]
    )
    d = pipeline({"image": str(MRI / "brain1_image.nrrd"), "omics": "TCGA-02-0003"})
    image, omics, fused = d["image"], d["omics"], d["fused"]
    assert image.shape == (1, 64, 64, 25) and omics.shape == (1, 64, 64, 25) and fused.shape == (2, 64, 64, 25)
    torch.testing.assert_close(omics.affine, image.affine)
    torch.testing.assert_close(fused.affine, image.affine)
    assert float(image.affine[2, 2]) == pytest.approx(6.5)  # NRRD slice spacing survived
    assert torch.equal(omics[..., 0].as_tensor(), omics[..., 24].as_tensor())
    assert fused.meta["n_image_channels"] == 1 and fused.meta["omics_channels"] == ["cnv"]


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_tcga_he_tile_2d_reference(molecular, mode):
    """2-D reference: a TCGA H&E ROI with the patient's molecular row (id from the file name)."""
    tiles = sorted((TCGA / "roi_imgs").glob("*.png")) if TCGA.exists() else []
    if not tiles:
        pytest.skip(f"real data not available: {TCGA / 'roi_imgs'}")
    tables, layout = molecular
    tile = tiles[0]
    pipeline = Compose(
        [
            LoadImaged(keys="image", image_only=True),
            EnsureChannelFirstd(keys="image"),
            Resized(keys="image", spatial_size=(256, 256)),
            OmicsChannelsd(
                keys="omics", tables=tables, preprocessor=layout, ref_key="image", exclude=NOT_FEATURES, mode=mode
            ),
            FuseChannelsd(keys=["image", "omics"], name="image"),
        ]
    )
    out = pipeline({"image": str(tile), "omics": tile.name[:12]})["image"]
    assert out.shape == (4, 256, 256) and out.meta["omics_sample_id"] == tile.name[:12]
    assert str(out.meta["filename_or_obj"]).endswith(tile.name)
    if mode == "nearest":  # 8 x 8 grid -> 32 x 32 pixel blocks, one value each
        blocks = out[3].numpy().reshape(8, 32, 8, 32)
        assert np.ptp(blocks, axis=(1, 3)).max() == 0
