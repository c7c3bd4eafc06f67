"""H&E-like tissue textures with planted, class-dependent morphology.

The phantoms need images a CNN must actually look at: a stroma background
with scattered nuclei that is the same for every class, and one region whose
morphology (dense nuclei, glands, spindle cells) carries the class. The region
is returned as a mask so saliency can later be checked against it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Colours (RGB, 0-255) of the two stains and of empty lumen.
EOSIN = np.array([232.0, 168.0, 200.0])
HAEMATOXYLIN = np.array([88.0, 52.0, 150.0])
LUMEN = np.array([248.0, 244.0, 248.0])

MORPHOLOGIES = ("dense", "glandular", "spindle")


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return noise / (noise.std() + 1e-8)


def _stamp_nuclei(
    ink: np.ndarray,
    centres: np.ndarray,
    radius: float,
    elongation: float = 1.0,
    angle: float = 0.0,
) -> None:
    """Add elliptical nuclei (haematoxylin density in [0, 1]) at ``centres`` in place."""
    h, w = ink.shape
    r = int(np.ceil(radius * max(elongation, 1.0))) + 1
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    cos, sin = np.cos(angle), np.sin(angle)
    u = (xx * cos + yy * sin) / (radius * elongation)
    v = (-xx * sin + yy * cos) / radius
    blob = np.clip(1.2 - (u**2 + v**2), 0.0, 1.0)
    for cy, cx in np.round(centres).astype(int):
        y0, y1 = max(cy - r, 0), min(cy + r + 1, h)
        x0, x1 = max(cx - r, 0), min(cx + r + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        patch = blob[y0 - (cy - r) : y1 - (cy - r), x0 - (cx - r) : x1 - (cx - r)]
        np.maximum(ink[y0:y1, x0:x1], patch, out=ink[y0:y1, x0:x1])


def _region_mask(size: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def _points_in_mask(rng: np.random.Generator, mask: np.ndarray, n: int) -> np.ndarray:
    coords = np.argwhere(mask)
    if len(coords) == 0 or n <= 0:
        return np.zeros((0, 2))
    picks = coords[rng.integers(0, len(coords), size=n)]
    return picks + rng.uniform(-0.5, 0.5, size=picks.shape)


def tissue_tile(
    rng: np.random.Generator,
    size: int,
    morphology: str,
    region_radius: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one RGB tile with ``morphology`` planted in a random disk.

    Args:
        rng: random generator (the caller seeds it).
        size: tile edge in pixels.
        morphology: one of :data:`MORPHOLOGIES`.
        region_radius: radius of the planted region; default ``size / 4.5``.

    Returns:
        ``(image, mask)``: ``uint8`` array ``(size, size, 3)`` and ``bool`` mask of the region.
    """
    if morphology not in MORPHOLOGIES:
        raise ValueError(f"unknown morphology {morphology!r}; expected one of {MORPHOLOGIES}")
    radius = float(region_radius if region_radius is not None else size / 4.5)
    margin = radius + 2
    centre = (rng.uniform(margin, size - margin), rng.uniform(margin, size - margin))
    mask = _region_mask(size, centre, radius)

    # Background, identical in distribution for every class: stroma with fibres and sparse nuclei.
    ink = np.zeros((size, size))
    n_background = int(size * size / 90)
    background_centres = _points_in_mask(rng, ~mask, n_background)
    _stamp_nuclei(ink, background_centres, radius=max(size / 40, 1.0))
    lumen = np.zeros((size, size))

    if morphology == "dense":
        centres = _points_in_mask(rng, mask, int(mask.sum() / 7))
        _stamp_nuclei(ink, centres, radius=max(size / 48, 0.9))
    elif morphology == "glandular":
        n_glands = 3
        for _ in range(n_glands):
            gland_r = radius * rng.uniform(0.3, 0.45)
            offset = rng.uniform(0, radius - gland_r, size=1)[0]
            theta = rng.uniform(0, 2 * np.pi)
            gy, gx = centre[0] + offset * np.sin(theta), centre[1] + offset * np.cos(theta)
            lumen = np.maximum(lumen, _region_mask(size, (gy, gx), gland_r * 0.7).astype(float))
            n_ring = max(int(2 * np.pi * gland_r / 2.2), 6)
            angles = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
            ring = np.stack([gy + gland_r * np.sin(angles), gx + gland_r * np.cos(angles)], axis=1)
            _stamp_nuclei(ink, ring, radius=max(size / 56, 0.8))
        lumen *= mask
    else:  # spindle
        angle = rng.uniform(0, np.pi)
        centres = _points_in_mask(rng, mask, int(mask.sum() / 16))
        _stamp_nuclei(ink, centres, radius=max(size / 80, 0.6), elongation=3.5, angle=angle)

    fibres = np.abs(_smooth_noise(rng, (size, size), sigma=size / 16))
    stroma = EOSIN[None, None, :] * (1.0 - 0.06 * fibres[..., None])
    image = stroma * (1.0 - ink[..., None]) + HAEMATOXYLIN[None, None, :] * ink[..., None]
    image = image * (1.0 - lumen[..., None]) + LUMEN[None, None, :] * lumen[..., None]
    image += rng.normal(0.0, 4.0, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def tissue_texture(rng: np.random.Generator, size: int, morphology: str, nucleus_px: float = 3.5) -> np.ndarray:
    """Draw a ``size`` x ``size`` RGB texture filled with ``morphology`` everywhere (whole-slide phantoms).

    Unlike :func:`tissue_tile` there is no background region: the texture is
    meant to be tiled over a region of a slide. The texture wraps around
    (nuclei and glands are stamped modulo ``size``), so tiling shows no seams.

    Args:
        rng: random generator (the caller seeds it).
        size: edge in pixels.
        morphology: one of :data:`MORPHOLOGIES`.
        nucleus_px: nucleus radius in pixels (about 3.5 um of tissue).
    """
    if morphology not in MORPHOLOGIES:
        raise ValueError(f"unknown morphology {morphology!r}; expected one of {MORPHOLOGIES}")
    pad = int(8 * nucleus_px)
    full = size + 2 * pad
    ink = np.zeros((full, full))
    lumen = np.zeros((full, full))
    area = size * size

    def centres(n: int) -> np.ndarray:
        return rng.uniform(0, size, size=(n, 2))

    def wrap(points: np.ndarray) -> np.ndarray:  # stamp every point and its periodic copies near the edges
        shifts = np.array([(dy, dx) for dy in (-size, 0, size) for dx in (-size, 0, size)])
        return (points[None, :, :] + shifts[:, None, :]).reshape(-1, 2) + pad

    _stamp_nuclei(ink, wrap(centres(int(area / (60 * nucleus_px**2)))), radius=nucleus_px)
    if morphology == "dense":
        _stamp_nuclei(ink, wrap(centres(int(area / (9 * nucleus_px**2)))), radius=nucleus_px * 0.8)
    elif morphology == "glandular":
        gland_r = 7 * nucleus_px
        for gy, gx in wrap(centres(max(int(area / (16 * gland_r**2)), 1))):
            yy, xx = np.ogrid[:full, :full]
            lumen = np.maximum(lumen, ((yy - gy) ** 2 + (xx - gx) ** 2 <= (0.7 * gland_r) ** 2).astype(float))
            n_ring = max(int(2 * np.pi * gland_r / (2.2 * nucleus_px)), 6)
            angles = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
            ring = np.stack([gy + gland_r * np.sin(angles), gx + gland_r * np.cos(angles)], axis=1)
            _stamp_nuclei(ink, ring, radius=nucleus_px)
    else:  # spindle
        angle = rng.uniform(0, np.pi)
        _stamp_nuclei(
            ink, wrap(centres(int(area / (30 * nucleus_px**2)))), radius=nucleus_px * 0.6, elongation=3.5, angle=angle
        )
    fibres = np.abs(_smooth_noise(rng, (full, full), sigma=4 * nucleus_px))
    stroma = EOSIN[None, None, :] * (1.0 - 0.06 * fibres[..., None])
    image = stroma * (1.0 - ink[..., None]) + HAEMATOXYLIN[None, None, :] * ink[..., None]
    image = image * (1.0 - lumen[..., None]) + LUMEN[None, None, :] * lumen[..., None]
    image = image[pad : pad + size, pad : pad + size]
    image += rng.normal(0.0, 4.0, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)
