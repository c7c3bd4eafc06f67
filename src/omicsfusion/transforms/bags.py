"""A patient's H&E tile(s) or whole slide as a bag of patches, the darkest (most tissue) first.

Squeezing a 1000 px tile at 40x into the network's 224 px loses the cells. MONAI's
``GridPatch`` cuts one loaded image into a grid of patches and keeps the ``num_patches``
with the lowest intensity sum (``sort_fn="min"``: on H&E, the most stained tissue),
padding a short bag with constant patches. :class:`TileBag` does that for each of a
sample's tiles (a datalist row whose ``"image"`` is a list of files of any sizes) and
keeps the darkest ``num_patches`` of all of them, so one bag is drawn from every file.
Partial patches at the tile edge and the patches that fill a short bag take the
``background`` value (white), so they rank last.

A whole slide (a TIFF / SVS pyramid, read lazily by the spatial bundle's slide readers) is too
large to load: :class:`SlideBag` ranks a grid of ``patch_um``-micron cells on the slide's
thumbnail and reads only the ``num_patches`` darkest at ``patch_px``, so the same bag network
takes tiles and slides.

Meta keys written: ``patch_location`` (``(N, 2)`` int array, the patch's first row and
column in its source image as loaded; a slide's level-0 pixels in the same axis order),
``patch_source`` (list of N file names, ``""`` for a patch that only fills a short bag) and
``patch_size`` (the patch edge in those pixels), for mapping patch results back onto the tiles.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import GridPatch, LoadImage, SpatialPad, Transform
from monai.utils import TransformBackends, convert_to_tensor

from omicsfusion.data.spatial.wsi import Slide, open_slide
from omicsfusion.errors import TransformError

__all__ = ["PATCH_META_KEYS", "SlideBag", "TileBag"]

#: meta keys :class:`TileBag` writes
PATCH_META_KEYS = ("patch_location", "patch_source", "patch_size")
_GRID_META_KEYS = ("location", "count", "spatial_shape", "offset")  # GridPatch's own, replaced by the above


class TileBag(Transform):
    """One or several channel-first 2-D images (or their files) -> ``(num_patches, C, patch_px, patch_px)``.

    Args:
        num_patches: patches in the bag (N).
        patch_px: patch edge in pixels of the image as loaded.
        background: value of the padding (the partial patches at an edge, and whole patches
            filling a bag when the tiles hold fewer than N): 255 is white on 0..255 H&E.

    Raises:
        TransformError: no image, or an image that is not ``(C, H, W)`` (names the file).
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, num_patches: int, patch_px: int, background: float = 255.0) -> None:
        if int(num_patches) < 1 or int(patch_px) < 1:
            raise ValueError(f"num_patches and patch_px must be positive, got {num_patches} and {patch_px}")
        self.num_patches, self.patch_px = int(num_patches), int(patch_px)
        self.grid = GridPatch(
            (self.patch_px, self.patch_px),
            num_patches=self.num_patches,
            sort_fn="min",
            pad_mode="constant",
            constant_values=background,
        )
        self.loader = LoadImage(image_only=True, ensure_channel_first=True)
        # GridPatch shrinks the patch to an image smaller than it: pad such an image to one patch first
        self.pad = SpatialPad((self.patch_px, self.patch_px), method="end", value=background)

    def __call__(self, images: Any) -> torch.Tensor:
        if isinstance(images, (str, os.PathLike, np.ndarray, torch.Tensor)):
            images = [images]
        if not images:
            raise TransformError("TileBag got no image to cut into patches")
        patches, locations, sources, meta = [], [], [], None
        for item in images:
            image = self.loader(item) if isinstance(item, (str, os.PathLike)) else item
            name = str(getattr(image, "meta", {}).get("filename_or_obj", item if isinstance(item, str) else ""))
            if image.ndim != 3:
                raise TransformError(f"TileBag needs channel-first 2-D images (C, H, W); {name!r} has {image.shape}")
            if meta is None:
                meta = {k: v for k, v in getattr(image, "meta", {}).items() if k not in _GRID_META_KEYS}
            bag = self.grid(self.pad(image))  # darkest first, short bags padded at the end
            n_real = min(self.num_patches, math.prod(math.ceil(s / self.patch_px) for s in image.shape[1:]))
            patches.append(convert_to_tensor(bag, track_meta=False))
            locations.append(np.asarray(bag.meta["location"]).T)
            sources += [name] * n_real + [""] * (self.num_patches - n_real)
        stacked = torch.cat(patches)
        keep = torch.argsort(stacked.flatten(1).sum(1), stable=True)[: self.num_patches]
        out = stacked[keep]
        if not get_track_meta():
            return out
        meta.update(
            {
                "patch_location": np.concatenate(locations)[keep.numpy()].astype(np.int64),
                "patch_source": [sources[i] for i in keep.tolist()],
                "patch_size": self.patch_px,
            }
        )
        return MetaTensor(out, meta=meta)


