"""FeatureNormalizer and OmicsPreprocessor: training-only fit, one-file round trip, adjoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsfusion.data import NonFiniteError, OmicsDataError, OmicsTable
from omicsfusion.data.errors import MissingSampleError
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import FeatureNormalizer, OmicsPreprocessor


@pytest.fixture(scope="module")
def table(rna_cnv_table: OmicsTable) -> OmicsTable:
    return rna_cnv_table


def test_normalizer_methods_and_round_trip():
    rng = np.random.default_rng(0)
    X = rng.poisson(5.0, size=(30, 6)).astype(float)
    z = FeatureNormalizer(method="zscore").fit(X)
    out = z.transform(X)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(FeatureNormalizer(method="log1p").fit(X).transform(X), np.log1p(X), rtol=1e-6)
    lz = FeatureNormalizer(method="log1p_zscore").fit(X).transform(X)
    np.testing.assert_allclose(lz.std(0), 1, atol=1e-4)
    np.testing.assert_array_equal(FeatureNormalizer(method="none").fit(X).transform(X), X.astype(np.float32))
    back = FeatureNormalizer.from_arrays(z.to_arrays())
    np.testing.assert_array_equal(back.transform(X), out)
    with pytest.raises(OmicsDataError, match="unknown normalization"):  # parameters are checked by fit
        FeatureNormalizer(method="quantile").fit(X)


def test_normalizer_keeps_the_training_mean_of_its_output():
    """``mean_`` is the mean normalised training row (0 after a z-score); files without it read back as ``None``."""
    X = np.random.default_rng(1).poisson(5.0, size=(40, 4)).astype(float)
    np.testing.assert_allclose(FeatureNormalizer(method="zscore").fit(X).mean_, 0, atol=1e-6)
    none = FeatureNormalizer(method="none").fit(X)
    np.testing.assert_allclose(none.mean_, X.mean(0), rtol=1e-6)
    np.testing.assert_allclose(FeatureNormalizer(method="log1p").fit(X).mean_, np.log1p(X).mean(0), rtol=1e-6)
    np.testing.assert_array_equal(FeatureNormalizer.from_arrays(none.to_arrays()).mean_, none.mean_)
    older = {k: v for k, v in none.to_arrays().items() if k != "mean"}
    assert FeatureNormalizer.from_arrays(older).mean_ is None


def test_normalizer_names_non_finite_feature_and_sample():
    X = np.ones((4, 3))
    X[:, 1] = [1, 2, 3, 4]
    X[2, 2] = np.nan
    with pytest.raises(NonFiniteError, match=r"1 feature.*\['c'\]"):
        FeatureNormalizer().fit(X, feature_names=["a", "b", "c"])
    norm = FeatureNormalizer(method="log1p").fit(np.abs(X[:, :2]), feature_names=["a", "b"])
    with pytest.raises(NonFiniteError, match=r"sample 'S9', feature 'b'"):
        norm.transform(np.array([[1.0, -3.0]]), sample_ids=["S9"])


def test_preprocessor_matches_layout_transform_and_round_trips(table, tmp_path):
    train = table.sample_ids()[:30]
    pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(10, 10))).fit(table.select(train))
    assert pre.channel_names == ["rna", "cnv"] and pre.grid_ == (10, 10)
    test_ids = table.sample_ids()[30:]
    images = pre.transform(table.select(test_ids))
    assert images.shape == (10, 2, 10, 10) and images.dtype == np.float32
    # channel c == layout.transform(normalised vector): the preprocessor adds nothing else
    x = pre.normalize("cnv", table.aligned_rows("cnv", test_ids, pre.feature_names("cnv")))
    np.testing.assert_allclose(images[:, 1], pre.layouts_["cnv"].transform(x), rtol=1e-5, atol=1e-6)
    # statistics come from the training split only
    raw = table.aligned_rows("rna", train, pre.feature_names("rna"))
    np.testing.assert_allclose(pre.normalizers_["rna"].offset_, raw.mean(0), rtol=1e-5)
    path = pre.save(tmp_path / "models" / "layout.npz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["layout.npz"]  # no temp file left
    loaded = OmicsPreprocessor.load(path)
    np.testing.assert_array_equal(loaded.transform(table.select(test_ids)), images)
    assert OTLayout.load(path).grid_ == (10, 10)  # the file is a regular layout file too
    assert OmicsPreprocessor.cached(path) is OmicsPreprocessor.cached(str(path))


def test_auto_grid_is_shared_across_types(table):
    pre = OmicsPreprocessor(layout=OTLayout(method="random")).fit(table.select(table.sample_ids()[:30]))
    assert pre.layouts_["rna"].grid_ == pre.layouts_["cnv"].grid_ == pre.grid_


def test_shared_layout_and_normalization_per_type(table):
    pre = OmicsPreprocessor(
        layout=OTLayout(method="random", grid=(11, 11)), normalization={"rna": "zscore", "cnv": "none"}, shared=True
    ).fit(table.select(table.sample_ids()[:30]))
    assert pre.layouts_["rna"] is pre.layouts_["cnv"]
    assert pre.normalizers_["cnv"].method == "none"
    union = pre.layouts_["rna"].feature_names_
    x = {t: np.random.default_rng(3).normal(size=pre.feature_names(t).size) for t in pre.channel_names}
    img = pre.images(x, normalized=True)
    # channel c equals the shared layout applied to the union vector holding only type c's features
    for c, t in enumerate(pre.channel_names):
        full = pd.Series(0.0, index=union)
        full[pre.feature_names(t)] = x[t]
        np.testing.assert_allclose(img[c], pre.layouts_[t].transform(full.to_numpy()[None])[0], atol=1e-6)


def test_backproject_is_adjoint_of_images(table):
    pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(10, 10))).fit(table.select(table.sample_ids()[:30]))
    rng = np.random.default_rng(0)
    x = {t: rng.normal(size=pre.feature_names(t).size) for t in pre.channel_names}
    a = rng.normal(size=(2, 10, 10))
    lhs = float((pre.images(x, normalized=True).astype(np.float64) * a).sum())
    back = pre.backproject(a)
    rhs = sum(float(x[t] @ back[t]) for t in pre.channel_names)
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_wrong_vector_length_is_named(table):
    pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(10, 10))).fit(table.select(table.sample_ids()[:30]))
    with pytest.raises(OmicsDataError, match=r"'cnv'.*3 features"):
        pre.images({"rna": np.zeros(pre.feature_names("rna").size), "cnv": np.zeros(3)})


def test_max_features_keeps_the_most_variable_features_of_the_training_split(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(12)]
    scale = np.where(np.arange(30) % 3 == 0, 5.0, 0.1)  # every third feature varies 50 times more
    frame = pd.DataFrame(rng.standard_normal((12, 30)) * scale, index=ids, columns=[f"g{j:02d}" for j in range(30)])
    table = OmicsTable({"rna": frame})
    pre = OmicsPreprocessor(layout=OTLayout(method="random"), max_features=10).fit(table.select(ids[:10]))
    assert pre.feature_names("rna").tolist() == [f"g{j:02d}" for j in range(0, 30, 3)]
    assert pre.grid_ == (4, 3)  # the grid is chosen for the kept features
    images = pre.transform(table.select(ids[10:]))  # the full table still maps: extra columns are ignored
    pre.save(tmp_path / "layout.npz")
    loaded = OmicsPreprocessor.load(tmp_path / "layout.npz")
    np.testing.assert_array_equal(loaded.transform(table.select(ids[10:])), images)


def test_a_sample_lacking_a_type_trains_the_others_and_gets_that_channel_masked():
    rna = modular_table(40, 60, n_modules=3, seed=3)
    cnv = modular_table(40, 20, n_modules=2, seed=4)
    cnv.columns = [f"C{j}" for j in range(cnv.shape[1])]
    lacking = list(rna.index[:5])
    table = OmicsTable({"rna": rna, "cnv": cnv.drop(lacking)})
    ids = list(rna.index)
    with pytest.raises(MissingSampleError, match=repr(lacking[0])):
        OmicsPreprocessor(layout=OTLayout(grid=(9, 9))).fit(table.select(ids))
    pre = OmicsPreprocessor(layout=OTLayout(grid=(9, 9)), missing="mask").fit(table.select(ids))
    # each type's normaliser saw the training samples it holds: cnv is z-scored over the 35 others
    held = pre.normalized_rows(table, "cnv", ids[5:])
    np.testing.assert_allclose(held.mean(0), 0, atol=1e-5)
    images = pre.transform(table.select(ids[:7]))
    cnv_channel = pre.channel_names.index("cnv")
    assert not images[:5, cnv_channel].any() and images[5:, cnv_channel].any()
    rna_only = pre.images({"rna": pre.normalized_rows(table, "rna", ids[:7])}, ["rna"], normalized=True)
    np.testing.assert_allclose(images[:, 1 - cnv_channel], rna_only[:, 0], atol=1e-6)
    with pytest.raises(MissingSampleError):
        pre.set_params(missing="raise").transform(table.select(ids[:7]))
    with pytest.raises(OmicsDataError, match="missing must be one of"):
        pre.set_params(missing="zero").transform(table.select(ids))


def test_masking_needs_a_normalisation_whose_zero_carries_no_signal(table):
    with pytest.raises(OmicsDataError, match=r"must carry no signal.*'log1p'"):
        OmicsPreprocessor(layout=OTLayout(grid=(9, 9)), normalization="log1p", missing="mask").fit(table)
