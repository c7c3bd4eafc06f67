"""Layout files for :class:`~omicsfusion.layout.OTLayout`: its fitted state as plain, checksummed arrays.

``to_arrays`` / ``from_arrays`` turn a fitted layout into arrays and back
(format version and checksum checked, see :mod:`.io`); ``save`` / ``load``
write them as one ``.npz`` with optional ``extras`` (e.g. the normalisers of
an ``OmicsPreprocessor``). The file format is unchanged since version 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from omicsfusion.errors import first_names

from . import io
from .errors import LayoutError, check_fitted
from .metrics import METRICS

_Layout = TypeVar("_Layout", bound="LayoutFile")  # the class the mixin is part of (OTLayout)
_KEYS = (
    "grid",
    "feature_names",
    "matrix_data",
    "matrix_indices",
    "matrix_indptr",
    "n_features_in",
    "fit_seconds",
    "method",
    "params",
    "impute_values",
)


class LayoutFile:
    """Mixin of ``OTLayout``: storage of the fitted attributes and the constructor parameters."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted layout as plain arrays (with format version and checksum)."""
        check_fitted(self, "matrix_")
        params = self.get_params()
        for key in ("grid", "max_grid"):
            if params[key] is not None and not isinstance(params[key], str):
                params[key] = [int(v) for v in params[key]]
        arrays = {
            "format_version": np.asarray(io.FORMAT_VERSION, dtype=np.int64),
            "grid": np.asarray(self.grid_, dtype=np.int64),
            "feature_names": self.feature_names_.astype(str),
            "matrix_data": self.matrix_.data.astype(np.float64),
            "matrix_indices": self.matrix_.indices.astype(np.int64),
            "matrix_indptr": self.matrix_.indptr.astype(np.int64),
            "n_features_in": np.asarray(self.n_features_in_, dtype=np.int64),
            "fit_seconds": np.asarray(self.fit_seconds_, dtype=np.float64),
            "method": np.asarray(self.method_),
            "params": np.asarray(json.dumps(params)),
            "impute_values": np.zeros(0) if self.impute_values_ is None else self.impute_values_,
        }
        return io.seal(arrays)

    @classmethod
    def from_arrays(cls: type[_Layout], arrays: dict[str, np.ndarray], source: str = "layout arrays") -> _Layout:
        """Rebuild a fitted layout from ``to_arrays()`` output (version and checksum checked)."""
        io.check_version(arrays, source)
        layout_arrays = {k: arrays[k] for k in (*_KEYS, "format_version", io.CHECKSUM_KEY) if k in arrays}
        missing = [k for k in _KEYS if k not in arrays]
        if missing:
            raise LayoutError(f"{source}: missing layout arrays {first_names(missing)}")
        io.verify(layout_arrays, source)
        params = json.loads(str(arrays["params"]))
        if params.get("metric", "correlation") not in METRICS:
            raise LayoutError(f"{source}: unknown metric {params['metric']!r} (this omicsfusion knows {METRICS})")
        for key in ("grid", "max_grid"):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        layout = cls(**params)
        layout.grid_ = tuple(int(s) for s in arrays["grid"])
        layout.feature_names_ = np.asarray(arrays["feature_names"]).astype(str)
        n_pix, n_feat = int(np.prod(layout.grid_)), layout.feature_names_.size
        layout.matrix_ = sp.csr_matrix(
            (arrays["matrix_data"], arrays["matrix_indices"], arrays["matrix_indptr"]), shape=(n_pix, n_feat)
        )
        layout.n_features_in_ = int(arrays["n_features_in"])
        layout.fit_seconds_ = float(arrays["fit_seconds"])
        layout.method_ = str(arrays["method"])
        fills = np.asarray(arrays["impute_values"], dtype=np.float64)
        layout.impute_values_ = fills if fills.size else None
        layout.extras_ = {}
        return layout

    def save(self, path: str | os.PathLike, extras: dict[str, np.ndarray] | None = None) -> Path:
        """Write the layout (and ``extras`` arrays) to an ``.npz`` atomically."""
        arrays = {f"layout/{k}": v for k, v in self.to_arrays().items()}
        for key, value in (extras or {}).items():
            arrays[f"extras/{key}"] = np.asarray(value)
        return io.write_npz(path, arrays)

    @classmethod
    def load(cls: type[_Layout], path: str | os.PathLike) -> _Layout:
        """Read a layout written by ``save``; ``extras_`` holds the saved extras."""
        arrays = io.read_npz(path)
        layout = cls.from_arrays(
            {k[len("layout/") :]: v for k, v in arrays.items() if k.startswith("layout/")}, source=str(path)
        )
        layout.extras_ = {k[len("extras/") :]: v for k, v in arrays.items() if k.startswith("extras/")}
        return layout
