"""TCGA-LGG: slice folders as volumes (reader, named errors), molecular table, datalists, recipe table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from monai.transforms import Compose, EnsureChannelFirstd, LoadImage, LoadImaged
from test_robustness_inputs import _tiff_header

from omicsfusion.apps.bundle_runs import summarize_runs
from omicsfusion.apps.lgg import cluster_table, idh_labels, lgg_splits, prepare_lgg
from omicsfusion.data import (
    DuplicateSampleError,
    ImageTooLargeError,
    OmicsDataError,
    SliceFolderError,
    SliceGapError,
    SliceShapeError,
)
from omicsfusion.data.images import check_image_size
from omicsfusion.data.slices import check_slice_folder, read_slice_folder, slice_files
from omicsfusion.errors import BenchmarkError
from omicsfusion.transforms import CheckDicomSeriesd, CheckImageSized, SliceFolderReader

REPO = Path(__file__).resolve().parents[1]
# ../shared/data next to the repository; OMICSFUSION_SHARED_DATA points elsewhere (e.g. from a git worktree)
REAL = Path(os.environ.get("OMICSFUSION_SHARED_DATA", REPO.parent / "shared" / "data")) / "lgg_kaggle3m_idh"
REAL_CASE = REAL / "images" / "TCGA_CS_4941_19960909"
needs_real = pytest.mark.skipif(not REAL_CASE.is_dir(), reason="../shared/data/lgg_kaggle3m_idh not present")


def write_case(folder: Path, n: int = 11, shape=(6, 5), stem: str = "case_20000101", masks: bool = True) -> Path:
    """Slices ``k = 1..n`` whose voxels hold ``10 k + channel`` (row 0) so order and channels can be read back."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(1, n + 1):
        plane = np.zeros((*shape, 3), np.uint8)
        plane[...] = 10 * k + np.arange(3)
        plane[1, 2] = 0  # one marked pixel: row 1, column 2
        tifffile.imwrite(folder / f"{stem}_{k}.tif", plane, photometric="rgb")
        if masks:
            tifffile.imwrite(folder / f"{stem}_{k}_mask.tif", np.full(shape, 255 * (k % 2), np.uint8))
    return folder


@needs_real
def test_real_case_is_one_volume_with_channels_first_and_slices_in_numeric_order():
    img = LoadImage(reader=SliceFolderReader(spacing=(1.0, 1.0, 2.5)), image_only=True, ensure_channel_first=True)(
        str(REAL_CASE)
    )
    files = sorted(p for p in REAL_CASE.glob("*.tif") if not p.name.endswith("_mask.tif"))
    assert img.shape == (3, 256, 256, len(files)) == (3, 256, 256, 23)
    for k in (1, 2, 10, 23):  # numeric order: _10 is the tenth slice, not the third
        raw = tifffile.imread(REAL_CASE / f"TCGA_CS_4941_19960909_{k}.tif")  # (row, column, T1 pre / FLAIR / T1 post)
        assert np.array_equal(img[:, :, :, k - 1].numpy(), raw.transpose(2, 1, 0))
    assert np.allclose(img.affine.numpy(), np.diag([1.0, 1.0, 2.5, 1.0]))
    assert img.meta["slice_first"] == 1 and img.meta["slice_last"] == 23
    assert check_image_size(REAL_CASE) == (256, 256, 23)
    mask = LoadImage(reader=SliceFolderReader(mask=True), image_only=True, ensure_channel_first=True)(str(REAL_CASE))
    assert mask.shape == (1, 256, 256, 23) and set(np.unique(mask.numpy())) <= {0.0, 255.0}
    raw_mask = tifffile.imread(REAL_CASE / "TCGA_CS_4941_19960909_12_mask.tif")
    assert np.array_equal(mask[0, :, :, 11].numpy(), raw_mask.T)


