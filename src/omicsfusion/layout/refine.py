"""Refinement of a grid placement: global distances and local neighbours together.

After the first OT placement, each round moves every feature towards a
target and re-solves the same OT assignment: the target blends a stress
majorisation step (SMACOF against 1 - correlation to random landmark
features, which restores global distances the uniform grid distorted) with
the mean position of the feature's kNN-graph neighbours (which pulls
neighbours back together). ``local_weight`` sets the blend.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from .metrics import snap


def stress_step(positions: np.ndarray, reduced: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """One SMACOF update of every position against the landmark features."""
    delta = snap(np.clip(1.0 - reduced @ reduced[landmarks].T, 0.0, 2.0))  # GEMM: the same on every CPU
    diff = positions[:, None, :] - positions[landmarks][None, :, :]
    dist = np.linalg.norm(diff, axis=2)
    scale = (dist * delta).sum() / max((delta**2).sum(), 1e-12)
    ratio = scale * delta / np.maximum(dist, 1e-9)
    return (positions[landmarks][None, :, :] + ratio[..., None] * diff).mean(axis=1)


def refine(
    positions: np.ndarray,
    reduced: np.ndarray,
    graph: sp.spmatrix,
    place: Callable[[np.ndarray], np.ndarray],
    n_iter: int,
    local_weight: float,
    seed: int,
    n_landmarks: int = 256,
) -> np.ndarray:
    """Alternate target moves and OT placements ``n_iter`` times; returns positions.

    Args:
        positions: (F, ndim) current pixel positions of the features.
        reduced: (F, d) unit-norm reduced profiles (dot product ~ correlation).
        graph: (F, F) symmetric kNN affinity graph.
        place: maps target points to the pixel positions of a fresh OT placement.
        n_iter: number of rounds.
        local_weight: 0 = only global stress, 1 = only neighbour averaging.
        seed: landmark sampling seed.
        n_landmarks: landmark features per stress step.
    """
    rng = np.random.default_rng(seed)
    graph = sp.csr_matrix(graph)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    neighbours = sp.diags(np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)) @ graph
    n = positions.shape[0]
    for _ in range(n_iter):
        landmarks = rng.choice(n, min(n_landmarks, n), replace=False)
        target = (1.0 - local_weight) * stress_step(positions, reduced, landmarks)
        target += local_weight * np.where(degree[:, None] > 0, neighbours @ positions, positions)
        positions = place(target)
    return positions
