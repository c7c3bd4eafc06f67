"""Spatial-transcriptomics phantom: pyramidal H&E-like slides + Visium-like spots, in Space Ranger layout.

Each SECTION is a slide tessellated into regions (Voronoi cells) of four tissue classes:

=================  ===========  =================================
class              morphology   expression signal
=================  ===========  =================================
tumor              glandular    module 0 up
normal_epithelium  glandular    module 1 up
stroma             spindle      module 2 up
immune             dense        module 3 up
=================  ===========  =================================

``tumor`` and ``normal_epithelium`` are drawn from the SAME texture, so an
image-only model cannot split them (ceiling 75 % on balanced classes) while
their expression differs; fusion can reach ~100 %. Spots sit on a Visium
hexagonal grid (100 um pitch, 55 um spots); the class of a spot is the region
under its centre. Slides are written tile by tile (never whole in memory) as
JPEG-compressed pyramidal TIFFs with tifffile, so the same code writes the
40k x 40k benchmark slide. Each section is a Space Ranger ``outs`` folder
(odd sections use the 1.x ``tissue_positions_list.csv``, even ones the 2.x/3.x
``tissue_positions.csv``), so the real reader is exercised, plus an
``annotations.csv`` (barcode,tissue_class) and a ``sections.csv`` manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from omicsfusion.fileio import atomic_write

from .omics import OmicsSpec, draw_omics
from .tissue import tissue_texture

CLASS_NAMES = ("tumor", "normal_epithelium", "stroma", "immune")
MORPHOLOGY = {"tumor": "glandular", "normal_epithelium": "glandular", "stroma": "spindle", "immune": "dense"}
AMBIGUOUS_PAIR = ("tumor", "normal_epithelium")
IMAGE_ONLY_CEILING = 0.75
SPOT_PITCH_UM = 100.0
SPOT_DIAMETER_UM = 55.0
ANNOTATION_COLUMN = "tissue_class"
_TILE = 256
_REGION_CELL_UM = 25.0


def _region_map(rng: np.random.Generator, side_um: float, n_regions_per_class: int) -> np.ndarray:
    """Class index per 25 um cell: Voronoi cells of random seeds, classes balanced."""
    n = max(int(np.ceil(side_um / _REGION_CELL_UM)), 1)
    seeds = rng.uniform(0, n, size=(n_regions_per_class * len(CLASS_NAMES), 2))
    classes = np.tile(np.arange(len(CLASS_NAMES)), n_regions_per_class)
    rng.shuffle(classes)
    yy, xx = np.mgrid[:n, :n] + 0.5
    distance = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    return classes[distance.argmin(axis=-1)].astype(np.int8)


class _SlidePainter:
    """Renders any tile of any pyramid level from periodic per-class textures and the region map."""

    def __init__(self, bank: dict[int, np.ndarray], regions: np.ndarray, mpp: float, offset: tuple[int, int]) -> None:
        self.regions = regions
        self.mpp = mpp
        self.levels = bank  # downsample -> (classes, P, P, 3), shared by the sections of a phantom
        self.bank = bank[1]
        self.offset = offset

    def _bank(self, ds: int) -> np.ndarray:
        if ds not in self.levels:
            k, p = len(CLASS_NAMES), self.bank.shape[1] // ds * ds
            self.levels[ds] = (
                self.bank[:, :p, :p].reshape(k, p // ds, ds, p // ds, ds, 3).mean(axis=(2, 4)).astype(np.uint8)
            )
        return self.levels[ds]

    def tile(self, level_ds: int, top: int, left: int, size: int = _TILE) -> np.ndarray:
        """RGB tile of ``size`` px at downsample ``level_ds`` whose top-left level pixel is (top, left)."""
        bank = self._bank(level_ds)
        period = bank.shape[1]
        ys = np.arange(top, top + size)
        xs = np.arange(left, left + size)
        cell = _REGION_CELL_UM / (self.mpp * level_ds)
        ry = np.clip((ys / cell).astype(int), 0, self.regions.shape[0] - 1)
        rx = np.clip((xs / cell).astype(int), 0, self.regions.shape[1] - 1)
        cls = self.regions[ry[:, None], rx[None, :]]
        ty = (ys + self.offset[0] // level_ds) % period
        tx = (xs + self.offset[1] // level_ds) % period
        return bank[cls, ty[:, None], tx[None, :]]


def _tiles(painter: _SlidePainter, height: int, width: int, ds: int) -> Iterator[np.ndarray]:
    for top in range(0, height, _TILE):
        for left in range(0, width, _TILE):
            yield painter.tile(ds, top, left)


def write_pyramid(
    path: Path, painter: _SlidePainter, side_px: int, mpp: float, min_side: int = 512, quality: int = 85
) -> list[tuple[int, int]]:
    """Write a JPEG-compressed tiled pyramidal TIFF tile by tile (levels as successive pages); returns level sizes."""
    import tifffile

    sizes = []
    ds = 1
    while True:
        sizes.append((side_px // ds, ds))
        if side_px // (ds * 2) < min_side:
            break
        ds *= 2

    def write(tmp: Path) -> None:
        with tifffile.TiffWriter(tmp, bigtiff=side_px * side_px * 3 > 2**31) as tif:
            for level, (side, ds_) in enumerate(sizes):
                res = 1e4 / (mpp * ds_)  # pixels per centimetre
                tif.write(
                    _tiles(painter, side, side, ds_),
                    shape=(side, side, 3),
                    dtype=np.uint8,
                    tile=(_TILE, _TILE),
                    compression="jpeg",
                    compressionargs={"level": quality},
                    photometric="rgb",
                    resolution=(res, res),
                    resolutionunit="CENTIMETER",
                    subfiletype=1 if level else 0,
                    metadata=None,
                )

    atomic_write(path, write)
    return [(s, s) for s, _ in sizes]


def visium_grid(side_um: float, margin_um: float = SPOT_PITCH_UM / 2) -> pd.DataFrame:
    """Hexagonal Visium-like grid over a square of ``side_um``: array_row, array_col, x_um, y_um."""
    row_step = SPOT_PITCH_UM * np.sqrt(3) / 2
    rows = []
    n_rows = int((side_um - 2 * margin_um) // row_step) + 1
    n_cols = int((side_um - 2 * margin_um) // SPOT_PITCH_UM) + 1
    for r in range(n_rows):
        for c in range(n_cols):
            x = margin_um + c * SPOT_PITCH_UM + (SPOT_PITCH_UM / 2 if r % 2 else 0.0)
            if x > side_um - margin_um:
                continue
            rows.append((r, 2 * c + (r % 2), x, margin_um + r * row_step))
    return pd.DataFrame(rows, columns=["array_row", "array_col", "x_um", "y_um"])


def write_10x_h5(path: Path, counts, barcodes: list[str], gene_ids: list[str], gene_names: list[str]) -> None:
    """Write a 10x v3 HDF5 feature-barcode matrix (``matrix/{data,indices,indptr,shape,barcodes,features}``)."""
    import h5py
    import scipy.sparse as sp

    csc = sp.csr_matrix(counts).T.tocsc()  # features x barcodes, stored column (barcode) major

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("matrix")
            g["data"] = csc.data.astype(np.int32)
            g["indices"] = csc.indices.astype(np.int64)
            g["indptr"] = csc.indptr.astype(np.int64)
            g["shape"] = np.asarray(csc.shape, dtype=np.int32)
            g["barcodes"] = np.asarray(barcodes, dtype="S")
            feats = g.create_group("features")
            feats["id"] = np.asarray(gene_ids, dtype="S")
            feats["name"] = np.asarray(gene_names, dtype="S")
            feats["feature_type"] = np.asarray(["Gene Expression"] * len(gene_ids), dtype="S")
            feats["genome"] = np.asarray(["phantom"] * len(gene_ids), dtype="S")

    atomic_write(path, write)


def _barcode(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("ACGT"))
    codes = set()
    while len(codes) < n:
        codes.add("".join(rng.choice(letters, 16)) + "-1")
    return sorted(codes)


def make_spatial_phantom(
    dataset_dir: str | os.PathLike,
    n_per_class: int = 100,
    n_sections: int = 4,
    mpp: float = 1.0,
    n_genes: int = 200,
    side_px: int | None = None,
    n_spots: int | None = None,
    period_px: int = 512,
    shift_sd: float = 3.0,
    seed: int = 0,
) -> dict:
    """Write ``n_sections`` phantom sections into ``dataset_dir`` and return the ground truth.

    Layout written::

        sections.csv                      section,format,path,image,annotations  (paths relative)
        <section>/filtered_feature_bc_matrix.h5
        <section>/spatial/{tissue_positions.csv | tissue_positions_list.csv, scalefactors_json.json,
                           tissue_hires_image.png (slides >= 2000 px), tissue_lowres_image.png}
        <section>/image.tif               pyramidal full-resolution slide
        <section>/annotations.csv         barcode,tissue_class
        ground_truth.json

    Args:
        dataset_dir: output folder.
        n_per_class: about this many in-tissue spots per class and section (sets the slide size
            unless ``side_px`` is given).
        n_sections: sections (>= 3 so training, validation and test each get one).
        mpp: microns per full-resolution pixel.
        n_genes: genes (modules of 10; the first four modules carry the classes).
        side_px: slide edge in pixels (overrides the size implied by ``n_per_class``).
        n_spots: keep at most this many spots in tissue (the rest are written with in_tissue=0).
        period_px: edge of the periodic per-class textures.
        shift_sd: planted module shift, in activity SDs.
        seed: everything is drawn from this seed.
    """
    if n_sections < 1:
        raise ValueError(f"n_sections must be >= 1, got {n_sections}")
    root = Path(dataset_dir)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if side_px is None:
        side_um = float(np.sqrt(len(CLASS_NAMES) * n_per_class * SPOT_PITCH_UM**2 * np.sqrt(3) / 2)) + SPOT_PITCH_UM
        side_px = int(np.ceil(side_um / mpp / _TILE) * _TILE)
    genes = tuple(f"GENE{i:04d}" for i in range(1, n_genes + 1))
    spec = OmicsSpec("rna", genes, module_size=10, kind="expression")
    if spec.n_modules < len(CLASS_NAMES):
        raise ValueError(f"n_genes={n_genes} gives {spec.n_modules} modules; need >= {len(CLASS_NAMES)}")
    manifest, sections = [], []
    textures = {m: tissue_texture(rng, period_px, m, nucleus_px=3.5 / mpp) for m in sorted(set(MORPHOLOGY.values()))}
    bank = {1: np.stack([textures[MORPHOLOGY[c]] for c in CLASS_NAMES])}
    for s in range(1, n_sections + 1):
        name = f"section_{s}"
        grid = _write_section(root / name, s, rng, bank, side_px, mpp, period_px, n_spots)
        sections.append((name, root / name, grid))
        manifest.append(
            {
                "section": name,
                "format": "spaceranger",
                "path": name,
                "image": f"{name}/image.tif",
                "annotations": f"{name}/annotations.csv",
            }
        )
    counts_per_class = _write_counts(sections, spec, shift_sd, rng)
    atomic_write(root / "sections.csv", lambda tmp: pd.DataFrame(manifest).to_csv(tmp, index=False))
    truth = {
        "task": "pathology_spatial_transcriptomics",
        "classes": list(CLASS_NAMES),
        "morphology": MORPHOLOGY,
        "ambiguous_pair": list(AMBIGUOUS_PAIR),
        "image_only_ceiling": IMAGE_ONLY_CEILING,
        "informative_genes": {c: spec.module_features(k) for k, c in enumerate(CLASS_NAMES)},
        "annotation_column": ANNOTATION_COLUMN,
        "spots_per_class": counts_per_class,
        "sections": [m["section"] for m in manifest],
        "side_px": side_px,
        "mpp": mpp,
        "seed": seed,
    }
    atomic_write(root / "ground_truth.json", lambda tmp: tmp.write_text(json.dumps(truth, indent=2)))
    return truth


def _write_section(
    folder: Path,
    index: int,
    rng: np.random.Generator,
    bank: dict,
    side_px: int,
    mpp: float,
    period_px: int,
    n_spots: int | None,
) -> pd.DataFrame:
    """One section's slide, spot positions (1.x format for odd ``index``) and scale factors; its in-tissue spots."""
    (folder / "spatial").mkdir(parents=True, exist_ok=True)
    side_um = side_px * mpp
    regions = _region_map(rng, side_um, n_regions_per_class=2)
    painter = _SlidePainter(bank, regions, mpp, tuple(int(v) for v in rng.integers(0, period_px, 2)))
    write_pyramid(folder / "image.tif", painter, side_px, mpp)
    grid = visium_grid(side_um)
    grid["barcode"] = _barcode(rng, len(grid))
    cell = np.clip((grid[["y_um", "x_um"]].to_numpy() / _REGION_CELL_UM).astype(int), 0, regions.shape[0] - 1)
    grid["label"] = regions[cell[:, 0], cell[:, 1]]
    in_tissue = np.ones(len(grid), bool)
    if n_spots is not None and n_spots < len(grid):
        in_tissue[:] = False
        in_tissue[rng.choice(len(grid), n_spots, replace=False)] = True
    grid["in_tissue"] = in_tissue.astype(int)
    grid["pxl_row_in_fullres"] = grid["y_um"] / mpp
    grid["pxl_col_in_fullres"] = grid["x_um"] / mpp
    columns = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
    if index % 2:  # Space Ranger 1.x: no header
        grid[columns].to_csv(folder / "spatial" / "tissue_positions_list.csv", header=False, index=False)
    else:
        grid[columns].to_csv(folder / "spatial" / "tissue_positions.csv", index=False)
    factors = {"spot_diameter_fullres": SPOT_DIAMETER_UM / mpp, "fiducial_diameter_fullres": 65.0 / mpp}
    _write_downsampled(folder, side_px, factors)
    atomic_write(folder / "spatial" / "scalefactors_json.json", lambda tmp: tmp.write_text(json.dumps(factors)))
    return grid[in_tissue].reset_index(drop=True)


