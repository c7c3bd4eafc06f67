"""An ``OmicsPreprocessor`` in ONE ``.npz`` (the bundle's ``models/layout.npz``), read back exactly.

The file is a regular layout file written by ``OTLayout.save`` (the first
type's layout, or the shared one), with the normalisers, channel order,
display names, the fills of empty cells (``missing/<type>/...``, since format 2),
whether mask channels are rendered (``missing_indicator``; a format 2 file without
it has none) and the other types' layouts as its extras: plain arrays, checksummed, atomic,
no pickle, so evaluation and inference reproduce training exactly. Files of
format 1 still load; they hold no fills, so empty cells are refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

from omicsfusion.data.cache import LRUCache, file_key
from omicsfusion.data.errors import OmicsDataError
from omicsfusion.layout import OTLayout
from omicsfusion.preprocessing.missing import MissingValues
from omicsfusion.preprocessing.normalize import FeatureNormalizer

#: value of the ``format`` entry of a preprocessor file (2: with the fills of empty cells)
FORMAT = "omicsfusion.OmicsPreprocessor/2"
_READABLE = ("omicsfusion.OmicsPreprocessor/1", FORMAT)
_Preprocessor = TypeVar("_Preprocessor", bound="PreprocessorFile")  # the class the mixin is part of
_CACHE = LRUCache(8)  # the most recently used layout files of :meth:`PreprocessorFile.cached`


def _prefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


class PreprocessorFile:
    """Mixin of ``OmicsPreprocessor``: :meth:`save`, :meth:`load` and the process-wide :meth:`cached`."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write ONE ``.npz`` through ``OTLayout.save``; ``OTLayout.load`` reads it too."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extras = {
            "format": np.asarray(FORMAT),
            "types": np.asarray(self.types_, dtype=str),
            "shared": np.asarray(self.shared_),
            "missing_indicator": np.asarray(self.missing_indicator_),
        }
        for t in self.types_:
            extras.update({f"norm/{t}/{k}": v for k, v in self.normalizers_[t].to_arrays().items()})
            extras[f"display/{t}"] = self.display_names_[t]
            extras.update({f"missing/{t}/{k}": v for k, v in self.imputers_[t].to_arrays().items()})
        if not self.shared_:
            for t in self.types_[1:]:
                extras.update({f"layout/{t}/{k}": np.asarray(v) for k, v in self.layouts_[t].to_arrays().items()})
        return self.layouts_[self.types_[0]].save(path, extras=extras)

    @classmethod
    def load(cls: type[_Preprocessor], path: str | os.PathLike) -> _Preprocessor:
        """Read a file written by :meth:`save` (format and checksums checked; no pickle).

        The constructor parameters the file records (``omics_types``, ``shared``,
        ``normalization``, ``missing_values``, ``fill_value``, ``max_missing_fraction``,
        ``missing_indicator``) are set; the others keep their defaults.
        """
        first = OTLayout.load(path)
        extras = first.extras_
        if str(extras.get("format", "")) not in _READABLE:
            raise OmicsDataError(f"{path}: a bare layout file, not an omicsfusion preprocessor ({FORMAT!r})")
        types = [str(t) for t in extras["types"]]
        shared = bool(extras["shared"])
        normalizers = {t: FeatureNormalizer.from_arrays(_prefixed(extras, f"norm/{t}/")) for t in types}
        layouts = {types[0]: first}
        for t in types[1:]:
            layouts[t] = first if shared else OTLayout.from_arrays(_prefixed(extras, f"layout/{t}/"), f"{path}[{t}]")
        display = {
            t: dict(
                zip(normalizers[t].feature_names_.tolist(), np.asarray(extras[f"display/{t}"]).tolist(), strict=True)
            )
            for t in types
            if f"display/{t}" in extras
        }
        imputers = None
        if f"missing/{types[0]}/strategy" in extras:
            imputers = {t: MissingValues.from_arrays(_prefixed(extras, f"missing/{t}/")) for t in types}
        policy = {} if imputers is None else imputers[types[0]].get_params()
        indicator = bool(extras.get("missing_indicator", False))
        out = cls(
            omics_types=types,
            shared=shared,
            normalization={t: normalizers[t].method_ for t in types},
            missing_values=policy.get("strategy", "raise"),
            missing_indicator=indicator,
            **{k: policy[k] for k in ("fill_value", "max_missing_fraction") if k in policy},
        )
        out._set(types, normalizers, layouts, shared, display, imputers, indicator)
        return out

    @classmethod
    def cached(cls: type[_Preprocessor], path: str | os.PathLike) -> _Preprocessor:
        """Process-wide copy of :meth:`load`, keyed by resolved path, mtime and size."""
        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"preprocessor / layout file not found: {path}")
        key = file_key(path)
        if key not in _CACHE:
            _CACHE[key] = cls.load(path)
        return _CACHE[key]
