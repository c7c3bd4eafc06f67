"""Coherent feature signs: flip anti-correlated neighbours so a block of pixels moves together.

An unsigned metric (``abs_correlation``) places a module's negatively loaded
genes next to its positive ones. Rendered as they are, neighbouring pixels
then move in opposite directions, and a CNN, whose filters are smooth sums
over neighbouring pixels, cancels them: on the pan-cancer phantom it read
the positive members of the planted module and hardly any negative one.
Rendering each feature times a sign ``s_f`` in {+1, -1} such that
significantly correlated neighbours on the grid move the same way keeps the
layout and its exact inverse (the sign is a per-feature scale), and leaves
attributions unchanged: a feature's contribution ``(x - b) * df/dx`` is the
same for ``x`` and ``-x``.

The signs come from a maximum spanning forest of the grid-neighbour graph
weighted by ``|r|``: along its edges a sign follows ``sign(r)``, which is
exact when the correlations of a module are consistent (r_ij has the sign of
l_i * l_j, as in a latent-factor model). Edges with ``|r|`` below the noise
level ``3 / sqrt(n_samples)`` are left out, so unrelated modules are separate
trees; each tree then keeps the sign of the majority of its features, so
most features keep their natural direction (and a layout whose neighbours
are already positively correlated keeps every sign).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from .errors import LayoutError
from .metrics import unit_profiles

__all__ = ["coherent_signs", "neighbour_pairs"]

_CHUNK = 65536


def neighbour_pairs(positions: np.ndarray) -> np.ndarray:
    """``(E, 2)`` index pairs ``i < j`` of features on the same or touching pixels (diagonals included)."""
    positions = np.asarray(positions, dtype=np.float64)
    radius = np.sqrt(positions.shape[1]) + 1e-6
    return cKDTree(positions).query_pairs(radius, output_type="ndarray").reshape(-1, 2)


def _pair_correlations(values: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Pearson r of the columns of ``values`` for each pair (chunked: memory stays at a chunk of pairs)."""
    unit = unit_profiles(values, "correlation")
    return np.concatenate(
        [
            np.einsum("ij,ij->i", unit[pairs[s : s + _CHUNK, 0]], unit[pairs[s : s + _CHUNK, 1]])
            for s in range(0, len(pairs), _CHUNK)
        ]
        or [np.zeros(0)]
    )


def coherent_signs(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per feature +1 or -1 so that correlated grid neighbours, times their signs, correlate positively.

    Args:
        values: ``(n_samples, F)`` training values, as the layout was fitted on.
        positions: ``(F, ndim)`` grid position of each feature (its pixel; for a feature split over
            pixels, e.g. their weighted mean, as ``OmicsPreprocessor`` passes).

    Returns:
        ``(F,)`` float64 array of +1 / -1.
    """
    values = np.asarray(values, dtype=np.float64)
    positions = np.asarray(positions)
    n_samples, n_features = values.shape
    if positions.shape[0] != n_features:
        raise LayoutError(f"{positions.shape[0]} feature positions for {n_features} features")
    if n_samples < 3:
        raise LayoutError(f"coherent signs need at least 3 samples, got {n_samples}")
    pairs = neighbour_pairs(positions)
    r = _pair_correlations(values, pairs)
    strong = np.abs(r) > 3.0 / np.sqrt(n_samples)
    pairs, r = pairs[strong], r[strong]
    # minimum spanning forest of 2 - |r| (always > 0, which scipy needs to see an edge) = maximum of |r|
    graph = sp.coo_matrix((2.0 - np.abs(r), (pairs[:, 0], pairs[:, 1])), shape=(n_features,) * 2).tocsr()
    forest = minimum_spanning_tree(graph)
    n_trees, tree = connected_components(forest, directed=False)
    # one breadth-first pass over every tree: a virtual node n_features joined to each tree's first feature
    roots = np.unique(tree, return_index=True)[1]
    links = sp.coo_matrix((np.ones(n_trees), (np.full(n_trees, n_features), roots)), shape=(n_features + 1,) * 2)
    forest = sp.block_diag([forest, sp.csr_matrix((1, 1))]).tocsr() + links.tocsr()
    order, parent = breadth_first_order(forest, n_features, directed=False)
    edge_sign = sp.coo_matrix((np.sign(r), (pairs[:, 0], pairs[:, 1])), shape=(n_features + 1,) * 2).tocsr()
    edge_sign = edge_sign + edge_sign.T
    children = order[1:]
    step = np.asarray(edge_sign[parent[children], children]).ravel()
    step[parent[children] == n_features] = 1.0  # a tree's first feature keeps its sign
    signs = np.ones(n_features + 1)
    for node, sign in zip(children.tolist(), step.tolist(), strict=False):
        signs[node] = signs[parent[node]] * sign
    signs = signs[:n_features]
    majority = np.bincount(tree, weights=signs, minlength=n_trees)
    return np.where(majority[tree] < 0, -signs, signs)
