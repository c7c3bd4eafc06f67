"""Every layout method: shapes, one pixel per feature, mass splitting, 3-D, quality."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from omicsfusion.layout import LayoutError, LayoutWarning, OTLayout
from omicsfusion.layout.grid import auto_grid, pixel_coordinates
from omicsfusion.layout.metrics import collisions, feature_positions
from omicsfusion.phantoms import modular_table
from omicsfusion.phantoms.omics import OmicsSpec, draw_omics


@pytest.fixture(scope="module")
def table():
    return modular_table(n_samples=60, n_features=120, n_modules=6, noise=0.5, seed=3)


def _check_matrix(layout: OTLayout, n_features: int) -> None:
    a = layout.matrix_
    assert a.shape == (int(np.prod(layout.grid_)), n_features)
    row_sums = np.asarray(a.sum(axis=1)).ravel()
    occupied = row_sums > 0
    np.testing.assert_allclose(row_sums[occupied], 1.0)  # pixels are weighted means
    assert (np.asarray((a != 0).sum(axis=0)).ravel() > 0).all()  # no feature dropped


@pytest.mark.parametrize("method", ["auto", "multiscale", "emd", "gw", "random", "deepinsight"])
def test_every_method_fits_and_maps(table, method):
    layout = OTLayout(method=method, random_state=1).fit(table)
    assert layout.grid_ == auto_grid(120) == (11, 11)
    _check_matrix(layout, 120)
    images = layout.transform(table)
    assert images.shape == (60, 11, 11) and images.dtype == np.float32
    scores = layout.quality(table)
    assert set(scores) == {"spearman", "knn10", "collisions", "fit_seconds"}
    assert layout.score(table) == scores["spearman"]
    if method != "deepinsight":
        assert scores["collisions"] == 0  # pixels >= features: one pixel each


@pytest.mark.parametrize("method", ["multiscale", "emd", "gw"])
def test_fewer_pixels_than_features_splits_mass(table, method):
    layout = OTLayout(grid=(6, 8), method=method).fit(table)
    _check_matrix(layout, 120)
    assert (np.asarray(layout.matrix_.sum(axis=1)).ravel() > 0).all()  # every pixel used
    assert collisions(layout.matrix_) == 120


def test_one_to_one_method_refuses_small_grid(table):
    with pytest.raises(LayoutError, match=r"48 pixels for 120 features"):
        OTLayout(grid=(6, 8), method="random").fit(table)


@pytest.mark.parametrize("method", ["multiscale", "emd"])
def test_three_dimensional_grid(table, method):
    layout = OTLayout(grid=(5, 5, 5), method=method).fit(table)
    assert layout.transform(table).shape == (60, 5, 5, 5)
    assert layout.quality(table)["collisions"] == 0


def test_explicit_rectangular_grid_and_string(table):
    layout = OTLayout(grid="10x14").fit(table)
    assert layout.grid_ == (10, 14)
    assert layout.quality(table)["collisions"] == 0


def test_max_grid_bounds_the_auto_grid_and_refuses_a_larger_one(table, tmp_path):
    fits = OTLayout(max_grid=(16, 16), n_epochs=20).fit(table)
    assert fits.grid_ == (11, 11)  # the auto grid fits the image grid: kept
    with pytest.warns(LayoutWarning, match=r"120 features on the 72 pixels of max_grid \(8, 9\).*at least 121 pixels"):
        capped = OTLayout(max_grid=(8, 9), n_epochs=20).fit(table)
    assert capped.grid_ == (8, 9)  # 120 features on 72 pixels by mass splitting, none dropped
    _check_matrix(capped, 120)
    assert OTLayout.load(capped.save(tmp_path / "capped.npz")).max_grid == (8, 9)
    with pytest.raises(LayoutError, match=r"grid \(12, 12\) does not fit inside max_grid \(8, 9\)"):
        OTLayout(grid=(12, 12), max_grid=(8, 9)).fit(table)


def test_auto_grid_rule():
    assert auto_grid(1577) == (40, 40)
    assert auto_grid(1500) == (39, 39)
    assert auto_grid(12) == (4, 3)
    for n in range(1, 300):
        h, w = auto_grid(n)
        assert h * w >= n and h - 1 <= w <= h


def test_fit_is_deterministic(table):
    a = OTLayout(random_state=5).fit(table).matrix_
    b = OTLayout(random_state=5).fit(table).matrix_
    assert (a != b).nnz == 0


def test_verbose_reports_progress_on_the_layout_logger(table, caplog):
    with caplog.at_level(logging.INFO, logger="omicsfusion.layout"):
        OTLayout(verbose=True).fit(table)
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    assert "embedding epoch" in text and "OT placement" in text and "done in" in text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="omicsfusion.layout"):
        OTLayout(method="random").fit(table)
    assert not caplog.records  # quiet unless verbose (the lines go to DEBUG)


def test_multiscale_beats_random_on_modular_data():
    table = modular_table(n_samples=150, n_features=600, n_modules=10, noise=0.5, seed=0)
    good = OTLayout(method="auto").fit(table).quality(table)
    rand = OTLayout(method="random").fit(table).quality(table)
    assert good["spearman"] > 0.5 and rand["spearman"] < 0.1
    assert good["knn10"] > 0.15 and good["knn10"] > 5 * rand["knn10"]
    assert good["collisions"] == 0


def test_abs_metric_places_anti_correlated_module_members_together():
    spec = OmicsSpec("rna", tuple(f"g{i:03d}" for i in range(200)), module_size=20)
    table = draw_omics(spec, [f"s{i}" for i in range(60)], np.zeros((60, 10)), np.random.default_rng(0))
    module = np.arange(200) // 20
    sign = np.empty(200)  # loading signs: the leading eigenvector of each module's correlations, majority positive
    for m in range(10):
        vector = np.linalg.eigh(np.corrcoef(table.to_numpy()[:, module == m], rowvar=False))[1][:, -1]
        sign[module == m] = np.sign(vector) * np.sign(np.sign(vector).sum())
    assert 40 < (sign < 0).sum() < 80

    def negatives_to_centroid(metric):
        layout = OTLayout(metric=metric).fit(table)
        positions = feature_positions(layout.matrix_, pixel_coordinates(layout.grid_))
        return np.mean(
            [
                np.linalg.norm(
                    positions[(module == m) & (sign < 0)] - positions[(module == m) & (sign > 0)].mean(0), axis=1
                ).mean()
                for m in range(10)
            ]
        )

    unsigned, signed = negatives_to_centroid("abs_correlation"), negatives_to_centroid("correlation")
    assert unsigned < 3.0 and signed > 3 * unsigned  # grid 15x14; a module covers about 5x4 pixels


def test_binary_table_with_identical_genes_fits_without_numpy_warnings():
    """Two genes with one profile (mutation calls often have them) embed at one point: no 0 ** -0.1."""
    import warnings

    import pandas as pd

    rng = np.random.default_rng(0)
    calls = (rng.random((80, 60)) < 0.1).astype(float)
    calls[:, 1] = calls[:, 0]  # identical mutation profiles
    calls[:, 3] = calls[:, 2]
    copy_number = rng.integers(-2, 3, (80, 60)).astype(float)
    copy_number[:, 5] = copy_number[:, 4]
    table = pd.DataFrame(np.hstack([calls, copy_number]), columns=[f"g{i:03d}" for i in range(120)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layout = OTLayout(random_state=0).fit(table)
    _check_matrix(layout, 120)
