"""Pixel grids: shape parsing, the "auto" rule, pixel coordinates, blocks.

Grids are 2-D ``(H, W)`` or 3-D ``(H, W, D)``; pixels are numbered in C order
so that ``image = (A @ x).reshape(grid)``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .errors import LayoutError, LayoutWarning


def auto_grid(n_features: int) -> tuple[int, int]:
    """Smallest square-ish 2-D grid holding every feature on its own pixel.

    Rule: ``H = ceil(sqrt(F))``, ``W = ceil(F / H)``, so ``H * W >= F`` and
    ``W`` is ``H`` or ``H - 1`` (1,577 features -> 40 x 40; 1,500 -> 39 x 39).
    """
    if n_features < 1:
        raise LayoutError("cannot size a grid for 0 features")
    height = math.ceil(math.sqrt(n_features))
    return height, math.ceil(n_features / height)


def parse_grid(grid: object, n_features: int, max_grid: object = None) -> tuple[int, ...]:
    """Validate a grid parameter ("auto", (H, W), (H, W, D) or "HxW[xD]"), bounded by ``max_grid``.

    ``max_grid`` is the image grid the layout joins (``None``: unbounded). An
    ``"auto"`` grid that does not fit inside it becomes ``max_grid`` itself (the
    features then share pixels by mass splitting, with a :class:`LayoutWarning`); an explicit grid larger than
    it along any axis is refused, since resizing onto the image would skip pixels.
    """
    if max_grid is not None:
        bound = parse_grid(max_grid, n_features)
        shape = parse_grid(grid, n_features)
        if isinstance(grid, str) and grid == "auto":
            fits = len(shape) == len(bound) and all(s <= b for s, b in zip(shape, bound, strict=True))
            if not fits and n_features > math.prod(bound):
                warnings.warn(
                    f"{n_features} features on the {math.prod(bound)} pixels of max_grid {bound} (the image "
                    "grid the layout joins): features share pixels by mass splitting; an image grid of at "
                    f"least {math.prod(auto_grid(n_features))} pixels gives each its own",
                    LayoutWarning,
                    stacklevel=3,
                )
            return shape if fits else bound
        if len(shape) != len(bound) or any(s > b for s, b in zip(shape, bound, strict=True)):
            raise LayoutError(
                f"grid {shape} does not fit inside max_grid {bound} (the image grid it joins): "
                "resizing it onto the image would skip pixels and the features on them"
            )
        return shape
    if isinstance(grid, str):
        if grid == "auto":
            return auto_grid(n_features)
        try:
            grid = tuple(int(part) for part in grid.lower().split("x"))
        except ValueError:
            raise LayoutError(f"grid {grid!r} is not 'auto', 'HxW' or 'HxWxD'") from None
    try:
        shape = tuple(int(s) for s in grid)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise LayoutError(f"grid {grid!r} is not 'auto', (H, W) or (H, W, D)") from None
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise LayoutError(f"grid {grid!r} must be 2 or 3 positive sizes")
    return shape


def pixel_coordinates(grid: tuple[int, ...]) -> np.ndarray:
    """Integer coordinates (n_pixels, ndim) of every pixel, in C order."""
    axes = np.meshgrid(*[np.arange(s) for s in grid], indexing="ij")
    return np.stack([a.ravel() for a in axes], axis=1).astype(np.float64)


def grid_distances(grid: tuple[int, ...]) -> np.ndarray:
    """Euclidean distance matrix between all pixels of the real grid."""
    coords = pixel_coordinates(grid)
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(-1))


def blocks(grid: tuple[int, ...], target_pixels: int) -> np.ndarray:
    """Label every pixel with a block id; blocks are boxes of ~target_pixels.

    The block side along each axis is ``round(target ** (1 / ndim))``; the
    last block along an axis absorbs the remainder, so labels form a coarse grid.
    """
    side = max(1, round(target_pixels ** (1.0 / len(grid))))
    per_axis = [np.minimum(np.arange(s) // side, max(1, round(s / side)) - 1) for s in grid]
    counts = [int(p.max()) + 1 for p in per_axis]
    labels = np.zeros(grid, dtype=np.int64)
    for axis, part in enumerate(per_axis):
        shape = [1] * len(grid)
        shape[axis] = -1
        labels = labels * counts[axis] + part.reshape(shape)
    return labels.ravel()
