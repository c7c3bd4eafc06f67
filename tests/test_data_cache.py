"""Process-wide caches keep their most recently used entries only, and an evicted file reads back the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omicsfusion.data import OmicsTable, tables
from omicsfusion.data.cache import LRUCache
from omicsfusion.data.spatial import open_slide, wsi


def test_least_recently_used_entry_is_dropped():
    cache = LRUCache(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # "a" is now the most recent
    cache["c"] = 3
    assert "b" not in cache and cache["a"] == 1 and cache["c"] == 3 and len(cache) == 2
    assert cache.get("b", "gone") == "gone"
    none = LRUCache(0)
    none["a"] = 1
    assert "a" not in none and len(none) == 0
    with pytest.raises(ValueError, match="0 or more"):
        LRUCache(-1)


def test_an_evicted_table_is_read_again_with_the_same_values(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "_CACHE", LRUCache(2))
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"rna{k}.csv")
        pd.DataFrame(
            np.random.default_rng(k).random((4, 3)), index=[f"P{i}" for i in range(4)], columns=["g0", "g1", "g2"]
        ).to_csv(paths[-1])
    first = OmicsTable.cached({"rna": paths[0]})
    for path in paths[1:]:
        OmicsTable.cached({"rna": path})
    assert len(tables._CACHE) == 2
    again = OmicsTable.cached({"rna": paths[0]})
    assert again is not first
    np.testing.assert_array_equal(again.row("rna", "P2"), first.row("rna", "P2"))


def test_open_slides_and_decoded_images_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(wsi, "_OPENED", LRUCache(2))
    monkeypatch.setattr(wsi, "_PLAIN_CACHE", LRUCache(1))
    rng = np.random.default_rng(0)
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"he{k}.png")
        Image.fromarray(rng.integers(0, 255, (80, 90, 3), dtype=np.uint8)).save(paths[-1])
    before = open_slide(paths[0], mpp=1.0)
    for path in paths[1:]:
        open_slide(path, mpp=1.0)
    assert len(wsi._OPENED) == 2 and len(wsi._PLAIN_CACHE) == 1
    after = open_slide(paths[0], mpp=1.0)  # evicted from both: decoded again
    assert after.wsi is not before.wsi and after.wsi.levels[0] is not before.wsi.levels[0]
    np.testing.assert_array_equal(
        after.read_region(40, 40, size_um=32.0, out_px=32), before.read_region(40, 40, size_um=32.0, out_px=32)
    )
