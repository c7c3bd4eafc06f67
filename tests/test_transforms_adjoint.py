"""Back-projection is the exact adjoint of layout + alignment: <T x, a> == <x, T* a>."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from omicsfusion.data import OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import AlignToReference, FuseChannels, ReferenceShapeError, omics_feature_attributions


def _dot(a, b) -> float:
    return float((torch.as_tensor(a, dtype=torch.float64) * torch.as_tensor(b, dtype=torch.float64)).sum())


@pytest.mark.parametrize(
    ("mode", "grid", "spatial", "axis"),
    [
        ("nearest", (4, 5), (12, 15), -1),  # integer blocks
        ("nearest", (4, 5), (13, 7), -1),  # uneven blocks, one axis shrinks
        ("nearest", (4, 5), (8, 10, 6), -1),  # 2-D map broadcast into a volume
        ("nearest", (4, 5), (7, 8, 10), 0),
        ("bilinear", (4, 5), (13, 7), -1),
        ("bilinear", (4, 5), (9, 11, 3), 1),
        ("nearest", (3, 4, 2), (7, 8, 5), -1),  # 3-D layout grid
        ("trilinear", (3, 4, 2), (7, 8, 5), -1),
    ],
)
def test_alignment_adjoint(mode, grid, spatial, axis):
    g = torch.Generator().manual_seed(0)
    x = torch.randn((2, *grid), generator=g, dtype=torch.float64)
    a = torch.randn((2, *spatial), generator=g, dtype=torch.float64)
    align = AlignToReference(mode=mode, axis=axis)
    tx = align(x, torch.zeros((1, *spatial)))
    assert tx.shape == a.shape
    lhs = _dot(tx.as_tensor(), a)
    rhs = _dot(x, align.adjoint(a, grid))
    assert lhs == pytest.approx(rhs, rel=1e-5, abs=1e-6)


@pytest.fixture(scope="module")
def pre() -> OmicsPreprocessor:
    rna = modular_table(25, 40, n_modules=3, seed=4)
    meth = modular_table(25, 30, n_modules=3, seed=5)
    meth.columns = [f"M{j}" for j in range(30)]
    table = OmicsTable({"rna": rna, "meth": meth})
    return OmicsPreprocessor(layout=OTLayout(method="random", grid=(7, 7))).fit(table.select(table.sample_ids()))


@pytest.mark.parametrize(
    ("mode", "spatial", "axis"),
    [("nearest", (21, 14), -1), ("nearest", (14, 9, 5), 2), ("bilinear", (20, 15), -1), ("bilinear", (4, 20, 15), 0)],
)
def test_feature_attributions_adjoint_of_fused_input(pre, mode, spatial, axis):
    """T: normalised vectors -> omics channels of the fused input; the helper is T*."""
    rng = np.random.default_rng(1)
    x = {t: rng.normal(size=pre.feature_names(t).size) for t in pre.channel_names}
    ref = torch.rand((3, *spatial))
    omics = AlignToReference(mode, axis)(torch.from_numpy(pre.images(x, normalized=True)), ref)
    fused = FuseChannels()([ref, omics])
    attr = torch.from_numpy(rng.normal(size=tuple(fused.shape)))
    lhs = _dot(fused[3:].as_tensor(), attr[3:])
    back = omics_feature_attributions(attr, pre, n_image_channels=3, mode=mode, axis=axis, spatial_dims=len(spatial))
    assert set(back) == {"rna", "meth"} and back["meth"].shape == (30,)
    rhs = sum(float(x[t] @ back[t]) for t in pre.channel_names)
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_feature_attributions_batched_and_checked(pre):
    attr = torch.rand(4, 3, 14, 14)
    batched = omics_feature_attributions(attr, pre, n_image_channels=1)
    assert batched["rna"].shape == (4, pre.feature_names("rna").size)
    single = omics_feature_attributions(attr[2], pre, n_image_channels=1)
    np.testing.assert_allclose(single["rna"], batched["rna"][2])
    with pytest.raises(ReferenceShapeError, match="expected 2 image \\+ 2 omics"):
        omics_feature_attributions(attr, pre, n_image_channels=2)


def test_nearest_block_sum_by_hand():
    """Integer upsampling: the adjoint is the sum over each block."""
    a = torch.arange(24, dtype=torch.float64).reshape(1, 4, 6)
    back = AlignToReference().adjoint(a, (2, 3))
    expected = a.reshape(1, 2, 2, 3, 2).sum(dim=(2, 4))
    torch.testing.assert_close(back, expected)


@settings(max_examples=8, deadline=None)
@given(
    n_features=st.lists(st.integers(3, 25), min_size=1, max_size=3),
    shared=st.booleans(),
    grid=st.sampled_from([(3, 4), (6, 6), (3, 3, 2)]),
    seed=st.integers(0, 99),
)
def test_preprocessor_images_adjoint_property(n_features, shared, grid, seed):
    """Any number of omics types, separate or shared layouts, 2-D or 3-D grids: backproject is the adjoint."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(10)]
    frames = {
        f"t{k}": pd.DataFrame(rng.standard_normal((10, f)), index=ids, columns=[f"t{k}_g{j}" for j in range(f)])
        for k, f in enumerate(n_features)
    }
    table = OmicsTable(frames)
    pre = OmicsPreprocessor(layout=OTLayout(grid=grid, n_epochs=20), shared=shared).fit(table.select(ids))  # split mass
    x = {t: rng.standard_normal((2, pre.feature_names(t).size)) for t in pre.channel_names}
    maps = rng.standard_normal((2, len(n_features), *grid))
    lhs = (pre.images(x, normalized=True).astype(np.float64) * maps).sum(axis=tuple(range(1, maps.ndim)))
    back = pre.backproject(maps)
    rhs = sum((x[t] * back[t]).sum(axis=1) for t in pre.channel_names)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-5)
