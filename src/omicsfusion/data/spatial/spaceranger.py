"""10x Space Ranger output folders (1.x and 2.x/3.x layouts) -> :class:`SpatialSample`.

Space Ranger writes spot centres in FULL-RESOLUTION pixels and, next to them,
a 2000 px ``tissue_hires_image.png`` and a 600 px ``tissue_lowres_image.png``
with their scale factors in ``spatial/scalefactors_json.json``. The pixel
size follows from the 55 um Visium spot: ``mpp = 55 / spot_diameter_fullres``.
Coordinates are rescaled into the frame of whichever image is used, so the
returned ``obsm["spatial"]`` always indexes the returned slide.
"""

from __future__ import annotations

import gzip
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from omicsfusion.data.spatial.errors import BarcodeMismatchError, ScaleFactorError, SpatialDataError
from omicsfusion.data.spatial.sample import VISIUM_SPOT_UM, SpatialSample
from omicsfusion.data.spatial.wsi import open_slide

__all__ = ["BARCODE_POLICIES", "read_10x_h5", "read_10x_mtx", "read_positions", "read_spaceranger"]

POSITION_COLUMNS = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
#: long side in pixels of Space Ranger's downsampled images
IMAGE_LONG_SIDE = {"hires": 2000, "lowres": 600}
BARCODE_POLICIES = ("strict", "intersect")
_SIZE_RTOL = 0.03


def read_positions(spatial_dir: str | os.PathLike) -> pd.DataFrame:
    """``tissue_positions.csv`` (2.x/3.x, header) or ``tissue_positions_list.csv`` (1.x, no header), by barcode."""
    spatial_dir = Path(spatial_dir)
    new, old = spatial_dir / "tissue_positions.csv", spatial_dir / "tissue_positions_list.csv"
    if new.is_file():
        frame, source = pd.read_csv(new), new
    elif old.is_file():
        frame, source = pd.read_csv(old, header=None, names=POSITION_COLUMNS), old
    else:
        raise FileNotFoundError(
            f"{spatial_dir}: neither tissue_positions.csv (Space Ranger 2.x/3.x) nor "
            "tissue_positions_list.csv (1.x) found"
        )
    missing = [c for c in POSITION_COLUMNS if c not in frame.columns]
    if missing:
        raise SpatialDataError(f"{source}: lacks column(s) {missing}; has {list(frame.columns)}")
    frame["barcode"] = frame["barcode"].astype(str)
    frame.attrs["source"] = str(source)
    return frame.set_index("barcode")


def _decode(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read_10x_h5(path: str | os.PathLike):
    """10x HDF5 feature-barcode matrix (v3 ``matrix/features`` or v2 ``<genome>/genes``) -> AnnData of counts.

    Features are keyed by their id (e.g. Ensembl); their names travel as ``var["gene_symbols"]``.
    """
    import anndata
    import h5py
    import scipy.sparse as sp

    path = Path(path)
    with h5py.File(path, "r") as f:
        group = f["matrix"] if "matrix" in f else f[next(iter(f.keys()))]
        n_features, n_barcodes = (int(v) for v in group["shape"][()])
        matrix = sp.csc_matrix(
            (group["data"][()], group["indices"][()], group["indptr"][()]), shape=(n_features, n_barcodes)
        ).T.tocsr()
        barcodes = _decode(group["barcodes"][()])
        if "features" in group:
            ids = _decode(group["features/id"][()])
            names = _decode(group["features/name"][()])
            types = _decode(group["features/feature_type"][()])
        else:
            ids, names = _decode(group["genes"][()]), _decode(group["gene_names"][()])
            types = ["Gene Expression"] * len(ids)
    var = pd.DataFrame({"gene_symbols": names, "feature_types": types}, index=pd.Index(ids, name=None))
    adata = anndata.AnnData(X=matrix.astype(np.float32), obs=pd.DataFrame(index=barcodes), var=var)
    return _expression_only(adata, path)


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else path.open()


def _first(folder: Path, *names: str) -> Path:
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"{folder}: none of {list(names)} (optionally .gz) found")