@needs_real
def test_real_molecular_table_and_prepare(tmp_path):
    table, report = cluster_table(REAL / "data.csv")
    assert table.shape[0] == 8 and "RNASeqCluster=2" in table.columns
    assert report["missing"]["RNASeqCluster"]["count"] == int(table["RNASeqCluster=missing"].sum()) == 2
    groups = [c for c in table.columns if c.startswith("RNASeqCluster=")]
    assert (table[groups].sum(axis=1) == 1).all()  # one value or the missing indicator per patient
    out = prepare_lgg(REAL, tmp_path, scheme="loo", seeds=[0])
    assert out["n_patients"] == 8 and out["class_counts"] == {"wildtype": 4, "mutant": 4}
    first = json.loads((tmp_path / "splits" / "seed0_loo000.json").read_text())
    assert (REAL / first["test"][0]["image"]).is_dir()


def test_generated_folder_reads_in_numeric_slice_order_without_masks(tmp_path):
    folder = write_case(tmp_path / "case_20000101")
    assert [p.name for p in slice_files(folder)][:3] == [
        "case_20000101_1.tif",
        "case_20000101_2.tif",
        "case_20000101_3.tif",
    ]
    volume = read_slice_folder(folder)
    assert volume.shape == (3, 5, 6, 11)  # (channel, column, row, slice)
    assert list(volume[0, 0, 0]) == [10 * k for k in range(1, 12)]
    assert list(volume[:, 0, 0, 0]) == [10, 11, 12]
    assert volume[0, 2, 1, 0] == 0  # row 1, column 2 -> (column 2, row 1)
    flair = read_slice_folder(folder, channels=["flair"])
    assert flair.shape == (1, 5, 6, 11) and flair[0, 0, 0, 0] == 11
    mask = read_slice_folder(folder, mask=True)
    assert mask.shape == (1, 5, 6, 11) and list(mask[0, 0, 0, :3]) == [255, 0, 255]
    with pytest.raises(SliceFolderError, match=f"{folder.name}: unknown channel 't2'"):
        read_slice_folder(folder, channels=["t2"])
    with pytest.raises(SliceFolderError, match=f"{folder.name}: channel 3 out of range"):
        read_slice_folder(folder, channels=[3])


def test_dict_pipeline_checks_the_folder_and_loads_it(tmp_path):
    folder = write_case(tmp_path / "case_20000101")
    steps = Compose(
        [
            CheckDicomSeriesd("image"),
            CheckImageSized("image"),
            LoadImaged("image", reader=SliceFolderReader(spacing=(0.5, 0.5, 3.0)), image_only=True),
            EnsureChannelFirstd("image"),
        ]
    )
    img = steps({"image": str(folder)})["image"]
    assert img.shape == (3, 5, 6, 11) and float(img.affine[2, 2]) == 3.0
    assert img.meta["filename_or_obj"] == str(folder)


def test_named_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        check_slice_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    tifffile.imwrite(tmp_path / "empty" / "notes.tif", np.zeros((4, 4), np.uint8))
    with pytest.raises(SliceFolderError, match="holds no slice"):
        check_slice_folder(tmp_path / "empty")
    gap = write_case(tmp_path / "gap", n=6)
    (gap / "case_20000101_4.tif").unlink()
    with pytest.raises(SliceGapError, match=r"lack \[4\]"):
        check_slice_folder(gap)
    with pytest.raises(SliceGapError):  # CheckImageSized raises the named error before LoadImaged would hide it
        CheckImageSized("image")({"image": str(gap)})
    odd = write_case(tmp_path / "odd", n=4)
    tifffile.imwrite(odd / "case_20000101_3.tif", np.zeros((7, 5, 3), np.uint8), photometric="rgb")
    with pytest.raises(SliceShapeError, match=r"case_20000101_3.tif"):
        read_slice_folder(odd)
    twice = write_case(tmp_path / "twice", n=3)
    tifffile.imwrite(twice / "case_20000101_02.tif", np.zeros((6, 5, 3), np.uint8), photometric="rgb")
    with pytest.raises(SliceFolderError, match="share slice number 2"):
        check_slice_folder(twice)
    bomb = write_case(tmp_path / "bomb", n=3, masks=False)
    _tiff_header(bomb / "case_20000101_2.tif", 50_000, 50_000)  # a 100-byte file claiming 2.5 G pixels
    with pytest.raises(ImageTooLargeError, match=r"case_20000101_2.tif: header claims 50000 x 50000"):
        CheckImageSized("image")({"image": str(bomb)})
    masks = write_case(tmp_path / "masks", n=3)
    (masks / "case_20000101_3_mask.tif").unlink()
    check_slice_folder(masks)  # the image alone is fine
    with pytest.raises(SliceFolderError, match="every slice needs its _mask file"):
        check_slice_folder(masks, mask=True)


