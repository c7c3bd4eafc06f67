"""transform / backproject / feature alignment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omicsfusion.layout import LayoutError, LayoutWarning, OTLayout
from omicsfusion.phantoms import modular_table


@pytest.fixture(scope="module")
def fitted():
    table = modular_table(n_samples=40, n_features=90, n_modules=5, noise=0.5, seed=2)
    return table, OTLayout(random_state=0).fit(table)


def test_transform_is_a_times_x(fitted):
    table, layout = fitted
    images = layout.transform(table.to_numpy())
    expected = (layout.matrix_ @ table.to_numpy().T).T.reshape(-1, *layout.grid_)
    np.testing.assert_allclose(images, expected, rtol=1e-6)
    one = layout.transform(table.to_numpy()[0])
    np.testing.assert_allclose(one[0], images[0])


def test_backproject_is_the_adjoint(fitted):
    _table, layout = fitted
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, layout.feature_names_.size))
    maps = rng.standard_normal((3, *layout.grid_))
    lhs = (layout.transform(x).astype(np.float64) * maps).sum(axis=(1, 2))
    rhs = (x * layout.backproject(maps)).sum(axis=1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5)
    flat = layout.backproject(maps.reshape(3, -1))
    np.testing.assert_allclose(flat, layout.backproject(maps))


@settings(max_examples=12, deadline=None)
@given(
    n_features=st.integers(4, 40),
    height=st.integers(2, 7),
    width=st.integers(2, 7),
    depth=st.sampled_from([None, 2, 3]),
    method=st.sampled_from(["multiscale", "emd", "random"]),
    n_samples=st.integers(3, 12),
    seed=st.integers(0, 99),
)
def test_adjointness_property(n_features, height, width, depth, method, n_samples, seed):
    """2-D and 3-D grids, more or fewer pixels than features: <A x, a> == <x, A.T a>."""
    grid = (height, width) if depth is None else (height, width, depth)
    if method == "random" and np.prod(grid) < n_features:
        grid = (height, -(-n_features // (height * (depth or 1))), *grid[2:])
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    layout = OTLayout(grid=grid, method=method, random_state=seed, n_epochs=20, n_refine=2).fit(X)
    assert layout.grid_ == grid
    x = rng.standard_normal((2, layout.feature_names_.size))
    a = rng.standard_normal((2, *grid))
    axes = tuple(range(1, a.ndim))
    lhs = (layout.transform(x).astype(np.float64) * a).sum(axis=axes)
    rhs = (x * layout.backproject(a)).sum(axis=1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-5)


def test_dataframe_aligned_by_name(fitted):
    table, layout = fitted
    shuffled = table[table.columns[::-1]]
    np.testing.assert_allclose(layout.transform(shuffled), layout.transform(table))


def test_missing_features_filled_and_reported(fitted):
    table, layout = fitted
    partial = table.drop(columns=table.columns[:10])
    with pytest.warns(LayoutWarning, match="10 of 90 layout features missing"):
        images = layout.transform(partial)
    expected = layout.transform(table.assign(**{c: 0.0 for c in table.columns[:10]}))
    np.testing.assert_allclose(images, expected)


def test_low_overlap_refused_with_names(fitted):
    table, layout = fitted
    with pytest.raises(LayoutError, match=r"10 of 90 layout features present.*; missing 'G0"):
        layout.transform(table.iloc[:, :10])
    index = layout.feature_index(list(table.columns[:10]), min_overlap=0.1)
    assert (index >= 0).sum() == 10 and (index == -1).sum() == 80


def test_feature_index_maps_names(fitted):
    table, layout = fitted
    names = list(table.columns[::-1])
    index = layout.feature_index(names)
    assert [names[i] for i in index] == list(layout.feature_names_)


def test_wrong_shapes_refused(fitted):
    _, layout = fitted
    with pytest.raises(LayoutError, match="expects"):
        layout.transform(np.zeros((2, 7)))
    with pytest.raises(LayoutError, match="maps have shape"):
        layout.backproject(np.zeros((2, 3, 3)))


def test_unfitted_layout_refuses():
    with pytest.raises(LayoutError, match="not fitted"):
        OTLayout().transform(np.zeros((1, 3)))


def test_transform_refuses_nan_naming_cell(fitted):
    table, layout = fitted
    bad = table.copy()
    bad.iloc[2, 3] = np.nan
    with pytest.raises(LayoutError, match=f"S0002/{table.columns[3]}"):
        layout.transform(bad)
