"""Saliency outputs in formats standard tools open: CSV, PNG (2-D), NIfTI (3-D), JSON.

Every file is written to a temporary name in its folder and moved into place
with ``os.replace``. Orientation: tensors are in the network's orientation;
MONAI's ``PILReader`` (the default reader of PNG/JPEG in ``LoadImage``)
reverses the axes of what PIL shows (``reverse_indexing=True``: array
``(W, H)`` for a ``W x H`` picture), so 2-D writers transpose back unless told
the loader did not, and an overlay lines up with the tile a viewer shows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from omicsfusion.fileio import atomic_write

__all__ = [
    "file_safe",
    "layout_map_figure",
    "to_viewer_orientation",
    "write_csv",
    "write_deletion_curves",
    "write_json",
    "write_layout_map",
    "write_nifti",
    "write_overlay_png",
    "write_share_bars",
]


def file_safe(name: str) -> str:
    """``name`` with every character but letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``.

    Sample ids become file names; a spot id such as ``section_1:AAAC-1`` (or a
    real id holding ``/``) must not open a folder or trip a viewer.
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).lstrip(".") or "_"


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, **kwargs) -> Path:
    """Write a DataFrame as CSV (no index unless asked)."""
    kwargs.setdefault("index", False)
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, **kwargs))


def write_json(data: Mapping, path: str | os.PathLike) -> Path:
    """Write JSON (numpy scalars converted)."""
    text = json.dumps(data, indent=2, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def to_viewer_orientation(array: np.ndarray, reverse_indexing: bool = True) -> np.ndarray:
    """Network orientation -> the row/column order PIL and image viewers use (2-D: swap the last two axes)."""
    return np.swapaxes(array, -1, -2) if reverse_indexing else array


def _unit(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    low, high = np.nanmin(array), np.nanmax(array)
    return np.zeros_like(array) if high <= low else (array - low) / (high - low)


def write_overlay_png(
    image: np.ndarray,
    saliency: np.ndarray,
    path: str | os.PathLike,
    alpha: float = 0.45,
    reverse_indexing: bool = True,
    cmap: str = "jet",
) -> Path:
    """RGB PNG: the tile (1 or 3 image channels, ``(C, *spatial)``) with the saliency map blended on top.

    Only the positive part of the map is shown. Each tile channel is rescaled to [0, 1] on
    its own, which undoes any per-channel affine intensity normalisation of the network
    input (e.g. ``NormalizeIntensityd(channel_wise=True)``), so the tile looks like the
    stained slide where saliency is low.
    """
    from matplotlib import colormaps
    from PIL import Image

    image = np.asarray(image, dtype=np.float64)
    tile = np.stack([_unit(channel) for channel in (image[:3] if image.shape[0] >= 3 else image[:1].repeat(3, 0))])
    heat = _unit(np.clip(np.asarray(saliency, dtype=np.float64), 0, None))
    colour = colormaps[cmap](heat)[..., :3].transpose(2, 0, 1)
    weight = alpha * heat[None]
    blended = (1 - weight) * tile + weight * colour
    rgb = to_viewer_orientation(blended, reverse_indexing).transpose(1, 2, 0)
    pixels = Image.fromarray(np.round(rgb * 255).astype(np.uint8), mode="RGB")
    return atomic_write(path, lambda tmp: pixels.save(tmp, format="PNG"))


def write_nifti(volume: np.ndarray, affine: np.ndarray, path: str | os.PathLike) -> Path:
    """A 3-D map as NIfTI with the input image's affine (same voxel order as the network input)."""
    import nibabel as nib

    image = nib.Nifti1Image(np.asarray(volume, dtype=np.float32), np.asarray(affine, dtype=np.float64))
    return atomic_write(path, lambda tmp: nib.save(image, tmp))


def write_share_bars(table: pd.DataFrame, path: str | os.PathLike, title: str) -> Path:
    """Stacked bar chart PNG of a class x modality share table (rows sum to one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.1 * len(table) + 2.5, 3.6))
    bottom = np.zeros(len(table))
    for column in table.columns:
        ax.bar(table.index.astype(str), table[column].to_numpy(), bottom=bottom, label=str(column))
        bottom += table[column].to_numpy()
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of attribution")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return _save_figure(fig, Path(path))


def layout_map_figure(
    grid_map: np.ndarray,
    positions: np.ndarray,
    names: Sequence[str],
    labelled: Sequence[str],
    title: str,
    display_names: Sequence[str] | None = None,
):
    """Matplotlib figure of a 2-D layout-grid attribution map with the ``labelled`` features named.

    Labels (``display_names`` where given, else the ids) stand in one column right of the map,
    evenly spaced in the order of their features' rows, each joined to its pixel by a leader
    line, so they never overlap however close the features sit.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid_map = np.asarray(grid_map, dtype=float)
    if grid_map.ndim == 3:  # 3-D layout: show the slice holding the largest |attribution|
        grid_map = grid_map[..., int(np.abs(grid_map).sum(axis=(0, 1)).argmax())]
    limit = float(np.abs(grid_map).max()) or 1.0
    fig, ax = plt.subplots(figsize=(7.2, 5.4))
    shown = ax.imshow(grid_map, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.3, label="attribution")
    index = {str(n): i for i, n in enumerate(names)}
    shown_names = [str(n) for n in (names if display_names is None else display_names)]
    points = sorted((tuple(positions[index[str(name)]][:2]), shown_names[index[str(name)]]) for name in labelled)
    height, width = grid_map.shape
    slots = np.linspace(-0.5, height - 0.5, len(points) + 2)[1:-1]
    for ((row, col), label), slot in zip(points, slots, strict=True):
        ax.plot(col, row, "k.", markersize=4)
        ax.annotate(
            label,
            (col, row),
            xytext=(width + 0.5, slot),
            textcoords="data",
            fontsize=6,
            va="center",
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.3"},
        )
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def write_layout_map(
    grid_map: np.ndarray,
    positions: np.ndarray,
    names: Sequence[str],
    labelled: Sequence[str],
    path: str | os.PathLike,
    title: str,
    display_names: Sequence[str] | None = None,
) -> Path:
    """PNG of :func:`layout_map_figure` (signed, diverging colours; labels in a side column with leader lines)."""
    return _save_figure(layout_map_figure(grid_map, positions, names, labelled, title, display_names), Path(path))


def write_deletion_curves(curves: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Line plot PNG: true-class probability vs number of deleted genes, top-attributed vs random."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(curves["k"], curves["top_probability"], "o-", label="top-attributed genes deleted")
    ax.plot(curves["k"], curves["random_probability"], "s--", label="random genes deleted")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("genes deleted (set to the training mean)")
    ax.set_ylabel("true-class probability")
    ax.legend(frameon=False)
    fig.tight_layout()
    return _save_figure(fig, Path(path))


def _save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path