DATA_CSV = """Patient,RNASeqCluster,MethylationCluster,CNCluster,age
P1,2,4,1.0,60
P2,1,5,,41
P3,,5,2,35
P4,2,4,2,70
P5,1,5,1,38
"""
MUTATIONS_CSV = """patient,idh
P1,wildtype
P2,mutant
P3,mutant
P4,wildtype
P5,
"""


def test_cluster_table_one_hot_with_missing_values_reported(tmp_path):
    (tmp_path / "data.csv").write_text(DATA_CSV)
    table, report = cluster_table(tmp_path / "data.csv", columns=["RNASeqCluster", "MethylationCluster", "CNCluster"])
    assert list(table.columns) == [
        "RNASeqCluster=1",
        "RNASeqCluster=2",
        "RNASeqCluster=missing",
        "MethylationCluster=4",
        "MethylationCluster=5",
        "CNCluster=1",
        "CNCluster=2",
        "CNCluster=missing",
    ]  # "1.0" is cluster 1
    assert table.index.name == "sample_id" and list(table.index) == ["P1", "P2", "P3", "P4", "P5"]
    assert table.loc["P3", ["RNASeqCluster=1", "RNASeqCluster=2", "RNASeqCluster=missing"]].tolist() == [0, 0, 1]
    assert report["missing"] == {
        "RNASeqCluster": {"count": 1, "patients": ["P3"]},
        "CNCluster": {"count": 1, "patients": ["P2"]},
    }
    assert report["unused_columns"] == ["age"] and report["n_features"] == 8
    with pytest.raises(OmicsDataError, match="no cluster column"):
        cluster_table(tmp_path / "data.csv")  # the default columns include miRNACluster, absent here
    (tmp_path / "twice.csv").write_text(DATA_CSV + "P1,1,4,1,60\n")
    with pytest.raises(DuplicateSampleError, match="P1"):
        cluster_table(tmp_path / "twice.csv", columns=["RNASeqCluster"])


def test_idh_labels_report_the_unlabelled(tmp_path):
    (tmp_path / "mutations.csv").write_text(MUTATIONS_CSV)
    labels, report = idh_labels(tmp_path / "mutations.csv")
    assert labels.to_dict() == {"P1": 0, "P2": 1, "P3": 1, "P4": 0}
    assert report["unlabelled"] == {"P5": ""} and report["counts"] == {"wildtype": 2, "mutant": 2}


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    columns = "Patient,RNASeqCluster,MethylationCluster,miRNACluster,CNCluster,RPPACluster,OncosignCluster,COCCluster"
    rows = [
        "P1,2,4,1,1,,3,2",
        "P2,1,5,2,1,1,2,1",
        "P3,,5,2,2,2,2,1",
        "P4,2,4,1,2,1,3,2",
        "P5,1,5,1,1,2,1,1",
        "P6,1,4,1,1,1,1,1",
    ]
    source.mkdir()
    (source / "data.csv").write_text("\n".join([columns, *rows]) + "\n")
    (source / "mutations.csv").write_text(MUTATIONS_CSV)
    for patient in ("P1", "P2", "P3", "P4", "P5", "P7"):
        write_case(source / "images" / f"{patient}_20000101", n=3, stem=f"{patient}_20000101")
    return source


