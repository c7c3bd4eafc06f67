"""Spot patches read lazily from slides, as MONAI transforms (the ``PatchWSIDataset`` idea, per spot).

MONAI's ``PatchWSIDataset`` returns only ``image`` and ``label``, and takes a
patch size in pixels of one level. A spot needs a patch of a fixed PHYSICAL
size centred on it, on slides of different pixel sizes, and must keep its
sample id for the omics branch. :class:`LoadSpotPatch` reads
``size_um`` microns around a level-0 centre at the pyramid level matching
``size_um / size_px`` (through the slide's MONAI WSI reader, tiles only) and
resamples to ``size_px``; :class:`~omicsfusion.transforms.dictionary.LoadSpotPatchd`
does it for a datalist row ``{"image": slide, "x": .., "y": .., "mpp": ..}`` and
keeps every other key, so a plain MONAI ``Dataset`` over spot rows is a lazy
patch dataset. A patch
that a viewer already cut around the spot (MONAI Label hands in-memory images
as channel-last arrays) goes through :meth:`LoadSpotPatch.from_array` instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import Transform
from monai.utils import TransformBackends

from omicsfusion.data.spatial.wsi import open_slide

__all__ = ["LoadSpotPatch"]


class LoadSpotPatch(Transform):
    """``(slide path, x, y, mpp)`` -> ``(3, size_px, size_px)`` float32 MetaTensor in [0, 255].

    Args:
        size_um: patch edge in microns (e.g. 112 um, about 224 px at 0.5 um/px).
        size_px: patch edge in pixels after resampling.
        backend: slide backend (``"auto"``: tifffile, openslide, cuCIM for TIFF/SVS; PIL for JPEG/PNG).

    Slides are opened once per process (see :func:`~omicsfusion.data.spatial.open_slide`);
    the meta holds ``filename_or_obj``, ``spot_location`` (x, y), ``mpp`` and
    ``patch_um`` (a plain tensor when ``get_track_meta()`` is off).
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
        out = torch.from_numpy(patch.astype(np.float32))
        if not get_track_meta():
            return out
        meta = {
            "filename_or_obj": str(path),
            "spot_location": np.asarray([x, y], dtype=np.float64),
            "mpp": slide.mpp,
            "patch_um": self.size_um,
        }
        return MetaTensor(out, meta=meta)

    def from_array(self, patch: Any) -> MetaTensor:
        """A patch already cut around the spot, channel-last ``(size_px, size_px, 3)`` -> the same output.

        Channel-last is how MONAI Label hands an in-memory image to a bundle; the
        caller has cut ``size_um`` microns at the slide's pixel size, so only the shape is checked.
        """
        array = np.asarray(patch.detach().cpu() if isinstance(patch, torch.Tensor) else patch)
        expected = (self.size_px, self.size_px, 3)
        if array.shape != expected:
            raise ValueError(
                f"an in-memory spot patch must be channel-last {expected} ({self.size_um:g} um "
                f"around the spot), got shape {array.shape}"
            )
        channels_first = torch.from_numpy(np.ascontiguousarray(np.moveaxis(array, -1, 0), dtype=np.float32))
        return MetaTensor(channels_first, meta={"patch_um": self.size_um}) if get_track_meta() else channels_first
