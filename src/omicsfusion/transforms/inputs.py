"""Checks on image inputs before ``LoadImage`` decodes them: pixel bombs and mixed DICOM folders.

A loader given a tiny file whose header claims 50,000 x 50,000 pixels, or a
folder holding two DICOM series, either exhausts memory or reads something
other than the user meant, and names neither. These array transforms take
what a datalist row holds (a path, or an image already loaded as an array,
as MONAI Label sends it), raise the named errors of
:mod:`omicsfusion.data.errors` and otherwise return their input unchanged;
:mod:`omicsfusion.transforms.dictionary` wraps them.
"""

from __future__ import annotations

import os
from typing import Any

from monai.transforms import Transform
from monai.utils import TransformBackends

from omicsfusion.data.dicom import check_dicom_series
from omicsfusion.data.images import check_image_size
from omicsfusion.data.pixel_limit import MAX_PIXELS
from omicsfusion.data.slices import is_slice_folder

__all__ = ["CheckDicomSeries", "CheckImageSize"]


class CheckImageSize(Transform):
    """Refuse an image file whose header claims more than ``max_pixels`` pixels (voxels).

    Reads headers only (PNG/JPEG, TIFF, NIfTI, every slice of a TIFF slice
    folder; other formats and DICOM folders pass); arrays pass untouched; a list
    (a sample's several tiles) is checked file by file.

    Args:
        max_pixels: most pixels (voxels) an image may claim.

    Raises:
        ImageTooLargeError: names the file and its shape; for a slice folder
            also the errors of :func:`~omicsfusion.data.slices.check_slice_folder`.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, max_pixels: int = MAX_PIXELS) -> None:
        self.max_pixels = int(max_pixels)

    def __call__(self, img: Any) -> Any:
        for item in img if isinstance(img, (list, tuple)) else [img]:
            if isinstance(item, (str, os.PathLike)):
                check_image_size(item, self.max_pixels)
        return img


class CheckDicomSeries(Transform):
    """A folder must hold exactly one DICOM series.

    Files, folders of TIFF slices (checked by :class:`CheckImageSize`) and
    arrays pass untouched.

    Raises:
        MixedSeriesError: names the folder and its series.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __call__(self, img: Any) -> Any:
        if isinstance(img, (str, os.PathLike)) and os.path.isdir(img) and not is_slice_folder(img):
            check_dicom_series(img)
        return img