def test_prepare_writes_datalists_and_reports_every_patient_left_out(tmp_path):
    source, out = _source(tmp_path), tmp_path / "run"
    report = prepare_lgg(source, out, scheme="loo", seeds=[0, 1], val_fraction=0.3)
    assert report["excluded"] == {
        "images_without_molecular_row": ["P7"],
        "images_without_label": ["P5"],
        "molecular_rows_without_images": ["P6"],
    }
    assert report["labels"]["unlabelled"] == {"P5": ""} and report["n_patients"] == 4
    splits = pd.read_csv(out / "splits.csv")
    assert len(splits) == 8 and set(splits["seed"]) == {0, 1}
    for _seed, group in splits.groupby("seed"):
        assert sorted(group["test"]) == ["P1", "P2", "P3", "P4"]  # every patient held out once per seed
    content = json.loads((out / "splits" / "seed0_loo000.json").read_text())
    ids = {s: [r["omics"] for r in content[s]] for s in ("training", "validation", "test")}
    assert ids["test"] == ["P1"] and ids["validation"] and not set(ids["training"]) & set(ids["validation"])
    assert set(ids["training"]) | set(ids["validation"]) | set(ids["test"]) == {"P1", "P2", "P3", "P4"}
    row = content["test"][0]
    assert row == {"image": "images/P1_20000101", "omics": "P1", "label": 0} and (source / row["image"]).is_dir()
    table = pd.read_csv(out / "omics" / "clusters.csv", index_col=0)
    assert list(table.index) == ["P1", "P2", "P3", "P4", "P5", "P6"] and "RPPACluster=missing" in table.columns
    assert json.loads((out / "report.json").read_text())["molecular"]["missing"]["RPPACluster"]["patients"] == ["P1"]
    repeated = lgg_splits(pd.Series([0, 0, 0, 1, 1, 1], index=list("abcdef")), "repeated", [3], 0.3, 0.3)
    assert len(repeated) == 1 and len(repeated[0]["test"]) == 2 and len(repeated[0]["validation"]) == 2


def test_summary_scores_bundle_predictions_beside_baselines_per_seed(tmp_path):
    source, run = _source(tmp_path), tmp_path / "run"
    prepare_lgg(source, run, scheme="loo", seeds=[0, 1], val_fraction=0.3)
    for split in pd.read_csv(run / "splits.csv").itertuples():
        test = json.loads((run / split.datalist).read_text())["test"]
        path = run / "runs" / split.name / "fused" / "eval" / "test_predictions.csv"
        path.parent.mkdir(parents=True)
        label = test[0]["label"]
        pd.DataFrame(
            {
                "sample_id": [test[0]["omics"]],
                "prob_wildtype": [0.8 if label == 0 else 0.3],
                "prob_mutant": [0.2 if label == 0 else 0.7],
                "true_class": [["wildtype", "mutant"][label]],
            }
        ).to_csv(path, index=False)
    summary = summarize_runs(run, run / "omics" / "clusters.csv", ["wildtype", "mutant"], models=["fused"])
    fused = summary.set_index("model").loc["fused"]
    assert fused["accuracy"] == fused["macro_f1"] == fused["auc"] == 1.0 and fused["n_seeds"] == 2
    assert list(summary["model"]) == ["fused", "logreg", "random_forest"]
    assert "| fused | 1.000 ± 0.000 |" in (run / "summary.md").read_text()
    assert len(pd.read_csv(run / "per_seed.csv")) == 6
    predictions = run / "runs" / "seed1_loo002" / "fused" / "eval" / "test_predictions.csv"
    held_out = pd.read_csv(predictions)
    held_out.assign(sample_id="P9").to_csv(predictions, index=False)  # a prediction of another patient
    with pytest.raises(BenchmarkError, match=r"seed1_loo002.*1 missing, e\.g\. \['P3'\]; 1 not in the test section"):
        summarize_runs(run, run / "omics" / "clusters.csv", ["wildtype", "mutant"], models=["fused"])
    predictions.unlink()
    with pytest.raises(FileNotFoundError, match="seed1_loo002"):
        summarize_runs(run, run / "omics" / "clusters.csv", ["wildtype", "mutant"], models=["fused"])


