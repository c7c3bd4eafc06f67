"""HEST-style samples (``.h5ad`` + pyramidal TIFF or JPEG + metadata JSON) -> :class:`SpatialSample`.

HEST-1k stores spot/cell centres in full-resolution pixels of its WSI
(``obsm["spatial"]``) and the pixel size in the metadata JSON
(``pixel_size_um_embedded`` / ``pixel_size_um_estimated``). The same reader
takes scanpy / stLearn AnnData (``uns["spatial"][library]["scalefactors"]``,
no image) and tables that keep coordinates in obs columns
(``x_pixel``/``y_pixel``, ``imagecol``/``imagerow``, ``pxl_col_in_fullres``/``pxl_row_in_fullres``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from omicsfusion.data.spatial.errors import PixelSizeError, SpatialDataError
from omicsfusion.data.spatial.sample import VISIUM_SPOT_UM, SpatialSample
from omicsfusion.data.spatial.wsi import open_slide

__all__ = ["COORDINATE_COLUMNS", "PIXEL_SIZE_KEYS", "read_hest"]

#: metadata JSON keys holding microns per pixel, in the order they are tried
PIXEL_SIZE_KEYS = ("pixel_size_um_embedded", "pixel_size_um_estimated", "pixel_size_um", "mpp", "microns_per_pixel")
#: obs column pairs (x, y) used when there is no obsm["spatial"]
COORDINATE_COLUMNS = (("pxl_col_in_fullres", "pxl_row_in_fullres"), ("x_pixel", "y_pixel"), ("imagecol", "imagerow"))


def _coordinates(adata, source: Path) -> np.ndarray:
    if "spatial" in adata.obsm:
        return np.asarray(adata.obsm["spatial"], dtype=np.float64)[:, :2]
    for x, y in COORDINATE_COLUMNS:
        if x in adata.obs.columns and y in adata.obs.columns:
            return adata.obs[[x, y]].to_numpy(np.float64)
    raise SpatialDataError(
        f"{source}: no spot coordinates: no obsm['spatial'] and none of the obs column pairs "
        f"{list(COORDINATE_COLUMNS)}; obs has {list(adata.obs.columns)}"
    )


def _visium_scalefactors(adata, library_id: str | None) -> dict | None:
    libraries = adata.uns.get("spatial", {})
    if not libraries:
        return None
    if library_id is None:
        if len(libraries) > 1:
            raise SpatialDataError(f"several libraries in uns['spatial'] {list(libraries)}; pass library_id")
        library_id = next(iter(libraries))
    return dict(libraries[library_id].get("scalefactors", {}))


def read_hest(
    path: str | os.PathLike,
    image: str | os.PathLike | None = None,
    metadata: str | os.PathLike | None = None,
    mpp: float | None = None,
    library_id: str | None = None,
    swap_xy: bool = False,
    backend: str = "auto",
    name: str | None = None,
) -> SpatialSample:
    """Read an AnnData sample whose coordinates are level-0 pixels of ``image`` (or full-resolution pixels).

    The pixel size is, in this order: ``mpp``; the first of :data:`PIXEL_SIZE_KEYS` in the
    metadata JSON; the Visium spot in ``uns["spatial"]`` scale factors (55 um /
    ``spot_diameter_fullres``); the image file's own resolution tags.

    Args:
        path: ``.h5ad`` (or AnnData ``.h5``).
        image: slide (pyramidal TIFF, SVS, JPEG, PNG); ``None`` for data without an image.
        metadata: HEST metadata JSON.
        mpp: microns per pixel of the coordinates' frame.
        library_id: which ``uns["spatial"]`` library holds the scale factors (needed if several).
        swap_xy: the stored pair is (row, column) rather than (x, y) (DeepSpot's ``x_pixel`` is the row).
        backend: slide backend (see :func:`open_slide`).
        name: sample name (default the file stem).

    Raises:
        PixelSizeError: no pixel size from any source (the message lists what was tried).
        SpotsOutsideSlideError: coordinates outside the image.
    """
    import anndata

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"AnnData file not found: {path}")
    adata = anndata.read_h5ad(path)
    adata.obs_names = adata.obs_names.astype(str)
    xy = _coordinates(adata, path)
    if swap_xy:
        xy = xy[:, ::-1].copy()
    slide = open_slide(image, backend=backend) if image is not None else None
    tried = ["mpp argument"]
    if mpp is None and metadata is not None:
        meta = json.loads(Path(metadata).read_text())
        tried.append(f"{metadata} keys {list(PIXEL_SIZE_KEYS)}")
        mpp = next((float(meta[k]) for k in PIXEL_SIZE_KEYS if isinstance(meta.get(k), (int, float))), None)
    if mpp is None:
        factors = _visium_scalefactors(adata, library_id) or {}
        tried.append("uns['spatial'][...]['scalefactors']['spot_diameter_fullres']")
        if float(factors.get("spot_diameter_fullres", 0) or 0) > 0:
            mpp = VISIUM_SPOT_UM / float(factors["spot_diameter_fullres"])
    if mpp is None and slide is not None:
        tried.append(f"resolution tags of {slide.path}")
        mpp = slide.file_mpp
    if mpp is None:
        raise PixelSizeError(
            f"{path}: microns per pixel unknown; tried {', '.join(tried)}. Pass mpp or add "
            f"'pixel_size_um_estimated' to the metadata JSON"
        )
    if slide is not None:
        slide.mpp = mpp
    adata.obsm["spatial"] = xy
    return SpatialSample(adata, slide, float(mpp), name or path.stem)
