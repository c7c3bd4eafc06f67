"""Baseline layouts for comparison only: random placement and DeepInsight binning.

DeepInsight (Sharma et al. 2019) embeds features with t-SNE (or PCA) and
bins the embedding onto the grid, so several features can share a pixel.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .embed import pca_init, reduce

_TSNE_MAX = 5000


def random_plan(n_features: int, n_pixels: int, seed: int) -> sp.csr_matrix:
    """Each feature on a distinct random pixel."""
    pixels = np.random.default_rng(seed).permutation(n_pixels)[:n_features]
    return sp.csr_matrix((np.ones(n_features), (np.arange(n_features), pixels)), shape=(n_features, n_pixels))


def deepinsight_plan(profiles: np.ndarray, grid: tuple[int, ...], seed: int) -> sp.csr_matrix:
    """t-SNE (PCA above 5,000 features) of the features, binned onto the grid."""
    reduced = reduce(profiles, 50)
    ndim = len(grid)
    if reduced.shape[0] <= _TSNE_MAX:
        from sklearn.manifold import TSNE  # imported here: slow to import, baseline only

        perplexity = min(30.0, (reduced.shape[0] - 1) / 3.0)
        emb = TSNE(ndim, perplexity=perplexity, metric="cosine", init="pca", random_state=seed).fit_transform(reduced)
    else:
        emb = pca_init(reduced, ndim)
    lo, hi = emb.min(axis=0), emb.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    sizes = np.asarray(grid)
    cells = np.minimum(((emb - lo) / span * sizes).astype(np.int64), sizes - 1)
    pixels = np.ravel_multi_index(tuple(cells.T), grid)
    n = profiles.shape[0]
    return sp.csr_matrix((np.ones(n), (np.arange(n), pixels)), shape=(n, int(np.prod(grid))))