def test_linear_probe_on_mean_slice_features_joins_the_table(tmp_path, capsys):
    pytest.importorskip("efficientnet_lite_pytorch")
    from omicsfusion.apps.bundle_runs import main as bundle_runs_main
    from omicsfusion.apps.probe_features import slice_features

    source, run = _source(tmp_path), tmp_path / "run"
    prepare_lgg(source, run, scheme="loo", seeds=[0], val_fraction=0.3)
    samples = pd.read_csv(run / "samples.csv")
    folders = dict(zip(samples["sample_id"], [source / i for i in samples["image"]], strict=True))
    cache = run / "features" / "slices.csv"
    features = slice_features(folders, cache, weights=None, patch_px=32)
    assert list(features.index) == ["P1", "P2", "P3", "P4"] and features.shape[1] == 1280
    again = slice_features({"P2": folders["P2"]}, cache, weights=None, patch_px=32)  # from the cache
    assert np.allclose(again.to_numpy(), features.loc[["P2"]].to_numpy(), rtol=1e-6, atol=0)
    args = [str(run), "--table", str(run / "omics" / "clusters.csv"), "--class-names", "wildtype", "mutant"]
    assert bundle_runs_main([*args, "--models", "--tables", f"slice_features={cache}"]) == 0
    summary = pd.read_csv(run / "summary.csv")
    assert list(summary["model"]) == [
        "logreg",
        "random_forest",
        "logreg:slice_features",
        "random_forest:slice_features",
    ]
    assert (summary["n_seeds"] == 1).all() and "| logreg:slice_features |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bundle_runs_main([*args, "--tables", "slice_features"])


def test_prepare_reads_kaggle_3m_as_published_with_case_folders_beside_data_csv(tmp_path):
    source = _source(tmp_path)
    for case in (source / "images").iterdir():
        case.rename(source / case.name)
    (source / "images").rmdir()
    (source / "mutations.csv").rename(tmp_path / "idh.csv")
    report = prepare_lgg(source, tmp_path / "run", seeds=[0], val_fraction=0.3, mutations_csv=tmp_path / "idh.csv")
    assert report["n_patients"] == 4 and report["skipped_folders"] == []
    row = json.loads((tmp_path / "run" / "splits" / "seed0_loo000.json").read_text())["test"][0]
    assert row["image"] == "P1_20000101" and (source / row["image"]).is_dir()


@needs_real
@pytest.mark.slow
@pytest.mark.heavy
def test_recipe_trains_the_neuro_bundle_on_the_real_slice_folders(tmp_path):
    """scripts/real_data/neuro_lgg.sh as shipped, one seed, one epoch, a coarse grid: its overrides (the slice
    reader among them) must resolve in the bundle's configs, the table must score every test patient, and
    saliency.json must explain them."""
    run = tmp_path / "run"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "SCHEME": "repeated",
        "SEEDS": "0",
        "EPOCHS": "1",
        "MODELS": "fused",
        "BATCH": "2",
        "PIXDIM": "[8.0, 8.0, 2.0]",
        "SPATIAL_SIZE": "[32, 32, 16]",
        "SALIENCY": "1",
    }
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "real_data" / "neuro_lgg.sh"), str(REAL), str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    test = json.loads((run / "splits" / "seed0.json").read_text())["test"]
    predictions = pd.read_csv(run / "runs" / "seed0" / "fused" / "eval" / "test_predictions.csv")
    assert sorted(predictions["sample_id"]) == sorted(row["omics"] for row in test)
    summary = pd.read_csv(run / "summary.csv")
    assert list(summary["model"]) == ["fused", "logreg", "random_forest"]
    assert summary["accuracy"].between(0, 1).all()
    explained = pd.read_csv(run / "runs" / "seed0" / "fused" / "eval" / "saliency" / "samples.csv", dtype=str)
    assert sorted(explained["sample_id"]) == sorted(row["omics"] for row in test)
    shares = (run / "saliency_shares.md").read_text()
    assert "| class | n | IG image | IG clusters |" in shares and "| mutant | 1 |" in shares
    assert "MethylationCluster=5" in (run / "runs" / "seed0" / "fused" / "eval" / "saliency" / "markers.md").read_text()
    scored = pd.read_csv(run / "region_masks.csv", dtype={"sample_id": str})
    assert sorted(scored["sample_id"]) == sorted(row["omics"] for row in test) and scored["chance"].between(0, 1).all()


