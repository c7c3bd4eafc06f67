"""Sections manifest -> spot export: every selection reported, named errors for bad rows, display names kept."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from omicsfusion.data import OmicsDataError, OmicsTable
from omicsfusion.data.spatial import (
    AnnotationJoinError,
    NoLabelledSpotError,
    SectionFileError,
    export_spots,
    read_section,
    read_spaceranger,
)
from omicsfusion.data.spatial.export import section_splits
from omicsfusion.interpret.genes import class_gene_table
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms.spatial import CLASS_NAMES, make_spatial_phantom, write_10x_h5
from omicsfusion.preprocessing import OmicsPreprocessor

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OMICSFUSION_SHARED_DATA", REPO.parent / "shared" / "data"))
COLUMN = "tissue_class"
SPLITS = {"section_1": "training", "section_2": "validation", "section_3": "test"}


@pytest.fixture(scope="module")
def phantom(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phantom")
    make_spatial_phantom(root, n_per_class=4, n_sections=3, seed=1)
    return root


@pytest.fixture
def data(phantom, tmp_path) -> Path:
    """A copy of the phantom that a test may break."""
    return Path(shutil.copytree(phantom, tmp_path / "data"))


def _export(data: Path, out: Path, **kwargs) -> Path:
    return export_spots(data, out, COLUMN, CLASS_NAMES, **kwargs)


def _drop_genes(section: Path, n: int) -> list[str]:
    """Rewrite a section's 10x matrix without its last ``n`` genes; return the dropped ids."""
    matrix = read_spaceranger(section, image="image.tif").adata
    with h5py.File(section / "filtered_feature_bc_matrix.h5") as f:
        barcodes = [b.decode() for b in f["matrix/barcodes"][()]]
    counts = matrix[barcodes].X.toarray()
    ids = list(matrix.var_names)
    write_10x_h5(section / "filtered_feature_bc_matrix.h5", counts[:, :-n], barcodes, ids[:-n], ids[:-n])
    return ids[-n:]


def test_missing_files_name_the_row_section_and_path(data, tmp_path):
    (data / "section_2" / "image.tif").unlink()
    with pytest.raises(
        SectionFileError,
        match=r"sections\.csv row 2 \(section 'section_2'\): image "
        r"'section_2/image\.tif' not found \(.*section_2/image\.tif\)",
    ):
        _export(data, tmp_path / "spots")
    shutil.copy(data / "section_1" / "image.tif", data / "section_2" / "image.tif")
    (data / "section_3" / "filtered_feature_bc_matrix.h5").unlink()
    with pytest.raises(SectionFileError, match=r"row 3 \(section 'section_3'\):.*filtered_feature_bc_matrix"):
        _export(data, tmp_path / "spots")


def test_section_without_a_labelled_spot_is_named(data, tmp_path):
    annotations = pd.read_csv(data / "section_2" / "annotations.csv")
    annotations[COLUMN] = np.nan
    annotations.to_csv(data / "section_2" / "annotations.csv", index=False)
    with pytest.raises(
        NoLabelledSpotError,
        match=r"section 'section_2'\): none of its \d+ spots has a "
        r"'tissue_class' label \(annotations: section_2/annotations",
    ):
        _export(data, tmp_path / "spots")


def test_relative_manifest_folder_resolves_its_paths_once_from_any_working_directory(phantom, tmp_path, monkeypatch):
    # a bundle run as its README writes it: `--bundle_root bundles/<name>` from the repository root gives
    # dataset_dir bundles/<name>/data/phantom, relative; its sections.csv rows are relative to that folder,
    # and Space Ranger's image was joined onto it a second time (.../section_1/bundles/<name>/.../image.tif)
    repo = tmp_path / "repo"
    shutil.copytree(phantom, repo / "bundles" / "b" / "data" / "phantom")
    monkeypatch.chdir(repo)
    dataset = Path("bundles/b/data/phantom")
    row = pd.read_csv(dataset / "sections.csv").iloc[0].to_dict()
    sample = read_section(row, dataset)
    assert Path(sample.slide.path) == (repo / dataset / row["image"]).absolute()
    out = _export(dataset, Path("bundles/b/models/spots"))
    images = {(out.parent / p).resolve() for p in pd.read_csv(out)["image"]}
    assert images == {(repo / dataset / s / "image.tif").resolve() for s in SPLITS}


