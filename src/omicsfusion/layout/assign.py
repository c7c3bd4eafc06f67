"""Optimal-transport assignment of embedded features onto grid pixels.

All transport problems use integer marginals, so POT's network simplex
(``ot.emd``) returns an integral plan: with at least as many pixels as
features every feature lands on its own pixel (zero collisions); with fewer
pixels every feature's mass is split over few pixels and every pixel receives
the same total mass, so nothing is dropped.

``exact_plan`` solves one problem over all pixels (O(F * P) memory);
``block_plan`` is the scalable coarse-to-fine version: features are first
transported onto blocks of the grid with the blocks' integer quotas as
marginals, then each block is solved exactly on its own.
"""

from __future__ import annotations

import math

import numpy as np
import ot
import scipy.sparse as sp
from scipy.spatial.distance import cdist

_MAX_ITER = 50_000_000


def match_moments(points: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Affinely map points so each axis has the mean and spread of ``coords``."""
    spread = points.std(axis=0)
    spread[spread == 0] = 1.0
    return (points - points.mean(axis=0)) / spread * coords.std(axis=0) + coords.mean(axis=0)


def assign_cost(cost: np.ndarray) -> sp.csr_matrix:
    """Integral optimal plan (n_features, n_pixels) for a cost matrix.

    F <= P: zero-cost dummy features pad the problem to P x P with unit
    masses; the network-simplex optimum is a permutation, so each real
    feature gets one distinct pixel with mass 1. F > P: feature mass P,
    pixel mass F (divided by their gcd); the plan is integral and sparse.
    """
    n_feat, n_pix = cost.shape
    if n_feat <= n_pix:
        padded = np.zeros((n_pix, n_pix))
        padded[:n_feat] = cost
        uniform = np.ones(n_pix)
        plan = ot.emd(uniform, uniform, padded, numItermax=_MAX_ITER)[:n_feat]
    else:
        g = math.gcd(n_feat, n_pix)
        plan = ot.emd(
            np.full(n_feat, n_pix // g, float),
            np.full(n_pix, n_feat // g, float),
            np.ascontiguousarray(cost),
            numItermax=_MAX_ITER,
        )
    return sp.csr_matrix(np.rint(plan))


def exact_plan(points: np.ndarray, coords: np.ndarray) -> sp.csr_matrix:
    """Transport embedded features onto all pixels at once (squared Euclidean cost)."""
    return assign_cost(cdist(match_moments(points, coords), coords, "sqeuclidean"))


def quotas(capacity: np.ndarray, n_features: int) -> np.ndarray:
    """Split ``n_features`` over blocks in proportion to capacity (largest remainder)."""
    share = capacity * n_features / capacity.sum()
    quota = np.floor(share).astype(np.int64)
    rest = n_features - quota.sum()
    quota[np.argsort(-(share - quota), kind="stable")[:rest]] += 1
    return quota


def block_plan(points: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> sp.csr_matrix:
    """Coarse-to-fine transport: features -> blocks (integral), then exact per block.

    Inside a block the members' coordinates are moment-matched to the block
    again, so the arrangement within the block follows the embedding.
    """
    points = match_moments(points, coords)
    n_blocks = int(labels.max()) + 1
    capacity = np.bincount(labels, minlength=n_blocks)
    centres = np.stack([np.bincount(labels, coords[:, d], n_blocks) for d in range(coords.shape[1])], 1)
    centres /= capacity[:, None]
    quota = quotas(capacity, points.shape[0])
    coarse = ot.emd(
        np.ones(points.shape[0]), quota.astype(float), cdist(points, centres, "sqeuclidean"), numItermax=_MAX_ITER
    )
    block_of = coarse.argmax(axis=1)
    rows, cols, vals = [], [], []
    for b in range(n_blocks):
        members = np.flatnonzero(block_of == b)
        if members.size == 0:
            continue
        pixels = np.flatnonzero(labels == b)
        local = exact_plan(points[members], coords[pixels]).tocoo()
        rows.append(members[local.row])
        cols.append(pixels[local.col])
        # scale so every feature carries the same total mass across blocks
        vals.append(local.data / np.asarray(local.sum(axis=1)).ravel()[local.row])
    shape = (points.shape[0], coords.shape[0])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)


def plan_to_matrix(plan: sp.csr_matrix) -> sp.csr_matrix:
    """Pixel x feature matrix A: each occupied pixel is the plan-weighted mean of its features."""
    a = sp.csr_matrix(plan.T, dtype=np.float64)
    a.eliminate_zeros()
    totals = np.asarray(a.sum(axis=1)).ravel()
    scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    a = sp.diags(scale) @ a
    return sp.csr_matrix(a)
