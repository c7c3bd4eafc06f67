"""Within-section block split on generated spot grids: gap, contiguity, seeding, every spot accounted for."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from omicsfusion.data.errors import OmicsDataError
from omicsfusion.data.spatial.blocks import GAP, block_split


def _square(n: int = 30, pitch: float = 10.0) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(n), np.arange(n))
    return np.stack([gx.ravel(), gy.ravel()], axis=1) * pitch + 100.0


def _hexagonal(n: int = 30, pitch: float = 10.0) -> np.ndarray:
    rows = [(c * pitch + (r % 2) * pitch / 2, r * pitch * np.sqrt(3) / 2) for r in range(n) for c in range(n)]
    return np.asarray(rows)


@pytest.mark.parametrize("grid", [_square, _hexagonal])
@pytest.mark.parametrize("gap_spots", [1, 2])
def test_kept_spots_of_different_splits_are_gap_plus_one_pitches_apart(grid, gap_spots):
    xy = grid()
    result = block_split(xy, tiles=4, val_fraction=0.2, test_fraction=0.2, gap_spots=gap_spots, seed=3)
    assert result.pitch == pytest.approx(10.0)
    kept = {s: xy[result.split == s] for s in ("training", "validation", "test")}
    for a in kept:
        for b in kept:
            if a < b:
                distance, _ = cKDTree(kept[a]).query(kept[b], k=1)
                # at least gap_spots spot positions lie between them: no pair within (gap + 1) pitches
                assert distance.min() >= (gap_spots + 1) * 10.0 * 0.95 - 1e-9, (a, b)
    assert result.n_gap > 0
    # the gap only removes spots, every spot has exactly one value
    assert sum(result.counts().values()) == len(xy)
    assert set(result.counts()) == {"training", "validation", "test", GAP}


def test_blocks_are_whole_tiles_and_contiguous():
    xy = _square()
    result = block_split(xy, tiles=(3, 2), val_fraction=0.25, test_fraction=0.0, gap_spots=0, seed=1)
    assert result.n_gap == 0 and "test" not in result.counts()
    for b in np.unique(result.block):
        members = result.block == b
        assert len(set(result.split[members])) == 1  # a tile goes whole to one split
        box = xy[members]
        inside = ((xy >= box.min(0)) & (xy <= box.max(0))).all(1)
        assert (result.block[inside] == b).all()  # its bounding box holds no other tile's spot
    assert len(np.unique(result.block)) == 6


def test_seeded_and_shares_follow_the_fractions():
    xy = _hexagonal()
    a = block_split(xy, seed=5)
    b = block_split(xy, seed=5)
    c = block_split(xy, seed=6)
    assert (a.split == b.split).all()
    assert (a.split != c.split).any()
    ungapped = block_split(xy, tiles=5, val_fraction=0.2, test_fraction=0.2, gap_spots=0, seed=0).counts()
    for name in ("validation", "test"):
        assert 0.2 * len(xy) <= ungapped[name] < 0.2 * len(xy) + len(xy) / 25 + 1  # one tile of slack at most


def test_named_errors():
    xy = _square(6)
    with pytest.raises(OmicsDataError, match="none for training"):
        block_split(xy, tiles=(2, 1), val_fraction=0.4, test_fraction=0.4)
    with pytest.raises(OmicsDataError, match="fractions"):
        block_split(xy, val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(OmicsDataError, match="spots coincide"):
        block_split(np.zeros((5, 2)))
    with pytest.raises(OmicsDataError, match="35 labels for 36 spots"):
        block_split(xy, labels=["a"] * 35)
