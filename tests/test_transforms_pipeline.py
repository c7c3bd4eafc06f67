"""Omics transforms: array == dict, meta/affine carried over, named errors, collation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor
from monai.transforms import Compose, ConcatItemsd

from omicsfusion.data import FeatureMismatchError, MissingSampleError, OmicsDataError, OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import (
    AlignToReference,
    AlignToReferenced,
    FuseChannels,
    FuseChannelsd,
    OmicsChannels,
    OmicsChannelsd,
    OmicsReader,
    ReferenceShapeError,
    SkippedPixelsError,
)

AFFINE = torch.tensor([[0.5, 0, 0, 10.0], [0, 0.5, 0, -3.0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.float64)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two omics csv files (the cnv one lacks sample S0002) and a fitted layout file."""
    root = tmp_path_factory.mktemp("omics")
    rna = modular_table(30, 50, n_modules=3, seed=1)
    cnv = modular_table(30, 20, n_modules=2, seed=2).drop(index="S0002")
    cnv.columns = [f"C{j}" for j in range(20)]
    rna.to_csv(root / "rna.csv")
    cnv.to_csv(root / "cnv.csv")
    table = OmicsTable.cached({"rna": root / "rna.csv", "cnv": root / "cnv.csv"})
    train = [s for s in table.sample_ids() if s != "S0029"]
    OmicsPreprocessor(layout=OTLayout(method="random", grid=(8, 8))).fit(table.select(train)).save(root / "layout.npz")
    return {"rna": str(root / "rna.csv"), "cnv": str(root / "cnv.csv")}, str(root / "layout.npz")


def _image(shape=(3, 32, 24)) -> MetaTensor:
    return MetaTensor(torch.rand(shape), affine=AFFINE.clone(), meta={"filename_or_obj": "slide.png"})


def test_array_and_dict_transforms_agree(files):
    tables, layout = files
    ref = _image()
    omics = OmicsChannels(tables, layout)("S0001")
    aligned = AlignToReference()(omics, ref)
    fused = FuseChannels()([ref, aligned])
    pipeline = Compose(
        [
            OmicsChannelsd(keys="omics", tables=tables, preprocessor=layout, ref_key="image"),
            FuseChannelsd(keys=["image", "omics"], name="image"),
        ]
    )
    out = pipeline({"image": ref, "omics": "S0001", "label": 1})
    assert sorted(out) == ["image", "label", "omics"]  # nothing travels beside the data
    torch.testing.assert_close(out["image"].as_tensor(), fused.as_tensor())
    assert out["image"].meta["channel_names"] == ["image_0", "image_1", "image_2", "rna", "cnv"]
    assert out["image"].meta["n_image_channels"] == 3
    assert out["image"].meta["omics_sample_id"] == "S0001"
    torch.testing.assert_close(out["image"].affine, AFFINE)


def test_channels_are_the_preprocessors_transform(files):
    tables, layout = files
    img = OmicsChannels(tables, layout)("S0005")
    pre = OmicsPreprocessor.cached(layout)
    table = OmicsTable.cached(tables)
    np.testing.assert_allclose(img.numpy(), pre.transform(table.select(["S0005"]))[0], rtol=1e-5, atol=1e-6)
    assert img.meta["omics_channels"] == ["rna", "cnv"]
    reader = OmicsReader(tables, layout)
    vectors, meta = reader.get_data(reader.read("S0005"))
    np.testing.assert_allclose(img.numpy(), pre.images(vectors, normalized=True), rtol=1e-6)
    assert [n.tolist() for n in meta["omics_features"].values()] == [
        pre.feature_names(t).tolist() for t in pre.channel_names
    ]


def test_the_reader_reads_nothing_when_built_and_keeps_its_table(files, tmp_path):
    tables, layout = files
    absent = {"rna": str(tmp_path / "absent.csv"), "cnv": tables["cnv"]}
    step = OmicsChannelsd(keys="omics", tables=absent, preprocessor=str(tmp_path / "absent.npz"), ref_key="image")
    assert step.channels.reader.tables is absent  # built without reading the files it names
    reader = OmicsChannels(tables, layout).reader
    table = reader.table
    reader.read("S0001")
    assert reader.table is table  # read once, kept by the reader that uses it


def test_omics_type_subset_reads_only_its_tables(files, tmp_path):
    tables, layout = files
    img = OmicsChannels(tables, layout, omics_types=["cnv"])("S0003")
    full = OmicsChannels(tables, layout)("S0003")
    assert img.shape == (1, 8, 8) and img.meta["omics_channels"] == ["cnv"]
    torch.testing.assert_close(img[0].as_tensor(), full[1].as_tensor())
    unread = {**tables, "rna": str(tmp_path / "absent.csv")}
    assert OmicsChannels(unread, layout, omics_types=["cnv"])("S0003").shape == (1, 8, 8)
    with pytest.raises(OmicsDataError, match=r"omics types \['meth'\] not in the layout file"):
        OmicsChannels(tables, layout, omics_types=["meth"])("S0003")


