"""Layout files: ``.npz`` without pickle, a format version, a checksum, atomic writes.

The checksum (SHA-256 over every array's name, dtype, shape and bytes)
catches truncated or edited files; arrays of Python objects are refused both
when writing and when reading, so loading never unpickles anything.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .errors import LayoutError

FORMAT_VERSION = 1
CHECKSUM_KEY = "checksum"


def checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """Hex SHA-256 over the arrays (sorted by name), ignoring any checksum key."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        if key == CHECKSUM_KEY:
            continue
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def seal(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Copy of ``arrays`` with its checksum added; refuses object arrays."""
    out = {}
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise LayoutError(f"array {key!r} holds Python objects; layout files store numbers and strings only")
        out[key] = array
    out[CHECKSUM_KEY] = np.asarray(checksum(out))
    return out


def verify(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Raise LayoutError when the stored checksum does not match the arrays."""
    if CHECKSUM_KEY not in arrays:
        raise LayoutError(f"{source}: no checksum; not a layout written by omicsfusion")
    if str(arrays[CHECKSUM_KEY]) != checksum(arrays):
        raise LayoutError(f"{source}: checksum mismatch; the layout was modified or is damaged")


def check_version(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Raise LayoutError unless the arrays carry this package's format version."""
    if "format_version" not in arrays:
        raise LayoutError(f"{source}: no format_version; not a layout written by omicsfusion")
    version = int(arrays["format_version"])
    if version != FORMAT_VERSION:
        raise LayoutError(f"{source}: layout format version {version}, this omicsfusion reads version {FORMAT_VERSION}")


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write sealed arrays to ``path`` atomically (temp file + os.replace)."""
    path = Path(path)
    sealed = seal(arrays)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **sealed)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and verify a sealed ``.npz`` without ever unpickling."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise LayoutError(f"{path}: no such layout file") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise LayoutError(f"{path}: not a readable layout file ({error})") from None
    verify(arrays, str(path))
    return arrays