def read_10x_mtx(folder: str | os.PathLike):
    """10x Market-Matrix folder (``matrix.mtx``, ``features.tsv``/``genes.tsv``, ``barcodes.tsv``) -> AnnData.

    Features are keyed by their id (first column); their names (second) travel as ``var["gene_symbols"]``.
    """
    import anndata
    import scipy.io

    folder = Path(folder)
    with _open_text(_first(folder, "matrix.mtx")) as f:
        matrix = scipy.io.mmread(f).T.tocsr().astype(np.float32)
    with _open_text(_first(folder, "barcodes.tsv")) as f:
        barcodes = [line.strip() for line in f if line.strip()]
    features = pd.read_csv(_first(folder, "features.tsv", "genes.tsv"), sep="\t", header=None)
    ids, names = features[0].astype(str).tolist(), features[1 if features.shape[1] > 1 else 0].astype(str).tolist()
    types = features[2].astype(str).tolist() if features.shape[1] > 2 else ["Gene Expression"] * len(ids)
    if matrix.shape != (len(barcodes), len(ids)):
        raise SpatialDataError(
            f"{folder}: matrix is {matrix.shape} but there are {len(barcodes)} barcodes and {len(ids)} features"
        )
    var = pd.DataFrame({"gene_symbols": names, "feature_types": types}, index=pd.Index(ids, name=None))
    adata = anndata.AnnData(X=matrix, obs=pd.DataFrame(index=barcodes), var=var)
    return _expression_only(adata, folder)


def _expression_only(adata, source: Path):
    keep = (adata.var["feature_types"] == "Gene Expression").to_numpy()
    if not keep.any():
        raise SpatialDataError(f"{source}: no 'Gene Expression' features")
    adata = adata[:, keep].copy()
    adata.var_names_make_unique()
    return adata


def _matrix(outs: Path, count_file: str | None):
    if count_file is not None:
        path = outs / count_file
        return read_10x_h5(path) if path.suffix == ".h5" else read_10x_mtx(path)
    if (outs / "filtered_feature_bc_matrix.h5").is_file():
        return read_10x_h5(outs / "filtered_feature_bc_matrix.h5")
    if (outs / "filtered_feature_bc_matrix").is_dir():
        return read_10x_mtx(outs / "filtered_feature_bc_matrix")
    raise FileNotFoundError(f"{outs}: neither filtered_feature_bc_matrix.h5 nor filtered_feature_bc_matrix/ found")


def _match_barcodes(adata, positions: pd.DataFrame, policy: str, source: str):
    """Align the matrix to in-tissue positions; mismatches raise (``strict``) or warn with counts (``intersect``)."""
    in_tissue = positions.index[positions["in_tissue"].astype(int) == 1]
    matrix_only = adata.obs_names.difference(positions.index)
    positions_only = in_tissue.difference(adata.obs_names)
    if len(matrix_only) or len(positions_only):
        message = (
            f"{source}: {len(positions_only)} in-tissue barcode(s) of the positions file are not in the count "
            f"matrix (e.g. {positions_only[:3].tolist()}) and {len(matrix_only)} barcode(s) of the matrix have "
            f"no position (e.g. {matrix_only[:3].tolist()})"
        )
        if policy == "strict" or len(adata.obs_names.intersection(positions.index)) == 0:
            raise BarcodeMismatchError(message + "; pass barcode_policy='intersect' to keep the common barcodes")
        warnings.warn(message + "; keeping the common barcodes", UserWarning, stacklevel=3)
    common = adata.obs_names[adata.obs_names.isin(positions.index)]
    return adata[common].copy()


def _scale(factors: dict, kind: str, source: Path) -> float:
    key = f"tissue_{kind}_scalef"
    if key not in factors:
        raise ScaleFactorError(
            f"{source}: scale factor {key!r} missing (has {sorted(factors)}); it is needed to "
            f"place spots on the {kind} image"
        )
    value = float(factors[key])
    if not (np.isfinite(value) and value > 0):
        raise ScaleFactorError(f"{source}: scale factor {key!r} = {factors[key]!r} is not a positive number")
    return value


def _fullres_long_side(factors: dict, source: Path) -> float | None:
    """Long side of the full-resolution image implied by the hires/lowres factors (``None``: neither present)."""
    implied = {
        k: IMAGE_LONG_SIDE[k] / _scale(factors, k, source) for k in IMAGE_LONG_SIDE if f"tissue_{k}_scalef" in factors
    }
    if len(implied) == 2 and abs(implied["hires"] / implied["lowres"] - 1) > _SIZE_RTOL:
        raise ScaleFactorError(
            f"{source}: hires and lowres scale factors disagree: they imply a full-resolution image of "
            f"{implied['hires']:.0f} px and {implied['lowres']:.0f} px on its long side"
        )
    return next(iter(implied.values()), None)


def _image_kind(image: Path) -> str:
    name = image.name.lower()
    return "hires" if "hires" in name else "lowres" if "lowres" in name else "fullres"


def _default_image(outs: Path) -> Path:
    """``spatial/tissue_hires_image.png``, else ``spatial/tissue_lowres_image.png``."""
    candidates = [outs / "spatial" / "tissue_hires_image.png", outs / "spatial" / "tissue_lowres_image.png"]
    image = next((c for c in candidates if c.is_file()), None)
    if image is None:
        raise FileNotFoundError(
            f"{outs}: no image given and neither tissue_hires_image.png nor tissue_lowres_image.png in spatial/"
        )
    return image


