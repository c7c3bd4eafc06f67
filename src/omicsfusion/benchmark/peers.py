"""Adapters for peer tabular-to-image layouts (pyDeepInsight, genomap), used when installed.

Each adapter has the layout engine's shape: ``fit(X)`` on the training fold,
``transform(X) -> (n, H, W)`` for any fold, so the benchmark treats peers and
omicsfusion layouts alike. The peers are optional (the ``bench`` extra); when
one cannot be imported its model is reported as skipped, never faked.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np


def peer_problem(module: str) -> str | None:
    """``None`` when the peer package imports, else why it does not (missing, or a missing dependency)."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install 'omicsfusion[bench]')"
    try:
        importlib.import_module(module)
    except ImportError as err:
        return f"{module} does not import: {err}"
    return None


def _varying(X: np.ndarray) -> np.ndarray:
    """Columns with non-zero variance: peers divide by it (correlation, t-SNE scaling)."""
    return np.flatnonzero(X.std(axis=0) > 0)


class DeepInsightPeer:
    """pyDeepInsight's ``ImageTransformer`` (t-SNE of features, binned to pixels).

    Args:
        grid: (H, W) image size, the same pixels the OT layout uses.
        random_state: seed of the t-SNE.
    """

    name = "pyDeepInsight.ImageTransformer (t-SNE, bin)"

    def __init__(self, grid: tuple[int, int], random_state: int = 0) -> None:
        self.grid = tuple(grid)
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> DeepInsightPeer:
        from pyDeepInsight import ImageTransformer
        from sklearn.manifold import TSNE

        self.columns_ = _varying(X)
        perplexity = float(min(30, max(2, len(self.columns_) - 1) / 3))
        tsne = TSNE(
            n_components=2, perplexity=perplexity, metric="cosine", init="random", random_state=self.random_state
        )
        self.transformer_ = ImageTransformer(feature_extractor=tsne, discretization="bin", pixels=self.grid)
        self.transformer_.fit(X[:, self.columns_])
        self.grid_ = self.grid
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.transformer_.transform(X[:, self.columns_], img_format="scalar").astype(np.float32)


class GenomapPeer:
    """genomap's Gromov-Wasserstein coupling (Islam & Xing 2023), applied to any fold.

    ``genomap.construct_genomap`` only images the data it was fitted on, so the
    coupling ``T`` it returns is kept and applied to new samples exactly as
    genomap does (``X @ T * n_pixels``, written column-major into the grid).

    Args:
        grid: (H, W); must hold at least as many pixels as there are features.
        num_iter: GW iterations (genomap's default is 1000).
    """

    name = "genomap.construct_genomap_returnT (GW, KL loss)"

    def __init__(self, grid: tuple[int, int], num_iter: int = 200) -> None:
        self.grid = tuple(grid)
        self.num_iter = num_iter

    def fit(self, X: np.ndarray) -> GenomapPeer:
        from genomap import construct_genomap_returnT

        self.columns_ = _varying(X)
        rows, cols = self.grid
        _, coupling = construct_genomap_returnT(X[:, self.columns_], rows, cols, epsilon=0.0, num_iter=self.num_iter)
        self.projection_ = np.asarray(coupling) * (rows * cols)
        self.grid_ = self.grid
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        rows, cols = self.grid
        projected = X[:, self.columns_] @ self.projection_
        flat = np.zeros((len(X), rows * cols), dtype=np.float32)
        flat[:, : projected.shape[1]] = projected
        # genomap fills each image column-major (order="F")
        return flat.reshape(len(X), cols, rows).transpose(0, 2, 1).copy()
