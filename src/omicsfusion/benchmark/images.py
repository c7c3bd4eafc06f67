"""Per-fold image makers: the OT layouts, the random-layout control and the peer layouts.

Every maker is fitted on the (normalised) training fold only and turns any
fold's tables into ``(n, C, *grid)`` images, one channel per omics type. All
CNN models of a fold share the OT grid, so they compare layouts on the same
pixels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from omicsfusion.layout import OTLayout, fit_shared_layout


class Layout(Protocol):
    """What the benchmark needs from a layout: the engine's and the peers' common shape."""

    grid_: tuple[int, ...]

    def transform(self, X: np.ndarray) -> np.ndarray: ...


@dataclass
class Imager:
    """Fitted layouts (one per omics type, possibly the same object) stacked as channels.

    Attributes:
        layouts: omics type -> fitted layout, in channel order.
        columns: omics type -> the feature names each layout reads, in order.
        description: how the layout was made, for the report.
        fit_s: seconds spent fitting the layouts.
        shuffles: omics type -> column permutation applied before the layout
            (the random-layout control), or empty.
    """

    layouts: dict[str, Layout]
    columns: dict[str, np.ndarray]
    description: str
    fit_s: float
    shuffles: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(next(iter(self.layouts.values())).grid_)

    def transform(self, tables: Mapping[str, pd.DataFrame]) -> np.ndarray:
        """Images ``(n, C, *grid)`` float32; features a layout knows but a table lacks read as 0."""
        channels = []
        for omics_type, layout in self.layouts.items():
            x = tables[omics_type].reindex(columns=self.columns[omics_type], fill_value=0.0).to_numpy(np.float32)
            if omics_type in self.shuffles:
                x = x[:, self.shuffles[omics_type]]
            channels.append(np.asarray(layout.transform(x), dtype=np.float32))
        return np.stack(channels, axis=1)


def _timed(fit: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


def fit_per_type(
    train: Mapping[str, pd.DataFrame], layout_params: Mapping[str, Any], description: str
) -> Imager:
    """One OTLayout per omics type; the widest type sets the grid the others reuse.

    Args:
        train: normalised training tables.
        layout_params: OTLayout parameters (``method``, ``grid``, ``random_state``...).
        description: report text, e.g. "OTLayout(method='auto')".
    """
    order = sorted(train, key=lambda t: -train[t].shape[1])
    layouts: dict[str, OTLayout] = {}
    seconds = 0.0
    params = dict(layout_params)
    for omics_type in order:
        layout, spent = _timed(lambda: OTLayout(**params).fit(train[omics_type]))
        layouts[omics_type] = layout
        seconds += spent
        params["grid"] = tuple(layout.grid_)
    ordered = {t: layouts[t] for t in train}
    return Imager(ordered, {t: np.asarray(l.feature_names_) for t, l in ordered.items()}, description, seconds)


def fit_shared(train: Mapping[str, pd.DataFrame], layout_params: Mapping[str, Any]) -> Imager:
    """One layout over the union of all types' features; each type is one channel on it."""
    layout, seconds = _timed(lambda: fit_shared_layout(dict(train), **layout_params))
    names = np.asarray(layout.feature_names_)
    return Imager(
        {t: layout for t in train},
        {t: names for t in train},
        f"fit_shared_layout(method={layout_params.get('method', 'auto')!r})",
        seconds,
    )


def shuffled(imager: Imager, seed: int) -> Imager:
    """The random-layout control: the same fitted pixels, each type's features permuted.

    A feature lands on the pixel another feature got from the OT layout, so
    the image statistics are unchanged and only the neighbourhoods are lost.
    """
    rng = np.random.default_rng(seed)
    shuffles = {t: rng.permutation(len(cols)) for t, cols in imager.columns.items()}
    return Imager(imager.layouts, imager.columns, f"{imager.description}, features shuffled", 0.0, shuffles)


def fit_peer(train: Mapping[str, pd.DataFrame], make: Callable[[], Any], description: str) -> Imager:
    """A peer layout (see :mod:`omicsfusion.benchmark.peers`) per omics type, fitted on arrays."""
    layouts, seconds = {}, 0.0
    for omics_type, frame in train.items():
        layout, spent = _timed(lambda: make().fit(frame.to_numpy(np.float64)))
        layouts[omics_type] = layout
        seconds += spent
    return Imager(layouts, {t: np.asarray(f.columns) for t, f in train.items()}, description, seconds)
