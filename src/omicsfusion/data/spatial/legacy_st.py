"""Legacy Spatial Transcriptomics (Stahl et al. 2016) -> :class:`SpatialSample`.

The original ST arrays give a counts TSV (spots x genes, spot ids ``"<x>x<y>"``
of array coordinates; some pipelines write it transposed), a spot selection
TSV from the ST aligner (``x``, ``y``, ``pixel_x``, ``pixel_y``, ``selected``)
and an H&E JPEG. Spots are 100 um wide on a 200 um pitch, so when no pixel
size is given it is estimated from the pixel distance between neighbouring
array positions. A downscaled copy of the H&E (e.g. her2st's viewer PNGs,
0.2876 of full resolution) is read with ``image_scale``: the selection's
pixels are multiplied by it.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from omicsfusion.data.spatial.errors import BarcodeMismatchError, PixelSizeError, SpatialDataError
from omicsfusion.data.spatial.sample import SpatialSample
from omicsfusion.data.spatial.wsi import open_slide

__all__ = ["ST_PITCH_UM", "ST_SPOT_UM", "read_legacy_st"]

ST_PITCH_UM = 200.0
ST_SPOT_UM = 100.0
_SPOT_ID = re.compile(r"^\d+(\.\d+)?x\d+(\.\d+)?$")


def _counts(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", index_col=0)
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    if not frame.index.str.match(_SPOT_ID).all() and frame.columns.str.match(_SPOT_ID).all():
        frame = frame.T  # genes x spots
    if not frame.index.str.match(_SPOT_ID).all():
        bad = frame.index[~frame.index.str.match(_SPOT_ID)][:3].tolist()
        raise SpatialDataError(f"{path}: spot ids must look like '<x>x<y>' (e.g. '10x12'); found {bad}")
    return frame


def _spot_id(x, y) -> str:
    return f"{round(float(x))}x{round(float(y))}"


def read_legacy_st(
    counts: str | os.PathLike,
    spots: str | os.PathLike,
    image: str | os.PathLike,
    mpp: float | None = None,
    barcode_policy: str = "strict",
    backend: str = "auto",
    name: str | None = None,
    image_scale: float | None = None,
) -> SpatialSample:
    """Read a legacy ST sample.

    Args:
        counts: counts TSV (spots x genes or genes x spots, ids ``"<x>x<y>"``).
        spots: spot selection TSV with ``x``, ``y``, ``pixel_x``, ``pixel_y`` (``selected`` optional).
        image: the H&E image the pixel coordinates refer to (or a copy scaled by ``image_scale``).
        mpp: microns per pixel of the selection's ``pixel_x``/``pixel_y``; default estimated from
            the 200 um spot pitch.
        barcode_policy: ``"strict"`` refuses spots present in only one file; ``"intersect"`` warns.
        backend: slide backend (see :func:`open_slide`).
        name: sample name (default the counts file stem).
        image_scale: image pixels per selection pixel (``None``: 1, the image the selection was made on).

    Raises:
        BarcodeMismatchError: spot ids of the two files differ (counts both ways).
        SpotsOutsideSlideError: spots outside the image.
    """
    import anndata

    counts, spots = Path(counts), Path(spots)
    table = _counts(counts)
    selection = pd.read_csv(spots, sep="\t")
    missing = [c for c in ("x", "y", "pixel_x", "pixel_y") if c not in selection.columns]
    if missing:
        raise SpatialDataError(f"{spots}: lacks column(s) {missing}; has {list(selection.columns)}")
    scale = 1.0 if image_scale is None else float(image_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise PixelSizeError(f"{spots}: image_scale must be a positive number, got {image_scale!r}")
    rows = _common_spots(table, selection, counts, spots, barcode_policy, name or counts.stem)
    mpp = _pitch_mpp(rows, spots) if mpp is None else mpp
    mpp = float(mpp) / scale
    slide = open_slide(image, backend=backend, mpp=mpp)
    adata = anndata.AnnData(
        X=table.loc[rows.index].to_numpy(np.float32),
        obs=rows[["x", "y"]].rename(columns={"x": "array_col", "y": "array_row"}),
        var=pd.DataFrame(index=table.columns),
    )
    adata.obsm["spatial"] = rows[["pixel_x", "pixel_y"]].to_numpy(np.float64) * scale
    return SpatialSample(adata, slide, mpp, name or counts.stem, spot_diameter_um=ST_SPOT_UM)


def _common_spots(
    table: pd.DataFrame, selection: pd.DataFrame, counts: Path, spots: Path, barcode_policy: str, name: str
) -> pd.DataFrame:
    """The selection rows of the spots that have counts, in the counts' order; a mismatch is refused or warned."""
    if "selected" in selection.columns:
        selection = selection[selection["selected"].astype(int) == 1]
    selection.index = [_spot_id(x, y) for x, y in zip(selection["x"], selection["y"], strict=True)]
    counts_only = table.index.difference(selection.index)
    spots_only = selection.index.difference(table.index)
    if len(counts_only) or len(spots_only):
        message = (
            f"{name}: {len(spots_only)} selected spot(s) of {spots.name} have no counts in "
            f"{counts.name} (e.g. {spots_only[:3].tolist()}) and {len(counts_only)} spot(s) of the counts "
            f"have no position (e.g. {counts_only[:3].tolist()})"
        )
        if barcode_policy == "strict" or len(table.index.intersection(selection.index)) == 0:
            raise BarcodeMismatchError(message + "; pass barcode_policy='intersect' to keep the common spots")
        warnings.warn(message + "; keeping the common spots", UserWarning, stacklevel=3)
    return selection.loc[table.index[table.index.isin(selection.index)]]


def _pitch_mpp(rows: pd.DataFrame, spots: Path) -> float:
    """Microns per selection pixel from the 200 um spot pitch: median pixel distance to the nearest array neighbour."""
    if len(rows) < 2:
        raise PixelSizeError(f"{spots}: fewer than two spots, cannot estimate the pixel size; pass mpp")
    from scipy.spatial import cKDTree

    array = rows[["x", "y"]].to_numpy(np.float64)
    pixels = rows[["pixel_x", "pixel_y"]].to_numpy(np.float64)
    _, nearest = cKDTree(array).query(array, k=2)
    step = np.linalg.norm(array[nearest[:, 1]] - array, axis=1)
    px = np.linalg.norm(pixels[nearest[:, 1]] - pixels, axis=1)
    return ST_PITCH_UM / float(np.median(px / step))
