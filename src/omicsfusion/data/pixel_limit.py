"""The pixel-count limit every image header is checked against before decoding (a pixel bomb is refused by name).

Shared by the readers of single images (:mod:`.images`), slice folders
(:mod:`.slices`) and slides (:mod:`.spatial.wsi`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from omicsfusion.data.errors import ImageTooLargeError

__all__ = ["MAX_PIXELS", "check_shape"]

#: default limit: 2 x PIL's ``MAX_IMAGE_PIXELS``, where PIL itself raises ``DecompressionBombError``
MAX_PIXELS = 178_956_970


def check_shape(path: str | os.PathLike, shape: tuple[int, ...] | None, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse a ``shape`` (read from ``path``'s header) of more than ``max_pixels`` pixels.

    Raises:
        ImageTooLargeError: file, shape, pixel count and limit named.
    """
    if shape is not None and math.prod(shape) > max_pixels:
        raise ImageTooLargeError(
            f"{path}: header claims {' x '.join(map(str, shape))} = {math.prod(shape):,} pixels, above the limit "
            f"of {max_pixels:,}; refused before decoding ({Path(path).stat().st_size:,} bytes on disk). Shrink the "
            "image, or store a large slide as a tiled pyramidal TIFF, which is read by region"
        )
