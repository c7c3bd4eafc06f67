"""Bad input: each case raises LayoutError naming the feature / sample."""

from __future__ import annotations

import numpy as np
import pytest

from omicsfusion.layout import LayoutError, LayoutWarning, OTLayout, modular_table


@pytest.fixture()
def table():
    return modular_table(n_samples=20, n_features=30, n_modules=3, noise=0.5, seed=5)


def _fit(X, **params):
    return OTLayout(method="random", **params).fit(X)


def test_non_numeric_columns_named(table):
    table["tissue"] = "lung"
    with pytest.raises(LayoutError, match="non-numeric.*'tissue'"):
        _fit(table)


def test_duplicate_feature_names_named(table):
    table.columns = ["G_dup"] * 2 + list(table.columns[2:])
    with pytest.raises(LayoutError, match="duplicate feature name.*'G_dup'"):
        _fit(table)
    with pytest.raises(LayoutError, match="duplicate feature name.*'a'"):
        OTLayout(method="random").fit(np.random.default_rng(0).standard_normal((5, 3)), feature_names=["a", "a", "b"])


def test_duplicate_sample_ids_named(table):
    table.index = ["S_dup"] * 2 + list(table.index[2:])
    with pytest.raises(LayoutError, match="duplicate sample id.*'S_dup'"):
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
        OTLayout(method="random", metric="cosine").fit(table)
    with pytest.raises(LayoutError, match="impute"):
        _fit(table, impute="zero")


def test_spearman_metric(table):
    layout = OTLayout(method="emd", metric="spearman").fit(table)
    assert layout.score(table)["collisions"] == 0


def test_feature_mismatch_reports_count_and_names(table):
    layout = _fit(table)
    other = table.rename(columns={c: c + "_x" for c in table.columns[:20]})
    with pytest.raises(LayoutError, match=r"20 of 30 layout features are missing.*need 50%.*'G0"):
        layout.score(other)
    with pytest.raises(LayoutError, match="20 of 30"):
        layout.feature_index(other.columns, min_overlap=0.9)
    assert (layout.feature_index(other.columns, min_overlap=0.2) >= 0).sum() == 10
