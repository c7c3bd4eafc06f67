"""Real-data spatial recipes: bad input is refused by name before anything is written; the her2st recipe as
shipped trains, evaluates and predicts the unlabelled section on the real data (skipped without it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from omicsfusion.apps.spatial_recipes import dlpfc_experiments, prepare_runs
from omicsfusion.data.spatial import SectionFileError, SpatialDataError

REPO = Path(__file__).resolve().parents[1]
HER2ST = REPO.parent / "shared" / "data" / "her2st_A1"


def test_unknown_data_set_and_override_are_named(tmp_path):
    with pytest.raises(SpatialDataError, match=r"unknown data set 'visium'; use one of \['dlpfc', 'her2st'\]"):
        prepare_runs("visium", tmp_path, tmp_path / "run")
    with pytest.raises(SpatialDataError, match=r"unknown override\(s\) \['class_weight'\]"):
        prepare_runs("dlpfc", tmp_path, tmp_path / "run", class_weight="balanced")
    assert not (tmp_path / "run").exists()


def test_dlpfc_manifest_must_list_both_sections(tmp_path):
    with pytest.raises(SectionFileError, match=r"sections.csv not found"):
        dlpfc_experiments(tmp_path)
    (tmp_path / "sections.csv").write_text("section,format,path\n151675,spaceranger,151675/outs\n")
    with pytest.raises(SpatialDataError, match=r"no section\(s\) \['151676'\]; it lists \['151675'\]"):
        dlpfc_experiments(tmp_path)
    rows = dlpfc_experiments(tmp_path, pairs=[("151675", "151675")])["151675_to_151675"]
    assert [r["split"] for r in rows] == ["blocks", "test"] and rows[0]["path"] == str(tmp_path / "151675" / "outs")


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.skipif(not HER2ST.is_dir(), reason="../shared/data/her2st_A1 not present")
def test_her2st_recipe_trains_scores_and_predicts_the_unlabelled_section(tmp_path):
    """scripts/real_data/spatial_her2st.sh as shipped, one seed, one epoch, 100 genes: its overrides must resolve
    in train / evaluate / inference.json, the table must score every test spot beside the baselines, and A2 must
    be predicted spot by spot and drawn."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHON": sys.executable, "SEEDS": "0", "EPOCHS": "1", "MODELS": "fused", "MAX_GENES": "100"}
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "real_data" / "spatial_her2st.sh"), str(HER2ST), str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = pd.read_csv(run / "summary.csv")
    assert list(summary["model"]) == ["fused", "logreg", "random_forest"] and summary["accuracy"].between(0, 1).all()
    model = run / "runs" / "A1_blocks_seed0" / "fused"
    split = pd.read_csv(run / "splits.csv").iloc[0]
    assert len(pd.read_csv(model / "eval" / "test_predictions.csv")) == split["n_test"]
    a2 = pd.read_csv(model / "A2" / "spot_predictions.csv")
    assert len(a2) == len(pd.read_csv(run / "A2" / "spots" / "samples.csv"))
    with Image.open(model / "A2" / "overlay_A2.png") as overlay:
        assert overlay.format == "PNG"
