"""Pan-cancer TCGA recipe: patient-level stratified splits with small classes dropped and counted, bundle overrides
that merge into train.json, baselines per feature table with the training median filling empty cells, cached tile
features, and the shell recipe's dry run on the real cohort (skipped without it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from monai.bundle import ConfigParser
from PIL import Image

from omicsfusion.apps.bundle_runs import baseline_predictions, read_feature_set, summarize_runs
from omicsfusion.apps.pan_cancer_recipes import patient_split, prepare_runs
from omicsfusion.data.errors import OmicsDataError

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("OMICSFUSION_SHARED_DATA", REPO.parent / "shared" / "data")) / "tcga_he_monuseg"
GENES = ["TP53", "KRAS", "APC"]


def _cohort(root: Path) -> Path:
    """Classes lung 5 (L4 without mutation calls), kidney 4, brain 2; P0 with a crop beside its tile."""
    labels = (
        {f"L{i}": "lung" for i in range(5)} | {f"K{i}": "kidney" for i in range(4)} | {"B0": "brain", "B1": "brain"}
    )
    rng = np.random.default_rng(0)
    for patient in labels:
        folder = root / "images" / patient
        folder.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{patient}-01Z-DX1.jpg")
    Image.new("RGB", (8, 8)).save(root / "images" / "L0" / "L0-01Z-DX1_1.jpg")
    pd.DataFrame({"sample_id": list(labels), "organ": list(labels.values())}).to_csv(root / "labels.csv", index=False)
    (root / "omics").mkdir()
    mutation = pd.DataFrame(rng.integers(0, 2, (len(labels), 3)).astype(float), index=list(labels), columns=GENES)
    mutation.loc["L4"] = np.nan
    mutation.loc["K0", "APC"] = np.nan
    cnv = pd.DataFrame(rng.integers(-2, 3, (len(labels), 3)).astype(float), index=list(labels), columns=GENES)
    for name, frame in (("mutation", mutation), ("cnv", cnv)):
        frame.rename_axis("sample_id").to_csv(root / "omics" / f"{name}.csv")
    return root


def test_splits_are_stratified_and_patient_disjoint_with_small_classes_dropped_and_counted(tmp_path):
    source, run = _cohort(tmp_path / "source"), tmp_path / "run"
    splits = prepare_runs(source, run, splits=3, test_fraction=0.3, val_fraction=0.2, seed=5)
    report = json.loads((run / "report.json").read_text())
    assert report["dropped_classes"] == {"brain": 2} and report["class_sizes"] == {"kidney": 4, "lung": 4}
    assert report["left_out"] == {"L4": "no value in omics/mutation.csv"}
    assert report["crops_not_used"] == {"L0": ["L0-01Z-DX1_1.jpg"]}
    kept = {f"L{i}" for i in range(4)} | {f"K{i}" for i in range(4)}
    assert list(splits["seed"]) == [5, 6, 7]
    assert list(splits["test_classes"]) == ["kidney: 1; lung: 1"] * 3
    tests = set()
    for row in splits.itertuples():
        datalist = json.loads((run / row.datalist).read_text())
        parts = {s: {r["omics"] for r in rows} for s, rows in datalist.items()}
        assert set.union(*parts.values()) == kept and sum(map(len, parts.values())) == len(kept)  # disjoint
        for rows in datalist.values():
            assert {r["label"] for r in rows} == {0, 1}  # every class in every part: classes sorted kidney, lung
            assert all(r["label"] == int(r["omics"][0] == "L") for r in rows)
            assert all(Path(r["image"]).is_absolute() and Path(r["image"]).is_file() for r in rows)
            assert not any(r["image"].endswith("_1.jpg") for r in rows)
        tests.add(frozenset(parts["test"]))
    assert len(tests) > 1  # the splits are repeated draws, not one split thrice
    bundle = REPO / "bundles" / "pan_cancer_classification" / "configs" / "train.json"
    merged = ConfigParser(ConfigParser.load_config_files([str(bundle), str(run / "bundle.json")]))
    assert merged["preprocessor"]["missing_values"] == "median"
    assert merged["preprocessor"]["normalization"] == {"mutation": "binary", "cnv": "ordinal"}
    assert merged["preprocessor"]["layout"]["_target_"] == "omicsfusion.layout.OTLayout"  # merged, not replaced
    assert merged["class_names"] == ["kidney", "lung"] and merged["allow_outside_dataset"] is True
    assert merged["omics_tables"] == {t: str(source.resolve() / "omics" / f"{t}.csv") for t in ("mutation", "cnv")}


def test_bad_settings_are_refused_by_name(tmp_path):
    source = _cohort(tmp_path / "source")
    with pytest.raises(OmicsDataError, match="no label column 'subtype'"):
        prepare_runs(source, tmp_path / "run", label="subtype")
    with pytest.raises(OmicsDataError, match="min_class 2"):
        prepare_runs(source, tmp_path / "run", min_class=2)
    with pytest.raises(OmicsDataError, match=r"0 class\(es\) of at least 6"):
        prepare_runs(source, tmp_path / "run", min_class=6)
    labels = pd.Series(["a"] * 9 + ["b"] * 2, index=[f"p{i}" for i in range(11)])
    with pytest.raises(OmicsDataError, match="class 'b' has 2 patient"):
        patient_split(labels, test_fraction=0.3, val_fraction=0.2, rng=np.random.default_rng(0))
    parts = patient_split(labels[:9], test_fraction=0.3, val_fraction=0.2, rng=np.random.default_rng(0))
    assert [len(parts[s]) for s in ("training", "validation", "test")] == [4, 2, 3]  # round(2.7), round(1.8)


def test_baselines_fill_empty_cells_with_the_training_median(tmp_path):
    # training: class 0 at 0, class 1 at 10 (median 10); test: four at 0 and one empty cell. A median over
    # all samples would be 0 and call the empty one class 0; the training median calls it class 1.
    ids = [f"s{i}" for i in range(10)]
    table = pd.DataFrame({"x": [0, 0, 10, 10, 10, np.nan, 0, 0, 0, 0.0]}, index=ids)
    rows = lambda idx, labels: [{"image": "", "omics": ids[i], "label": k} for i, k in zip(idx, labels, strict=True)]  # noqa: E731
    datalist = tmp_path / "datalist.json"
    datalist.write_text(
        json.dumps({"training": rows(range(5), [0, 0, 1, 1, 1]), "test": rows(range(5, 10), [1, 0, 0, 0, 0])})
    )
    frames = baseline_predictions(table, datalist, ["low", "high"], 0)
    for frame in frames.values():
        assert list(frame["sample_id"]) == ids[5:] and np.allclose(frame[["prob_low", "prob_high"]].sum(axis=1), 1)
        assert frame.loc[0, "prob_high"] > 0.5 and (frame.loc[1:, "prob_low"] > 0.5).all()
    (tmp_path / "a.csv").write_text("sample_id,g\ns0,1\ns1,2\n")
    (tmp_path / "b.csv").write_text("sample_id,g\ns1,3\ns2,4\n")
    joined = read_feature_set([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert list(joined.columns) == ["a:g", "b:g"] and joined.loc["s1"].tolist() == [2.0, 3.0] and len(joined) == 1


def test_summary_fits_each_baseline_on_each_named_table(tmp_path):
    source, run = _cohort(tmp_path / "source"), tmp_path / "run"
    prepare_runs(source, run, splits=2)
    omics = source / "omics"
    summary = summarize_runs(
        run,
        None,
        ["kidney", "lung"],
        models=[],
        tables={"mutation": [omics / "mutation.csv"], "both": [omics / "mutation.csv", omics / "cnv.csv"]},
        per_seed_file="per_split.csv",
        note="Patients per class: kidney 4, lung 4.",
    )
    names = ["logreg:mutation", "random_forest:mutation", "logreg:both", "random_forest:both"]
    assert list(summary["model"]) == names and (summary["n_seeds"] == 2).all()
    per_split = pd.read_csv(run / "per_split.csv")
    assert len(per_split) == 8 and (per_split["n_test"] == 2).all()
    text = (run / "summary.md").read_text()
    assert "| logreg:both |" in text and text.rstrip().endswith("Patients per class: kidney 4, lung 4.")


def test_tile_features_are_cell_means_cached_per_tile(tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    from omicsfusion.apps.probe_features import tile_cells, tile_features

    source = _cohort(tmp_path / "source")
    tiles = {p: next((source / "images" / p).glob("*DX1.jpg")) for p in ("L0", "K0")}
    assert tile_cells(tiles["L0"], 2, 32).shape == (4, 3, 32, 32)
    cache = tmp_path / "features.csv"
    first = tile_features({"L0": tiles["L0"]}, cache, weights=None, grid=2, patch_px=32)
    both = tile_features(tiles, cache, weights=None, grid=2, patch_px=32)  # L0 from the cache (another init)
    assert first.shape == (1, 1280) and list(both.index) == ["L0", "K0"]
    assert np.allclose(both.loc["L0"], first.loc["L0"], atol=1e-6)
    assert list(pd.read_csv(cache)["sample_id"]) == ["L0", "K0"]


@pytest.mark.slow
@pytest.mark.skipif(not REAL.is_dir(), reason=f"real cohort not at {REAL}")
def test_recipe_dry_run_on_the_real_cohort_prints_every_bundle_run(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "SPLITS": "2"}
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "real_data" / "pan_cancer_tcga.sh"), "--dry-run", str(REAL), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    commands = [line for line in done.stdout.splitlines() if "monai.bundle run" in line]
    assert len(commands) == 2 * 7 * 2  # splits x models x (train, evaluate)
    fused = [c for c in commands if "/fused/models" in c or "/fused_late/models" in c]
    assert fused and all("--image_encoder efficientnet_lite0" in c for c in fused)
    assert all("--fusion late --modality_dropout 0.25" in c for c in fused if "/fused_late/" in c)
    assert all("--fusion concat --modality_dropout 0.0" in c for c in fused if "/fused/" in c)
    omics_only = [c for c in commands if any(f"/{m}/models" in c for m in ("mutation", "cnv", "omics"))]
    assert len(omics_only) == 2 * 3 * 2 and all("--bag_patches 0" in c for c in omics_only)  # no image read
    bundle = json.loads((tmp_path / "bundle.json").read_text())
    assert (bundle["bag_patches"], bundle["patch_px"], bundle["image_size"]) == (8, 250, [128, 128])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["dropped_classes"] == {"brain": 2, "stomach": 2} and not (tmp_path / "runs").exists()
