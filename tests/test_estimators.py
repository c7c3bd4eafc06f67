"""OTLayout, OmicsPreprocessor and FeatureNormalizer as scikit-learn estimators: Pipeline, clone, params, the
bundles' preprocessor blocks; old layout files.

``tests/data/legacy_*.npz`` were written by ``tests/data/legacy_layouts.py`` with the code before the
estimator API (commit 22f466f): they must still load and render their stored images exactly, and a refit
with the new API must give an equivalent layout (bit-identical only on one machine).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted

from omicsfusion.data import OmicsDataError, OmicsTable
from omicsfusion.data.errors import MissingSampleError
from omicsfusion.layout import LayoutError, OTLayout
from omicsfusion.prepare import bundle_preprocessor
from omicsfusion.preprocessing import FeatureNormalizer, OmicsPreprocessor

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]


def _flatten(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1)


def _classifier(first: object) -> Pipeline:
    return Pipeline(
        [("omics", first), ("flat", FunctionTransformer(_flatten)), ("clf", LogisticRegression(max_iter=500))]
    )


@pytest.fixture(scope="module")
def table(rna_cnv_table: OmicsTable) -> OmicsTable:
    """The table of tests/data/legacy_layouts.py (conftest ``rna_cnv_table``)."""
    return rna_cnv_table


@pytest.fixture(scope="module")
def labels(table) -> pd.Series:
    """A label the first rna module carries (its mean above the median)."""
    signal = table.frame("rna").iloc[:, :20].mean(axis=1)
    return (signal > signal.median()).astype(int)


def test_otlayout_is_a_transformer_in_a_pipeline(table, labels):
    frame = table.frame("rna")
    pipe = _classifier(OTLayout(method="random", grid=(10, 10))).fit(frame, labels)
    layout = pipe.named_steps["omics"]
    assert layout.feature_names_in_.tolist() == frame.columns.tolist() and layout.n_features_in_ == 90
    manual = LogisticRegression(max_iter=500).fit(_flatten(layout.transform(frame)), labels)
    np.testing.assert_array_equal(pipe.predict(frame), manual.predict(_flatten(layout.transform(frame))))
    assert pipe.score(frame, labels) > 0.8
    params = pipe.get_params(deep=True)
    assert params["omics__method"] == "random" and params["omics__grid"] == (10, 10)
    again = clone(pipe).set_params(omics__grid=(12, 12)).fit(frame, labels)
    assert again.named_steps["omics"].grid_ == (12, 12) and pipe.named_steps["omics"].grid_ == (10, 10)


def test_otlayout_score_is_one_float_and_quality_has_every_figure(table):
    frame = table.frame("rna")
    layout = OTLayout(n_epochs=20).fit(frame)
    figures = layout.quality(frame)
    assert set(figures) == {"spearman", "knn10", "collisions", "fit_seconds"}
    assert isinstance(layout.score(frame), float) and layout.score(frame) == figures["spearman"]
    assert layout.score(frame) > OTLayout(method="random").fit(frame).score(frame)


def test_otlayout_clone_and_not_fitted(table):
    layout = OTLayout(method="random", grid=(10, 10), metric="spearman").fit(table.frame("rna"))
    fresh = clone(layout)
    assert fresh.get_params() == layout.get_params()
    check_is_fitted(layout)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    with pytest.raises(LayoutError, match="not fitted"):  # also scikit-learn's NotFittedError
        fresh.transform(table.frame("rna"))
    assert not hasattr(OTLayout(method="random").fit(table.frame("rna").to_numpy()), "feature_names_in_")


def test_preprocessor_is_a_transformer_in_a_pipeline(table, labels):
    ids = table.sample_ids()
    pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(10, 10)))
    pipe = _classifier(pre).fit(table.select(ids[:30]), labels[ids[:30]])
    fitted = pipe.named_steps["omics"]
    assert pre is fitted and fitted.channel_names == ["rna", "cnv"]
    test_images = fitted.transform(table.select(ids[30:]))
    assert test_images.shape == (10, 2, 10, 10)
    np.testing.assert_array_equal(
        pipe.predict(table.select(ids[30:])), pipe.named_steps["clf"].predict(_flatten(test_images))
    )
    params = pipe.get_params(deep=True)
    assert params["omics__layout__grid"] == (10, 10) and params["omics__missing"] == "raise"
    copy = clone(pipe).set_params(omics__layout__grid=(11, 11), omics__shared=True)
    with pytest.raises(NotFittedError):
        check_is_fitted(copy.named_steps["omics"])
    with pytest.raises(LayoutError, match="OmicsPreprocessor is not fitted"):  # also a NotFittedError
        copy.named_steps["omics"].transform(table.select(ids[30:]))
    copy.fit(table.select(ids[:30]), labels[ids[:30]])
    assert copy.named_steps["omics"].grid_ == (11, 11) and copy.named_steps["omics"].shared_
    assert fitted.grid_ == (10, 10) and pre.layout.get_params()["grid"] == (10, 10)  # the template is never fitted
    assert not hasattr(pre.layout, "matrix_")


def test_preprocessor_fits_a_mapping_of_frames_like_a_table(table):
    frames = {t: table.frame(t) for t in table.types}
    pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(10, 10)), omics_types=["cnv"])
    from_frames, from_table = clone(pre).fit(frames), clone(pre).fit(table)
    assert from_frames.channel_names == ["cnv"] and from_frames.fingerprint == from_table.fingerprint
    np.testing.assert_array_equal(from_frames.transform(frames), from_table.transform(table))
    with pytest.raises(ValueError, match="OmicsTable or a mapping"):
        pre.fit(table.frame("rna"))


@pytest.mark.parametrize("name", ["per_type", "shared"])
def test_layout_files_of_the_current_format_load_and_refits_match_them(table, name):
    """A stored file renders its stored images exactly, on any CPU; a refit gives an equivalent layout.

    A refit is not bit-identical across CPUs (BLAS kernels differ in the last bits, docs/testing.md), so it is
    checked for what a user relies on: the same grid, features and normalisation, a one-to-one placement of
    every feature, a quality within 0.15 of the stored layout's, and images that hold the same values per
    sample and channel (only where each value sits may differ).
    """
    ids = table.sample_ids()
    expected = np.load(DATA / "legacy_images.npz")[name]
    loaded = OmicsPreprocessor.load(DATA / f"legacy_{name}.npz")
    np.testing.assert_array_equal(loaded.transform(table.select(ids[30:])), expected)
    assert OTLayout.load(DATA / f"legacy_{name}.npz").grid_ == loaded.grid_
    assert loaded.get_params()["shared"] == (name == "shared") and loaded.get_params()["omics_types"] == ["rna", "cnv"]
    if name == "per_type":  # the same settings as tests/data/legacy_layouts.py, through the new API
        pre = OmicsPreprocessor(layout=OTLayout(metric="abs_correlation", n_epochs=20, random_state=0), max_features=60)
    else:
        pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(11, 11)), shared=True)
    refit = pre.fit(table.select(ids[:30]))
    assert refit.grid_ == loaded.grid_ and refit.channel_names == loaded.channel_names
    for key, layout in refit.layouts_.items():
        stored = loaded.layouts_[key]
        assert list(layout.feature_names_) == list(stored.feature_names_)
        placed = layout.matrix_.toarray()
        assert ((placed == 0) | (placed == 1)).all() and (placed.sum(axis=0) == 1).all()  # one pixel per feature
    quality, stored_quality = refit.quality(table.select(ids[:30])), loaded.quality(table.select(ids[:30]))
    for key, figures in quality.items():
        assert figures["spearman"] == pytest.approx(stored_quality[key]["spearman"], abs=0.15)
    images = refit.transform(table.select(ids[30:]))
    assert images.shape == expected.shape
    flat = (len(images), images.shape[1], -1)
    np.testing.assert_allclose(
        np.sort(images.reshape(flat), axis=-1), np.sort(expected.reshape(flat), axis=-1), rtol=1e-5, atol=1e-6
    )


def test_layout_refit_is_identical_on_one_machine(table):
    """Determinism within one machine: the same settings and seed give the very same layout file contents."""
    ids = table.sample_ids()
    settings = OmicsPreprocessor(
        layout=OTLayout(metric="abs_correlation", n_epochs=20, random_state=0), max_features=60
    )
    first, second = clone(settings).fit(table.select(ids[:30])), clone(settings).fit(table.select(ids[:30]))
    assert first.fingerprint == second.fingerprint


def test_select_keeps_the_order_given_and_each_type_its_own_samples():
    rna = pd.DataFrame(np.arange(8.0).reshape(4, 2), index=["a", "b", "c", "d"], columns=["g1", "g2"])
    table = OmicsTable({"rna": rna, "cnv": rna.drop(["b"])})
    chosen = table.select(["c", "b", "a"])
    assert chosen.all_sample_ids() == ["c", "b", "a"] and chosen.sample_ids("cnv") == ["c", "a"]
    np.testing.assert_array_equal(chosen.rows("rna", ["c", "b", "a"]), rna.loc[["c", "b", "a"]].to_numpy())
    assert table.all_sample_ids(["cnv"]) == ["a", "c", "d"]
    with pytest.raises(MissingSampleError, match="'z'"):
        table.select(["a", "z"])


def test_preprocessor_quality_is_its_layouts_quality_on_the_normalised_rows(table):
    ids = table.sample_ids()
    for shared in (False, True):
        pre = OmicsPreprocessor(layout=OTLayout(n_epochs=20, metric="abs_correlation"), shared=shared)
        pre.fit(table.select(ids[:30]))
        figures = pre.quality(table.select(ids[:30]))
        assert set(figures) == {"rna", "cnv"} and set(figures["rna"]) == {
            "spearman",
            "knn10",
            "collisions",
            "fit_seconds",
        }
        frame = table.frame("cnv", ids[:30])
        frame = (frame - frame.mean()) / frame.std(ddof=0)  # the z-scores the layout was fitted on
        assert figures["cnv"]["spearman"] == pytest.approx(pre.layouts_["cnv"].quality(frame)["spearman"], abs=1e-3)
        assert pre.score(table.select(ids[:30])) == pytest.approx(np.mean([f["spearman"] for f in figures.values()]))


def test_estimators_take_keyword_arguments_only():
    for positional in (
        lambda: OTLayout("auto"),
        lambda: OmicsPreprocessor(OTLayout()),
        lambda: FeatureNormalizer("zscore"),
    ):
        with pytest.raises(TypeError, match="positional argument"):
            positional()


def test_feature_normalizer_is_a_transformer_checked_when_fitted(table, labels):
    frame = table.frame("rna")
    pipe = Pipeline([("norm", FeatureNormalizer(method="zscore")), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(frame, labels)
    norm = pipe.named_steps["norm"]
    assert norm.feature_names_.tolist() == frame.columns.tolist() and norm.n_features_in_ == frame.shape[1]
    np.testing.assert_allclose(norm.transform(frame).mean(0), 0, atol=1e-4)
    assert pipe.get_params()["norm__method"] == "zscore"
    fresh = clone(norm).set_params(method="none")
    assert fresh.get_params() == {"method": "none"} and norm.method == "zscore"
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    with pytest.raises(NotFittedError):
        fresh.transform(frame)
    check_is_fitted(fresh.fit(frame))
    with pytest.raises(OmicsDataError, match="expecting 90 features"):  # scikit-learn's check, a named error
        FeatureNormalizer().fit(frame.to_numpy()).transform(frame.to_numpy()[:, :10])
    unknown = FeatureNormalizer(method="quantile")  # stored as given; fit refuses it
    assert unknown.method == "quantile"
    with pytest.raises(OmicsDataError, match="unknown normalization 'quantile'"):
        unknown.fit(frame)


@pytest.mark.parametrize(
    "bundle", ["neuro_mri_molecular", "pan_cancer_classification", "pathology_spatial_transcriptomics"]
)
def test_bundle_preprocessor_block_builds_the_estimators_prepare_clones(bundle):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(REPO / "bundles" / bundle / "configs" / "train.json"))
    assert "layout_params" not in parser.config and parser["prepare"]["preprocessor"] == "@preprocessor"
    parser.update({"seed": 3, "preprocessor#layout#method": "random"})  # CLI-style overrides of nested keys
    template = parser.get_parsed_content("preprocessor")
    assert type(template) is OmicsPreprocessor and type(template.layout) is OTLayout
    assert template.layout.method == "random" and template.layout.random_state == 3
    assert set(parser["preprocessor"]) - {"_target_", "layout"} <= set(OmicsPreprocessor().get_params(deep=False))
    assert set(parser["preprocessor"]["layout"]) - {"_target_"} <= set(OTLayout().get_params())
    unfitted = bundle_preprocessor(template, ["rna"])
    assert unfitted is not template and unfitted.omics_types == ["rna"] and template.omics_types is None
    assert unfitted.layout is not template.layout and unfitted.layout.get_params() == template.layout.get_params()
    with pytest.raises(OmicsDataError, match=r"omics_types \['cnv'\] are not the run's"):
        bundle_preprocessor(clone(template).set_params(omics_types=["cnv"]), ["rna"])


def test_feature_normalizer_passes_scikit_learns_estimator_checks():
    """All of ``check_estimator`` but one: ``transform`` takes one sample's ``(F,)`` vector on purpose."""
    check_estimator(
        FeatureNormalizer(),
        expected_failed_checks={
            "check_fit2d_predict1d": "transform normalises one sample's (F,) vector (OmicsRendering.normalize)"
        },
    )
