"""Whole-slide images read lazily, patch by patch, through MONAI's ``WSIReader`` API.

MONAI's own tifffile backend decodes a whole pyramid level for every patch
(``TiffFile.asarray(level=...)``), which for a 20k x 20k slide is ~1.2 GB per
read. :class:`RegionTiffWSIReader` keeps MONAI's interface but decodes only
the tiles (or strips) a region touches, with a small LRU cache of decoded
tiles, and uses tifffile's pyramid (``series[0].levels``: SVS, OME, generic
tiled TIFF). Flat JPEG/PNG images cannot be read by region: :class:`PlainImageWSIReader`
decodes each file once per process and serves it (plus 2x-reduced levels) from
memory. openslide and cuCIM are used through MONAI when importable, never required.
Opened slides and decoded flat images are kept per process up to
:data:`OPENED_SLIDES` and :data:`DECODED_IMAGES`, most recently used first.

:func:`open_slide` tries the backends that can read a file's suffix and
raises :class:`SlideBackendError` listing what was tried and how to install
a backend; :class:`Slide` is the handle the readers return.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from monai.data.wsi_reader import BaseWSIReader, CuCIMWSIReader, OpenSlideWSIReader, TiffFileWSIReader
from monai.utils import optional_import
from PIL import Image

from omicsfusion.data.cache import LRUCache, file_key
from omicsfusion.data.errors import ImageTooLargeError
from omicsfusion.data.images import TIFF_SUFFIXES
from omicsfusion.data.pixel_limit import check_shape
from omicsfusion.data.spatial.errors import PixelSizeError, SlideBackendError

__all__ = ["BACKENDS", "INSTALL_HINTS", "PlainImageWSIReader", "RegionTiffWSIReader", "Slide", "open_slide"]

PLAIN_SUFFIXES = (".jpg", ".jpeg", ".png")
#: most pixels decoded at once: a whole flat JPEG/PNG, one TIFF tile or strip, a thumbnail level (3 GiB as RGB)
MAX_DECODED_PIXELS = 2**30
INSTALL_HINTS = {
    "tifffile": "pip install tifffile imagecodecs  (imagecodecs decodes JPEG/JPEG-2000/LZW tiles)",
    "openslide": "pip install openslide-python openslide-bin",
    "cucim": "pip install cucim-cu12  (Linux + NVIDIA GPU)",
    "pil": "pip install pillow",
}
_WHITE = 255
#: slides :func:`open_slide` keeps open (each TIFF reader holds up to ``cache_tiles`` decoded tiles)
OPENED_SLIDES = 16
#: decoded flat images (with their reduced levels) :class:`PlainImageWSIReader` keeps
DECODED_IMAGES = 4
_PLAIN_CACHE = LRUCache(DECODED_IMAGES)
_PLAIN_LOCK = threading.Lock()


def _paste(out: np.ndarray, src: np.ndarray, top: int, left: int) -> None:
    """Copy ``src`` (placed at ``top, left`` of ``out``'s frame) into ``out`` where they overlap."""
    h, w = out.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + src.shape[0], h), min(left + src.shape[1], w)
    if y0 < y1 and x0 < x1:
        out[y0:y1, x0:x1] = src[y0 - top : y1 - top, x0 - left : x1 - left]


def _to_mode(region: np.ndarray, mode: str, dtype, channel_dim: int) -> np.ndarray:
    if region.ndim == 2:
        region = region[..., None]
    if region.shape[-1] == 1:
        region = np.repeat(region, 3, axis=-1)
    channels = 4 if mode == "RGBA" else 3
    if region.shape[-1] < channels:  # RGB -> RGBA: opaque alpha
        region = np.concatenate([region, np.full((*region.shape[:2], 1), _WHITE, region.dtype)], axis=-1)
    return np.moveaxis(region[..., :channels].astype(dtype, copy=False), -1, channel_dim)


