"""Frozen pretrained-encoder features of image tiles and spot patches, for a linear probe; cached per sample.

A linear probe (logistic regression on frozen ImageNet features) is what one runs first on images; the
recipes report it beside the bundle's image branch.

* :func:`tile_features`: a tile (e.g. a 1000 px H&E field) is cut into a ``grid`` x ``grid`` set of cells,
  each resized (area) to ``patch_px`` (the encoder's input size), and its feature vector is the mean of the
  cells' pooled features: the encoder sees tissue at about its native scale instead of the whole tile
  squeezed to one input.
* :func:`spot_features`: the patch of ``size_um`` microns around a spot, as the spatial bundle cuts it
  (:class:`~omicsfusion.transforms.LoadSpotPatch`), resampled to ``size_px``.
* :func:`slice_features`: every slice of an MRI slice folder (TCGA-LGG's ``<case>_<k>.tif``, the
  neuro bundle's :class:`~omicsfusion.transforms.SliceFolderReader`) resized to ``patch_px``; the mean over
  the slices, as the bundle's 2.5-D branch pools them.

``python -m omicsfusion.apps.probe_features slices SAMPLES_CSV SOURCE_DIR CACHE`` writes the slice features
of a ``samples.csv`` (``sample_id,image``, image folders relative to ``SOURCE_DIR``), e.g. the LGG recipe's.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from omicsfusion.fileio import atomic_write
from omicsfusion.networks import encoder_features, pretrained_encoder

__all__ = ["SpotImage", "slice_features", "spot_features", "tile_cells", "tile_features"]

#: a spot's image: (slide path, x, y, microns per pixel or None for the slide's own)
SpotImage = tuple[str | os.PathLike, float, float, float | None]


def tile_cells(path: str | os.PathLike, grid: int, patch_px: int) -> torch.Tensor:
    """``(grid * grid, 3, patch_px, patch_px)`` RGB cells in [0, 1] of the image at ``path``, row by row."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    _, height, width = pixels.shape
    rows, cols = np.linspace(0, height, grid + 1).astype(int), np.linspace(0, width, grid + 1).astype(int)
    cells = [
        F.interpolate(pixels[None, :, r0:r1, c0:c1], size=(patch_px, patch_px), mode="area")[0]
        for r0, r1 in itertools.pairwise(rows)
        for c0, c1 in itertools.pairwise(cols)
    ]
    return torch.stack(cells)


def _cached(ids: Sequence[str], cache: Path, compute: Callable[[list[str]], np.ndarray]) -> pd.DataFrame:
    """Rows of ``ids`` from the CSV ``cache``; the absent ones are computed (``compute(todo)``) and added to it."""
    known = pd.read_csv(cache, dtype={"sample_id": str}).set_index("sample_id") if cache.is_file() else None
    todo = [s for s in ids if known is None or s not in known.index]
    if todo:
        rows = compute(todo)
        new = pd.DataFrame(
            rows, index=pd.Index(todo, name="sample_id"), columns=[f"f{j}" for j in range(rows.shape[1])]
        )
        known = new if known is None else pd.concat([known, new])
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, lambda p: known.to_csv(p))
    return known.loc[list(ids)]


def tile_features(
    images: Mapping[str, str | os.PathLike],
    cache: str | os.PathLike,
    *,
    encoder: str = "efficientnet_lite0",
    weights: str | os.PathLike | None = "embedded",
    grid: int = 4,
    patch_px: int = 224,
) -> pd.DataFrame:
    """Sample id -> mean encoder features over the cells of its tile; rows already in ``cache`` (CSV) are reused.

    The cache is named by the caller after ``encoder``, ``grid`` and ``patch_px``; new rows are added to it.
    Returns the frame of ``images``' samples (index ``sample_id``, columns ``f0``...).
    """

    def compute(todo: list[str]) -> np.ndarray:
        net = pretrained_encoder(encoder, weights=weights, freeze=True)
        return np.stack([encoder_features(net, tile_cells(images[s], grid, patch_px)).mean(axis=0) for s in todo])

    return _cached(list(images), Path(cache), compute)


def spot_features(
    spots: Mapping[str, SpotImage],
    cache: str | os.PathLike,
    *,
    size_um: float,
    size_px: int = 224,
    encoder: str = "efficientnet_lite0",
    weights: str | os.PathLike | None = "embedded",
    stain_normalization: bool = False,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Spot id -> encoder features of the ``size_um`` patch around it at ``size_px``; ``cache`` as in
    :func:`tile_features` (named by the caller after ``encoder``, ``size_um``, ``size_px`` and the stain).

    ``stain_normalization``: Macenko-normalise each patch first, as the bundle's ``stain_normalization``
    does (a patch without stained pixels is kept as it is).
    """
    from omicsfusion.transforms import LoadSpotPatch, MacenkoNormalize

    def compute(todo: list[str]) -> np.ndarray:
        net = pretrained_encoder(encoder, weights=weights, freeze=True)
        load = LoadSpotPatch(size_um, size_px)
        normalize = MacenkoNormalize() if stain_normalization else (lambda patch: patch)
        rows = []
        for start in range(0, len(todo), batch_size):
            patches = [normalize(load(*spots[s])) / 255.0 for s in todo[start : start + batch_size]]
            rows.append(encoder_features(net, patches))
        return np.concatenate(rows, axis=0)

    return _cached(list(spots), Path(cache), compute)


def slice_features(
    folders: Mapping[str, str | os.PathLike],
    cache: str | os.PathLike,
    *,
    encoder: str = "efficientnet_lite0",
    weights: str | os.PathLike | None = "embedded",
    patch_px: int = 224,
) -> pd.DataFrame:
    """Sample id -> mean encoder features over the slices of its slice folder (RGB 0..255 -> [0, 1], each slice
    resized (area) to ``patch_px``); ``cache`` as in :func:`tile_features`."""
    from omicsfusion.data.slices import read_slice_folder

    def slices(folder: str | os.PathLike) -> torch.Tensor:
        volume = torch.from_numpy(read_slice_folder(folder).astype(np.float32) / 255.0)  # (C, W, H, K)
        return F.interpolate(volume.permute(3, 0, 2, 1), size=(patch_px, patch_px), mode="area")

    def compute(todo: list[str]) -> np.ndarray:
        net = pretrained_encoder(encoder, weights=weights, freeze=True)
        return np.stack([encoder_features(net, slices(folders[s])).mean(axis=0) for s in todo])

    return _cached(list(folders), Path(cache), compute)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omicsfusion.apps.probe_features slices SAMPLES_CSV SOURCE_DIR CACHE [--patch-px 224]``."""
    parser = argparse.ArgumentParser(
        prog="python -m omicsfusion.apps.probe_features", description=__doc__.splitlines()[0]
    )
    parser.add_argument("kind", choices=["slices"])
    parser.add_argument("samples_csv", help="sample_id,image (slice folders relative to SOURCE_DIR)")
    parser.add_argument("source_dir")
    parser.add_argument("cache", help="CSV of the features, reused and extended")
    parser.add_argument("--encoder", default="efficientnet_lite0")
    parser.add_argument("--patch-px", type=int, default=224)
    args = parser.parse_args(argv)
    samples = pd.read_csv(args.samples_csv, dtype={"sample_id": str, "image": str})
    folders = {
        s: Path(args.source_dir) / image for s, image in zip(samples["sample_id"], samples["image"], strict=True)
    }
    features = slice_features(folders, args.cache, encoder=args.encoder, patch_px=args.patch_px)
    print(f"{args.cache}: {len(features)} samples x {features.shape[1]} features")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
