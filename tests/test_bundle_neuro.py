"""The 3-D neuro bundle through monai.bundle: metadata, train/evaluate/inference, DICOM, bad input, real NRRD."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from bundle_utils import BUNDLES, REPO, error_chain, run_dirs, run_workflow, verified_metadata
from monai.bundle import ConfigParser
from monai.transforms import EnsureChannelFirstd, LoadImaged

from omicsfusion.data import (
    MixedSeriesError,
    NonFiniteVolumeError,
    SequenceMismatchError,
    VolumeDimensionError,
)
from omicsfusion.data.dicom import check_dicom_series, write_dicom_series
from omicsfusion.transforms import CheckDicomSeries, CheckDicomSeriesd, CheckVolumed, MatchSequencesd

BUNDLE = "neuro_mri_molecular"
CONFIGS = BUNDLES / BUNDLE / "configs"
FUSED = ["image", "rna", "cnv"]
# ../shared/data next to the repository; OMICSFUSION_SHARED_DATA points elsewhere (e.g. from a git worktree)
REAL = Path(os.environ.get("OMICSFUSION_SHARED_DATA", REPO.parent / "shared" / "data")) / "pyradiomics_mri"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny):
    """One fused and one image-only training run on a tiny 3-D phantom (1 epoch)."""
    base = tmp_path_factory.mktemp("neuro")
    runs = {}
    for name, modalities in {"fused": FUSED, "image": ["image"]}.items():
        run_workflow(BUNDLE, ["train.json"], "train", **run_dirs(base, name), **tiny(BUNDLE), modalities=modalities)
        runs[name] = base / name
    return base, runs


def test_atrophy_mask_covers_every_voxel_the_atrophy_changed():
    """Atrophy shrinks the brain and enlarges the ventricles: the planted region is both changes."""
    from omicsfusion.phantoms.neuro import head_volume

    atrophy, mask = head_volume(np.random.default_rng(3), 32, "atrophy")
    control, _ = head_volume(np.random.default_rng(3), 32, "control")  # same draws, no atrophy
    changed = np.abs(atrophy - control) > 200.0
    assert changed.sum() > 1000 and mask[changed].all()
    assert mask.sum() < 1.2 * changed.sum()


def test_metadata_verifies_offline_and_names_every_channel():
    meta = verified_metadata(BUNDLE)
    image = meta["network_data_format"]["inputs"]["image"]
    assert image["spatial_shape"] == [48, 48, 48] and image["num_channels"] == 3
    assert image["channel_def"]["0"].startswith("MRI")
    assert [image["channel_def"][k].split(" ")[0] for k in ("1", "2")] == ["omics:rna", "omics:cnv"]
    train = json.loads((CONFIGS / "train.json").read_text())
    assert list(meta["network_data_format"]["outputs"]["pred"]["channel_def"].values()) == train["class_names"]


@pytest.mark.slow
def test_train_writes_3d_checkpoint_layout_and_datalist(trained):
    _, runs = trained
    models = runs["fused"] / "models"
    assert {"model.pt", "layout.npz", "datalist.json"} <= {p.name for p in models.iterdir()}
    state = torch.load(models / "model.pt", map_location="cpu", weights_only=True)
    conv1 = state["backbone.conv1.weight"]
    assert conv1.ndim == 5 and conv1.shape[1] == 3 + 3  # 3-D conv: T1-Gd + rna + cnv, then 3 coordinate channels
    image_state = torch.load(runs["image"] / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert image_state["backbone.conv1.weight"].shape[1] == 1 + 3
    assert not (runs["image"] / "models" / "layout.npz").exists()


@pytest.mark.slow
def test_phantom_ground_truth_and_dicom_subject(trained):
    base, _runs = trained
    truth = json.loads((base / "data" / "ground_truth.json").read_text())
    assert truth["omics_only_pairs"] == [["glioma_idh_mutant", "glioma_idh_wildtype"]]
    cnv = pd.read_csv(base / "data" / "omics" / "cnv.csv", index_col=0)
    assert {"EGFR", "CDKN2A", "PTEN", "7p", "10q"} <= set(cnv.columns)
    samples = pd.read_csv(base / "data" / "samples.csv")
    dicom = samples[samples["image"].str.startswith("dicom/")]
    assert len(dicom) == 1
    subject = dicom["sample_id"].iloc[0]
    for sid in samples["sample_id"]:  # a lesion / atrophy mask per subject, empty for controls
        mask = nib.load(base / "data" / "masks" / f"{sid}.nii.gz").get_fdata()
        label = samples.set_index("sample_id").loc[sid, "class_name"]
        assert (mask.sum() > 0) == (label != "control")
    # the DICOM series goes through the bundle's own image preprocessing like its NIfTI twin
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    pipeline = parser.get_parsed_content("image_preprocessing")
    from_dicom = pipeline({"image": str(base / "data" / "dicom" / subject)})["image"]
    from_nifti = pipeline({"image": str(base / "data" / "images" / f"{subject}.nii.gz")})["image"]
    assert from_dicom.shape == (1, 48, 48, 48)
    assert torch.allclose(from_dicom.affine, from_nifti.affine, atol=1e-3)
    assert (from_dicom - from_nifti).abs().max() < 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fused", "image"])
def test_evaluate_and_inference(trained, name):
    base, runs = trained
    modalities = FUSED if name == "fused" else ["image"]
    dirs = run_dirs(base, name)
    run_workflow(BUNDLE, ["train.json", "evaluate.json"], "eval", **dirs, modalities=modalities)
    n_test = len(json.loads((runs[name] / "models" / "datalist.json").read_text())["test"])
    summary = json.loads((runs[name] / "eval" / "summary.json").read_text())
    assert summary["n"] == n_test and 0.0 <= summary["accuracy"] <= 1.0
    per_class = pd.read_csv(runs[name] / "eval" / "per_class_metrics.csv")
    assert list(per_class["class"]) == ["control", "atrophy", "glioma_idh_mutant", "glioma_idh_wildtype"]

    run_workflow(BUNDLE, ["inference.json"], "infer", **dirs, modalities=modalities, save_omics_maps=True)
    predictions = pd.read_csv(runs[name] / "eval" / "predictions.csv")
    assert len(predictions) == n_test
    probs = predictions[[c for c in predictions.columns if c.startswith("prob_")]].to_numpy()
    assert abs(probs.sum(axis=1) - 1).max() < 1e-5
    maps = sorted((runs[name] / "eval" / "maps").glob("*_omics.nii.gz")) if name == "fused" else []
    assert len(maps) == (n_test if name == "fused" else 0)
    for path in maps:  # omics channels keep the volume's affine and are broadcast along the slice axis
        sid = path.name.split("_omics")[0]
        saved = nib.load(path)
        source = base / "data" / "images" / f"{sid}.nii.gz"
        assert np.allclose(saved.affine, nib.load(source).affine, atol=1e-4)
        data = np.asarray(saved.dataobj)
        assert data.shape[:3] == (48, 48, 48) and data.shape[-1] == 2
        assert np.allclose(data, data[:, :, :1])


@pytest.mark.slow
def test_subject_absent_from_molecular_tables_is_named(trained, tmp_path):
    base, _runs = trained
    row = {"image": str(base / "data" / "images" / "S0002.nii.gz"), "omics": "NO_SUCH_SUBJECT"}
    with pytest.raises(RuntimeError) as info:
        run_workflow(
            BUNDLE,
            ["inference.json"],
            "infer",
            **run_dirs(base, "fused"),
            modalities=FUSED,
            input_data=[row],
            predictions_file=str(tmp_path / "p.csv"),
        )
    chain = error_chain(info.value)
    assert "MissingSampleError" in chain and "NO_SUCH_SUBJECT" in chain


def test_evaluate_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(RuntimeError) as info:
        run_workflow(BUNDLE, ["train.json", "evaluate.json"], "eval", **run_dirs(tmp_path, "none"))
    assert "no trained checkpoint" in error_chain(info.value)


# ----------------------------------------------------------------- bad volumes (transforms, small files)
def _nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> str:
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4) if affine is None else affine), path)
    return str(path)


def _loader(keys, **match):
    """The bundle's loading steps, applied one by one so that errors surface unwrapped."""
    steps = [
        CheckDicomSeriesd(keys),
        LoadImaged(keys, image_only=True),
        EnsureChannelFirstd(keys),
        CheckVolumed(keys),
        MatchSequencesd(keys, **match),
    ]

    def load(data):
        for step in steps:
            data = step(data)
        return data

    return load


