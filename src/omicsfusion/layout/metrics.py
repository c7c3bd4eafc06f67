"""Feature distances and the quality figures of a layout.

A feature's profile is its column z-scored over samples and scaled to unit
norm, so the correlation of two features is the dot product of their
profiles and the feature distance is ``1 - correlation``. ``score`` compares
those distances with the Euclidean distance of the pixels the features land on.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata, spearmanr

from .errors import LayoutError

METRICS = ("correlation", "spearman")
_CHUNK = 2048


def unit_profiles(values: np.ndarray, metric: str = "correlation") -> np.ndarray:
    """(n_features, n_samples) unit-norm centred profiles; dot product = correlation.

    ``metric="spearman"`` ranks every feature over samples first. Constant
    features get a zero profile (correlation 0 with everything).
    """
    if metric not in METRICS:
        raise LayoutError(f"metric must be one of {METRICS}, got {metric!r}")
    if metric == "spearman":
        values = rankdata(values, axis=0)
    centred = (values - values.mean(axis=0)).T
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0)


def top_k(query: np.ndarray, base: np.ndarray, k: int, exclude: np.ndarray | None, similarity: bool) -> np.ndarray:
    """Indices (len(query), k) of the k best ``base`` rows for each query row.

    Best = largest dot product (``similarity``) or smallest Euclidean
    distance; ``exclude[i]`` (the query's own index) is never returned. Works
    in chunks so memory stays at ``_CHUNK * len(base)`` floats.
    """
    out = np.empty((query.shape[0], k), dtype=np.int64)
    base_sq = (base**2).sum(1)
    for start in range(0, query.shape[0], _CHUNK):
        q = query[start:start + _CHUNK]
        if similarity:
            cost = -(q @ base.T)
        else:
            cost = base_sq[None, :] - 2.0 * (q @ base.T)
        if exclude is not None:
            cost[np.arange(q.shape[0]), exclude[start:start + _CHUNK]] = np.inf
        part = np.argpartition(cost, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(cost, part, axis=1).argsort(axis=1, kind="stable")
        out[start:start + _CHUNK] = np.take_along_axis(part, order, axis=1)
    return out


def set_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, |a_i ∩ b_i| for rows of distinct indices."""
    both = np.sort(np.concatenate([a, b], axis=1), axis=1)
    return (both[:, 1:] == both[:, :-1]).sum(axis=1)


def feature_positions(matrix: sp.csr_matrix, coords: np.ndarray) -> np.ndarray:
    """Mean pixel coordinate of every feature, weighted by its column of ``A``."""
    weights = matrix.tocsc()
    totals = np.asarray(weights.sum(axis=0)).ravel()
    return np.asarray(weights.T @ coords) / totals[:, None]


def collisions(matrix: sp.csr_matrix) -> int:
    """Number of features that share at least one pixel with another feature."""
    support = (matrix != 0).astype(np.int64)
    crowded = (np.asarray(support.sum(axis=1)).ravel() > 1).astype(np.int64)
    return int(((support.T @ crowded) > 0).sum())


def score_layout(
    profiles: np.ndarray,
    positions: np.ndarray,
    n_pairs: int = 200_000,
    n_queries: int = 5000,
    k: int = 10,
    seed: int = 0,
) -> tuple[float, float]:
    """Spearman(feature distance, pixel distance) and kNN-k overlap.

    Pairs: all pairs when there are at most ``n_pairs``, else a seeded sample.
    kNN: exact neighbours over all features for every feature, or for a
    seeded subset of ``n_queries`` query features when there are more.
    """
    n = profiles.shape[0]
    rng = np.random.default_rng(seed)
    if n * (n - 1) // 2 <= n_pairs:
        i, j = np.triu_indices(n, 1)
    else:
        i = rng.integers(0, n, n_pairs)
        j = (i + rng.integers(1, n, n_pairs)) % n
    feat = np.concatenate([1.0 - np.einsum("ij,ij->i", profiles[i[s:s + 8192]], profiles[j[s:s + 8192]])
                           for s in range(0, i.size, 8192)])
    pix = np.linalg.norm(positions[i] - positions[j], axis=1)
    rho = float(spearmanr(feat, pix).statistic) if np.ptp(pix) > 0 and np.ptp(feat) > 0 else 0.0
    k = min(k, n - 1)
    queries = np.arange(n) if n <= n_queries else np.sort(rng.choice(n, n_queries, replace=False))
    near_feat = top_k(profiles[queries], profiles, k, queries, similarity=True)
    near_pix = top_k(positions[queries], positions, k, queries, similarity=False)
    return rho, float(set_overlap(near_feat, near_pix).mean() / k)
