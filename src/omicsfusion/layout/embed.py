"""Low-dimensional embedding of features that keeps global and local structure.

Profiles (unit norm, dot product = correlation) are reduced by truncated SVD
(for the PCA start and the global distances of refinement), a
k-nearest-neighbour graph is built on the exact correlations, and an
embedding in ``ndim`` (2 or 3) dimensions starts from PCA, which carries the
global structure, and is refined by a vectorised UMAP-style optimisation
(attraction along graph edges, repulsion from negative samples), which
pulls neighbours together. Everything is numpy and seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .metrics import principal_coordinates, sign_fixed, snap, top_k, unit_rows

# UMAP's curve 1 / (1 + a d^(2b)) for min_dist = 0.1, spread = 1.0
_A, _B = 1.577, 0.8951


class Embedding(NamedTuple):
    """Embedded points plus what refinement reuses."""

    points: np.ndarray  # (F, ndim)
    reduced: np.ndarray  # (F, d) unit-norm reduced profiles
    graph: sp.coo_matrix  # (F, F) symmetric kNN affinities (empty for tiny tables)
    neighbors: np.ndarray  # (F, k) exact most-correlated features, best first ((F, 0) for tiny tables)


def reduce(profiles: np.ndarray, n_components: int) -> np.ndarray:
    """Truncated SVD scores (n_features, <= n_components), rows unit norm (exact, see ``principal_coordinates``)."""
    if min(profiles.shape) > n_components:
        profiles = principal_coordinates(profiles, n_components)
    return unit_rows(profiles)


def fuzzy_graph(profiles: np.ndarray, n_neighbors: int) -> tuple[sp.coo_matrix, np.ndarray]:
    """UMAP's symmetric fuzzy kNN graph on the exact correlation distance, and the neighbour indices.

    Neighbours come from the full profiles, not the SVD scores: on real
    tables 50 SVD dimensions keep only about a third of a feature's 10 most
    correlated features (measured on a Visium table), and those neighbours
    are what kNN-10 scores. The brute-force search is chunked float32 GEMM,
    F^2 * n_samples flops: seconds even at 20,000 features.
    """
    n = profiles.shape[0]
    k = min(n_neighbors, n - 1)
    single = profiles.astype(np.float32)  # float32 GEMM: half the time, ranks unchanged in practice
    idx = top_k(single, single, k, np.arange(n), similarity=True)
    sims = np.concatenate(
        [np.einsum("ij,ikj->ik", single[s : s + 1024], single[idx[s : s + 1024]]) for s in range(0, n, 1024)]
    )  # chunked: F * k * n_samples floats at once is GBs
    dist = np.maximum(1.0 - sims.astype(np.float64), 0.0)
    # beyond the nearest neighbour's distance; float32 ranking can put a tie a hair below it, and
    # exp(+x / sigma) of such a hair overflows once the bisection shrinks sigma
    excess = np.maximum(dist - dist[:, :1], 0.0)
    target = np.log2(k)
    lo, hi = np.zeros((n, 1)), np.full((n, 1), np.inf)
    sigma = np.ones((n, 1))
    for _ in range(64):  # bisection for sum exp(-(d - rho) / sigma) = log2 k
        total = np.exp(-excess / sigma).sum(1, keepdims=True)
        high = total > target
        hi = np.where(high, sigma, hi)
        lo = np.where(high, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2.0, (lo + hi) / 2.0)
    sigma = np.maximum(sigma, 1e-3 * dist.mean())
    weights = np.exp(-excess / sigma)
    graph = sp.csr_matrix((weights.ravel(), idx.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    product = graph.multiply(graph.T)
    return (graph + graph.T - product).tocoo(), idx


def pca_init(reduced: np.ndarray, ndim: int) -> np.ndarray:
    """Leading principal components, scaled to a spread of 10 like UMAP's init (signs fixed, snapped)."""
    centred = reduced - reduced.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    init = centred @ sign_fixed(vt[:ndim].T)
    if init.shape[1] < ndim:
        init = np.pad(init, ((0, 0), (0, ndim - init.shape[1])))
    return snap(10.0 * init / max(np.abs(init).max(), 1e-12))


