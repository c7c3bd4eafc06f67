"""MONAI image reader for a folder of 2-D TIFF slices (one folder = one 3-D volume).

``LoadImage(reader=SliceFolderReader(...))`` (or the bundles' ``image_reader``
key) loads a TCGA-LGG case folder as a channel-first MetaTensor whose affine
carries a stated spacing: the files record none. The stacking rules and the
named errors live in :mod:`omicsfusion.data.slices`. ``LoadImage`` turns a
reader's exception into a ``RuntimeError`` after trying its other readers, so
the bundles check folders first with ``CheckImageSized``, which raises the
named error itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.data import ImageReader
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple

from omicsfusion.data.errors import SliceShapeError
from omicsfusion.data.pixel_limit import MAX_PIXELS
from omicsfusion.data.slices import LGG_CHANNELS, is_slice_folder, read_slice_folder, slice_files, slice_number

__all__ = ["SliceFolderReader"]


class SliceFolderReader(ImageReader):
    """Read a folder of ``<case>_<k>.tif`` slices, stacked in ``k`` order, as ``(C, W, H, K)``.

    The affine is ``diag(*spacing, 1)``: axes (column, row, slice) taken as RAS with the
    origin at the first voxel. TCGA-LGG states neither spacing nor orientation, so both
    are nominal: give the spacing you assume (the default 1 mm on every axis keeps voxel
    units), and read ``Orientationd`` as a no-op on these volumes.

    Args:
        channels: channels to keep, by index or name in ``channel_names`` (default all:
            T1 pre, FLAIR, T1 post for TCGA-LGG).
        mask: read the ``<case>_<k>_mask.tif`` files instead, as a one-channel label volume
            (values as stored); the masks are never part of the image.
        spacing: voxel size (mm) along column, row and slice.
        channel_names: names of the stored channels.
        max_pixels: per-slice pixel limit (pixel bombs are refused from the header).
    """

    def __init__(self, channels: Sequence[int | str] | None = None, mask: bool = False,
                 spacing: Sequence[float] = (1.0, 1.0, 1.0), channel_names: Sequence[str] = LGG_CHANNELS,
                 max_pixels: int = MAX_PIXELS) -> None:
        spacing = tuple(float(s) for s in spacing)
        if len(spacing) != 3 or min(spacing) <= 0:
            raise ValueError(f"spacing must be 3 positive sizes (column, row, slice), got {spacing}")
        self.channels = None if channels is None else list(channels)
        self.mask = bool(mask)
        self.spacing = spacing
        self.channel_names = tuple(channel_names)
        self.max_pixels = max_pixels

    def verify_suffix(self, filename: Sequence[str] | str) -> bool:
        """True for folders that hold ``<name>_<k>.tif`` slices."""
        return all(is_slice_folder(f) for f in ensure_tuple(filename))

    def read(self, data: Sequence[str] | str, **kwargs: Any) -> list[tuple[str, np.ndarray]] | tuple[str, np.ndarray]:
        """Decode each folder (named errors of :func:`~omicsfusion.data.slices.check_slice_folder`)."""
        images = [(str(f), read_slice_folder(f, self.channels, self.mask, self.channel_names, self.max_pixels))
                  for f in ensure_tuple(data)]
        return images if len(images) > 1 else images[0]

    def get_data(self, img: list[tuple[str, np.ndarray]] | tuple[str, np.ndarray]) -> tuple[np.ndarray, dict]:
        """Channel-first array (several folders: their channels concatenated) and its meta."""
        images = img if isinstance(img, list) else [img]
        shapes = {a.shape[1:] for _, a in images}
        if len(shapes) > 1:
            raise SliceShapeError(f"slice folders {[f for f, _ in images]} stack into different shapes "
                                  f"{sorted(shapes)}; cannot join them as channels")
        array = np.concatenate([a for _, a in images], axis=0)
        affine = np.diag([*self.spacing, 1.0])
        files = slice_files(images[0][0], self.mask)
        meta = {
            MetaKeys.AFFINE: affine,
            MetaKeys.ORIGINAL_AFFINE: affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.asarray(array.shape[1:]),
            MetaKeys.ORIGINAL_CHANNEL_DIM: 0,
            MetaKeys.SPACE: SpaceKeys.RAS,
            "slice_first": slice_number(files[0]),  # k of the first and last slice (of the first folder)
            "slice_last": slice_number(files[-1]),
        }
        return array, meta
