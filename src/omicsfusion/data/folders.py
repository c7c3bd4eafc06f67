"""Existence and real paths of many files from one listing per folder, not system calls per file.

A datalist of a quarter of a million rows names files in a few folders; ``os.path.realpath`` costs a
system call per path component and ``Path.exists`` one per file. A file that is not a symlink
resolves to its folder's real path plus its name, and it exists when its folder's listing holds it,
so :class:`FolderIndex` resolves and lists each folder once and asks the file system about a single
path only for symlinks and names it cannot answer from a listing.
"""

from __future__ import annotations

import os


class FolderIndex:
    """Memoised per folder: its real path and its entries (name -> whether it is a symlink)."""

    def __init__(self) -> None:
        self._folders: dict[str, tuple[str, dict[str, bool] | None]] = {}

    def _folder(self, folder: str) -> tuple[str, dict[str, bool] | None]:
        if folder not in self._folders:
            try:
                with os.scandir(folder or ".") as entries:
                    listing: dict[str, bool] | None = {e.name: e.is_symlink() for e in entries}
            except OSError:  # absent or unreadable: answer each path on its own
                listing = None
            self._folders[folder] = (os.path.realpath(folder or "."), listing)
        return self._folders[folder]

    def _plain(self, path: str) -> tuple[str, str, dict[str, bool]] | None:
        """(real folder, name, listing) when the listing answers for ``path``; None for a symlink or odd name."""
        folder, name = os.path.split(path)
        real, listing = self._folder(folder)
        if listing is None or name in ("", ".", "..") or listing.get(name, False):
            return None
        return real, name, listing

    def realpath(self, path: str | os.PathLike) -> str:
        """``os.path.realpath(path)``."""
        path = os.fspath(path)
        plain = self._plain(path)
        return os.path.realpath(path) if plain is None else os.path.join(plain[0], plain[1])

    def exists(self, path: str | os.PathLike) -> bool:
        """``os.path.exists(path)`` (a file or a folder)."""
        path = os.fspath(path)
        plain = self._plain(path)
        return os.path.exists(path) if plain is None else plain[1] in plain[2]
