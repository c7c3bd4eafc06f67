"""Feature distances and the quality figures of a layout.

A feature's profile is a unit-norm vector whose dot product with another
feature's profile is their similarity, and the feature distance is ``1 -
similarity``. For "correlation" and "spearman" the profile is the column
centred over samples and scaled to unit norm (similarity = r). The unsigned
metrics "abs_correlation" and "abs_spearman" (similarity = r**2, as in an
unsigned co-expression network) use the symmetric tensor square of that
profile, so a gene and its anti-correlated partner are as close as two
correlated genes. "cosine" scales the raw columns to unit norm without
centring them: on 0/1 mutation calls the similarity is the Ochiai
coefficient |A and B| / sqrt(|A| |B|) of the patient sets A, B mutated in
each gene (co-mutation; 0 for genes never mutated together), where
centring would let the many shared wild-type patients dominate. Every stage of the layout only takes dot products of
profiles, so each works with any metric unchanged. ``score`` compares the
distances with the Euclidean distance of the pixels the features land on.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.stats import rankdata, spearmanr

from .errors import LayoutError

METRICS = ("correlation", "spearman", "abs_correlation", "abs_spearman", "cosine")
# principal dimensions kept by the abs metrics: their profiles have ABS_DIMS * (ABS_DIMS + 1) / 2 columns
ABS_DIMS = 48
_CHUNK = 2048


# decimals kept by ``snap``: BLAS results differ between CPUs by ~1e-14 here, a millionth of this grid
SNAP_DECIMALS = 8


def snap(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to ``SNAP_DECIMALS`` decimals, so that what follows does not depend on the CPU.

    GEMM and LAPACK results differ in their last bits between CPUs (each picks its own kernel and
    summation order), and the layout's later stages are chaotic in them: the SGD of the embedding
    and the swaps of the grid polish turn a 1e-14 difference into another layout. Rounding the
    BLAS results those stages start from makes their inputs identical across CPUs, unless a value
    lies within ~1e-14 of a rounding boundary: rare in small tables, likely somewhere in large ones
    (docs/testing.md, "What depends on the CPU").
    """
    return np.round(values, SNAP_DECIMALS)


def sign_fixed(vectors: np.ndarray) -> np.ndarray:
    """Columns of ``vectors`` with their largest-magnitude entry made positive (ties: the first).

    Eigen- and singular vectors are defined up to sign, and LAPACK builds may return either one.
    """
    largest = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[largest, np.arange(vectors.shape[1])])
    return vectors * np.where(signs == 0, 1.0, signs)


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm; zero rows stay zero."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _top_eigh(gram: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of a symmetric matrix (only those are computed: half the time)."""
    m = gram.shape[0]
    values, vectors = scipy.linalg.eigh(gram, subset_by_index=[m - k, m - 1], driver="evr")
    return values, sign_fixed(vectors)


def principal_coordinates(profiles: np.ndarray, k: int) -> np.ndarray:
    """Rows of ``profiles`` (F, n) on their leading ``k < n`` right singular vectors: U * S, (F, <= k).

    The SVD comes from the eigendecomposition of the Gram matrix over the
    smaller side (samples, usually): one GEMM of F * n^2, exact, and faster
    than randomized SVD at these shapes (measured). Signs fixed and values snapped: the same on every CPU.
    """
    n_feat, n_samp = profiles.shape
    if n_samp <= n_feat:
        _, vectors = _top_eigh(profiles.T @ profiles, k)
        return snap(profiles @ vectors)
    values, vectors = _top_eigh(profiles @ profiles.T, min(k, n_feat))
    return snap(vectors * np.sqrt(np.maximum(values, 0.0)))