def _checked_scale(image: Path, kind: str, shape: tuple[int, ...], factors: dict, factors_file: Path) -> float:
    """Image pixels per full-resolution pixel from the scale factors, checked against the image's size."""
    scale = 1.0 if kind == "fullres" else _scale(factors, kind, factors_file)
    long_side = _fullres_long_side(factors, factors_file)
    if long_side is not None and abs(max(shape) / (long_side * scale) - 1) > _SIZE_RTOL:
        raise ScaleFactorError(
            f"{image}: its long side is {max(shape)} px, but {factors_file} implies "
            f"{long_side * scale:.0f} px for a {kind} image (full resolution {long_side:.0f} px x scale "
            f"{scale:g}); wrong image, wrong image_kind, or a resized image (then pass image_scale)"
        )
    return scale


def _fullres_mpp(factors: dict, factors_file: Path) -> float:
    """Microns per full-resolution pixel: the 55 um Visium spot over its diameter in full-resolution pixels."""
    if "spot_diameter_fullres" not in factors or not float(factors["spot_diameter_fullres"]) > 0:
        raise ScaleFactorError(f"{factors_file}: 'spot_diameter_fullres' missing or not positive; pass mpp")
    return VISIUM_SPOT_UM / float(factors["spot_diameter_fullres"])


def read_spaceranger(
    path: str | os.PathLike,
    image: str | os.PathLike | None = None,
    image_kind: str = "auto",
    image_scale: float | None = None,
    mpp: float | None = None,
    count_file: str | None = None,
    barcode_policy: str = "strict",
    backend: str = "auto",
    name: str | None = None,
) -> SpatialSample:
    """Read a Space Ranger ``outs`` folder.

    Args:
        path: the ``outs`` folder (holding ``spatial/`` and the filtered matrix).
        image: image to read patches from: the full-resolution H&E the run was made from
            (TIFF/SVS/JPEG) or a hires/lowres PNG; default ``spatial/tissue_hires_image.png``,
            else ``spatial/tissue_lowres_image.png``. A relative path is taken relative to ``path``.
        image_kind: ``"fullres"``, ``"hires"``, ``"lowres"`` or ``"auto"`` (from the file name).
        image_scale: image pixels per full-resolution pixel, overriding the scale factors (and their
            check against the image size) for an image Space Ranger did not write.
        mpp: microns per FULL-RESOLUTION pixel; default ``55 / spot_diameter_fullres``.
        count_file: matrix inside ``path`` (``.h5`` or an ``.mtx`` folder); default the filtered one.
        barcode_policy: ``"strict"`` refuses in-tissue positions without counts and counts without
            positions; ``"intersect"`` keeps the common barcodes and warns with both counts.
        backend: slide backend (see :func:`open_slide`).
        name: section name (default the folder name).

    Raises:
        ScaleFactorError: a needed scale factor is missing, not positive, or inconsistent with the image size.
        BarcodeMismatchError: positions and matrix barcodes differ (``strict``) or share nothing.
        SpotsOutsideSlideError: spots fall outside the image after scaling.
        SlideBackendError: no backend opens the image.
    """
    if barcode_policy not in BARCODE_POLICIES:
        raise ValueError(f"barcode_policy must be one of {BARCODE_POLICIES}, got {barcode_policy!r}")
    outs = Path(path)
    name = name or outs.name
    spatial = outs / "spatial"
    factors_file = spatial / "scalefactors_json.json"
    if not factors_file.is_file():
        raise ScaleFactorError(
            f"{outs}: {factors_file.name} not found in spatial/; it gives the spot size and the image scale factors"
        )
    factors = json.loads(factors_file.read_text())
    positions = read_positions(spatial)
    adata = _match_barcodes(_matrix(outs, count_file), positions, barcode_policy, str(outs))

    image = _default_image(outs) if image is None else Path(image) if Path(image).is_absolute() else outs / image
    kind = _image_kind(image) if image_kind == "auto" else image_kind
    if kind not in ("fullres", "hires", "lowres"):
        raise ValueError(f"image_kind must be 'auto', 'fullres', 'hires' or 'lowres', got {image_kind!r}")
    slide = open_slide(image, backend=backend)
    scale = (
        float(image_scale)
        if image_scale is not None
        else _checked_scale(image, kind, slide.shape, factors, factors_file)
    )
    mpp = _fullres_mpp(factors, factors_file) if mpp is None else mpp
    rows = positions.loc[adata.obs_names]
    adata.obs = adata.obs.join(rows[["in_tissue", "array_row", "array_col"]])
    xy_full = rows[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(np.float64)
    adata.obsm["spatial"] = xy_full * scale
    slide.mpp = mpp / scale
    return SpatialSample(adata, slide, mpp / scale, name, spot_diameter_um=VISIUM_SPOT_UM)
