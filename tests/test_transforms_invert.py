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
from bundle_utils import BUNDLES
from monai.bundle import ConfigParser
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd, LoadImage, Resized, Spacingd

from omicsfusion.data import OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import AlignToReference, AlignToReferenced, FuseChannelsd, OmicsChannels, OmicsChannelsd

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
    assert [op["class"] for op in fused.applied_operations] == ["Orientation", "SpatialResample", "ResizeWithPadOrCrop"]
    region = MetaTensor(torch.rand(1, *fused.shape[1:]))
    inverted = Invertd(keys="region", orig_keys="image", transform=preprocessing, nearest_interp=False)(
        {"region": region, "image": fused}
    )["region"]
    original = LoadImage(image_only=True, ensure_channel_first=True)(row["image"])
    assert tuple(inverted.shape) == (1, *SHAPE)
    np.testing.assert_allclose(np.asarray(inverted.affine), np.asarray(original.affine), atol=1e-5)
    # the MRI channel itself comes back onto the file's voxels (z-scored, resampled twice)
    mri = Invertd(keys="mri", orig_keys="image", transform=preprocessing, nearest_interp=False)(
        {"mri": MetaTensor(fused[:1].as_tensor()), "image": fused}
    )["mri"]
    assert tuple(mri.shape) == (1, *SHAPE)
    inner = (slice(None), *(slice(4, n - 4) for n in SHAPE))  # away from the resampled border
    assert np.corrcoef(mri[inner].numpy().ravel(), original[inner].numpy().ravel())[0, 1] > 0.99


def _omics(grid=(4, 5)) -> MetaTensor:
    return MetaTensor(torch.rand(2, *grid), meta={"omics_channels": ["a", "b"]})


@pytest.mark.parametrize("shape, grid", [((1, 8, 10), (4, 5)), ((1, 8, 10, 6), (4, 5)), ((1, 8, 10, 6), (4, 5, 3))])
def test_nearest_and_broadcast_alignments_invert_exactly(shape, grid):
    omics, reference = _omics(grid), MetaTensor(torch.rand(shape), affine=torch.diag(torch.tensor([2.0, 3, 4, 1])))
    align = AlignToReference()
    aligned = align(omics, reference)
    assert [op["class"] for op in aligned.applied_operations] == ["AlignToReference"]
    assert tuple(aligned.shape[1:]) == shape[1:] and aligned.meta["omics_channels"] == ["a", "b"]
    back = align.inverse(aligned)
    assert back.applied_operations == [] and tuple(back.shape) == tuple(omics.shape)
    torch.testing.assert_close(back.as_tensor(), omics.as_tensor())
    torch.testing.assert_close(back.affine, omics.affine)


def test_linear_or_uneven_alignments_invert_to_the_grid_shape():
    omics = _omics((6, 7))
    for align in (AlignToReference(mode="bilinear"), AlignToReference()):  # 6 x 7 -> 9 x 11: no whole blocks
        back = align.inverse(align(omics, MetaTensor(torch.rand(1, 9, 11))))
        assert tuple(back.shape) == (2, 6, 7) and back.applied_operations == []


def test_compose_inverse_and_invertd_take_the_omics_back_to_its_grid(bundle):
    _, root = bundle
    tables = {t: str(root / "omics" / f"{t}.csv") for t in ("rna", "cnv")}
    layout = str(root / "models" / "layout.npz")
    image = MetaTensor(torch.rand(1, 20, 24), affine=torch.diag(torch.tensor([0.5, 0.5, 1.0, 1.0])))
    grid = OmicsChannels(tables, layout)("S0001")
    for step in (
        OmicsChannelsd(keys="omics", tables=tables, preprocessor=layout, ref_key="image"),
        AlignToReferenced(keys="omics", ref_key="image"),
    ):
        pipeline = Compose([Resized(keys="image", spatial_size=(32, 40)), step])
        row = {"image": image, "omics": "S0001" if isinstance(step, OmicsChannelsd) else grid}
        out = pipeline(row)
        assert out["omics"].shape == (2, 32, 40)
        assert [op["class"] for op in out["omics"].applied_operations] == ["AlignToReference"]
        back = pipeline.inverse(out)
        assert back["image"].shape == (1, 20, 24) and back["omics"].shape == (2, 8, 8)
        torch.testing.assert_close(back["omics"].as_tensor(), grid.as_tensor())  # 8 x 8 -> 32 x 40 is whole blocks
        inverted = Invertd(keys="omics", orig_keys="omics", transform=pipeline, nearest_interp=False)(pipeline(row))[
            "omics"
        ]  # the inverse above popped the operations of ``out``
        torch.testing.assert_close(inverted.as_tensor(), grid.as_tensor())


class _Recording(AlignToReference):
    """Records whether the reference had pending operations when it was aligned to."""

    pending: list[bool] = []

    def __call__(self, img, reference, lazy=None):
        self.pending = [*self.pending, reference.has_pending_operations]
        return super().__call__(img, reference, lazy=lazy)


@pytest.mark.parametrize("resize", ["Resized", "Spacingd"])
def test_lazy_compose_aligns_to_the_pending_shape_like_the_eager_run(bundle, resize):
    _, root = bundle
    tables = {t: str(root / "omics" / f"{t}.csv") for t in ("rna", "cnv")}
    image = MetaTensor(torch.rand(1, 20, 24), affine=torch.diag(torch.tensor([0.5, 0.5, 1.0, 1.0])))
    spatial = (
        Resized(keys="image", spatial_size=(32, 40))
        if resize == "Resized"
        else Spacingd(keys="image", pixdim=(0.25, 0.3))
    )
    steps = [
        spatial,
        OmicsChannelsd(keys="omics", tables=tables, preprocessor=str(root / "models" / "layout.npz"), ref_key="image"),
        FuseChannelsd(keys=["image", "omics"], name="fused"),
    ]
    eager = Compose(steps)({"image": image, "omics": "S0001"})
    steps[1].aligner = _Recording()
    out = Compose(steps, lazy=True)({"image": image, "omics": "S0001"})
    assert steps[1].aligner.pending == [True]  # the image was still to be resampled when the omics was aligned
    assert tuple(out["omics"].shape) == tuple(eager["omics"].shape) == (2, *eager["image"].shape[1:])
    torch.testing.assert_close(out["omics"].as_tensor(), eager["omics"].as_tensor())
    torch.testing.assert_close(out["omics"].affine, eager["omics"].affine)
    torch.testing.assert_close(out["fused"][1:].as_tensor(), eager["fused"][1:].as_tensor())
    assert [op["class"] for op in eager["omics"].applied_operations] == ["AlignToReference"]
    assert [op["class"] for op in out["omics"].applied_operations] == ["_Recording"]
