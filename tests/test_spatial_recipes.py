"""Real-data spatial recipes: bad input is refused by name before anything is written."""

from __future__ import annotations

import pytest

from omicsfusion.data.spatial import SectionFileError, SpatialDataError
from omicsfusion.data.spatial.recipes import dlpfc_experiments, prepare_runs


def test_unknown_data_set_and_override_are_named(tmp_path):
    with pytest.raises(SpatialDataError, match=r"unknown data set 'visium'; use one of \['dlpfc', 'her2st'\]"):
        prepare_runs("visium", tmp_path, tmp_path / "run")
    with pytest.raises(SpatialDataError, match=r"unknown override\(s\) \['class_weight'\]"):
        prepare_runs("dlpfc", tmp_path, tmp_path / "run", class_weight="balanced")
    assert not (tmp_path / "run").exists()


def test_dlpfc_manifest_must_list_both_sections(tmp_path):
    with pytest.raises(SectionFileError, match="sections.csv not found"):
        dlpfc_experiments(tmp_path)
    (tmp_path / "sections.csv").write_text("section,format,path\n151675,spaceranger,151675/outs\n")
    with pytest.raises(SpatialDataError, match=r"no section\(s\) \['151676'\]; it lists \['151675'\]"):
        dlpfc_experiments(tmp_path)
    rows = dlpfc_experiments(tmp_path, pairs=[("151675", "151675")])["151675_to_151675"]
    assert [r["split"] for r in rows] == ["blocks", "test"] and rows[0]["path"] == str(tmp_path / "151675" / "outs")
