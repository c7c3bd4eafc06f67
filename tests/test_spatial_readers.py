"""Spatial readers on the shared real data (skipped when absent), on the phantom, and on bad input."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omicsfusion.data.spatial import (
    AnnotationColumnError,
    BarcodeMismatchError,
    PixelSizeError,
    ScaleFactorError,
    SpotsOutsideSlideError,
    annotate,
    read_hest,
    read_legacy_st,
    read_spaceranger,
)
from omicsfusion.phantoms.spatial import CLASS_NAMES, make_spatial_phantom

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _data(name: str) -> Path:
    folder = DATA / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


def test_spaceranger_1x_real(recwarn):
    folder = _data("scanpy_visium_test")
    with pytest.raises(BarcodeMismatchError, match="4135 in-tissue barcode"):
        read_spaceranger(folder)  # the matrix is a 100-spot subset of the positions
    sample = read_spaceranger(folder, barcode_policy="intersect")
    assert sample.adata.shape == (100, 100) and sample.slide.shape == (600, 600)  # lowres PNG
    scalef = json.loads((folder / "spatial" / "scalefactors_json.json").read_text())
    assert sample.mpp == pytest.approx(55 / scalef["spot_diameter_fullres"] / scalef["tissue_lowres_scalef"])
    assert sample.slide.read_region(*sample.xy[0], size_um=112.0, out_px=32).shape == (3, 32, 32)


def test_spaceranger_3x_real_h5_and_mtx_agree():
    folder = _data("visium_mouse_placenta_cytassist")
    h5 = read_spaceranger(folder)
    mtx = read_spaceranger(folder, count_file="filtered_feature_bc_matrix")
    assert h5.adata.shape == mtx.adata.shape == (2898, 19465)
    assert (h5.adata.X[:50].toarray() == mtx.adata.X[:50].toarray()).all()
    positions = pd.read_csv(folder / "spatial" / "tissue_positions.csv", index_col=0)
    scalef = json.loads((folder / "spatial" / "scalefactors_json.json").read_text())["tissue_lowres_scalef"]
    row = positions.loc[h5.adata.obs_names[0]]
    assert h5.xy[0] == pytest.approx([row.pxl_col_in_fullres * scalef, row.pxl_row_in_fullres * scalef])
    with pytest.raises(ScaleFactorError, match="hires"):
        read_spaceranger(folder, image_kind="hires")  # the lowres PNG is not 2000 px


def test_hest_real_needs_pixel_size_and_reads_with_it():
    folder = _data("deepspot_NCBI858")
    files = dict(path=folder / "NCBI858.h5ad", image=folder / "NCBI858.jpg", metadata=folder / "NCBI858.json")
    with pytest.raises(PixelSizeError, match="pixel_size_um_estimated"):
        read_hest(**files)  # its metadata JSON holds no pixel size
    with pytest.raises(SpotsOutsideSlideError, match="x/y swapped"):
        read_hest(**files, mpp=0.5)  # DeepSpot's x_pixel is the row
    sample = read_hest(**files, mpp=0.5, swap_xy=True)
    assert sample.adata.shape == (200, 338) and sample.slide.shape == (1249, 1431)


def test_annotated_anndata_real():
    folder = _data("stlearn_testdata")
    sample = read_hest(folder / "test_data.h5")
    assert sample.slide is None and sample.adata.n_obs == 316
    assert sample.mpp == pytest.approx(55 / 177.4829519178534)
    table = pd.read_csv(folder / "v1_human_breast_cancer_block_a_section_1.csv", index_col=0)
    unannotated = int((~sample.adata.obs_names.isin(table.index)).sum())
    with pytest.warns(UserWarning, match=f"{unannotated} of 316 spots"):
        annotate(sample, folder / "v1_human_breast_cancer_block_a_section_1.csv", "annot_type")
    assert int(sample.labels("annot_type").isna().sum()) == unannotated < 316
    with pytest.raises(AnnotationColumnError, match="fine_annot_type"):
        annotate(sample, folder / "v1_human_breast_cancer_block_a_section_1.csv", "tumour_grade")
    with pytest.raises(AnnotationColumnError, match="annot_type"):
        sample.labels("cell_type")


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    root = tmp_path_factory.mktemp("spatial_phantom")
    truth = make_spatial_phantom(root, n_per_class=8, n_sections=2, seed=1)
    return root, truth


def test_phantom_reads_back_through_spaceranger(phantom):
    root, truth = phantom
    assert (root / "section_1" / "spatial" / "tissue_positions_list.csv").is_file()  # 1.x layout
    assert (root / "section_2" / "spatial" / "tissue_positions.csv").is_file()  # 2.x/3.x layout
    for section in truth["sections"]:
        full = read_spaceranger(root / section, image="image.tif")
        low = read_spaceranger(root / section)  # the lowres PNG with its scale factor
        assert full.mpp == pytest.approx(truth["mpp"]) and low.mpp > full.mpp
        assert np.allclose(low.xy * low.mpp, full.xy * full.mpp)
        annotate(full, root / section / "annotations.csv", truth["annotation_column"])
        assert set(full.labels("tissue_class")) <= set(CLASS_NAMES)


def test_phantom_ambiguous_pair_differs_in_planted_genes_only(phantom):
    root, truth = phantom
    sample = read_spaceranger(root / "section_1", image="image.tif")
    annotate(sample, root / "section_1" / "annotations.csv", "tissue_class")
    X = np.log1p(sample.adata.X.toarray())
    labels = sample.labels("tissue_class").to_numpy()
    genes = list(sample.adata.var_names)
    tumour_genes = [genes.index(g) for g in truth["informative_genes"]["tumor"]]
    gap = X[labels == "tumor"][:, tumour_genes].mean() - X[labels == "normal_epithelium"][:, tumour_genes].mean()
    assert abs(gap) > 0.5
    assert truth["morphology"]["tumor"] == truth["morphology"]["normal_epithelium"]


def _copy_section(root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "section"
    shutil.copytree(root / "section_2", target)
    return target


def test_bad_scale_factor_missing_and_inconsistent(phantom, tmp_path):
    section = _copy_section(phantom[0], tmp_path)
    factors_file = section / "spatial" / "scalefactors_json.json"
    factors = json.loads(factors_file.read_text())
    factors_file.write_text(json.dumps({k: v for k, v in factors.items() if k != "tissue_lowres_scalef"}))
    with pytest.raises(ScaleFactorError, match="tissue_lowres_scalef"):
        read_spaceranger(section)
    factors_file.write_text(json.dumps({**factors, "tissue_lowres_scalef": factors["tissue_lowres_scalef"] * 2}))
    with pytest.raises(ScaleFactorError, match="long side"):
        read_spaceranger(section, image="image.tif", image_kind="lowres")


def test_bad_spots_outside_slide(phantom, tmp_path):
    section = _copy_section(phantom[0], tmp_path)
    positions = pd.read_csv(section / "spatial" / "tissue_positions.csv")
    positions.loc[:2, "pxl_col_in_fullres"] += 1e5
    positions.to_csv(section / "spatial" / "tissue_positions.csv", index=False)
    with pytest.raises(SpotsOutsideSlideError, match="3 of"):
        read_spaceranger(section, image="image.tif")


def test_bad_barcodes_counted_both_ways(phantom, tmp_path):
    section = _copy_section(phantom[0], tmp_path)
    positions = pd.read_csv(section / "spatial" / "tissue_positions.csv")
    positions = positions[positions["in_tissue"] == 1]
    dropped = positions.iloc[:4]["barcode"].tolist()
    extra = positions.iloc[[0]].assign(barcode="ACGTACGTACGTACGT-9")
    pd.concat([positions.iloc[4:], extra]).to_csv(section / "spatial" / "tissue_positions.csv", index=False)
    with pytest.raises(BarcodeMismatchError) as info:
        read_spaceranger(section, image="image.tif")
    assert "1 in-tissue barcode(s)" in str(info.value) and "4 barcode(s) of the matrix" in str(info.value)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        sample = read_spaceranger(section, image="image.tif", barcode_policy="intersect")
    assert not set(dropped) & set(sample.barcodes)


def test_legacy_st(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (900, 1000, 3), dtype=np.uint8)).save(tmp_path / "he.jpg")
    spots = [(x, y) for x in range(2, 8) for y in range(2, 7)]
    pixel = 150.0  # 200 um pitch at 4/3 um per pixel
    selection = pd.DataFrame(
        {
            "x": [s[0] for s in spots],
            "y": [s[1] for s in spots],
            "new_x": 0.0,
            "new_y": 0.0,
            "pixel_x": [s[0] * pixel - 200 for s in spots],
            "pixel_y": [s[1] * pixel - 200 for s in spots],
            "selected": 1,
        }
    )
    selection.to_csv(tmp_path / "spots.tsv", sep="\t", index=False)
    counts = pd.DataFrame(
        rng.poisson(3, (len(spots), 5)), index=[f"{x}x{y}" for x, y in spots], columns=[f"G{i}" for i in range(5)]
    )
    counts.T.to_csv(tmp_path / "counts.tsv", sep="\t")  # genes x spots: detected and transposed
    sample = read_legacy_st(tmp_path / "counts.tsv", tmp_path / "spots.tsv", tmp_path / "he.jpg")
    assert sample.adata.shape == (30, 5) and sample.mpp == pytest.approx(200 / pixel)
    counts.iloc[:-2].to_csv(tmp_path / "fewer.tsv", sep="\t")
    with pytest.raises(BarcodeMismatchError, match="2 selected spot"):
        read_legacy_st(tmp_path / "fewer.tsv", tmp_path / "spots.tsv", tmp_path / "he.jpg")