def optimize(
    init: np.ndarray,
    graph: sp.coo_matrix,
    n_epochs: int,
    negative_rate: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    batches: int = 2,
) -> np.ndarray:
    """UMAP-style optimisation, vectorised over edges in a few batches per epoch.

    Each epoch samples edges with probability proportional to their weight,
    moves both ends together, and pushes each head away from
    ``negative_rate`` random features; gradients are clipped to [-4, 4] and
    the step shrinks linearly to 0. Updates are accumulated with bincount.
    """
    rng = np.random.default_rng(seed)
    emb = init.astype(np.float64).copy()
    n, ndim = emb.shape
    head, tail, weight = graph.row, graph.col, graph.data / graph.data.max()

    def add(index: np.ndarray, delta: np.ndarray) -> None:
        for d in range(ndim):
            emb[:, d] += np.bincount(index, delta[:, d], minlength=n)

    for epoch in range(n_epochs):
        alpha = 1.0 - epoch / n_epochs
        active = np.flatnonzero(rng.random(weight.size) < weight)
        for part in np.array_split(rng.permutation(active), batches):
            h, t = head[part], tail[part]
            diff = emb[h] - emb[t]
            d2 = (diff**2).sum(1, keepdims=True)
            coef = np.zeros_like(d2)  # coincident ends (identical profiles) attract no further
            apart = d2 > 0  # computed only there: d2 ** (_B - 1) at d2 = 0 divides by zero
            coef[apart] = -2 * _A * _B * d2[apart] ** (_B - 1) / (1 + _A * d2[apart] ** _B)
            grad = alpha * np.clip(coef * diff, -4, 4)
            add(h, grad)
            add(t, -grad)
            hn = np.repeat(h, negative_rate)
            neg = rng.integers(0, n, hn.size)
            diff = emb[hn] - emb[neg]
            d2 = (diff**2).sum(1, keepdims=True)
            coef = 2 * _B / ((0.001 + d2) * (1 + _A * d2**_B))
            grad = np.where(hn[:, None] == neg[:, None], 0.0, alpha * np.clip(coef * diff, -4, 4))
            add(hn, grad)
        if progress is not None:
            progress(epoch)
    return emb


def embed(
    profiles: np.ndarray,
    ndim: int,
    n_components: int = 50,
    n_neighbors: int = 15,
    n_epochs: int | None = None,
    negative_rate: int = 5,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Embedding:
    """Embed features (rows of ``profiles``) in ``ndim`` dimensions.

    ``n_epochs=None`` uses 200 epochs below 2,000 features, 100 above 10,000
    and a linear ramp in between: the OT placement and its refinement do the
    rest, so fewer epochs than UMAP's defaults suffice (measured).
    """
    say = progress or (lambda message: None)
    reduced = reduce(profiles, n_components)
    say(f"reduced {profiles.shape[0]} profiles to {reduced.shape[1]} dimensions")
    init = pca_init(reduced, ndim)
    if reduced.shape[0] <= n_neighbors + 1:
        return Embedding(init, reduced, sp.coo_matrix((reduced.shape[0],) * 2), np.zeros((reduced.shape[0], 0), int))
    graph, neighbors = fuzzy_graph(profiles, n_neighbors)
    say(f"kNN graph: {graph.nnz} edges")
    if n_epochs is None:
        n = reduced.shape[0]
        n_epochs = int(np.clip(200 - 100 * (n - 2000) / 8000, 100, 200))
    step = max(1, n_epochs // 10)

    def tick(epoch: int) -> None:
        if (epoch + 1) % step == 0:
            say(f"embedding epoch {epoch + 1}/{n_epochs}")

    return Embedding(optimize(init, graph, n_epochs, negative_rate, seed, tick), reduced, graph, neighbors)