class RegionTiffWSIReader(TiffFileWSIReader):
    """MONAI ``TiffFileWSIReader`` that decodes only the tiles a patch touches.

    Levels are tifffile's pyramid levels of the first series, so SVS files
    (whose thumbnail and label pages are separate series) index correctly.
    Areas of a patch outside the slide are white. Decoded tiles are kept in
    an LRU cache of ``cache_tiles`` entries, since neighbouring spots share tiles.

    Args:
        cache_tiles: decoded tiles kept per reader (0 disables the cache).
        kwargs: MONAI ``BaseWSIReader`` arguments (``level``, ``mpp``, ``channel_dim``, ``dtype``, ``mode``, ...).
    """

    backend = "tifffile"
    supported_suffixes = [s.lstrip(".") for s in TIFF_SUFFIXES]

    def __init__(self, cache_tiles: int = 256, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cache_tiles = int(cache_tiles)
        self._tiles = LRUCache(self.cache_tiles)

    @staticmethod
    def _page(wsi, level: int):
        return wsi.series[0].levels[level].keyframe

    @staticmethod
    def get_level_count(wsi) -> int:
        return len(wsi.series[0].levels)

    def get_size(self, wsi, level: int) -> tuple[int, int]:
        page = self._page(wsi, level)
        return int(page.imagelength), int(page.imagewidth)

    def get_downsample_ratio(self, wsi, level: int) -> float:
        return float(self.get_size(wsi, 0)[0]) / float(self.get_size(wsi, level)[0])

    def get_mpp(self, wsi, level: int) -> tuple[float, float]:
        """Microns per pixel from the SVS description (``MPP = x``) or the TIFF resolution tags."""
        page0 = self._page(wsi, 0)
        ratio = self.get_downsample_ratio(wsi, level)
        match = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", page0.description or "")
        if match and float(match.group(1)) > 0:
            return float(match.group(1)) * ratio, float(match.group(1)) * ratio
        tags = page0.tags
        unit = tags.get("ResolutionUnit")
        if "XResolution" in tags and "YResolution" in tags and unit is not None and int(unit.value) in (2, 3):
            per_um = {2: 25400.0, 3: 10000.0}[int(unit.value)]  # inch, centimetre in microns
            (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
            if xn and yn and xd and yd:
                return per_um * yd / yn * ratio, per_um * xd / xn * ratio
        raise ValueError(
            f"{self.get_file_path(wsi)}: no pixel size in the TIFF (no MPP in the description, "
            "no XResolution/YResolution with a metric or inch unit)"
        )

    def _tile(self, wsi, level: int, index: int) -> np.ndarray:
        """Decoded segment ``index`` of a level, as (h, w, samples), cached."""
        key = (id(wsi), level, index)
        cached = self._tiles.get(key)
        if cached is not None:
            return cached
        page = self._page(wsi, level)
        segment_px = math.prod(page.chunks[:2])
        if segment_px > MAX_DECODED_PIXELS:
            raise ImageTooLargeError(
                f"{self.get_file_path(wsi)}: level {level} is stored in segments of {page.chunks[0]} x "
                f"{page.chunks[1]} = {segment_px:,} pixels (image {page.imagelength} x {page.imagewidth}), above "
                f"{MAX_DECODED_PIXELS:,} decoded at once; refused before decoding. Re-save it tiled "
                "(e.g. 512 x 512 tiles, with a pyramid)"
            )
        fh = wsi.filehandle
        with fh.lock:
            fh.seek(page.dataoffsets[index])
            data = fh.read(page.databytecounts[index])
        segment, _, shape = page.decode(data, index, jpegtables=page.jpegtables, jpegheader=page.jpegheader)
        tile = np.asarray(segment).reshape(shape[1:]) if segment is not None else np.zeros(shape[1:], page.dtype)
        self._tiles[key] = tile
        return tile

    def _get_patch(self, wsi, location, size, level, dtype, mode) -> np.ndarray:
        page = self._page(wsi, level)
        if page.planarconfig != 1 or page.imagedepth != 1:
            raise ValueError(f"{self.get_file_path(wsi)}: planar-separate or 3-D TIFF pages are not supported")
        ratio = self.get_downsample_ratio(wsi, level)
        top, left = (round(location[i] / ratio) for i in range(2))
        height, width = int(size[0]), int(size[1])
        out = np.full((height, width, page.samplesperpixel), _WHITE, dtype=page.dtype)
        th, tw = page.chunks[0], page.chunks[1]
        n_rows, n_cols = page.chunked[0], page.chunked[1]
        img_h, img_w = page.imagelength, page.imagewidth
        for ty in range(max(top, 0) // th, min((top + height - 1) // th, n_rows - 1) + 1):
            for tx in range(max(left, 0) // tw, min((left + width - 1) // tw, n_cols - 1) + 1):
                if ty * th >= img_h or tx * tw >= img_w:
                    continue
                tile = self._tile(wsi, level, ty * n_cols + tx)
                tile = tile[: img_h - ty * th, : img_w - tx * tw]
                _paste(out, tile, ty * th - top, tx * tw - left)
        return _to_mode(out, mode, dtype, self.channel_dim)


class _PlainImage:
    """A decoded flat image and its 2x-reduced levels (shared per process, read-only)."""

    def __init__(self, path: str, levels: list[np.ndarray]) -> None:
        self.path = path
        self.levels = levels


class PlainImageWSIReader(BaseWSIReader):
    """MONAI ``BaseWSIReader`` for flat JPEG/PNG images (H&E exports, Visium hires/lowres PNGs).

    A flat image cannot be decoded by region, so each file is decoded ONCE per
    process (cached by path, mtime and size, shared by every reader instance)
    and reduced levels are made by 2x box averaging until the short side is
    below ``min_level_side``. Pixel size is not stored in such files: the
    spatial readers supply it.
    """

    backend = "pil"
    supported_suffixes = [s.lstrip(".") for s in PLAIN_SUFFIXES]

    def __init__(self, min_level_side: int = 512, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_level_side = int(min_level_side)

    def read(self, data, **kwargs):
        paths = data if isinstance(data, (list, tuple)) else [data]
        out = [self._read_one(p) for p in paths]
        return out if len(out) > 1 else out[0]

    def _read_one(self, path) -> _PlainImage:
        key = (*file_key(path), self.min_level_side)
        with _PLAIN_LOCK:
            levels = _PLAIN_CACHE.get(key)
            if levels is None:
                limit = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None  # slides are large on purpose, up to our own limit
                try:
                    with Image.open(path) as img:  # reads the header; pixels are decoded by convert()
                        check_shape(path, (img.height, img.width), MAX_DECODED_PIXELS)
                        base = np.asarray(img.convert("RGB"))
                finally:
                    Image.MAX_IMAGE_PIXELS = limit
                levels = [base]
                while min(levels[-1].shape[:2]) // 2 >= self.min_level_side:
                    prev = levels[-1]
                    h, w = prev.shape[0] // 2 * 2, prev.shape[1] // 2 * 2
                    reduced = prev[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
                    levels.append(reduced.round().astype(np.uint8))
                for level in levels:
                    level.setflags(write=False)
                _PLAIN_CACHE[key] = levels
        return _PlainImage(str(Path(path).resolve()), levels)

    @staticmethod
    def get_level_count(wsi) -> int:
        return len(wsi.levels)

    def get_size(self, wsi, level: int) -> tuple[int, int]:
        return tuple(int(s) for s in wsi.levels[level].shape[:2])

    def get_downsample_ratio(self, wsi, level: int) -> float:
        return float(wsi.levels[0].shape[0]) / float(wsi.levels[level].shape[0])

    @staticmethod
    def get_file_path(wsi) -> str:
        return wsi.path

    def get_mpp(self, wsi, level: int) -> tuple[float, float]:
        raise ValueError(f"{wsi.path}: JPEG/PNG files carry no pixel size; pass mpp")

    def get_power(self, wsi, level: int) -> float:
        raise ValueError(f"{wsi.path}: JPEG/PNG files carry no objective power")

    def _get_patch(self, wsi, location, size, level, dtype, mode) -> np.ndarray:
        ratio = self.get_downsample_ratio(wsi, level)
        top, left = (round(location[i] / ratio) for i in range(2))
        out = np.full((int(size[0]), int(size[1]), 3), _WHITE, np.uint8)
        image = wsi.levels[level]
        y0, x0 = max(top, 0), max(left, 0)
        crop = image[y0 : top + int(size[0]), x0 : left + int(size[1])]
        _paste(out, crop, y0 - top, x0 - left)
        return _to_mode(out, mode, dtype, self.channel_dim)


def _available(backend: str) -> bool:
    if backend == "openslide":
        return optional_import("openslide")[1]
    if backend == "cucim":
        return optional_import("cucim")[1]
    return True


def _reader(backend: str) -> BaseWSIReader:
    return {
        "tifffile": RegionTiffWSIReader,
        "openslide": OpenSlideWSIReader,
        "cucim": CuCIMWSIReader,
        "pil": PlainImageWSIReader,
    }[backend](channel_dim=0)


#: backends that may read a suffix, in the order they are tried
BACKENDS = {
    **{s: ("tifffile", "openslide", "cucim") for s in TIFF_SUFFIXES},
    **{s: ("pil",) for s in PLAIN_SUFFIXES},
}


class Slide:
    """Handle to one slide: a MONAI WSI reader, its opened object, and the pixel size.

    Coordinates are level-0 pixels ``(x, y)`` = ``(column, row)``. Use
    :func:`open_slide` to make one (cached per process).

    Args:
        path: the image file.
        reader: the MONAI ``BaseWSIReader`` that opened it.
        wsi: the opened object (``TiffFile``, ``OpenSlide``, ...).
        mpp: microns per level-0 pixel; ``None`` reads it from the file.
    """

    def __init__(self, path: str | os.PathLike, reader: BaseWSIReader, wsi, mpp: float | None = None) -> None:
        self.path = str(path)
        self.reader = reader
        self.wsi = wsi
        self.backend = reader.backend
        self.n_levels = int(reader.get_level_count(wsi))
        self.sizes = [tuple(int(s) for s in reader.get_size(wsi, lvl)) for lvl in range(self.n_levels)]
        self.downsamples = [self.sizes[0][0] / s[0] for s in self.sizes]
        self._file_mpp: float | None = None
        try:
            self._file_mpp = float(np.mean(reader.get_mpp(wsi, 0)))
        except (ValueError, KeyError, AttributeError, TypeError):
            self._file_mpp = None
        self.mpp = mpp

    @property
    def mpp(self) -> float:
        """Microns per level-0 pixel (given, else from the file)."""
        if self._mpp is None:
            raise PixelSizeError(f"{self.path}: pixel size unknown (not in the file and not given); pass mpp")
        return self._mpp

    @mpp.setter
    def mpp(self, value: float | None) -> None:
        value = self._file_mpp if value is None else value
        if value is not None and not (np.isfinite(value) and value > 0):
            raise PixelSizeError(f"{self.path}: microns per pixel must be a positive number, got {value}")
        self._mpp = None if value is None else float(value)

    @property
    def file_mpp(self) -> float | None:
        """Pixel size stored in the file itself, if any."""
        return self._file_mpp

    @property
    def shape(self) -> tuple[int, int]:
        """Level-0 size ``(height, width)``."""
        return self.sizes[0]

    def level_for(self, mpp: float, rtol: float = 0.05) -> int:
        """The coarsest level still at least as fine as ``mpp`` (within ``rtol``): no upsampling when avoidable."""
        best = 0
        for level, ds in enumerate(self.downsamples):
            if self.mpp * ds <= mpp * (1 + rtol):
                best = level if ds >= self.downsamples[best] else best
        return best

    def read_region(self, x: float, y: float, size_um: float, out_px: int) -> np.ndarray:
        """``(3, out_px, out_px)`` uint8 patch of ``size_um`` microns centred on level-0 ``(x, y)``.

        Read at the pyramid level matching ``size_um / out_px`` and resampled
        to ``out_px`` (area averaging when shrinking); outside the slide is white.
        """
        level = self.level_for(size_um / out_px)
        ds = self.downsamples[level]
        n = max(round(size_um / (self.mpp * ds)), 1)
        top = round(y - n * ds / 2)
        left = round(x - n * ds / 2)
        patch, _ = self.reader.get_data(self.wsi, location=(top, left), size=(n, n), level=level)
        patch = np.asarray(patch)
        if n != out_px:
            resample = Image.Resampling.BOX if n > out_px else Image.Resampling.BILINEAR
            img = Image.fromarray(np.moveaxis(patch, 0, -1)).resize((out_px, out_px), resample)
            patch = np.moveaxis(np.asarray(img), -1, 0)
        return np.ascontiguousarray(patch)

    def thumbnail(self, max_side: int = 1024) -> tuple[np.ndarray, float]:
        """``(H, W, 3)`` uint8 overview of at most ``max_side`` pixels and its scale (thumbnail px per level-0 px)."""
        scale = min(1.0, max_side / max(self.shape))
        level = max(
            (lvl for lvl, ds in enumerate(self.downsamples) if 1 / ds >= scale),
            key=lambda candidate: self.downsamples[candidate],
        )
        h, w = self.sizes[level]
        if h * w > MAX_DECODED_PIXELS:
            raise ImageTooLargeError(
                f"{self.path}: its smallest level is {h} x {w} pixels, too large to read whole "
                "for a thumbnail; add a pyramid (reduced levels) to the TIFF"
            )
        image, _ = self.reader.get_data(self.wsi, location=(0, 0), size=(h, w), level=level)
        out = Image.fromarray(np.moveaxis(np.asarray(image), 0, -1))
        target = (max(round(self.shape[1] * scale), 1), max(round(self.shape[0] * scale), 1))
        if out.size != target:
            out = out.resize(target, Image.Resampling.BOX)
        return np.asarray(out), target[0] / self.shape[1]


_OPENED = LRUCache(OPENED_SLIDES)


def open_slide(path: str | os.PathLike, backend: str = "auto", mpp: float | None = None) -> Slide:
    """Open a slide with the first backend that can read it (kept open per process, see :data:`OPENED_SLIDES`).

    Args:
        path: TIFF/SVS (tifffile, then openslide, then cuCIM) or JPEG/PNG (decoded once).
        backend: ``"auto"`` or one of ``tifffile``, ``openslide``, ``cucim``, ``pil``.
        mpp: microns per level-0 pixel, overriding the file's.

    Raises:
        FileNotFoundError: no such file.
        SlideBackendError: no backend could open and decode it (each backend's error and
            the install command of the others are in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"slide image not found: {path}")
    suffix = path.suffix.lower()
    candidates: Sequence[str] = BACKENDS.get(suffix, ("tifffile", "openslide", "cucim", "pil"))
    if backend != "auto":
        if backend not in INSTALL_HINTS:
            raise ValueError(f"unknown slide backend {backend!r}; use 'auto' or one of {sorted(INSTALL_HINTS)}")
        candidates = (backend,)
    key = (*file_key(path), tuple(candidates))
    opened = _OPENED.get(key)
    if opened is not None:
        return Slide(path, *opened, mpp=mpp)
    tried = []
    for name in candidates:
        if not _available(name):
            tried.append(f"{name}: not installed ({INSTALL_HINTS[name]})")
            continue
        try:
            reader = _reader(name)
            wsi = reader.read(str(path))
            smallest = reader.get_level_count(wsi) - 1
            reader.get_data(wsi, location=(0, 0), size=(1, 1), level=smallest)  # decodes one tile
        except ImageTooLargeError:
            raise  # the file's own property: no other backend should try to decode it
        except Exception as error:
            tried.append(f"{name}: {type(error).__name__}: {error}")
            continue
        _OPENED[key] = (reader, wsi)
        return Slide(path, reader, wsi, mpp=mpp)
    missing = [f"{n}: {INSTALL_HINTS[n]}" for n in candidates if not _available(n)]
    advice = (
        ("install another backend: " + "; ".join(missing))
        if missing
        else (
            "every backend able to read this suffix is installed, so the file is likely damaged or of an "
            "unsupported flavour"
        )
    )
    raise SlideBackendError(
        f"{path}: no installed backend could open this image. Tried: " + "; ".join(tried) + f". To fix: {advice}"
    )