def test_sequences_on_different_grids_are_named_or_resampled(tmp_path):
    rng = np.random.default_rng(0)
    t1 = _nifti(tmp_path / "t1.nii.gz", rng.random((10, 10, 8)) + 1)
    shifted = np.eye(4)
    shifted[:3, 3] = 2.0
    flair = _nifti(tmp_path / "flair.nii.gz", rng.random((10, 10, 8)) + 1, shifted)
    small = _nifti(tmp_path / "t2.nii.gz", rng.random((9, 10, 8)) + 1)
    for other in (flair, small):
        with pytest.raises(SequenceMismatchError, match="resample=True") as info:
            _loader(["image", "flair"])({"image": t1, "flair": other})
        assert Path(other).name in str(info.value)
    out = _loader(["image", "flair"], resample=True)({"image": t1, "flair": flair})
    assert out["flair"].shape == out["image"].shape
    assert torch.allclose(out["flair"].affine, out["image"].affine)


def test_mixed_dicom_series_folder_is_refused(tmp_path):
    volume = np.random.default_rng(0).random((6, 6, 3)) * 100
    write_dicom_series(volume, np.eye(4), tmp_path / "mixed", description="T1")
    assert check_dicom_series(tmp_path / "mixed")
    extra = write_dicom_series(volume, np.eye(4), tmp_path / "flair", description="FLAIR")
    for k, path in enumerate(sorted(extra.iterdir())):
        path.rename(tmp_path / "mixed" / f"flair_{k}.dcm")
    with pytest.raises(MixedSeriesError, match="mixes 2 series"):
        _loader(["image"])({"image": str(tmp_path / "mixed")})
    with pytest.raises(MixedSeriesError, match="mixes 2 series"):
        CheckDicomSeries()(tmp_path / "mixed")


