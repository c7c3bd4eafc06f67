"""Image sizes read from file headers, so that a pixel bomb is refused before anything is decoded.

A PNG, TIFF or NIfTI header can claim 50,000 x 50,000 pixels in a file of a
hundred bytes. Decoding it allocates gigabytes before any reader notices that
the data is missing: ITK's TIFF reader (MONAI's first choice for ``.tif``)
does, and PIL refuses only above 179 M pixels, without naming the file.
:func:`check_image_size` reads the header alone and raises
:class:`~omicsfusion.data.errors.ImageTooLargeError` with the file and its
dimensions; ``CheckImageSized`` runs it before ``LoadImaged`` in the bundles,
and the slide readers of :mod:`omicsfusion.data.spatial.wsi` run it before
decoding a flat image or one TIFF tile / strip.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

from PIL import Image

from omicsfusion.data.pixel_limit import MAX_PIXELS, check_shape
from omicsfusion.data.slices import check_slice_folder, is_slice_folder

__all__ = ["check_image_size", "image_shape"]

TIFF_SUFFIXES = (".tif", ".tiff", ".svs", ".btf", ".qptiff", ".ndpi", ".scn")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
_PIL_LOCK = threading.Lock()  # PIL's limit is a module global: lift it for one header read at a time


def _pil_shape(path: Path) -> tuple[int, int]:
    with _PIL_LOCK:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # Image.open reads the header only; the limit is ours to apply
        try:
            with Image.open(path) as img:
                width, height = img.size
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    return int(height), int(width)


def image_shape(path: str | os.PathLike) -> tuple[int, ...] | None:
    """Spatial shape an image file's header claims (no pixel is decoded).

    PNG/JPEG/BMP/GIF/WebP through PIL, TIFF/SVS through tifffile (first series,
    sample and channel axes left out), NIfTI through nibabel, a folder of TIFF slices
    (:mod:`omicsfusion.data.slices`) as the ``(W, H, K)`` it stacks into (every slice
    header checked). ``None`` for other formats and for other folders (DICOM series),
    which are not inspected.
    """
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return check_slice_folder(path, max_pixels=math.inf) if is_slice_folder(path) else None
    if name.endswith(NIFTI_SUFFIXES):
        import nibabel

        return tuple(int(s) for s in nibabel.load(path).shape)
    if name.endswith(TIFF_SUFFIXES):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return tuple(int(s) for s, axis in zip(series.shape, series.axes, strict=True) if axis not in "SC")
    if name.endswith(PIL_SUFFIXES):
        return _pil_shape(path)
    return None


def check_image_size(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[int, ...] | None:
    """Return the spatial shape of :func:`image_shape`, refusing more than ``max_pixels`` pixels (voxels).

    Raises:
        ImageTooLargeError: the header claims more pixels than ``max_pixels``.
    """
    # a slice folder: every slice against the limit first, so that a bomb is named as one
    shape = check_slice_folder(path, max_pixels=max_pixels) if is_slice_folder(path) else image_shape(path)
    check_shape(path, shape, max_pixels)
    return shape
