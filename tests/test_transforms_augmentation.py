"""Augmentation rule: spatial on the image before fusion or on the fused tensor; intensity never on omics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    ConcatItemsd,
    CopyItemsd,
    OneOf,
    RandFlipd,
    RandGaussianNoised,
    RandRotate90d,
    RandScaleIntensityd,
    ScaleIntensityd,
)

from omicsfusion.data import OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import (
    FuseChannelsd,
    OmicsAugmentationError,
    OmicsChannelsd,
    check_omics_augmentation,
)


@pytest.fixture(scope="module")
def setup():
    rna = modular_table(12, 30, n_modules=2, seed=3)
    table = OmicsTable({"rna": rna})
    pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(6, 6))).fit(table.select(table.sample_ids()))
    return table, pre


def _pipeline(table, pre, augment):
    """The example training pipeline (see docs/transforms.md)."""
    return check_omics_augmentation(
        Compose(
            [
                # image-only augmentation BEFORE fusion: intensity and spatial
                ScaleIntensityd(keys="image"),
                RandGaussianNoised(keys="image", prob=1.0, std=0.05),
                RandRotate90d(keys="image", prob=1.0, max_k=1, spatial_axes=(0, 1)),
                OmicsChannelsd(
                    keys="omics", tables=table, preprocessor=pre, ref_key="image"
                ),  # on the augmented image grid
                FuseChannelsd(keys=["image", "omics"], name="image"),
                # spatial augmentation of the fused tensor as a whole: omics pixels move with the image
                *augment,
            ]
        ).set_random_state(seed=0)
    )


def test_example_pipeline_keeps_omics_values_and_moves_them_with_the_image(setup):
    table, pre = setup
    image = MetaTensor(torch.rand(1, 12, 18))
    flip = RandFlipd(keys="image", prob=1.0, spatial_axis=1)
    out = _pipeline(table, pre, [flip])({"image": image, "omics": "S0003"})["image"]
    assert out.shape == (2, 18, 12)  # rotated by 90 degrees before alignment
    plain = _pipeline(table, pre, [])({"image": image, "omics": "S0003"})["image"]
    # the flip moved the omics channel exactly like the image channel
    torch.testing.assert_close(out[1].as_tensor(), torch.flip(plain[1].as_tensor(), dims=[1]))
    # no intensity transform touched the omics values
    values = np.unique(pre.images({"rna": table.row("rna", "S0003")}))
    assert np.isin(np.unique(out[1].numpy()), values).all()


@pytest.mark.parametrize(
    "bad",
    [
        [RandGaussianNoised(keys="omics", prob=1.0)],
        [OneOf([RandScaleIntensityd(keys=["image", "omics"], factors=0.1)])],
    ],
)
def test_guard_refuses_intensity_on_omics(bad):
    with pytest.raises(OmicsAugmentationError, match=r"intensity.*'omics'"):
        check_omics_augmentation(Compose([*bad]))


def test_guard_follows_fused_and_copied_keys():
    fused = [ConcatItemsd(keys=["image", "omics"], name="x"), RandGaussianNoised(keys="x", prob=1.0)]
    with pytest.raises(OmicsAugmentationError, match="'x'"):
        check_omics_augmentation(fused)
    copied = [
        CopyItemsd(keys=["image", "omics"], times=1, names=["i2", "o2"]),
        ScaleIntensityd(keys="i2"),
        ScaleIntensityd(keys="o2"),
    ]
    with pytest.raises(OmicsAugmentationError, match="'o2'"):
        check_omics_augmentation(copied)
    ok = [FuseChannelsd(keys=["image", "omics"], name="fused"), RandFlipd(keys="fused", prob=1.0)]
    assert check_omics_augmentation(ok) is ok
