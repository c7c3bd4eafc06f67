"""Process-wide caches of files read once, bounded so that a long process does not keep every file it named.

Omics tables and layout files asked for through ``cached`` and slides opened with
``open_slide`` are read once per process and shared by every caller that names them
(and by forked DataLoader workers; the omics transforms own their tables instead), keyed by
:func:`file_key` so that an edited file is read again. A training run names a
handful of files; a process that goes through many (a test session, a
notebook over many runs, a recipe over many splits) would keep them all, so
each cache is an :class:`LRUCache` that keeps its most recently used entries.
An evicted entry is read again when it is named again, with the same result.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

__all__ = ["LRUCache", "file_key"]


def file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    """Resolved path, modification time (ns) and size: the identity of a file's current content."""
    path = Path(path).resolve()
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


class LRUCache:
    """A thread-safe mapping of at most ``maxsize`` entries that drops the least recently used one (0 keeps none)."""

    def __init__(self, maxsize: int) -> None:
        if int(maxsize) < 0:
            raise ValueError(f"maxsize must be 0 or more, got {maxsize}")
        self.maxsize = int(maxsize)
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The entry of ``key`` (now the most recently used), else ``default``."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            value = self._items[key]
            self._items.move_to_end(key)
            return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
