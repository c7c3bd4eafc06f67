"""A patient's H&E tile(s) as a bag of patches, the darkest (most tissue) first.

Squeezing a 1000 px tile at 40x into the network's 224 px loses the cells. MONAI's
``GridPatch`` cuts one loaded image into a grid of patches and keeps the ``num_patches``
with the lowest intensity sum (``sort_fn="min"``: on H&E, the most stained tissue),
padding a short bag with constant patches. :class:`TileBag` does that for each of a
sample's tiles (a datalist row whose ``"image"`` is a list of files of any sizes) and
keeps the darkest ``num_patches`` of all of them, so one bag is drawn from every file.
Partial patches at the tile edge and the patches that fill a short bag take the
``background`` value (white), so they rank last.

Meta keys written: ``patch_location`` (``(N, 2)`` int array, the patch's first row and
column in its source image as loaded), ``patch_source`` (list of N file names, ``""`` for a
patch that only fills a short bag) and ``patch_size`` (the patch edge in pixels), for
mapping patch results back onto the tiles.
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

from omicsfusion.errors import TransformError

__all__ = ["PATCH_META_KEYS", "TileBag"]

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