@needs_real
def test_recipe_offers_both_image_branches_and_refuses_an_unknown_model(tmp_path):
    """MODELS="mri mri_slices": the 3-D CNN and the pretrained encoder slice by slice, on the same splits."""
    script = str(REPO / "scripts" / "real_data" / "neuro_lgg.sh")
    env = {**os.environ, "PYTHON": sys.executable, "SCHEME": "repeated", "SEEDS": "0", "MODELS": "mri mri_slices"}
    done = subprocess.run(
        ["bash", script, "--dry-run", str(REAL), str(tmp_path / "run")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    commands = [line for line in done.stdout.splitlines() if "monai.bundle run" in line]
    slices = [c for c in commands if "/mri_slices/" in c]
    assert len(commands) == 4 and len(slices) == 2  # train + evaluate per model
    assert all("--image_encoder efficientnet_lite0" in c for c in slices)
    assert not any("--image_encoder" in c for c in commands if c not in slices)
    env["MODELS"] = "mri mri2"
    done = subprocess.run(
        ["bash", script, "--dry-run", str(REAL), str(tmp_path / "run")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "unknown model mri2" in done.stderr


def test_region_maps_are_scored_against_the_tumour_mask_on_their_own_grid(tmp_path):
    """scripts/real_data/region_masks.py: the mask slices are resampled onto the map's grid (its affine), the peak
    is a pointing-game hit only inside the mask, and a uniform map is enriched by exactly 1."""
    import importlib.util

    import nibabel as nib

    spec = importlib.util.spec_from_file_location("region_masks", REPO / "scripts" / "real_data" / "region_masks.py")
    region_masks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(region_masks)
    folder = tmp_path / "case_20000101"
    folder.mkdir()
    for k in range(1, 5):
        tifffile.imwrite(folder / f"case_20000101_{k}.tif", np.full((6, 5, 3), 50, np.uint8), photometric="rgb")
        mask = np.zeros((6, 5), np.uint8)
        if k == 2:
            mask[1:3, 3:5] = 255  # rows 1-2, columns 3-4 of slice 2
        tifffile.imwrite(folder / f"case_20000101_{k}_mask.tif", mask)
    affine = np.diag([2.0, 2.0, 1.0, 1.0])  # the map's grid: half the in-plane resolution, padded by zeros
    maps = {
        "inside": np.zeros((4, 4, 4), np.float32),
        "outside": np.zeros((4, 4, 4), np.float32),
        "uniform": np.ones((4, 4, 4), np.float32),
    }
    maps["inside"][2, 1, 1] = 1.0  # (column 4, row 2) at 2 mm: in the mask
    maps["outside"][0, 0, 3] = 1.0
    for name, volume in maps.items():
        nib.save(nib.Nifti1Image(volume, affine), tmp_path / f"{name}.nii.gz")
    scores = {name: region_masks.score_patient(tmp_path / f"{name}.nii.gz", folder, [1.0, 1.0, 1.0]) for name in maps}
    assert scores["inside"]["hit"] and not scores["outside"]["hit"]
    assert scores["inside"]["mass_in_mask"] == 1.0 and scores["outside"]["mass_in_mask"] == 0.0
    assert scores["uniform"]["enrichment"] == pytest.approx(1.0)
    brain = scores["uniform"]["brain_voxels"]
    assert brain == 3 * 3 * 4 and scores["uniform"]["chance"] == pytest.approx(
        scores["uniform"]["tumour_voxels"] / brain
    )
    empty = tmp_path / "empty_case"
    empty.mkdir()
    for k in (1, 2):
        tifffile.imwrite(empty / f"empty_case_{k}.tif", np.full((6, 5, 3), 50, np.uint8), photometric="rgb")
        tifffile.imwrite(empty / f"empty_case_{k}_mask.tif", np.zeros((6, 5), np.uint8))
    with pytest.raises(ValueError, match="empty_case: the tumour mask is empty"):
        region_masks.score_patient(tmp_path / "uniform.nii.gz", empty, [1.0, 1.0, 1.0])
