"""Within-section spatial block split: contiguous tiles to training / validation / test, a gap between them.

Neighbouring spots share tissue (and, through diffusion and the image patch,
signal), so a random per-spot split of one section leaks. :func:`block_split`
tiles the section's bounding box, gives whole tiles to the splits (seeded, by
spot share) and then removes every spot closer than ``gap_spots + 1`` spot
pitches to a spot of another split, so that at least ``gap_spots`` rows of
spots lie between any training spot and any held-out spot. The pitch is the
median nearest-neighbour distance of the spots themselves. With ``labels``,
draws whose training part lacks a class of the section are redrawn (seeded),
since tissue classes cluster in space and a class absent from training can
be neither learnt nor weighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omicsfusion.data.errors import OmicsDataError

__all__ = ["GAP", "BlockSplit", "block_split"]

#: split value of a spot removed to open the gap
GAP = "gap"
#: draws tried with ``labels`` before giving up
MAX_DRAWS = 1000
# a spot pair counts as closer than the gap below this share of (gap_spots + 1) pitches (coordinates jitter)
_TOLERANCE = 0.95
# held-out splits keep their border spots: lower-priority splits lose theirs (training is the largest)
_PRIORITY = ("test", "validation", "training")


@dataclass(frozen=True)
class BlockSplit:
    """Result of :func:`block_split`.

    Attributes:
        split: per spot ``training`` / ``validation`` / ``test``, or :data:`GAP` when removed.
        block: per spot, the index of its tile (row-major over ``tiles``).
        pitch: spot pitch in the units of the coordinates.
        draws: the draw (1-based) that kept every class in training; 1 without ``labels``.
    """

    split: np.ndarray
    block: np.ndarray
    pitch: float
    draws: int = 1

    @property
    def n_gap(self) -> int:
        """Spots removed to open the gap."""
        return int((self.split == GAP).sum())

    def counts(self) -> dict[str, int]:
        """Spots per split value (including :data:`GAP`)."""
        values, counts = np.unique(self.split, return_counts=True)
        return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def _pitch(xy: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(xy).query(xy, k=2)
    pitch = float(np.median(distance[:, 1]))
    if not pitch > 0:
        raise OmicsDataError(f"block split: the spots' nearest-neighbour distance is {pitch}; spots coincide")
    return pitch


def block_split(
    xy: np.ndarray,
    tiles: int | Sequence[int] = 4,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    gap_spots: int = 1,
    seed: int = 0,
    labels: Sequence | None = None,
) -> BlockSplit:
    """Split spots into contiguous tiles per split, with a gap of ``gap_spots`` spots between splits.

    Args:
        xy: ``(n, 2)`` spot centres (any unit, e.g. level-0 pixels).
        tiles: tiles per axis, ``k`` (k x k) or ``(columns, rows)``; ``(k, 1)`` gives vertical stripes.
        val_fraction: share of the spots (before the gap) whose tiles go to validation.
        test_fraction: the same for test (0: no test tiles, e.g. the test set is another section).
        gap_spots: spot rows removed between splits (>= 0).
        seed: order in which tiles are drawn; equal seeds give equal splits.
        labels: per spot class; when given, tiles are redrawn (up to :data:`MAX_DRAWS` times, seeded)
            until every class has training spots after the gap.

    Tiles are drawn in a seeded order: validation takes tiles until it holds
    ``val_fraction`` of the spots, then test until ``test_fraction``, training
    the rest (a split with a positive fraction gets at least one tile).

    Raises:
        OmicsDataError: fewer than two spots, bad fractions or tiles, labels not one per spot, no tile
            left for training, or no draw keeps every class in training.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < 2:
        raise OmicsDataError(f"block split needs (n >= 2, 2) spot centres, got shape {xy.shape}")
    nx, ny = (int(tiles), int(tiles)) if np.isscalar(tiles) else (int(tiles[0]), int(tiles[1]))
    if nx < 1 or ny < 1 or nx * ny < 2:
        raise OmicsDataError(f"block split: tiles must be >= 1 per axis and >= 2 in all, got {tiles}")
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1 or gap_spots < 0:
        raise OmicsDataError(
            f"block split: fractions must be >= 0 and sum below 1, gap_spots >= 0; got "
            f"val_fraction={val_fraction}, test_fraction={test_fraction}, gap_spots={gap_spots}"
        )
    if labels is not None and len(labels) != len(xy):
        raise OmicsDataError(f"block split: {len(labels)} labels for {len(xy)} spots")
    pitch = _pitch(xy)
    low, high = xy.min(axis=0), xy.max(axis=0)
    cells = [
        np.minimum(((xy[:, a] - low[a]) / max(high[a] - low[a], 1e-12) * n).astype(int), n - 1)
        for a, n in enumerate((nx, ny))
    ]
    block = cells[1] * nx + cells[0]
    occupied = np.unique(block)
    sizes = {b: int((block == b).sum()) for b in occupied}
    rng = np.random.default_rng(seed)
    classes = None if labels is None else set(np.asarray(labels, dtype=object).tolist())
    for draw in range(1, MAX_DRAWS + 1):
        split = _draw(rng.permutation(occupied), block, sizes, len(xy), val_fraction, test_fraction, (nx, ny))
        _open_gap(xy, split, (gap_spots + 1) * pitch * _TOLERANCE if gap_spots > 0 else 0.0)
        if classes is None or set(np.asarray(labels, dtype=object)[split == "training"].tolist()) == classes:
            return BlockSplit(split=split, block=block, pitch=pitch, draws=draw)
    raise OmicsDataError(
        f"block split: none of {MAX_DRAWS} draws of {nx} x {ny} tiles (seed {seed}) keeps every "
        f"class of {sorted(map(str, classes))} in training; use more tiles or smaller fractions"
    )


def _draw(
    order: np.ndarray,
    block: np.ndarray,
    sizes: dict,
    n: int,
    val_fraction: float,
    test_fraction: float,
    tiles: tuple[int, int],
) -> np.ndarray:
    """Tiles in ``order`` to validation, then test, by spot share; training the rest."""
    assigned, position = {}, 0
    for name, fraction in (("validation", val_fraction), ("test", test_fraction)):
        taken = 0
        while fraction > 0 and position < len(order) and (taken == 0 or taken < fraction * n):
            assigned[order[position]] = name
            taken += sizes[order[position]]
            position += 1
    if position >= len(order):
        raise OmicsDataError(
            f"block split: {len(order)} occupied tile(s) of {tiles[0]} x {tiles[1]} leave none for "
            f"training (val_fraction={val_fraction}, test_fraction={test_fraction}); use more tiles"
        )
    return np.array([assigned.get(b, "training") for b in block], dtype=object)


def _open_gap(xy: np.ndarray, split: np.ndarray, radius: float) -> None:
    """Mark :data:`GAP` every spot within ``radius`` of a spot of a higher-priority split (in place)."""
    if radius <= 0:
        return
    from scipy.spatial import cKDTree

    for rank, name in enumerate(_PRIORITY[1:], start=1):
        above = np.isin(split, _PRIORITY[:rank])
        here = np.flatnonzero(split == name)
        if not above.any() or here.size == 0:
            continue
        distance, _ = cKDTree(xy[above]).query(xy[here], k=1)
        split[here[distance < radius]] = GAP