def test_labels_that_join_no_spot_show_both_id_formats(data, tmp_path):
    annotations = pd.read_csv(data / "section_1" / "annotations.csv")
    annotations["barcode"] = annotations["barcode"].str.removesuffix("-1")
    annotations.to_csv(data / "section_1" / "annotations.csv", index=False)
    spots = annotations["barcode"].iloc[:3].tolist()
    with pytest.raises(
        AnnotationJoinError,
        match=r"section 'section_1'.*spot ids look like \['[ACGT]+-1', "
        r"'[ACGT]+-1', '[ACGT]+-1'\], table ids like \['" + spots[0],
    ):
        _export(data, tmp_path / "spots")


def test_differing_gene_sets_are_reported_per_section_by_policy(data, tmp_path):
    dropped = _drop_genes(data / "section_2", 5)
    with pytest.warns(
        UserWarning,
        match=r"200 genes in all, 195 in every section.*'intersect' keeps the 195.*"
        r"section 'section_1' keeps 195 of 200, drops 5 .*section 'section_3'",
    ):
        _export(data, tmp_path / "inter")
    assert pd.read_parquet(tmp_path / "inter" / "omics" / "rna.parquet").shape[1] == 195
    with pytest.warns(
        UserWarning,
        match=r"'union' keeps all 200.*section 'section_2' has 195, 5 zero-filled "
        r"\(e\.g\. '" + dropped[0],
    ):
        _export(data, tmp_path / "union", gene_policy="union")
    expression = pd.read_parquet(tmp_path / "union" / "omics" / "rna.parquet")
    section_2 = expression.index.str.startswith("section_2:")
    assert expression.shape[1] == 200 and (expression.loc[section_2, dropped] == 0).all().all()
    features = pd.read_csv(tmp_path / "union" / "omics" / "rna.features.csv").set_index("feature")
    assert not features.loc[dropped, "in_section_2"].any() and features.loc[dropped, "in_section_1"].all()
    assert features["kept"].all() and features["in_section_2"].sum() == 195


def test_max_genes_ranks_on_the_training_sections_only(phantom, tmp_path):
    with pytest.raises(OmicsDataError, match="pass splits"):
        _export(phantom, tmp_path / "nosplit", max_genes=20)
    full = pd.read_parquet(_export(phantom, tmp_path / "all").parent / "omics" / "rna.parquet")
    for training in ("section_1", "section_3"):
        splits = {s: "training" if s == training else "validation" for s in SPLITS}
        out = _export(phantom, tmp_path / training, max_genes=20, splits=splits)
        kept = pd.read_parquet(out.parent / "omics" / "rna.parquet").columns
        train = full[full.index.str.startswith(f"{training}:")]
        assert set(kept) == set(train.sum().sort_values(ascending=False).index[:20])
        assert set(pd.read_csv(out)["split"]) == {"training", "validation"}
        features = pd.read_csv(out.parent / "omics" / "rna.features.csv")
        assert features["kept"].sum() == 20 and len(features) == 200
    with pytest.raises(OmicsDataError, match="no spot is in training"):
        _export(phantom, tmp_path / "notrain", max_genes=20, splits=dict.fromkeys(SPLITS, "validation"))


