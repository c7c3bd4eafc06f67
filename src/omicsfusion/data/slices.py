"""Folders of 2-D slice files read as one 3-D volume (TCGA-LGG as it is published).

The LGG segmentation data set (Buda et al. 2019, "kaggle_3m") ships each
patient as a folder of axial slices ``<case>_<k>.tif`` (``H x W x 3`` uint8:
T1 pre-contrast, FLAIR, T1 post-contrast) with ``<case>_<k>_mask.tif`` beside
each. Slice order is the integer ``k`` (numeric, so ``_10`` follows ``_9``).
:func:`check_slice_folder` reads headers only and refuses, by name, a folder
that would not stack into one volume (no slice, a gap or a repeat in ``k``,
slices of different shapes, a pixel bomb); ``CheckImageSized`` runs it before
``LoadImaged`` (through :func:`~omicsfusion.data.images.image_shape`), and
:func:`read_slice_folder` runs it again before decoding. The MONAI reader is
:class:`omicsfusion.transforms.SliceFolderReader`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omicsfusion.data.errors import SliceFolderError, SliceGapError, SliceShapeError
from omicsfusion.data.pixel_limit import MAX_PIXELS, check_shape

__all__ = ["LGG_CHANNELS", "check_slice_folder", "is_slice_folder", "read_slice_folder", "slice_files", "slice_number"]

#: channel order of the TCGA-LGG (kaggle_3m) slices
LGG_CHANNELS = ("t1_pre", "flair", "t1_post")
_SLICE = re.compile(r"^(?P<stem>.+)_(?P<k>\d+)(?P<mask>_mask)?\.tiff?$", re.IGNORECASE)


def _numbered(folder: Path, mask: bool) -> dict[int, list[Path]]:
    out: dict[int, list[Path]] = {}
    for path in folder.iterdir():
        match = _SLICE.match(path.name)
        if match and path.is_file() and bool(match["mask"]) == mask:
            out.setdefault(int(match["k"]), []).append(path)
    return out


def slice_number(path: str | os.PathLike) -> int:
    """The slice number ``k`` of a ``<name>_<k>.tif`` or ``<name>_<k>_mask.tif`` file name."""
    match = _SLICE.match(Path(path).name)
    if not match:
        raise SliceFolderError(f"{path}: not a slice file name <name>_<k>.tif")
    return int(match["k"])


def is_slice_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding at least one ``<name>_<k>.tif`` slice (masks do not count)."""
    path = Path(path)
    return path.is_dir() and bool(_numbered(path, mask=False))


def slice_files(folder: str | os.PathLike, mask: bool = False) -> list[Path]:
    """The slice files of ``folder`` in slice order (``k`` as an integer); ``mask`` lists the ``_mask`` files.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        SliceFolderError: no slice file, or two files with the same ``k`` (both named).
        SliceGapError: the slice numbers are not consecutive (missing numbers named); a
            volume stacked across a gap would put non-adjacent slices side by side.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"slice folder not found: {folder}")
    kind = "mask" if mask else "slice"
    numbered = _numbered(folder, mask)
    if not numbered:
        raise SliceFolderError(f"{folder} holds no {kind} file named <name>_<k>{'_mask' if mask else ''}.tif")
    repeated = {k: paths for k, paths in numbered.items() if len(paths) > 1}
    if repeated:
        k, paths = min(repeated.items())
        raise SliceFolderError(
            f"{folder}: {len(paths)} {kind} files share slice number {k}: "
            f"{sorted(p.name for p in paths)}; keep one case per folder"
        )
    numbers = sorted(numbered)
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        raise SliceGapError(
            f"{folder}: {kind} numbers {numbers[0]}..{numbers[-1]} lack {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''} ({len(missing)} missing); refusing to stack "
            "non-adjacent slices into one volume"
        )
    return [numbered[k][0] for k in numbers]


def _header_shape(path: Path) -> tuple[tuple[int, ...], int]:
    """(spatial shape, channel count) of a TIFF's first series, from its header."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        dims = list(zip(series.shape, series.axes, strict=True))
    spatial = tuple(int(s) for s, axis in dims if axis not in "SC")
    return spatial, math.prod(int(s) for s, axis in dims if axis in "SC")


