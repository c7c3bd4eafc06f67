"""Spot patches read lazily from slides, as MONAI transforms (the ``PatchWSIDataset`` idea, per spot).

MONAI's ``PatchWSIDataset`` returns only ``image`` and ``label``, and takes a
patch size in pixels of one level. A spot needs a patch of a fixed PHYSICAL
size centred on it, on slides of different pixel sizes, and must keep its
sample id for the omics branch. :class:`LoadSpotPatch` reads
``size_um`` microns around a level-0 centre at the pyramid level matching
``size_um / size_px`` (through the slide's MONAI WSI reader, tiles only) and
resamples to ``size_px``; :class:`LoadSpotPatchd` does it for a datalist row
``{"image": slide, "x": .., "y": .., "mpp": ..}`` and keeps every other key,
so a plain MONAI ``Dataset`` over spot rows is a lazy patch dataset. A patch
that a viewer already cut around the spot (MONAI Label hands in-memory images
as channel-last arrays) goes through :meth:`LoadSpotPatch.from_array` instead.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from omicsfusion.data.spatial.wsi import open_slide

__all__ = ["LoadSpotPatch", "LoadSpotPatchd", "LoadSpotPatchD", "LoadSpotPatchDict"]


class LoadSpotPatch(Transform):
    """``(slide path, x, y, mpp)`` -> ``(3, size_px, size_px)`` float32 MetaTensor in [0, 255].

    Args:
        size_um: patch edge in microns (e.g. 112 um, about 224 px at 0.5 um/px).
        size_px: patch edge in pixels after resampling.
        backend: slide backend (``"auto"``: tifffile, openslide, cuCIM for TIFF/SVS; PIL for JPEG/PNG).

    Slides are opened once per process (see :func:`open_slide`); the meta holds
    ``filename_or_obj``, ``spot_location`` (x, y), ``mpp`` and ``patch_um``.
    """

    backend = [TransformBackends.NUMPY]

    def __init__(self, size_um: float, size_px: int, backend: str = "auto") -> None:
        if size_um <= 0 or size_px <= 0:
            raise ValueError(f"size_um and size_px must be positive, got {size_um}, {size_px}")
        self.size_um = float(size_um)
        self.size_px = int(size_px)
        self.backend_name = backend

    def __call__(self, path: str, x: float, y: float, mpp: float | None = None) -> MetaTensor:
        slide = open_slide(path, backend=self.backend_name, mpp=mpp)
        patch = slide.read_region(float(x), float(y), self.size_um, self.size_px)
        meta = {"filename_or_obj": str(path), "spot_location": np.asarray([x, y], dtype=np.float64),
                "mpp": slide.mpp, "patch_um": self.size_um}
        return MetaTensor(torch.from_numpy(patch.astype(np.float32)), meta=meta)

    def from_array(self, patch: Any) -> MetaTensor:
        """A patch already cut around the spot, channel-last ``(size_px, size_px, 3)`` -> the same output.

        Channel-last is how MONAI Label hands an in-memory image to a bundle; the
        caller has cut ``size_um`` microns at the slide's pixel size, so only the shape is checked.
        """
        array = np.asarray(patch.detach().cpu() if isinstance(patch, torch.Tensor) else patch)
        expected = (self.size_px, self.size_px, 3)
        if array.shape != expected:
            raise ValueError(f"an in-memory spot patch must be channel-last {expected} ({self.size_um:g} um "
                             f"around the spot), got shape {array.shape}")
        channels_first = np.ascontiguousarray(np.moveaxis(array, -1, 0), dtype=np.float32)
        return MetaTensor(torch.from_numpy(channels_first), meta={"patch_um": self.size_um})


class LoadSpotPatchd(MapTransform):
    """Dictionary wrapper of :class:`LoadSpotPatch`: replaces the slide path under ``keys`` by its spot patch.

    A value that is not a path is an already cut patch (:meth:`LoadSpotPatch.from_array`);
    the spot centre keys are then not needed.

    Args:
        keys: key(s) holding the slide path (usually ``"image"``).
        size_um: patch edge in microns.
        size_px: patch edge in pixels.
        x_key, y_key: keys of the spot centre (level-0 pixels).
        mpp_key: key of the microns per pixel (``None`` or absent: the slide file's own).
        backend: slide backend.
    """

    backend = LoadSpotPatch.backend

    def __init__(self, keys: KeysCollection, size_um: float, size_px: int, x_key: str = "x", y_key: str = "y",
                 mpp_key: str | None = "mpp", backend: str = "auto", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadSpotPatch(size_um, size_px, backend)
        self.x_key, self.y_key, self.mpp_key = x_key, y_key, mpp_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        mpp = d.get(self.mpp_key) if self.mpp_key else None
        for key in self.key_iterator(d):
            if isinstance(d[key], (str, os.PathLike)):
                d[key] = self.loader(d[key], d[self.x_key], d[self.y_key], None if mpp is None else float(mpp))
            else:
                d[key] = self.loader.from_array(d[key])
        return d


LoadSpotPatchD = LoadSpotPatchDict = LoadSpotPatchd