def _write_counts(
    sections: list[tuple[str, Path, pd.DataFrame]], spec: OmicsSpec, shift_sd: float, rng: np.random.Generator
) -> dict[str, int]:
    """Counts matrix and annotations of every section; spots per class.

    One draw for all sections: the same genes have the same baseline and loadings everywhere (no batch effect).
    """
    spots = pd.concat([section for _, _, section in sections], ignore_index=True)
    shift = np.zeros((len(spots), spec.n_modules))
    shift[np.arange(len(spots)), spots["label"].to_numpy()] = shift_sd
    expression = draw_omics(spec, spots["barcode"].tolist(), shift, rng).to_numpy(np.float64)
    counts = rng.poisson(np.exp2(expression - 4.0)).astype(np.int32)
    counts_per_class, start = {c: 0 for c in CLASS_NAMES}, 0
    for _, folder, section in sections:
        rows = slice(start, start + len(section))
        start += len(section)
        write_10x_h5(
            folder / "filtered_feature_bc_matrix.h5",
            counts[rows],
            section["barcode"].tolist(),
            list(spec.feature_names),
            list(spec.feature_names),
        )
        annotations = pd.DataFrame(
            {"barcode": section["barcode"], ANNOTATION_COLUMN: [CLASS_NAMES[k] for k in section["label"]]}
        )
        atomic_write(folder / "annotations.csv", lambda tmp, a=annotations: a.to_csv(tmp, index=False))
        for k, n in section["label"].value_counts().items():
            counts_per_class[CLASS_NAMES[int(k)]] += int(n)
    return counts_per_class


def _write_downsampled(folder: Path, side_px: int, factors: dict) -> None:
    """Space Ranger's 2000 px hires (only for slides at least that large) and 600 px lowres PNGs + factors."""
    from omicsfusion.data.spatial.wsi import open_slide

    slide = open_slide(folder / "image.tif", backend="tifffile")
    for kind, long_side in (("hires", 2000), ("lowres", 600)):
        if side_px < long_side:
            continue
        image, _ = slide.thumbnail(long_side)
        factors[f"tissue_{kind}_scalef"] = image.shape[1] / side_px
        atomic_write(
            folder / "spatial" / f"tissue_{kind}_image.png",
            lambda tmp, im=image: Image.fromarray(im).save(tmp, format="PNG", compress_level=1),
        )
