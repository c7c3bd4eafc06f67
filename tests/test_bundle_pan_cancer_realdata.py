"""Pointing the pan-cancer bundle at real data: TCGA H&E ROIs + their molecular rows.

This is the path a user follows with their own folder: one table per omics
type (samples as rows), a datalist whose image paths are relative to
``dataset_dir``, and overrides for the classes and modalities. Three patients
cannot train a model, so the test checks the loading path end to end (train
one epoch, then inference), not accuracy.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from bundle_utils import REPO, error_chain, run_workflow

DATA = REPO.parent / "shared" / "data" / "pathomicfusion_tcga_gbmlgg"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"real data not present at {DATA}")


@pytest.mark.slow
def test_tcga_tiles_with_molecular_rows_train_and_infer(tmp_path):
    rows = pd.read_csv(DATA / "molecular_rows_subset.csv", index_col="TCGA ID")
    arms = [c for c in rows.columns if c[:-1].isdigit() and c[-1] in "pq"]
    genes = list(rows.columns[rows.columns.get_loc("EGFR") : rows.columns.get_loc("PTEN") + 1])
    tables = {"cnv_gene": tmp_path / "cnv_gene.csv", "cnv_arm": tmp_path / "cnv_arm.csv"}
    rows[genes].to_csv(tables["cnv_gene"])
    rows[arms].to_csv(tables["cnv_arm"])

    images = sorted((DATA / "roi_imgs").glob("*.png"))
    entries = [
        {"image": f"roi_imgs/{p.name}", "omics": p.name[:12], "label": int(rows.loc[p.name[:12], "idh mutation"])}
        for p in images
    ]
    assert len(entries) == 3
    datalist = tmp_path / "models" / "datalist.json"
    datalist.parent.mkdir()
    # all three patients in both sections: this checks loading, not generalisation
    datalist.write_text(json.dumps({"training": entries, "validation": entries, "test": entries}))

    overrides = {
        "dataset_dir": str(DATA),
        "ckpt_dir": str(tmp_path / "models"),
        "output_dir": str(tmp_path / "eval"),
        "phantom": None,
        "class_names": ["IDHwt", "IDHmut"],
        "omics_tables": {k: str(v) for k, v in tables.items()},
        "modalities": ["image", "cnv_gene", "cnv_arm"],
        "image_size": [64, 64],
        "max_epochs": 1,
        "batch_size": 3,
    }
    run_workflow("pan_cancer_classification", ["train.json"], "train", **overrides)
    assert (tmp_path / "models" / "layout.npz").is_file()
    infer = {k: v for k, v in overrides.items() if k not in ("phantom", "max_epochs", "batch_size")}
    run_workflow("pan_cancer_classification", ["inference.json"], "infer", **infer)
    predictions = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    assert sorted(predictions["sample_id"]) == sorted(e["omics"] for e in entries)
    assert list(predictions.columns[-2:]) == ["prob_IDHwt", "prob_IDHmut"]


def test_missing_omics_sample_is_named(tmp_path):
    table = tmp_path / "cnv.csv"
    pd.read_csv(DATA / "molecular_rows_subset.csv", index_col="TCGA ID")[["EGFR", "PTEN"]].drop("TCGA-26-1442").to_csv(
        table
    )
    image = sorted((DATA / "roi_imgs").glob("TCGA-26-1442*.png"))[0]
    entry = {"image": f"roi_imgs/{image.name}", "omics": "TCGA-26-1442", "label": 1}
    datalist = tmp_path / "models" / "datalist.json"
    datalist.parent.mkdir()
    datalist.write_text(json.dumps({"training": [entry], "validation": [entry]}))
    with pytest.raises(RuntimeError) as info:
        run_workflow(
            "pan_cancer_classification",
            ["train.json"],
            "train",
            dataset_dir=str(DATA),
            ckpt_dir=str(tmp_path / "models"),
            output_dir=str(tmp_path / "eval"),
            phantom=None,
            class_names=["IDHwt", "IDHmut"],
            omics_tables={"cnv": str(table)},
            modalities=["image", "cnv"],
            max_epochs=1,
        )
    message = error_chain(info.value)
    assert "TCGA-26-1442" in message and "cnv" in message
