"""Bad input: each case raises LayoutError naming the feature / sample."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from omicsfusion.layout import LayoutError, LayoutWarning, OTLayout
from omicsfusion.layout.errors import FeatureMismatchError
from omicsfusion.layout.metrics import ABS_DIMS, unit_profiles
from omicsfusion.phantoms import modular_table


@pytest.fixture()
def table():
    return modular_table(n_samples=20, n_features=30, n_modules=3, noise=0.5, seed=5)


def _fit(X, **params):
    return OTLayout(method="random", **params).fit(X)


def test_non_numeric_columns_named(table):
    table["tissue"] = "lung"
    with pytest.raises(LayoutError, match=r"non-numeric.*'tissue'"):
        _fit(table)


def test_duplicate_feature_names_named(table):
    table.columns = ["G_dup"] * 2 + list(table.columns[2:])
    with pytest.raises(LayoutError, match=r"duplicate feature name.*'G_dup'"):
        _fit(table)


def test_duplicate_sample_ids_named(table):
    table.index = ["S_dup"] * 2 + list(table.index[2:])
    with pytest.raises(LayoutError, match=r"duplicate sample id.*'S_dup'"):
        _fit(table)


def test_nan_and_inf_named_or_imputed(table):
    table.iloc[4, 7] = np.nan
    table.iloc[5, 8] = np.inf
    with pytest.raises(LayoutError, match=rf"2 NaN/inf.*S0004/{table.columns[7]}.*impute"):
        _fit(table)
    for policy in ("mean", "median"):
        layout = _fit(table, impute=policy)
        assert layout.feature_names_.size == 30 and np.isfinite(layout.impute_values_).all()
        assert np.isfinite(layout.transform(table)).all()  # training fill values reused


def test_constant_features_dropped_with_count(table):
    table["flat1"] = 1.0
    table["flat2"] = 0.0
    with pytest.warns(LayoutWarning, match=r"dropped 2 constant feature\(s\) of 32.*'flat1'"):
        layout = _fit(table)
    assert layout.feature_names_.size == 30 and layout.n_features_in_ == 32


def test_fewer_than_two_samples(table):
    with pytest.raises(LayoutError, match="at least 2 samples"):
        _fit(table.iloc[:1])


def test_grid_too_small_names_sizes(table):
    with pytest.raises(LayoutError, match=r"grid 4x5 has 20 pixels for 30 features"):
        _fit(table, grid=(4, 5))
    with pytest.raises(LayoutError, match="grid"):
        _fit(table, grid=(0, 5))
    with pytest.raises(LayoutError, match="grid"):
        _fit(table, grid="big")


def test_unknown_method_metric_policy(table):
    with pytest.raises(LayoutError, match="method"):
        OTLayout(method="magic").fit(table)
    with pytest.raises(LayoutError, match="metric"):
        OTLayout(method="random", metric="manhattan").fit(table)
    with pytest.raises(LayoutError, match="impute"):
        _fit(table, impute="zero")


def test_spearman_metric(table):
    layout = OTLayout(method="emd", metric="spearman").fit(table)
    assert layout.quality(table)["collisions"] == 0


@pytest.mark.parametrize("metric", ["abs_correlation", "abs_spearman"])
def test_abs_profiles_square_the_correlation(table, metric):
    def similarity(values):
        r = np.corrcoef(rankdata(values, axis=0) if metric == "abs_spearman" else values, rowvar=False)
        return r**2

    values = table.to_numpy()  # 20 samples <= ABS_DIMS: exact
    values[:, 3] = 2.0  # a constant feature keeps a zero profile
    profiles = unit_profiles(values, metric)
    assert profiles.shape == (30, 20 * 21 // 2) and not profiles[3].any()
    keep = np.arange(30) != 3
    np.testing.assert_allclose((profiles @ profiles.T)[np.ix_(keep, keep)], similarity(values[:, keep]), atol=1e-12)
    many = modular_table(n_samples=200, n_features=60, n_modules=6, noise=0.5, seed=3).to_numpy()
    profiles = unit_profiles(many, metric)  # 200 samples: the leading ABS_DIMS principal dimensions
    assert profiles.shape == (60, ABS_DIMS * (ABS_DIMS + 1) // 2)
    np.testing.assert_allclose(np.linalg.norm(profiles, axis=1), 1.0)
    error = np.abs(profiles @ profiles.T - similarity(many))
    assert error.mean() < 0.01 and error.max() < 0.1


def test_feature_mismatch_reports_count_and_names(table):
    layout = _fit(table)
    other = table.rename(columns={c: c + "_x" for c in table.columns[:20]})
    with pytest.raises(
        LayoutError,
        match=r"the table: 10 of 30 layout features present \(min_overlap=0\.5\); "
        "missing 'G0",
    ):
        layout.score(other)
    with pytest.raises(FeatureMismatchError, match="10 of 30"):
        layout.feature_index(other.columns, min_overlap=0.9)
    assert (layout.feature_index(other.columns, min_overlap=0.2) >= 0).sum() == 10