class SlideBag(Transform):
    """A whole slide's file -> ``(num_patches, 3, patch_px, patch_px)``: its darkest ``patch_um``-micron cells.

    The slide is opened lazily (:func:`~omicsfusion.data.spatial.open_slide`: tifffile, OpenSlide or cuCIM
    for TIFF / SVS, PIL for a plain image); a grid of ``patch_um`` cells is ranked by mean intensity on its
    thumbnail (darkest, i.e. most stained, first; cells past the edge count as white), and the
    ``num_patches`` first are read at the pyramid level that matches ``patch_um / patch_px``. A slide
    with fewer cells gives a bag padded with ``background`` patches (source ``""``). Patches come with
    columns first, as MONAI's PIL reader loads an image, so tile and slide bags feed a network alike.

    Args:
        num_patches: patches in the bag (N).
        patch_um: cell edge in microns (e.g. 128 um: 256 px at 0.5 um/px).
        patch_px: patch edge in pixels after reading.
        mpp: microns per level-0 pixel; ``None`` reads it from the file (``PixelSizeError`` when absent).
        max_side: thumbnail size the cells are ranked on.
        background: value of the padding patches.
    """

    backend = [TransformBackends.NUMPY]

    def __init__(
        self,
        num_patches: int,
        patch_um: float,
        patch_px: int,
        mpp: float | None = None,
        max_side: int = 2048,
        background: float = 255.0,
    ) -> None:
        if int(num_patches) < 1 or int(patch_px) < 1 or not float(patch_um) > 0:
            raise ValueError(
                f"num_patches, patch_um and patch_px must be positive, got {num_patches}, {patch_um}, {patch_px}"
            )
        self.num_patches, self.patch_um, self.patch_px = int(num_patches), float(patch_um), int(patch_px)
        self.mpp, self.max_side, self.background = mpp, int(max_side), float(background)

    def cells(self, slide: Slide) -> tuple[np.ndarray, float]:
        """``(M, 2)`` level-0 ``(row, column)`` of the slide's darkest cells (at most N, darkest first) and the
        cell edge in level-0 pixels."""
        thumb, scale = slide.thumbnail(self.max_side)
        cell = self.patch_um / slide.mpp  # level-0 pixels per cell
        height, width = slide.shape
        rows, cols = max(math.ceil(height / cell), 1), max(math.ceil(width / cell), 1)
        grey = np.asarray(thumb, dtype=np.float64).mean(axis=2)
        # each thumbnail pixel to its cell; a cell's mean over its pixels, white where a cell has none
        r = np.minimum((np.arange(grey.shape[0]) / (scale * cell)).astype(int), rows - 1)
        c = np.minimum((np.arange(grey.shape[1]) / (scale * cell)).astype(int), cols - 1)
        index = (r[:, None] * cols + c[None, :]).ravel()
        total = np.bincount(index, weights=grey.ravel(), minlength=rows * cols)
        count = np.bincount(index, minlength=rows * cols)
        mean = np.where(count > 0, total / np.maximum(count, 1), 255.0)
        # a cell cut by the slide's edge counts its missing part as white
        covered = np.outer(
            np.minimum(height - np.arange(rows) * cell, cell), np.minimum(width - np.arange(cols) * cell, cell)
        )
        mean = (mean * covered.ravel() + 255.0 * (cell * cell - covered.ravel())) / (cell * cell)
        order = np.argsort(mean, kind="stable")[: self.num_patches]
        return np.stack([order // cols, order % cols], axis=1) * cell, cell

    def __call__(self, path: str | os.PathLike) -> torch.Tensor:
        if not isinstance(path, (str, os.PathLike)):
            raise TransformError(f"SlideBag reads a slide file, got {type(path).__name__}")
        slide = open_slide(path, mpp=self.mpp)
        corners, cell = self.cells(slide)
        patches = [
            slide.read_region(col + cell / 2, row + cell / 2, self.patch_um, self.patch_px).swapaxes(1, 2)
            for row, col in corners
        ]
        short = self.num_patches - len(patches)
        patches += [np.full((3, self.patch_px, self.patch_px), self.background, dtype=np.uint8)] * short
        out = torch.from_numpy(np.stack(patches).astype(np.float32))
        if not get_track_meta():
            return out
        locations = np.concatenate([np.round(corners[:, ::-1]), np.zeros((short, 2))]).astype(np.int64)
        meta = {
            "filename_or_obj": str(path),
            "patch_location": locations,  # columns first, as the patches
            "patch_source": [str(path)] * len(corners) + [""] * short,
            "patch_size": float(cell),
        }
        return MetaTensor(out, meta=meta)