def test_sections_csv_split_column_decides_the_split(data):
    assert set(section_splits(data).values()) == {"training", "validation", "test"}  # seeded, by section
    manifest = pd.read_csv(data / "sections.csv")
    manifest["split"] = ["validation", "training", "test"]
    manifest.to_csv(data / "sections.csv", index=False)
    assert section_splits(data) == {"section_1": "validation", "section_2": "training", "section_3": "test"}
    manifest["split"] = ["validation", "train", "test"]
    manifest.to_csv(data / "sections.csv", index=False)
    with pytest.raises(OmicsDataError, match=r"split values \{'section_2': 'train'\}"):
        section_splits(data)


def test_10x_reader_keys_by_id_and_keeps_symbols_real():
    folder = DATA / "visium_mouse_placenta_cytassist"
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder}")
    var = read_spaceranger(folder).adata.var
    features = pd.read_csv(folder / "filtered_feature_bc_matrix" / "features.tsv.gz", sep="\t", header=None)
    assert var.index.tolist()[:3] == features[0].tolist()[:3] and var.index[0].startswith("ENSMUSG")
    assert var["gene_symbols"].tolist()[:3] == features[1].tolist()[:3]


def test_display_names_travel_from_the_matrix_to_the_gene_table(data, tmp_path):
    """Sections whose 10x matrices hold ids and symbols: ids stay the key, symbols reach genes.csv's table."""
    for section in SPLITS:
        folder = data / section
        adata = read_spaceranger(folder, image="image.tif").adata
        ids = [f"ENSG{i:011d}" for i in range(adata.n_vars)]
        write_10x_h5(
            folder / "filtered_feature_bc_matrix.h5",
            adata.X.toarray(),
            list(adata.obs_names),
            ids,
            list(adata.var_names),
        )
    symbols = dict(zip(ids, adata.var_names, strict=True))
    out = _export(data, tmp_path / "spots").parent
    features = pd.read_csv(out / "omics" / "rna.features.csv")
    assert features["display_name"].tolist() == [symbols[g] for g in features["feature"]]
    table = OmicsTable({"rna": out / "omics" / "rna.parquet"})
    assert table.features("rna")[0].startswith("ENSG")
    assert table.display_names("rna").tolist() == [symbols[g] for g in table.features("rna")]
    pre = OmicsPreprocessor(layout=OTLayout(method="random", grid=(15, 14))).fit(table.select(table.sample_ids()))
    pre = OmicsPreprocessor.load(pre.save(tmp_path / "layout.npz"))
    assert pre.display_names("rna").tolist() == [symbols[g] for g in pre.feature_names("rna")]
    genes = class_gene_table({"rna": np.ones((2, 200))}, np.array([0, 0]), CLASS_NAMES, pre)
    assert (genes["display_name"] == genes["feature"].map(symbols)).all()


@pytest.fixture(scope="module")
def blocks_data(tmp_path_factory) -> Path:
    """A phantom large enough to tile (about 200 spots per section), section_1 split in blocks."""
    root = tmp_path_factory.mktemp("blocks")
    make_spatial_phantom(root, n_per_class=50, n_sections=3, seed=1)
    manifest = pd.read_csv(root / "sections.csv")
    manifest["split"] = ["blocks", "training", "test"]
    manifest.to_csv(root / "sections.csv", index=False)
    return root


BLOCKS = {"tiles": [3, 3], "val_fraction": 0.2, "test_fraction": 0.2, "gap_spots": 1}


