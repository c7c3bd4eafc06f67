"""Windowed re-assignment that polishes a one-to-one layout on the grid itself.

Embedding + OT placement + refinement optimise proxies (2-D distances before
the grid snaps them); what the layout is judged on is which features end up
on neighbouring pixels. This last step works on the grid directly: the grid
is tiled into small windows (shifted by half a window every other sweep so
features can cross window borders) and the features of each window are
re-assigned to the window's pixels (empty ones included) by an exact linear
assignment. The cost of feature f on pixel p blends

* local: the share of f's kNN-10 neighbours (f among theirs or theirs among
  f's, exact correlation) that p is far from,
  ``sum_j (1 - exp(-|p - x_j|^2 / (2 sigma^2))) / deg f``, a bounded
  kernel, so a far-away neighbour does not dominate the way a squared
  distance would (it is the near neighbours that kNN overlap counts; the
  binary 10-neighbour graph beat the 15-neighbour fuzzy graph of the
  embedding on a Visium table); and
* global: the stress of p against random landmark features,
  ``mean_l (|p - x_l| - s * (1 - corr_fl))^2``, normalised, so the polish
  does not trade the global arrangement for local gains.

Every other feature stays where it is while a window is solved, so each
solve can only lower the cost as seen from that moment (Gauss-Seidel sweeps).
Only for one-to-one layouts (pixels >= features).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from .metrics import snap


def neighbour_graph(neighbors: np.ndarray) -> sp.csr_matrix:
    """Symmetric 0/1 graph of the kNN lists ``neighbors`` (F, k)."""
    n, k = neighbors.shape
    graph = sp.csr_matrix((np.ones(n * k), neighbors.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    return (graph.maximum(graph.T)).tocsr()


def windows(coords: np.ndarray, side: int, offset: int) -> list[np.ndarray]:
    """Pixel indices of every ``side``-wide box of the grid, boxes shifted by ``offset``."""
    cells = ((coords + offset) // side).astype(np.int64)
    labels = np.ravel_multi_index(cells.T, tuple(cells.max(axis=0) + 1))
    order = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.diff(labels[order])) + 1
    return np.split(order, starts)


def polish(
    pixel: np.ndarray,
    coords: np.ndarray,
    neighbors: np.ndarray,
    reduced: np.ndarray,
    sweeps: int,
    global_weight: float,
    seed: int,
    side: int = 6,
    sigma: float = 2.0,
    n_landmarks: int = 128,
) -> np.ndarray:
    """Improve a one-to-one feature -> pixel assignment window by window.

    Args:
        pixel: (F,) distinct pixel index of every feature.
        coords: (P, ndim) pixel coordinates.
        neighbors: (F, k) most correlated features of every feature.
        reduced: (F, d) unit-norm profiles for the global term (dot ~ correlation).
        sweeps: passes over the grid.
        global_weight: blend, 0 = neighbours only, 1 = landmark stress only.
        seed: landmark sampling seed.
        side: window side in pixels.
        sigma: kernel width in pixels (kNN-10 neighbours of a pixel lie within 2).
        n_landmarks: landmark features of the global term, redrawn every sweep.

    Returns:
        (F,) the polished pixel of every feature.
    """
    rng = np.random.default_rng(seed)
    pixel = pixel.copy()
    graph = neighbour_graph(neighbors)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    degree[degree == 0] = 1.0
    owner = np.full(coords.shape[0], -1)
    owner[pixel] = np.arange(pixel.size)
    for sweep in range(sweeps):
        positions = coords[pixel]
        landmarks = rng.choice(pixel.size, min(n_landmarks, pixel.size), replace=False)
        delta = snap(np.clip(1.0 - reduced @ reduced[landmarks].T, 0.0, 2.0))  # GEMM: the same on every CPU
        dist = np.linalg.norm(positions[:, None, :] - positions[landmarks][None, :, :], axis=2)
        scale = (dist * delta).sum() / max((delta**2).sum(), 1e-12)
        norm = max((dist**2).mean(), 1e-12)
        for pix in windows(coords, side, (sweep % 2) * (side // 2)):
            members = owner[pix]
            members = members[members >= 0]
            if members.size < 2:
                continue
            rows = graph[members]
            far = 1.0 - np.exp(
                -((coords[pixel[rows.indices]][:, None, :] - coords[pix][None, :, :]) ** 2).sum(-1) / (2.0 * sigma**2)
            )
            local = np.zeros((members.size, pix.size))
            filled = np.diff(rows.indptr) > 0
            local[filled] = np.add.reduceat(far, rows.indptr[:-1][filled], axis=0)
            to_land = np.linalg.norm(coords[pix][:, None, :] - coords[pixel[landmarks]][None, :, :], axis=2)
            stress = ((to_land[None] - scale * delta[members][:, None, :]) ** 2).mean(-1) / norm
            cost = (1.0 - global_weight) * local / degree[members][:, None] + global_weight * stress
            r, c = linear_sum_assignment(cost)
            owner[pix] = -1
            owner[pix[c]] = members[r]
            pixel[members[r]] = pix[c]
    return pixel
