"""Per-fold image makers: the OT layouts, the random-layout control and the peer layouts.

Every maker is fitted on the training samples of a fold only and turns any
samples into ``(n, C, *grid)`` images, one channel per omics type (then, with the
preprocessor's missing indicator, one mask channel per type, except for the peers); the
CNNs read them a batch at a time (:class:`RenderedImages`), never all at once. The OT
makers are :class:`omicsfusion.preprocessing.OmicsPreprocessor` itself (normaliser +
layout per type, or one shared layout), so the benchmark measures exactly the
preprocessing the bundles use. The control and the peers reuse its fitted
normalisers and its grid, so all CNNs of a fold compare layouts on the same
normalised values and the same pixels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from omicsfusion.data import OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.preprocessing.rendering import empty_cells, held_ids, mask_channel


class PeerLayout(Protocol):
    """What a peer layout offers (see :mod:`omicsfusion.benchmark.peers`)."""

    def fit(self, X: np.ndarray) -> PeerLayout: ...

    def transform(self, X: np.ndarray) -> np.ndarray: ...


@dataclass
class Imager:
    """A fitted image maker.

    Attributes:
        images: sample ids -> ``(n, C, *grid)`` float32 images.
        grid: the pixel grid.
        description: how the layout was made, for the report.
        fit_s: seconds spent fitting normalisers and layouts.
    """

    images: Callable[[Sequence[str]], np.ndarray]
    grid: tuple[int, ...]
    description: str
    fit_s: float


class RenderedImages:
    """The images of ``sample_ids``, rendered from the table a batch at a time when indexed.

    ``images[indices]`` is ``imager.images([sample_ids[i] for i in indices])``: the rows are read from
    the table and pushed through the sparse layout matrix per batch, so a CNN trains on a quarter of
    a million samples without a dense copy of their images (see :class:`models.ImageBatches`).
    """

    def __init__(self, imager: Imager, sample_ids: Sequence[str]) -> None:
        self.imager = imager
        self.sample_ids = np.asarray(sample_ids, dtype=str)

    def __len__(self) -> int:
        return len(self.sample_ids)

    def __getitem__(self, indices: np.ndarray) -> np.ndarray:
        return self.imager.images(self.sample_ids[np.asarray(indices, dtype=np.int64)].tolist())


def normalized(
    pre: OmicsPreprocessor, table: OmicsTable, omics_type: str, ids: Sequence[str], missing: str = "raise"
) -> np.ndarray:
    """Rows of one type, aligned to the preprocessor's features, normalised (zeros where ``missing="mask"``)."""
    return pre.normalized_rows(table, omics_type, ids, missing=missing)


def fit_preprocessor(
    table: OmicsTable,
    train_ids: Sequence[str],
    normalization: str | Mapping[str, str],
    layout_params: Mapping[str, Any],
    shared: bool,
    missing: str = "raise",
    min_samples_per_feature: int | None = None,
    **imputation: Any,
) -> tuple[OmicsPreprocessor, float]:
    """OmicsPreprocessor fitted on the training ids, and the seconds it took.

    ``imputation``: its ``missing_values``, ``fill_value``, ``max_missing_fraction`` and ``missing_indicator``.
    """
    start = time.perf_counter()
    pre = OmicsPreprocessor(
        layout=OTLayout(**layout_params),
        normalization=normalization,
        shared=shared,
        missing=missing,
        min_samples_per_feature=min_samples_per_feature,
        **imputation,
    ).fit(table.select(train_ids))
    return pre, time.perf_counter() - start


def from_preprocessor(pre: OmicsPreprocessor, table: OmicsTable, description: str, fit_s: float) -> Imager:
    """Images straight from a fitted preprocessor (OT per type, OT shared, or its deepinsight method).

    What ``pre.transform(table.select(ids))`` gives, without copying the selected rows into a new table.
    """

    def images(ids: Sequence[str]) -> np.ndarray:
        return pre.images(_channel_vectors(pre, table, ids, pre.missing), normalized=True)

    return Imager(images, tuple(pre.grid_), description, fit_s)


def _channel_vectors(
    pre: OmicsPreprocessor,
    table: OmicsTable,
    ids: Sequence[str],
    missing: str,
    perms: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Per channel the normalised rows of ``ids`` (features permuted by ``perms``), then the missing masks.

    A mask (``pre.missing_indicator_``) is permuted with its type, so it stays on its feature's pixel.
    """
    vectors, masks = {}, {}
    for t in pre.fitted_types():
        order = slice(None) if perms is None else perms[t]
        vectors[t] = normalized(pre, table, t, ids, missing)[:, order]
        if pre.missing_indicator_:
            masks[mask_channel(t)] = empty_cells(table, t, ids, pre.feature_names(t), missing=missing)[:, order]
    return {**vectors, **masks}


def shuffled(pre: OmicsPreprocessor, table: OmicsTable, description: str, seed: int, missing: str = "raise") -> Imager:
    """The random-layout control: the same fitted pixels, each type's features permuted.

    A feature lands on the pixel another feature got from the OT layout, so
    the image statistics are unchanged and only the neighbourhoods are lost; its
    mask (missing indicator) lands on the same shuffled pixel.
    """
    rng = np.random.default_rng(seed)
    perms = {t: rng.permutation(pre.feature_names(t).size) for t in pre.fitted_types()}

    def images(ids: Sequence[str]) -> np.ndarray:
        return pre.images(_channel_vectors(pre, table, ids, missing, perms), normalized=True)

    return Imager(images, tuple(pre.grid_), f"{description}, features shuffled", 0.0)


def fit_peer(
    pre: OmicsPreprocessor,
    table: OmicsTable,
    train_ids: Sequence[str],
    make: Callable[[], PeerLayout],
    description: str,
    missing: str = "raise",
) -> Imager:
    """A peer layout per omics type, fitted on the preprocessor's normalised training rows."""
    layouts: dict[str, PeerLayout] = {}
    start = time.perf_counter()
    for t in pre.fitted_types():
        held = held_ids(table, t, train_ids, missing)
        layouts[t] = make().fit(normalized(pre, table, t, held).astype(np.float64))
    fit_s = time.perf_counter() - start

    def images(ids: Sequence[str]) -> np.ndarray:
        channels = [layouts[t].transform(normalized(pre, table, t, ids, missing)) for t in pre.fitted_types()]
        return np.stack(channels, axis=1).astype(np.float32)

    return Imager(images, tuple(pre.grid_), description, fit_s)
