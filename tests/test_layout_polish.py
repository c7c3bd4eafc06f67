"""Grid polish: stays one-to-one, raises kNN overlap, keeps global order, and 3-D works."""

from __future__ import annotations

import numpy as np
import pytest

from omicsfusion.layout import OTLayout
from omicsfusion.layout.polish import neighbour_graph, polish, windows
from omicsfusion.phantoms import modular_table


@pytest.fixture(scope="module")
def table():
    return modular_table(n_samples=80, n_features=300, n_modules=6, noise=0.8, seed=5)


def test_windows_tile_every_pixel_once():
    coords = np.stack(np.meshgrid(np.arange(7), np.arange(9), indexing="ij"), -1).reshape(-1, 2).astype(float)
    for offset in (0, 2):
        parts = windows(coords, 4, offset)
        assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(63))
        assert max(p.size for p in parts) <= 16


def test_neighbour_graph_is_symmetric_binary():
    graph = neighbour_graph(np.array([[1, 2], [0, 2], [0, 1], [0, 1]]))
    assert (graph != graph.T).nnz == 0 and set(graph.data) == {1.0}


def test_polish_keeps_features_on_distinct_pixels():
    rng = np.random.default_rng(0)
    coords = np.stack(np.meshgrid(np.arange(10), np.arange(10), indexing="ij"), -1).reshape(-1, 2).astype(float)
    pixel = rng.permutation(100)[:90]
    reduced = rng.standard_normal((90, 5))
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True)
    neighbors = np.argsort(-(reduced @ reduced.T) + 2 * np.eye(90), axis=1)[:, :10]
    out = polish(pixel, coords, neighbors, reduced, sweeps=3, global_weight=0.5, seed=0)
    assert np.unique(out).size == 90 and out.min() >= 0 and out.max() < 100
    assert not np.array_equal(out, pixel)  # it did move features


def test_polish_raises_knn_overlap(table):
    plain = OTLayout(polish_sweeps=0, random_state=0).fit(table).quality(table)
    polished = OTLayout(random_state=0).fit(table).quality(table)
    assert polished["collisions"] == 0
    assert polished["knn10"] > plain["knn10"]
    assert polished["spearman"] > 0.5


def test_polish_on_a_3d_grid(table):
    layout = OTLayout(grid=(7, 7, 7), random_state=0).fit(table)
    assert layout.quality(table)["collisions"] == 0
