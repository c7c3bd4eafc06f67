"""OTLayout: the fitted feature -> pixel map, a scikit-learn transformer.

A layout is a sparse pixel x feature matrix ``A`` (``matrix_``) with the
grid shape and the ordered feature names: ``image = (A @ x).reshape(grid_)``
and attributions go back to features as ``A.T @ a``. Occupied pixels hold
the weighted mean of their features (rows of ``A`` sum to 1); with at least
as many pixels as features every feature has its own pixel.

Methods:
    "multiscale" (used by "auto"): PCA-initialised UMAP-style embedding of
        the features (kNN graph on exact correlations), coarse-to-fine exact
        OT onto grid blocks, stress refinement rounds, then a windowed
        re-assignment on the grid that trades kNN neighbours against global
        stress (``polish``). Scales to tens of thousands of features.
    "emd": the same embedding transported onto all pixels by one exact OT
        problem (O(F * P) memory; up to a few thousand features).
    "gw": Gromov-Wasserstein between 1 - correlation and the Euclidean pixel
        distances of the real grid, rounded to an integral plan (small F).
    "random", "deepinsight": baselines for comparison only.
3-D grids (H, W, D) embed the features in 3 dimensions directly.
Every method only takes dot products of ``metrics.unit_profiles``, so
"correlation" above reads as the similarity of the chosen metric (r**2 for
the unsigned abs metrics).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import validate_data

from omicsfusion.errors import first_names
from omicsfusion.features import match_features

from .assign import block_plan, exact_plan, plan_to_matrix
from .baselines import deepinsight_plan, random_plan
from .embed import embed
from .errors import LayoutError, check_fitted
from .grid import blocks, parse_grid, pixel_coordinates
from .gw import gw_plan
from .inputs import aligned_values, as_matrix, drop_constant, fill, impute_values
from .metrics import collisions, feature_positions, score_layout, unit_profiles
from .polish import polish
from .refine import refine
from .storage import LayoutFile

METHODS = ("auto", "multiscale", "emd", "gw", "random", "deepinsight")
# methods whose plan may split a feature's mass (or bin several features) when pixels < features
SPLITTING = ("multiscale", "emd", "gw", "deepinsight")
#: ``min_overlap`` of a layout built with ``min_overlap=None`` (shared layouts choose their own)
DEFAULT_OVERLAP = 0.5
logger = logging.getLogger(__name__)


def _embedded_plan(
    layout: OTLayout, method: str, profiles: np.ndarray, grid: tuple[int, ...], say: Callable[[str], None]
) -> sp.csr_matrix:
    """Plan of "multiscale" / "emd": embed, place by OT, refine, then polish on the grid."""
    seed, coords = int(layout.random_state), pixel_coordinates(grid)
    embedding = embed(
        profiles, len(grid), layout.n_components, layout.n_neighbors, layout.n_epochs, seed=seed, progress=say
    )
    labels = blocks(grid, layout.block_pixels)
    placed: list[sp.csr_matrix] = []

    def place(points: np.ndarray) -> np.ndarray:
        placed.append(exact_plan(points, coords) if method == "emd" else block_plan(points, coords, labels))
        say(f"OT placement {len(placed)}")
        return feature_positions(plan_to_matrix(placed[-1]), coords)

    positions = place(embedding.points)
    if embedding.graph.nnz:
        refine(positions, embedding.reduced, embedding.graph, place, int(layout.n_refine), layout.local_weight, seed)
    plan = placed[-1]
    n_feat, n_pix = profiles.shape[0], coords.shape[0]
    if n_feat <= n_pix and layout.polish_sweeps > 0 and embedding.graph.nnz:
        pixel = polish(
            np.asarray(plan.argmax(axis=1)).ravel(),
            coords,
            embedding.neighbors[:, :10],
            embedding.reduced,
            int(layout.polish_sweeps),
            layout.global_weight,
            seed,
        )
        plan = sp.csr_matrix((np.ones(n_feat), (np.arange(n_feat), pixel)), shape=(n_feat, n_pix))
        say(f"polished on the grid ({layout.polish_sweeps} sweeps)")
    return plan


class OTLayout(LayoutFile, TransformerMixin, BaseEstimator):
    """Optimal-transport layout of omics features on a 2-D or 3-D pixel grid.

    A scikit-learn transformer: ``fit(X)`` learns the layout of the columns of
    a (n_samples, n_features) table (feature names from DataFrame columns),
    ``transform(X)`` gives the images (n, *grid_), ``score(X)`` one quality
    figure and :meth:`quality` all of them; ``get_params`` / ``set_params`` /
    ``clone`` come from ``BaseEstimator``.

    Args:
        grid: "auto" (H = ceil(sqrt F), W = ceil(F / H)), (H, W), (H, W, D) or "HxW".
        max_grid: the image grid the layout joins, or None. An "auto" grid that does not fit
            inside it is replaced by it (features then share pixels by mass splitting, so
            the method must be one of SPLITTING); a larger explicit grid is refused. Resizing
            the layout onto the image then never skips a pixel.
        method: one of METHODS; "auto" means "multiscale".
        metric: "correlation" (Pearson) or "spearman": distance 1 - r, anti-correlated features
            far apart; "abs_correlation" or "abs_spearman": distance 1 - r**2 (unsigned, like WGCNA's
            unsigned network), so a module's negatively loaded members sit with its positive ones
            (computed in the leading ``metrics.ABS_DIMS`` principal dimensions, see ``unit_profiles``).
            "cosine": distance 1 - cosine of the uncentred columns; on 0/1 mutation calls the
            Ochiai co-mutation coefficient, so genes mutated in the same patients sit together.
        random_state: seed of every random step.
        verbose: log progress at INFO (else DEBUG) on the ``omicsfusion.layout`` logger.
        impute: "none" (NaN/inf is an error), "mean" or "median" (training values), for a layout
            fitted on its own (the layout CLI). ``OmicsPreprocessor(missing_values=...)`` fills the
            empty cells before its layouts see them, with the same statistics
            (``layout.inputs.column_fills``), so the layouts it fits keep "none".
        min_overlap: smallest fraction of layout features a table must have (None: 0.5;
            ``fit_shared_layout`` sets the smallest share any one of its types covers).
        n_neighbors: kNN graph size of the embedding.
        n_components: SVD dimensions of the feature profiles before the kNN graph.
        n_epochs: embedding epochs (None: 500 for small tables down to 200 for large).
        block_pixels: pixels per block of the coarse-to-fine assignment.
        n_refine: refinement rounds after the first placement ("multiscale", "emd").
        local_weight: refinement blend, 0 = global distances only, 1 = neighbours only.
            Default 0: on real tables neighbour averaging scrambled the local order
            (see docs/bench_layout.md); the grid polish keeps neighbours instead.
        polish_sweeps: sweeps of windowed re-assignment on the grid after refinement
            (one-to-one layouts of "multiscale" and "emd"; 0 = off).
        global_weight: polish blend, 0 = kNN neighbours only, 1 = landmark stress only.
        gw_max_iter: outer iterations of Gromov-Wasserstein.
    """

    def __init__(
        self,
        *,
        grid: str | tuple[int, ...] = "auto",
        max_grid: tuple[int, ...] | None = None,
        method: str = "auto",
        metric: str = "correlation",
        random_state: int = 0,
        verbose: bool = False,
        impute: str = "none",
        min_overlap: float | None = None,
        n_neighbors: int = 15,
        n_components: int = 50,
        n_epochs: int | None = None,
        block_pixels: int = 256,
        n_refine: int = 2,
        local_weight: float = 0.0,
        polish_sweeps: int = 16,
        global_weight: float = 0.55,
        gw_max_iter: int = 100,
    ) -> None:
        self.grid = grid
        self.max_grid = max_grid
        self.method = method
        self.metric = metric
        self.random_state = random_state
        self.verbose = verbose
        self.impute = impute
        self.min_overlap = min_overlap
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.n_epochs = n_epochs
        self.block_pixels = block_pixels
        self.n_refine = n_refine
        self.local_weight = local_weight
        self.polish_sweeps = polish_sweeps
        self.global_weight = global_weight
        self.gw_max_iter = gw_max_iter

    def _log(self, message: str, *args: object) -> None:
        """A progress line on the layout logger: INFO when ``verbose``, DEBUG otherwise."""
        logger.log(logging.INFO if self.verbose else logging.DEBUG, message, *args)

    # ------------------------------------------------------------------ fit
    def fit(self, X: np.ndarray | pd.DataFrame, y: object = None) -> OTLayout:
        """Learn the layout from a (n_samples, n_features) training table; ``y`` is ignored."""
        started = time.perf_counter()

        def say(message: str) -> None:
            self._log("[layout %7.2fs] %s", time.perf_counter() - started, message)

        if self.method not in METHODS:
            raise LayoutError(f"method must be one of {METHODS}, got {self.method!r}")
        method = "multiscale" if self.method == "auto" else self.method
        matrix = as_matrix(X)
        validate_data(self, X, skip_check_array=True)  # n_features_in_, and feature_names_in_ of a DataFrame
        fills = impute_values(matrix, self.impute)
        matrix.values = fill(matrix.values, fills)
        matrix, keep = drop_constant(matrix)
        n_feat = matrix.values.shape[1]
        grid = parse_grid(self.grid, n_feat, self.max_grid)
        n_pix = int(np.prod(grid))
        if n_pix < n_feat and method not in SPLITTING:
            raise LayoutError(
                f"grid {'x'.join(map(str, grid))} has {n_pix} pixels for {n_feat} features; "
                f"method {method!r} needs one pixel per feature (use a larger grid or "
                f"one of {SPLITTING})"
            )
        say(f"{method}: {matrix.values.shape[0]} samples x {n_feat} features -> grid {grid}")
        profiles = unit_profiles(matrix.values, self.metric)
        seed = int(self.random_state)
        if method in ("multiscale", "emd"):
            plan = _embedded_plan(self, method, profiles, grid, say)
        elif method == "gw":
            plan = gw_plan(profiles, grid, self.gw_max_iter, seed)
        elif method == "random":
            plan = random_plan(n_feat, n_pix, seed)
        else:
            plan = deepinsight_plan(profiles, grid, seed)
        self.matrix_ = plan_to_matrix(plan)
        self.grid_ = tuple(int(s) for s in grid)
        self.feature_names_ = matrix.feature_names
        self.method_ = method
        self.impute_values_ = None if fills is None else fills[keep]
        self.extras_ = {}
        self.fit_seconds_ = time.perf_counter() - started
        say(f"done in {self.fit_seconds_:.2f}s")
        return self

    # ------------------------------------------------------------ alignment
    def feature_index(self, names: object, min_overlap: float | None = None) -> np.ndarray:
        """Column index in ``names`` of every layout feature, -1 where absent.

        Raises FeatureMismatchError (a ``LayoutError``; counts + first missing names)
        when fewer than ``min_overlap`` (default: the layout's) of the layout features are present.
        """
        check_fitted(self, "matrix_")
        names = np.asarray([str(n) for n in names])
        uniques, counts = np.unique(names, return_counts=True)
        if (counts > 1).any():
            raise LayoutError(f"duplicate feature name(s): {first_names(uniques[counts > 1])}")
        threshold = next(v for v in (min_overlap, self.min_overlap, DEFAULT_OVERLAP) if v is not None)
        return match_features(self.feature_names_, names, threshold, "the table")

    def _aligned(self, X: object, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """(values (n, F) in layout order, present mask); missing features are 0 and reported."""
        check_fitted(self, "matrix_")
        return aligned_values(X, self.feature_names_, self.feature_index, self.impute_values_, min_samples)

    # ------------------------------------------------------------- mapping
    def transform(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Images (n, *grid_) float32: ``(A @ x).reshape(grid_)`` for every sample."""
        values, _ = self._aligned(X, min_samples=1)
        images = (self.matrix_ @ values.T).T
        return np.ascontiguousarray(images, dtype=np.float32).reshape((-1, *self.grid_))

    def backproject(self, maps: np.ndarray) -> np.ndarray:
        """Per-feature values (n, F) = ``A.T @ a`` for maps (n, *grid_) or (n, n_pixels)."""
        check_fitted(self, "matrix_")
        maps = np.asarray(maps, dtype=np.float64)
        n_pix = self.matrix_.shape[0]
        if maps.shape[1:] == self.grid_:
            flat = maps.reshape(maps.shape[0], n_pix)
        elif maps.ndim == 2 and maps.shape[1] == n_pix:
            flat = maps
        else:
            raise LayoutError(f"maps have shape {maps.shape}; expected (n, *{self.grid_}) or (n, {n_pix})")
        return np.asarray(self.matrix_.T @ flat.T).T

    # ------------------------------------------------------------- quality
    def quality(self, X: np.ndarray | pd.DataFrame, n_pairs: int = 200_000, n_queries: int = 5000) -> dict:
        """Quality of the layout on a table: spearman, knn10, collisions, fit_seconds.

        spearman: rank correlation of the layout metric's feature distance
        (1 - r, or 1 - r**2 for the abs metrics) and pixel distance over (at
        most ``n_pairs``) seeded feature pairs. knn10: mean fraction of a
        feature's 10 most similar features that are among its 10 nearest by
        pixel distance (exact; a seeded subset of ``n_queries`` query features
        above that). collisions: features sharing a pixel with another. A
        feature split over pixels sits at its weighted mean pixel position.
        Features missing from a DataFrame are left out of spearman and knn10.
        """
        values, present = self._aligned(X, min_samples=2)
        profiles = unit_profiles(values[:, present], self.metric)
        positions = feature_positions(self.matrix_, pixel_coordinates(self.grid_))[present]
        rho, knn = score_layout(profiles, positions, n_pairs, n_queries, seed=int(self.random_state))
        return {
            "spearman": rho,
            "knn10": knn,
            "collisions": collisions(self.matrix_),
            "fit_seconds": float(self.fit_seconds_),
        }

    def score(self, X: np.ndarray | pd.DataFrame, y: object = None) -> float:
        """The ``spearman`` figure of :meth:`quality` (higher is better); ``y`` is ignored.

        It measures what the layout is for, pixel distance following feature
        distance over all pairs, for every method and grid size (also when
        features share pixels), in [-1, 1].
        """
        return float(self.quality(X)["spearman"])
