"""Gromov-Wasserstein layout: match feature distances to real grid distances.

Unlike genomap, the grid side is the Euclidean distance matrix of the actual
2-D (or 3-D) pixel grid, so the plan has to respect distances in every
direction, not just the distance from the centre. The fractional GW plan is
rounded to an integral one by a linear transport problem on ``-plan``.
Memory and time grow as F^2 and F^2 * P: meant for up to a few thousand
features.
"""

from __future__ import annotations

import numpy as np
import ot
import scipy.sparse as sp

from .assign import assign_cost
from .grid import grid_distances


def gw_plan(profiles: np.ndarray, grid: tuple[int, ...], max_iter: int, seed: int) -> sp.csr_matrix:
    """GW plan between 1 - correlation and pixel distances, rounded to integral."""
    feat = np.clip(1.0 - profiles @ profiles.T, 0.0, 2.0)
    np.fill_diagonal(feat, 0.0)
    pix = grid_distances(grid)
    feat /= max(feat.max(), 1e-12)
    pix /= max(pix.max(), 1e-12)
    p = ot.unif(feat.shape[0])
    q = ot.unif(pix.shape[0])
    plan = ot.gromov.gromov_wasserstein(feat, pix, p, q, loss_fun="square_loss", max_iter=max_iter, log=False)
    return assign_cost(-np.asarray(plan) * feat.shape[0])
