"""The one object every spatial reader returns: spots, their pixel positions, the slide, the pixel size.

Whatever the source layout (Space Ranger, HEST, legacy ST), downstream code
sees an ``AnnData`` (spots x genes, raw counts or the values the file holds)
whose ``obsm["spatial"]`` is ``(x, y)`` = ``(column, row)`` in LEVEL-0 PIXELS
OF THE SLIDE HANDLE, the handle itself (or ``None`` for image-less data) and
the microns per pixel of that frame. A patch of a given physical size is
then ``size_um / mpp`` pixels wherever the data came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from omicsfusion.data.spatial.errors import AnnotationColumnError, PixelSizeError, SpotsOutsideSlideError
from omicsfusion.data.spatial.wsi import Slide

__all__ = ["VISIUM_SPOT_UM", "SpatialSample", "check_spots_inside"]

#: diameter of a Visium spot in microns (Space Ranger's scale reference)
VISIUM_SPOT_UM = 55.0


@dataclass
class SpatialSample:
    """Spots of one section with their slide.

    Attributes:
        adata: ``AnnData``; obs index = spot barcodes, ``obsm["spatial"]`` (n, 2) float64 ``(x, y)``
            in level-0 pixels of ``slide``; ``uns["omicsfusion"]`` holds ``name``, ``image``, ``mpp``.
        slide: lazily read slide handle, or ``None`` when the data set has no image.
        mpp: microns per pixel of the ``obsm["spatial"]`` frame.
        name: section / sample name (used in messages and sample ids).
        spot_diameter_um: physical spot diameter when the technology fixes it (Visium 55 um).
    """

    adata: Any
    slide: Slide | None
    mpp: float
    name: str
    spot_diameter_um: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mpp) and self.mpp > 0):
            raise PixelSizeError(f"section {self.name!r}: microns per pixel must be positive, got {self.mpp}")
        xy = np.asarray(self.adata.obsm["spatial"], dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"section {self.name!r}: obsm['spatial'] must be (n, 2), got {xy.shape}")
        self.adata.obsm["spatial"] = xy
        self.adata.uns["omicsfusion"] = {
            "name": self.name,
            "image": "" if self.slide is None else self.slide.path,
            "mpp": float(self.mpp),
        }
        if self.slide is not None:
            check_spots_inside(xy, self.slide.shape, self.adata.obs_names, f"section {self.name!r} ({self.slide.path})")

    @property
    def barcodes(self) -> list[str]:
        return [str(b) for b in self.adata.obs_names]

    @property
    def xy(self) -> np.ndarray:
        """``(n, 2)`` spot centres ``(x, y)`` in level-0 pixels of the slide."""
        return self.adata.obsm["spatial"]

    def labels(self, column: str) -> Any:
        """The obs column ``column`` (a pandas Series indexed by barcode).

        Raises:
            AnnotationColumnError: no such column (the message lists those present).
        """
        if column not in self.adata.obs.columns:
            raise AnnotationColumnError(
                f"section {self.name!r}: no annotation column {column!r}; columns present: "
                f"{list(self.adata.obs.columns)}"
            )
        return self.adata.obs[column]


def check_spots_inside(xy: np.ndarray, shape: tuple[int, int], barcodes, source: str) -> None:
    """Refuse spot centres outside ``shape`` = ``(height, width)`` of the slide.

    Raises:
        SpotsOutsideSlideError: with the count, the first barcodes and their coordinates.
    """
    height, width = shape
    outside = (xy[:, 0] < 0) | (xy[:, 1] < 0) | (xy[:, 0] >= width) | (xy[:, 1] >= height) | ~np.isfinite(xy).all(1)
    if outside.any():
        idx = np.flatnonzero(outside)[:3]
        examples = ", ".join(f"{barcodes[i]} at (x={xy[i, 0]:.1f}, y={xy[i, 1]:.1f})" for i in idx)
        raise SpotsOutsideSlideError(
            f"{source}: {int(outside.sum())} of {len(xy)} spot(s) lie outside the {width} x {height} px slide, "
            f"e.g. {examples}; wrong image, wrong scale factor, or x/y swapped?"
        )
