"""Sections manifest -> spot export: every selection reported, named errors for bad rows, display names kept."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from omicsfusion.data import OmicsDataError, OmicsPreprocessor, OmicsTable
from omicsfusion.data.phantoms.spatial import CLASS_NAMES, make_spatial_phantom, write_10x_h5
from omicsfusion.data.spatial import (
    AnnotationJoinError,
    NoLabelledSpotError,
    SectionFileError,
    export_spots,
    read_spaceranger,
)
from omicsfusion.data.spatial.export import section_splits
from omicsfusion.interpret.genes import class_gene_table

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
    with pytest.raises(SectionFileError, match=r"sections\.csv row 2 \(section 'section_2'\): image "
                                               r"'section_2/image\.tif' not found \(.*section_2/image\.tif\)"):
        _export(data, tmp_path / "spots")
    shutil.copy(data / "section_1" / "image.tif", data / "section_2" / "image.tif")
    (data / "section_3" / "filtered_feature_bc_matrix.h5").unlink()
    with pytest.raises(SectionFileError, match=r"row 3 \(section 'section_3'\):.*filtered_feature_bc_matrix"):
        _export(data, tmp_path / "spots")


def test_section_without_a_labelled_spot_is_named(data, tmp_path):
    annotations = pd.read_csv(data / "section_2" / "annotations.csv")
    annotations[COLUMN] = np.nan
    annotations.to_csv(data / "section_2" / "annotations.csv", index=False)
    with pytest.raises(NoLabelledSpotError, match=r"section 'section_2'\): none of its \d+ spots has a "
                                                  r"'tissue_class' label \(annotations: section_2/annotations"):
        _export(data, tmp_path / "spots")


def test_labels_that_join_no_spot_show_both_id_formats(data, tmp_path):
    annotations = pd.read_csv(data / "section_1" / "annotations.csv")
    annotations["barcode"] = annotations["barcode"].str.removesuffix("-1")
    annotations.to_csv(data / "section_1" / "annotations.csv", index=False)
    spots = annotations["barcode"].iloc[:3].tolist()
    with pytest.raises(AnnotationJoinError, match=r"section 'section_1'.*spot ids look like \['[ACGT]+-1', "
                                                  r"'[ACGT]+-1', '[ACGT]+-1'\], table ids like \['" + spots[0]):
        _export(data, tmp_path / "spots")


def test_differing_gene_sets_are_reported_per_section_by_policy(data, tmp_path):
    dropped = _drop_genes(data / "section_2", 5)
    with pytest.warns(UserWarning, match=r"200 genes in all, 195 in every section.*'intersect' keeps the 195.*"
                                         r"section 'section_1' keeps 195 of 200, drops 5 .*section 'section_3'"):
        _export(data, tmp_path / "inter")
    assert pd.read_parquet(tmp_path / "inter" / "omics" / "rna.parquet").shape[1] == 195
    with pytest.warns(UserWarning, match=r"'union' keeps all 200.*section 'section_2' has 195, 5 zero-filled "
                                         r"\(e\.g\. '" + dropped[0]):
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
        write_10x_h5(folder / "filtered_feature_bc_matrix.h5", adata.X.toarray(), list(adata.obs_names), ids,
                     list(adata.var_names))
    symbols = dict(zip(ids, adata.var_names, strict=True))
    out = _export(data, tmp_path / "spots").parent
    features = pd.read_csv(out / "omics" / "rna.features.csv")
    assert features["display_name"].tolist() == [symbols[g] for g in features["feature"]]
    table = OmicsTable({"rna": out / "omics" / "rna.parquet"})
    assert table.features("rna")[0].startswith("ENSG")
    assert table.display_names("rna").tolist() == [symbols[g] for g in table.features("rna")]
    pre = OmicsPreprocessor().fit(table, table.sample_ids(), method="random", grid=(15, 14))
    pre = OmicsPreprocessor.load(pre.save(tmp_path / "layout.npz"))
    assert pre.display_names("rna").tolist() == [symbols[g] for g in pre.feature_names("rna")]
    genes = class_gene_table({"rna": np.ones((2, 200))}, np.array([0, 0]), CLASS_NAMES, pre)
    assert (genes["display_name"] == genes["feature"].map(symbols)).all()
