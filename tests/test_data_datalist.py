"""Decathlon datalists: stratified seeded split, atomic write, validated load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from omicsfusion.data import OmicsDataError, build_datalist, load_datalist, stratified_split, write_datalist


def _samples(n_per_class=(20, 10, 5)) -> pd.DataFrame:
    rows = []
    for label, n in enumerate(n_per_class):
        rows += [{"image": f"img/{label}_{i}.png", "omics": f"S{label}_{i}", "label": label} for i in range(n)]
    return pd.DataFrame(rows)


def test_split_is_stratified_seeded_and_disjoint():
    dl = build_datalist(_samples(), val_fraction=0.2, test_fraction=0.2, seed=7)
    assert dl == build_datalist(_samples(), val_fraction=0.2, test_fraction=0.2, seed=7)
    assert dl != build_datalist(_samples(), val_fraction=0.2, test_fraction=0.2, seed=8)
    ids = [r["omics"] for s in ("training", "validation", "test") for r in dl[s]]
    assert len(ids) == len(set(ids)) == 35
    for section in ("validation", "test"):
        counts = np.bincount([r["label"] for r in dl[section]], minlength=3)
        np.testing.assert_array_equal(counts, [4, 2, 1])
    assert set(dl["training"][0]) == {"image", "omics", "label"}


def test_no_test_section_by_default_and_small_classes():
    dl = build_datalist(_samples((3, 1)), val_fraction=0.2)
    assert set(dl) == {"training", "validation"}
    assert [r["label"] for r in dl["validation"]] == [0]  # a class of 3 still gives one
    parts = stratified_split([0] * 10, [0.3])
    assert [p.size for p in parts] == [7, 3]


def test_write_and_load_resolve_paths(tmp_path):
    dl = build_datalist(_samples(), seed=0)
    path = write_datalist(dl, tmp_path / "datalist.json")
    assert json.loads(path.read_text()) == dl
    rows = load_datalist(path, "validation")
    assert rows[0]["image"] == str(tmp_path / dl["validation"][0]["image"])
    assert load_datalist(path, "training", base_dir="/data")[0]["image"].startswith("/data/img/")


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(OmicsDataError, match="lacks column 'label'"):
        build_datalist([{"image": "a", "omics": "x"}])
    with pytest.raises(OmicsDataError, match=r"repeated.*'x'"):
        build_datalist([{"image": "a", "omics": "x", "label": 0}, {"image": "b", "omics": "x", "label": 1}])
    with pytest.raises(OmicsDataError, match="integers"):
        build_datalist([{"image": "a", "omics": "x", "label": "tumour"}])
    (tmp_path / "d.json").write_text(json.dumps({"training": [{"image": "a", "label": 0}]}))
    with pytest.raises(OmicsDataError, match=r"training\[0\] lacks \['omics'\]"):
        load_datalist(tmp_path / "d.json")
    with pytest.raises(OmicsDataError, match="no section 'test'"):
        load_datalist(tmp_path / "d.json", "test")


def test_prepare_checks_every_present_section_and_names_a_broken_row(tmp_path):
    """A datalist may lack a section; a row lacking keys in a present one is refused, never skipped."""
    from omicsfusion.phantoms import make_pan_cancer_phantom
    from omicsfusion.prepare import prepare_classification

    data = tmp_path / "data"
    make_pan_cancer_phantom(data, n_per_class=3)
    samples = pd.read_csv(data / "samples.csv", dtype={"sample_id": str})
    rows = [{"image": r.image, "omics": r.sample_id, "label": int(r.label)} for r in samples.itertuples()]
    datalist = tmp_path / "datalist.json"
    tables = {t: str(data / "omics" / f"{t}.csv") for t in ("rna", "cnv", "meth")}
    args = dict(
        dataset_dir=data,
        datalist_file=datalist,
        layout_file=tmp_path / "layout.npz",
        omics_tables=tables,
        omics_types=[],
        class_names=["type_a", "type_b", "type_c", "type_d"],
        phantom=None,
    )
    datalist.write_text(json.dumps({"training": rows[:8], "validation": rows[8:]}))  # no test section
    prepare_classification(**args)
    broken = dict(rows[9])
    del broken["label"]
    datalist.write_text(json.dumps({"training": rows[:8], "validation": [rows[8], broken]}))
    with pytest.raises(OmicsDataError, match=r"validation\[1\] lacks \['label'\]"):
        prepare_classification(**args)


def test_split_key_gives_each_row_its_section():
    samples = pd.DataFrame(
        {
            "image": [f"{i}.png" for i in range(6)],
            "omics": [f"s{i}" for i in range(6)],
            "label": [0, 1, 0, 1, 0, 1],
            "split": ["training"] * 3 + ["validation"] * 2 + ["test"],
        }
    )
    datalist = build_datalist(samples, split_key="split")
    assert [len(datalist[k]) for k in ("training", "validation", "test")] == [3, 2, 1]
    assert datalist["test"][0]["omics"] == "s5"
    assert "test" not in build_datalist(samples[:5], split_key="split")
    with pytest.raises(OmicsDataError, match=r"'split' holds \['train'\]"):
        build_datalist(samples.assign(split="train"), split_key="split")


def test_folder_index_answers_like_the_file_system(tmp_path):
    import os

    from omicsfusion.data.folders import FolderIndex

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").touch()
    (tmp_path / "series").mkdir()  # a DICOM series folder is an image too
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.png").touch()
    (tmp_path / "images" / "link.png").symlink_to(tmp_path / "elsewhere" / "b.png")
    (tmp_path / "images" / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "via").symlink_to(tmp_path / "elsewhere")
    index = FolderIndex()
    names = [
        "images/a.png",
        "series",
        "images/link.png",
        "images/broken.png",
        "images/none.png",
        "via/b.png",
        "via/none.png",
        "gone/a.png",
        "images/../elsewhere/b.png",
        "images/",
        "images/.",
    ]
    for name in names:
        path = str(tmp_path / name) + ("/" if name.endswith("/") else "")
        assert index.exists(path) == os.path.exists(path), name
        assert index.realpath(path) == os.path.realpath(path), name


def test_prepare_checks_a_large_datalist_and_names_the_one_missing_image(tmp_path):
    """20,000 rows in one folder (one listing, not a stat per row): every image found, a removed one named."""
    from omicsfusion.prepare import prepare_classification

    images = tmp_path / "images"
    images.mkdir()
    ids = [f"S{i:05d}" for i in range(20_000)]
    for sample in ids:
        (images / f"{sample}.png").touch()
    labels = np.arange(len(ids)) % 3
    pd.DataFrame({"sample_id": ids, "image": [f"images/{s}.png" for s in ids], "label": labels}).to_csv(
        tmp_path / "samples.csv", index=False
    )
    args = dict(
        dataset_dir=tmp_path,
        datalist_file=tmp_path / "datalist.json",
        layout_file=tmp_path / "layout.npz",
        omics_tables={},
        omics_types=[],
        class_names=["a", "b", "c"],
    )
    prepare_classification(**args)
    datalist = json.loads((tmp_path / "datalist.json").read_text())
    assert sorted(r["omics"] for section in datalist.values() for r in section) == ids
    gone = datalist["validation"][123]["omics"]
    (images / f"{gone}.png").unlink()
    with pytest.raises(FileNotFoundError, match=f"image of sample '{gone}' not found"):
        prepare_classification(**args)