def test_missing_sample_raises_or_zero_fills(files):
    tables, layout = files
    with pytest.raises(MissingSampleError, match=r"'S0002'.*'cnv'.*cnv\.csv"):
        OmicsChannelsd(keys="omics", tables=tables, preprocessor=layout, ref_key="image")(
            {"omics": "S0002", "image": _image()}
        )
    img = OmicsChannels(tables, layout, on_missing="zeros")("S0002")
    assert img.meta["omics_missing"] is True
    np.testing.assert_array_equal(img.meta["omics_missing_channels"], [False, True])
    assert float(img[1].abs().sum()) == 0.0 and float(img[0].abs().sum()) > 0
    ok = OmicsChannels(tables, layout, on_missing="zeros")("S0001")
    assert ok.meta["omics_missing"] is False


def test_layout_feature_mismatch_is_named(files, tmp_path):
    _, layout = files
    other = modular_table(5, 50, seed=9)
    other.columns = [f"X{j}" for j in range(50)]
    other.to_csv(tmp_path / "rna.csv")
    with pytest.raises(FeatureMismatchError, match=r"omics table 'rna' \(.*rna\.csv\): 0 of \d+ layout features"):
        OmicsChannels({"rna": tmp_path / "rna.csv", "cnv": files[0]["cnv"]}, layout)("S0001")
    with pytest.raises(FeatureMismatchError, match=r"preprocessor types \['cnv'\] are not in the omics table"):
        OmicsChannels({"rna": files[0]["rna"]}, layout)("S0001")


def test_without_track_meta_plain_tensors_come_out(files):
    from monai.data import set_track_meta

    tables, layout = files
    ref = _image((1, 16, 16))
    set_track_meta(False)
    try:
        omics = OmicsChannels(tables, layout)("S0001")
        aligned = AlignToReference()(omics, ref)
        fused = FuseChannels()([ref.as_tensor(), aligned])
    finally:
        set_track_meta(True)
    assert not isinstance(omics, MetaTensor) and not isinstance(aligned, MetaTensor)
    assert not isinstance(fused, MetaTensor) and fused.shape == (3, 16, 16)
    tracked = FuseChannels()([ref, AlignToReference()(OmicsChannels(tables, layout)("S0001"), ref)])
    torch.testing.assert_close(fused, tracked.as_tensor())


def test_align_2d_nearest_blocks_and_meta(files):
    tables, layout = files
    omics = OmicsChannels(tables, layout)("S0001")
    ref = _image((3, 32, 24))
    out = AlignToReference()(omics, ref)
    assert out.shape == (2, 32, 24)
    torch.testing.assert_close(out.affine, AFFINE)
    assert out.meta["filename_or_obj"] == "slide.png" and out.meta["omics_channels"] == ["rna", "cnv"]
    # nearest: each grid pixel is a 4 x 3 block
    torch.testing.assert_close(out[:, ::4, ::3].as_tensor(), omics.as_tensor())
    torch.testing.assert_close(out[:, 3::4, 2::3].as_tensor(), omics.as_tensor())
    smooth = AlignToReference(mode="bilinear")(omics, ref)
    assert smooth.shape == out.shape and not torch.equal(smooth.as_tensor(), out.as_tensor())


def test_align_3d_broadcast_axis_and_3d_grid():
    omics = MetaTensor(torch.rand(2, 4, 5), meta={"omics_channels": ["a", "b"]})
    vol = MetaTensor(torch.rand(1, 8, 10, 6), affine=AFFINE.clone())
    out = AlignToReference()(omics, vol)
    assert out.shape == (2, 8, 10, 6)
    torch.testing.assert_close(out.affine, AFFINE)
    assert torch.equal(out[..., 0].as_tensor(), out[..., 5].as_tensor())
    side = AlignToReference(axis=0)(omics, vol)
    assert side.shape == (2, 8, 10, 6) and torch.equal(side[:, 0].as_tensor(), side[:, 7].as_tensor())
    grid3 = MetaTensor(torch.rand(2, 4, 5, 3))
    assert AlignToReference(mode="trilinear")(grid3, vol).shape == (2, 8, 10, 6)