def test_volume_with_nans_is_refused(tmp_path):
    data = np.ones((8, 8, 8))
    data[2, 3, 4] = np.nan
    with pytest.raises(NonFiniteVolumeError, match=r"nan.nii.gz"):
        _loader(["image"])({"image": _nifti(tmp_path / "nan.nii.gz", data)})


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 1)])
def test_2d_image_where_3d_is_required_is_refused(tmp_path, shape):
    with pytest.raises(VolumeDimensionError, match="not a 3-D volume"):
        _loader(["image"])({"image": _nifti(tmp_path / "flat.nii.gz", np.ones(shape))})


# ----------------------------------------------------------------- real data (skipped when absent)
@pytest.mark.slow
@pytest.mark.skipif(not (REAL / "brain1_image.nrrd").is_file(), reason="../shared/data/pyradiomics_mri not present")
def test_real_tcga_nrrd_fuses_with_its_molecular_row(trained, tmp_path, tiny):
    """TCGA-02-0003 T1-Gd NRRD + its PathomicFusion CNV row, laid out on the phantom's shared CNV features."""
    base, _ = trained
    row_csv = REAL / "TCGA-02-0003_molecular_row.csv"
    real_row = pd.read_csv(row_csv)
    assert real_row.loc[0, "idh mutation"] == 0 and real_row.loc[0, "codeletion"] == 0  # IDH-wt, non-codeleted
    phantom_cnv = pd.read_csv(base / "data" / "omics" / "cnv.csv", index_col=0)
    shared = [c for c in phantom_cnv.columns if c in real_row.columns]
    assert len(shared) == 78  # 41 genes + 37 arms
    restricted = tmp_path / "cnv_shared.csv"
    phantom_cnv[shared].to_csv(restricted)
    dirs = {
        "dataset_dir": str(base / "data"),
        "ckpt_dir": str(tmp_path / "models"),
        "output_dir": str(tmp_path / "eval"),
    }
    modalities = ["image", "cnv"]
    run_workflow(
        BUNDLE,
        ["train.json"],
        "train",
        **dirs,
        **tiny(BUNDLE),
        modalities=modalities,
        omics_tables={"cnv": str(restricted)},
    )
    from omicsfusion.preprocessing import OmicsPreprocessor

    assert set(OmicsPreprocessor.load(tmp_path / "models" / "layout.npz").feature_names("cnv")) <= set(shared)
    subject = {"image": str(REAL / "brain1_image.nrrd"), "omics": "TCGA-02-0003"}
    run_workflow(
        BUNDLE,
        ["inference.json"],
        "infer",
        **dirs,
        modalities=modalities,
        input_data=[subject],
        omics_tables={"cnv": str(row_csv)},
        omics_id_column="TCGA ID",
        save_omics_maps=True,
    )
    predictions = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    assert list(predictions["sample_id"]) == ["TCGA-02-0003"]
    assert abs(predictions.filter(like="prob_").to_numpy().sum() - 1) < 1e-5
    # reoriented to RAS and resampled to 4 mm; the omics map carries that affine
    saved = nib.load(tmp_path / "eval" / "maps" / "brain1_image_omics.nii.gz")
    assert saved.shape[:3] == (48, 48, 48)
    assert np.allclose(np.abs(np.diag(saved.affine)[:3]), 4.0, atol=1e-3)
    assert nib.aff2axcodes(saved.affine) == ("R", "A", "S")