def test_a_blocks_section_is_split_within_itself_and_its_gap_reported(blocks_data, tmp_path):
    data = blocks_data
    assert section_splits(data)["section_1"] == "blocks"
    with pytest.raises(OmicsDataError, match=r"sections \['section_1'\] are split in blocks: pass blocks"):
        _export(data, tmp_path / "none", splits=section_splits(data))
    with pytest.raises(
        OmicsDataError,
        match=r"section 'section_1' \(\d+ spots\): block split: 2 occupied "
        r"tile\(s\) .* leave none for training",
    ):
        _export(data, tmp_path / "one", splits=section_splits(data), blocks={**BLOCKS, "tiles": [2, 1]})
    all_spots = read_section(pd.read_csv(data / "sections.csv").iloc[0].to_dict(), data).barcodes
    with pytest.warns(
        UserWarning,
        match=r"section 'section_1': block split .*seed 4.*: \{.*\}; (\d+) spot\(s\) of "
        r"the gap between splits left out",
    ) as record:
        out = _export(data, tmp_path / "spots", splits=section_splits(data), blocks=BLOCKS, seed=4, max_genes=20)
    n_gap = int(next(m for r in record if (m := re.search(r"; (\d+) spot\(s\) of the gap", str(r.message)))).group(1))
    samples = pd.read_csv(out, dtype={"barcode": str})
    first = samples[samples["group"] == "section_1"]
    assert set(first["split"]) == {"training", "validation", "test"}
    assert set(samples.loc[samples["group"] == "section_2", "split"]) == {"training"}
    assert set(first.loc[first["split"] == "training", "class_name"]) == set(first["class_name"])  # all trained on
    # every spot of the section is either in the export (labelled) or counted in the gap
    unlabelled = len(all_spots) - n_gap - len(first)
    assert n_gap > 0 and unlabelled >= 0 and set(first["barcode"]) <= set(all_spots)
    # max_genes ranks on the training spots: the training blocks of section_1 and all of section_2
    full = pd.read_parquet(_export(data, tmp_path / "all").parent / "omics" / "rna.parquet")
    train = full.loc[samples.loc[samples["split"] == "training", "sample_id"]]
    kept = pd.read_parquet(out.parent / "omics" / "rna.parquet").columns
    assert set(kept) == set(train.sum().sort_values(ascending=False).index[:20])


def test_prepare_keeps_a_block_datalist_and_refuses_one_of_another_seed(blocks_data, tmp_path):
    from omicsfusion.prepare import prepare_spatial

    data = blocks_data
    kwargs = dict(
        dataset_dir=data,
        spots_dir=tmp_path / "spots",
        datalist_file=tmp_path / "datalist.json",
        layout_file=tmp_path / "layout.npz",
        omics_types=[],
        class_names=CLASS_NAMES,
        annotation_column=COLUMN,
        block_split=BLOCKS,
    )
    with pytest.warns(UserWarning, match="gap between splits"):
        datalist = json.loads(prepare_spatial(seed=2, **kwargs).read_text())
    samples = pd.read_csv(tmp_path / "spots" / "samples.csv").set_index("sample_id")["split"]
    assert {r["omics"]: s for s in datalist for r in datalist[s]} == samples.to_dict()
    assert {r["group"] for r in datalist["test"]} == {"section_1", "section_3"}
    prepare_spatial(seed=2, **kwargs)  # the same split again: the datalist is kept
    shutil.rmtree(tmp_path / "spots")
    with pytest.raises(
        OmicsDataError,
        match=r"datalist\.json: \d+ of its \d+ spots are not in the same section.*"
        r"another seed or block_split",
    ):
        prepare_spatial(seed=3, **kwargs)


def test_drop_classes_leaves_their_spots_out_with_counts(data, tmp_path):
    kept = [c for c in CLASS_NAMES if c != "immune"]
    with pytest.raises(OmicsDataError, match=r"\['immune'\] are not in class_names.*drop_classes"):
        export_spots(data, tmp_path / "a", COLUMN, kept)
    with pytest.warns(UserWarning, match=r"drop_classes leaves out (\d+) spot\(s\): \{'immune': \1\}"):
        out = export_spots(data, tmp_path / "b", COLUMN, kept, drop_classes=["immune"])
    assert "immune" not in set(pd.read_csv(out)["class_name"])