def test_resize_that_skips_grid_pixels_is_refused_unless_allowed():
    omics = MetaTensor(torch.rand(2, 34, 34), meta={"omics_channels": ["a", "b"]})
    ref = torch.zeros(3, 32, 32)
    with pytest.raises(SkippedPixelsError, match=r"grid \(34, 34\).*shape \(32, 32\).*skips 132 of 1156"):
        AlignToReference()(omics, ref)  # nearest 34 -> 32 reads 32 of 34 rows and columns
    with pytest.raises(SkippedPixelsError, match="skips 132"):
        AlignToReferenced(keys="omics", ref_key="image")({"omics": omics, "image": ref})
    align = AlignToReference(allow_skip=True)
    with pytest.warns(UserWarning, match="skips 132 of 1156"):
        assert align(omics, ref).shape == (2, 32, 32)
    out = AlignToReferenced(keys="omics", ref_key="image", allow_skip=True)
    with pytest.warns(UserWarning, match="allow_skip=True"):
        assert out({"omics": omics, "image": ref})["omics"].shape == (2, 32, 32)
    assert AlignToReference(mode="bilinear").skipped_pixels((96, 96), (32, 32)) == 96 * 96 - 32 * 32
    assert AlignToReference(mode="bilinear").skipped_pixels((64, 64), (32, 32)) == 0
    assert AlignToReference().skipped_pixels((32, 32), (32, 32, 5)) == 0  # broadcast along the last axis
    assert AlignToReference().skipped_pixels((5, 7), (64, 64)) == 0  # enlarging never skips


def test_bad_reference_dims_are_named():
    omics = torch.rand(2, 4, 5)
    with pytest.raises(ReferenceShapeError, match=r"channel-first.*\(64,\)"):
        AlignToReference()(omics, torch.rand(1, 64))
    with pytest.raises(ReferenceShapeError, match="3-D layout grid"):
        AlignToReference()(torch.rand(2, 4, 5, 3), torch.rand(3, 16, 16))
    with pytest.raises(ReferenceShapeError, match="different spatial shapes"):
        FuseChannels()([torch.rand(3, 8, 8), torch.rand(2, 4, 4)])


def test_fused_batches_collate(files):
    tables, layout = files
    pipeline = Compose(
        [
            OmicsChannelsd(keys="omics", tables=tables, preprocessor=layout, ref_key="image"),
            FuseChannelsd(keys=["image", "omics"], name="image"),
        ]
    )
    data = [{"image": _image((1, 16, 16)), "omics": f"S{i:04d}", "label": i % 2} for i in (0, 1, 3, 4)]
    batch = next(iter(DataLoader(Dataset(data, pipeline), batch_size=4, num_workers=0)))
    assert batch["image"].shape == (4, 3, 16, 16)
    assert batch["label"].tolist() == [0, 1, 1, 0]


def test_concat_itemsd_also_works(files):
    """MONAI's ConcatItemsd gives the same tensor (without the channel bookkeeping)."""
    tables, layout = files
    d = OmicsChannelsd(keys="omics", tables=tables, preprocessor=layout, ref_key="image")(
        {"image": _image((1, 16, 16)), "omics": "S0004"}
    )
    a = ConcatItemsd(keys=["image", "omics"], name="fused")(d)["fused"]
    b = FuseChannelsd(keys=["image", "omics"], name="fused")(d)["fused"]
    torch.testing.assert_close(a.as_tensor(), b.as_tensor())


def test_bundle_config_snippet(files, tmp_path):
    """The preprocessing block documented in docs/transforms.md parses and runs with monai.bundle."""
    from monai.bundle import ConfigParser

    tables, layout = files
    image = tmp_path / "patch.npy"
    np.save(image, np.random.default_rng(0).random((20, 16)).astype(np.float32))
    config = {
        "imports": ["$from omicsfusion.transforms import check_omics_augmentation"],
        "bundle_root": str(tmp_path),
        "omics_tables": tables,
        "layout_file": layout,
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "LoadImaged", "keys": "image", "image_only": True},
                {"_target_": "EnsureChannelFirstd", "keys": "image", "channel_dim": "no_channel"},
                {
                    "_target_": "omicsfusion.transforms.OmicsChannelsd",
                    "keys": "omics",
                    "tables": "@omics_tables",
                    "preprocessor": "@layout_file",
                    "ref_key": "image",
                },
                {"_target_": "omicsfusion.transforms.FuseChannelsd", "keys": ["image", "omics"], "name": "image"},
            ],
        },
        "checked": "$check_omics_augmentation(@preprocessing)",
    }
    parser = ConfigParser(config)
    pipeline = parser.get_parsed_content("checked")
    out = pipeline({"image": str(image), "omics": "S0007", "label": 0})["image"]
    assert out.shape == (3, 20, 16)
    assert out.meta["channel_names"] == ["image_0", "rna", "cnv"]
