"""H&E stain transforms: HED jitter (deterministic, identity at zero strength, valid range, meta kept) and
Macenko normalisation (MONAI's, with background-only patches kept and counted or refused by name)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from omicsfusion.errors import TransformError
from omicsfusion.transforms import (
    MacenkoNormalize,
    MacenkoNormalized,
    OmicsAugmentationError,
    RandHEDJitter,
    RandHEDJitterd,
    StainNormalizationError,
    check_omics_augmentation,
)

RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])


def he_patch(size: int = 32, seed: int = 0, stain: float = 1.0) -> np.ndarray:
    """A synthetic H&E patch (3, H, W) in 0..255: random haematoxylin and eosin amounts (times ``stain``)."""
    rng = np.random.default_rng(seed)
    amounts = [rng.gamma(2.0, 0.3, (size, size)), rng.gamma(2.0, 0.2, (size, size))]
    stains = stain * np.stack([*amounts, np.zeros((size, size))])
    optical_density = np.tensordot(RGB_FROM_HED.T, stains, axes=1)
    return (240 * np.exp(-optical_density)).clip(0, 255).astype(np.float32)


def meta_patch(scale: float = 1 / 255) -> MetaTensor:
    return MetaTensor(torch.as_tensor(he_patch() * scale), meta={"filename_or_obj": "slide_7.svs"})


def test_hed_jitter_is_identity_at_zero_strength_and_keeps_meta():
    patch = meta_patch()
    out = RandHEDJitter(sigma=0.0, bias=0.0, prob=1.0)(patch)
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "slide_7.svs"
    torch.testing.assert_close(out.as_tensor(), patch.as_tensor(), atol=1e-5, rtol=0)


def test_hed_jitter_is_deterministic_under_a_seed_and_stays_in_range():
    patch = meta_patch()
    first = RandHEDJitter(sigma=0.3, bias=0.3, prob=1.0).set_random_state(7)(patch)
    again = RandHEDJitter(sigma=0.3, bias=0.3, prob=1.0).set_random_state(7)(patch)
    other = RandHEDJitter(sigma=0.3, bias=0.3, prob=1.0).set_random_state(8)(patch)
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other)
    assert float(first.min()) >= 0.0 and float(first.max()) <= 1.0
    assert first.dtype == patch.dtype and first.shape == patch.shape


def test_hed_jitter_changes_stain_amounts_not_the_picture():
    jitter = RandHEDJitter(sigma=0.2, bias=0.0, prob=1.0).set_random_state(0)
    patch = meta_patch()
    out = jitter(patch)
    assert not torch.allclose(out, patch, atol=1e-3)
    # a pure rescale of the stains keeps which pixels are darker: the ranks of one channel barely move
    corr = np.corrcoef(np.asarray(out[0]).ravel(), np.asarray(patch[0]).ravel())[0, 1]
    assert corr > 0.95


def test_hed_jitter_refuses_input_outside_unit_range_by_name():
    with pytest.raises(TransformError, match=r"slide_7.svs.*\[0, 1\]"):
        RandHEDJitter(prob=1.0)(meta_patch(scale=1.0))
    with pytest.raises(TransformError, match=r"\(3, H, W\)"):
        RandHEDJitter(prob=1.0)(torch.rand(1, 8, 8))


def test_hed_jitter_dict_draws_once_for_all_keys_and_skips_at_prob_zero():
    data = {"image": meta_patch(), "copy": meta_patch()}
    out = RandHEDJitterd(["image", "copy"], sigma=0.3, bias=0.1, prob=1.0).set_random_state(3)(data)
    torch.testing.assert_close(out["image"], out["copy"])
    again = RandHEDJitterd(["image", "copy"], sigma=0.3, bias=0.1, prob=1.0).set_random_state(3)(data)
    torch.testing.assert_close(out["image"], again["image"])
    untouched = RandHEDJitterd("image", prob=0.0)(data)
    torch.testing.assert_close(untouched["image"], data["image"])


def test_stain_transforms_never_touch_omics():
    with pytest.raises(OmicsAugmentationError):
        check_omics_augmentation(Compose([RandHEDJitterd(keys=["image", "omics"])]))
    with pytest.raises(OmicsAugmentationError):
        check_omics_augmentation(Compose([MacenkoNormalized(keys="omics")]))


def test_macenko_normalises_to_the_reference_stain_and_keeps_meta():
    patch = MetaTensor(torch.as_tensor(he_patch()), meta={"filename_or_obj": "slide_7.svs"})
    out = MacenkoNormalize()(patch)
    assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "slide_7.svs"
    assert out.shape == patch.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 255
    assert not torch.allclose(out, patch)
    # the same tissue stained 1.6 times as strongly comes out (nearly) in the same colours
    strong = torch.as_tensor(he_patch(stain=1.6))
    assert float((MacenkoNormalize()(strong) - out).abs().mean()) < 0.2 * float((strong - patch).abs().mean())


def test_macenko_keeps_and_counts_background_patches_or_refuses_them_by_name():
    blank = MetaTensor(torch.full((3, 16, 16), 250.0), meta={"filename_or_obj": "glass.png"})
    normalize = MacenkoNormalize()
    out = normalize(blank)
    torch.testing.assert_close(out, blank)
    normalize(blank)
    assert normalize.skipped == 2
    with pytest.raises(StainNormalizationError, match=r"glass\.png"):
        MacenkoNormalize(on_failure="raise")(blank)
    out = MacenkoNormalized("image")({"image": blank})
    torch.testing.assert_close(out["image"], blank)