def test_balanced_class_weights_from_the_training_labels():
    from omicsfusion.prepare import class_weights

    rows = [{"label": 0}] * 6 + [{"label": 1}] * 2 + [{"label": 2}] * 4
    assert class_weights(rows, ["a", "b", "c"]) is None
    weights = class_weights(rows, ["a", "b", "c"], "balanced")
    assert weights.tolist() == pytest.approx([12 / 18, 12 / 6, 12 / 12])
    with pytest.raises(OmicsDataError, match=r"class\(es\) \['d'\] have no training sample"):
        class_weights(rows, ["a", "b", "c", "d"], "balanced")
    with pytest.raises(OmicsDataError, match="must be one of"):
        class_weights(rows, ["a", "b", "c"], "inverse")
    with pytest.raises(OmicsDataError, match=r"label\(s\) \[-1, 3\] are outside 0\.\.2"):  # not silently uncounted
        class_weights([*rows, {"label": 3}, {"label": -1}], ["a", "b", "c"], "balanced")


HER2ST = DATA / "her2st_A1"
needs_her2st = pytest.mark.skipif(not (HER2ST / "A1_counts.tsv.gz").is_file(), reason="../shared/data/her2st_A1 absent")
#: her2st README: labelled spots per class after joining with the counts
HER2ST_COUNTS = {
    "invasive cancer": 282,
    "connective tissue": 24,
    "cancer in situ": 21,
    "adipose tissue": 12,
    "undetermined": 5,
    "immune infiltrate": 2,
}


@needs_her2st
def test_her2st_a1_reads_on_the_viewer_png_and_its_labels_join_by_rounded_array_coordinates(tmp_path):
    from PIL import Image

    row = {
        "section": "A1",
        "format": "legacy_st",
        "path": "A1_counts.tsv.gz",
        "spots": "A1_selection.tsv",
        "image": "A1_HE_image_dark.png",
        "image_scale": 2000 / 6954,
        "barcode_policy": "intersect",
        "annotations": "A1_labeled_coordinates.tsv",
        "annotation_id": "{x:.0f}x{y:.0f}",
    }
    manifest = tmp_path / "data"
    manifest.mkdir()
    pd.DataFrame([{**row, **{k: str(HER2ST / row[k]) for k in ("path", "spots", "image", "annotations")}}]).to_csv(
        manifest / "sections.csv", index=False
    )
    with pytest.warns(UserWarning, match=r"2 selected spot\(s\) of A1_selection.tsv have no counts"):
        sample = read_section(pd.read_csv(manifest / "sections.csv").iloc[0].to_dict(), manifest)
    assert sample.adata.shape == (346, 15045)
    selection = pd.read_csv(HER2ST / "A1_selection.tsv", sep="\t")
    selection.index = [f"{x}x{y}" for x, y in zip(selection["x"], selection["y"], strict=True)]
    expected = selection.loc[sample.barcodes, ["pixel_x", "pixel_y"]].to_numpy() * 2000 / 6954
    assert np.allclose(sample.xy, expected)
    # a patch centre lands on tissue: the viewer PNG masks the background to black
    image = np.asarray(Image.open(HER2ST / "A1_HE_image_dark.png").convert("RGB"))
    x, y = np.round(sample.xy).astype(int).T
    assert (image[y, x].sum(axis=1) > 0).all()
    with pytest.warns(UserWarning, match=r"2 annotated spot ids are not spots of this section"):
        out = export_spots(manifest, tmp_path / "spots", "label", list(HER2ST_COUNTS))
    assert pd.read_csv(out)["class_name"].value_counts().to_dict() == HER2ST_COUNTS
    with pytest.raises(AnnotationJoinError, match=r"none of the 346 spots of section 'A1'.*table ids like \['1002x"):
        pd.DataFrame(
            [
                {
                    **row,
                    "annotation_id": None,
                    **{k: str(HER2ST / row[k]) for k in ("path", "spots", "image", "annotations")},
                }
            ]
        ).to_csv(manifest / "sections.csv", index=False)
        export_spots(manifest, tmp_path / "wrong", "label", list(HER2ST_COUNTS))