def tensor_square(rows: np.ndarray) -> np.ndarray:
    """(F, d(d+1)/2) symmetric tensor squares: u_i u_j for i <= j, off-diagonal terms times sqrt 2.

    ``<sq(u), sq(v)> = (u . v)**2`` exactly, so unit rows stay unit rows.
    Filled one leading index at a time: peak memory is the output.
    """
    n, d = rows.shape
    out = np.empty((n, d * (d + 1) // 2), dtype=rows.dtype)
    start = 0
    for i in range(d):
        block = rows[:, i : i + 1] * rows[:, i:]
        block[:, 1:] *= np.sqrt(2.0)
        out[:, start : start + d - i] = block
        start += d - i
    return out


def unit_profiles(values: np.ndarray, metric: str = "correlation") -> np.ndarray:
    """(n_features, m) unit-norm profiles; dot product = the metric's similarity.

    "correlation": centred unit columns, m = n_samples, dot product = r.
    "spearman": the same on ranks over samples. "cosine": the raw columns
    scaled to unit norm, not centred (the Ochiai coefficient on 0/1 calls). "abs_correlation" /
    "abs_spearman": the tensor square of those profiles, dot product = r**2.
    With more than ``ABS_DIMS`` samples the abs metrics first project the
    profiles on their leading ``ABS_DIMS`` principal dimensions (rows
    re-normalised, so r is the correlation within that subspace): exact up
    to ``ABS_DIMS`` samples, approximate above, because the full square has
    n_samples**2 / 2 columns, which does not scale (m = 1176 instead; about
    190 MB at 20,000 features). Constant features (all-zero ones for "cosine") get a
    zero profile (similarity 0 with everything).
    """
    if metric not in METRICS:
        raise LayoutError(f"metric must be one of {METRICS}, got {metric!r}")
    if metric == "cosine":
        return unit_rows(np.asarray(values, dtype=np.float64).T)
    if metric in ("spearman", "abs_spearman"):
        values = rankdata(values, axis=0)
    profiles = unit_rows((values - values.mean(axis=0)).T)
    if not metric.startswith("abs_"):
        return profiles
    if profiles.shape[1] > ABS_DIMS:
        constant = ~profiles.any(axis=1)
        profiles = principal_coordinates(profiles, ABS_DIMS)
        profiles[constant] = 0.0  # else rounding noise would be scaled up to a unit row
        profiles = unit_rows(profiles)
    return tensor_square(profiles)


def top_k(query: np.ndarray, base: np.ndarray, k: int, exclude: np.ndarray | None, similarity: bool) -> np.ndarray:
    """Indices (len(query), k) of the k best ``base`` rows for each query row.

    Best = largest dot product (``similarity``) or smallest Euclidean
    distance; ``exclude[i]`` (the query's own index) is never returned. Works
    in chunks so memory stays at ``_CHUNK * len(base)`` floats.
    """
    out = np.empty((query.shape[0], k), dtype=np.int64)
    base_sq = (base**2).sum(1)
    for start in range(0, query.shape[0], _CHUNK):
        q = query[start : start + _CHUNK]
        cost = -(q @ base.T) if similarity else base_sq[None, :] - 2.0 * (q @ base.T)
        if exclude is not None:
            cost[np.arange(q.shape[0]), exclude[start : start + _CHUNK]] = np.inf
        part = np.argpartition(cost, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(cost, part, axis=1).argsort(axis=1, kind="stable")
        out[start : start + _CHUNK] = np.take_along_axis(part, order, axis=1)
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
    feat = np.concatenate(
        [
            1.0 - np.einsum("ij,ij->i", profiles[i[s : s + 8192]], profiles[j[s : s + 8192]])
            for s in range(0, i.size, 8192)
        ]
    )
    pix = np.linalg.norm(positions[i] - positions[j], axis=1)
    rho = float(spearmanr(feat, pix).statistic) if np.ptp(pix) > 0 and np.ptp(feat) > 0 else 0.0
    k = min(k, n - 1)
    queries = np.arange(n) if n <= n_queries else np.sort(rng.choice(n, n_queries, replace=False))
    near_feat = top_k(profiles[queries], profiles, k, queries, similarity=True)
    near_pix = top_k(positions[queries], positions, k, queries, similarity=False)
    return rho, float(set_overlap(near_feat, near_pix).mean() / k)