def check_slice_folder(
    folder: str | os.PathLike, mask: bool = False, max_pixels: int = MAX_PIXELS
) -> tuple[int, int, int]:
    """Spatial shape ``(W, H, K)`` the folder's slices stack into, from the TIFF headers alone.

    ``mask=True`` checks the ``_mask`` files instead and requires one per slice.

    Raises:
        FileNotFoundError, SliceFolderError, SliceGapError: see :func:`slice_files`; also
            masks whose slice numbers differ from the slices'.
        SliceShapeError: a slice is not 2-D or differs from the first in shape or channels.
        ImageTooLargeError: a slice header claims more than ``max_pixels`` pixels.
    """
    files = slice_files(folder, mask)
    if mask:
        numbers = [slice_number(p) for p in files]
        slices = [slice_number(p) for p in slice_files(folder)]
        if numbers != slices:
            raise SliceFolderError(
                f"{folder}: masks cover slices {numbers[0]}..{numbers[-1]} but the slices are "
                f"{slices[0]}..{slices[-1]}; every slice needs its _mask file"
            )
    first = None
    for path in files:
        spatial, channels = _header_shape(path)
        check_shape(path, spatial, max_pixels)
        if len(spatial) != 2:
            raise SliceShapeError(f"{path}: spatial shape {spatial} is not one 2-D slice")
        if first is None:
            first = (spatial, channels, path)
        elif (spatial, channels) != first[:2]:
            raise SliceShapeError(
                f"{path}: {spatial[0]} x {spatial[1]} x {channels} channel(s) differs from "
                f"{first[2].name} ({first[0][0]} x {first[0][1]} x {first[1]}); every slice of a "
                "volume must have one shape"
            )
    height, width = first[0]
    return width, height, len(files)


def _channel_index(
    channels: Sequence[int | str] | None, names: Sequence[str], available: int, folder: str | os.PathLike
) -> list[int]:
    if channels is None:
        return list(range(available))
    index = []
    for c in channels:
        if isinstance(c, str):
            if c not in names:
                raise SliceFolderError(f"{folder}: unknown channel {c!r}; the slices' channels are {list(names)}")
            c = list(names).index(c)
        if not 0 <= int(c) < available:
            raise SliceFolderError(f"{folder}: channel {c} out of range: the slices have {available} channel(s)")
        index.append(int(c))
    return index


def read_slice_folder(
    folder: str | os.PathLike,
    channels: Sequence[int | str] | None = None,
    mask: bool = False,
    channel_names: Sequence[str] = LGG_CHANNELS,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """Decode a slice folder into a channel-first ``(C, W, H, K)`` array (dtype as stored).

    Spatial axes are (column, row, slice): the order MONAI's ITK and PIL readers give a
    2-D image, with slices stacked along the last axis in ``k`` order.

    Args:
        folder: the slice folder.
        channels: channels of the slices to keep, by index or by name in ``channel_names``
            (default all; a mask keeps its own).
        mask: read the ``_mask`` files (a label volume) instead of the slices.
        channel_names: names of the stored channels.
        max_pixels: per-slice pixel limit (see :func:`check_slice_folder`).

    Raises:
        the errors of :func:`check_slice_folder`; SliceFolderError for an unknown channel (folder named).
    """
    import tifffile

    check_slice_folder(folder, mask, max_pixels)
    planes = [np.asarray(tifffile.imread(p)) for p in slice_files(folder, mask)]
    stack = np.stack([p if p.ndim == 3 else p[..., None] for p in planes], axis=-1)  # (H, W, C, K)
    stack = stack.transpose(2, 1, 0, 3)  # (C, W, H, K)
    return stack[_channel_index(None if mask else channels, channel_names, stack.shape[0], folder)]
