"""Predicted spot classes drawn over a slide thumbnail (PNG), for a look at a whole section at once."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omicsfusion.data.spatial.wsi import open_slide

__all__ = ["write_overlay"]


def write_overlay(
    path: str | os.PathLike,
    slide: str | os.PathLike,
    xy: np.ndarray,
    classes: np.ndarray,
    class_names: Sequence[str],
    spot_px: float,
    max_side: int = 1024,
    title: str = "",
) -> Path:
    """Write a PNG of the slide thumbnail with one coloured disc per spot (colour = class) and a legend.

    Args:
        path: output PNG (written atomically).
        slide: slide image (opened lazily; only a low pyramid level is read).
        xy: ``(n, 2)`` spot centres in level-0 pixels.
        classes: ``(n,)`` class index per spot.
        class_names: legend labels.
        spot_px: spot diameter in level-0 pixels.
        max_side: thumbnail long side.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    thumb, scale = open_slide(slide).thumbnail(max_side)
    colours = plt.get_cmap("tab10")(np.arange(len(class_names)) % 10)
    height, width = thumb.shape[:2]
    fig, ax = plt.subplots(figsize=(8, 8 * height / width + 0.6))
    ax.imshow(thumb)
    dots_per_px = fig.dpi * 8 / width * 0.8
    ax.scatter(
        xy[:, 0] * scale,
        xy[:, 1] * scale,
        s=(spot_px * scale * dots_per_px) ** 2 * 0.8,
        c=colours[np.asarray(classes, dtype=int)],
        alpha=0.75,
        linewidths=0,
    )
    ax.set_axis_off()
    ax.set_title(title)
    ax.legend(
        handles=[Patch(color=colours[k], label=n) for k, n in enumerate(class_names)],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=min(len(class_names), 4),
        frameon=False,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=fig.dpi)
    plt.close(fig)
    os.replace(tmp, path)
    return path
