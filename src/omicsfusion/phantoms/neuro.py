"""Neuro phantom cohort: a 3-D head-like T1-Gd volume and two molecular tables per subject.

Four classes are planted so that neither modality alone suffices:

===================  =================================  ===================================  ================
class                MRI                                molecular signal                     separable from
===================  =================================  ===================================  ================
control              normal head                        none                                 atrophy: MRI only
atrophy              shrunken brain, large ventricles   none                                 control: MRI only
glioma_idh_mutant    ring-enhancing right-frontal mass  RNA module up (G-CIMP-like)          IDH-wt: omics only
glioma_idh_wildtype  ring-enhancing right-frontal mass  CNV module {EGFR, 7p, 7q, CDKN2A,     IDH-mut: omics only
                                                        CDKN2B, PTEN} shifted
===================  =================================  ===================================  ================

A perfect MRI-only model therefore tops out at 75 % accuracy (it cannot tell
the two gliomas apart) and so does a perfect omics-only model (it cannot tell
atrophy from control); only fusion can reach 100 %. The copy-number table
uses PathomicFusion's TCGA GBM/LGG CNV column names (41 genes and 37 arms)
plus synthetic segments, so a layout fitted on the phantom restricted to the
shared names can lay out a real TCGA patient's row. Volumes are 48^3 voxels of
4 mm in RAS orientation, background exactly 0 (so ``nonzero`` intensity
normalisation sees the head only); the lesion / atrophy mask is saved per
subject, and one subject is also written as a DICOM series.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from omicsfusion.data.dicom import write_dicom_series
from omicsfusion.fileio import atomic_write

from .omics import OmicsSpec, draw_omics

CLASS_NAMES = ("control", "atrophy", "glioma_idh_mutant", "glioma_idh_wildtype")
#: copy-number columns of PathomicFusion's TCGA_GBMLGG all_dataset.csv (genes, then chromosome arms)
PATHOMIC_CNV_GENES = (
    "EGFR",
    "MDM4",
    "MYC",
    "BRAF",
    "EZH2",
    "MET",
    "SMO",
    "KIAA1549",
    "CREB3L2",
    "NTRK1",
    "PRCC",
    "BLM",
    "NTRK3",
    "CRTC3",
    "CDKN2A",
    "CDKN2B",
    "FGFR2",
    "TSHR",
    "TCL1A",
    "TRIP11",
    "GOLGA5",
    "GPHN",
    "DICER1",
    "TCL6",
    "EBF1",
    "ITK",
    "RPL22",
    "CDKN2C",
    "LCP1",
    "RB1",
    "IRF4",
    "FGFR1OP",
    "MLLT4",
    "MYB",
    "ROS1",
    "TNFAIP3",
    "GOPC",
    "CARD11",
    "JAK2",
    "STK11",
    "PTEN",
)
PATHOMIC_CNV_ARMS = (
    "1q",
    "2p",
    "2q",
    "3p",
    "3q",
    "4p",
    "4q",
    "5p",
    "5q",
    "6p",
    "6q",
    "7p",
    "7q",
    "8p",
    "8q",
    "9p",
    "9q",
    "10p",
    "10q",
    "11p",
    "11q",
    "12p",
    "12q",
    "13q",
    "14q",
    "15q",
    "16p",
    "16q",
    "17p",
    "17q",
    "18p",
    "18q",
    "19p",
    "20p",
    "20q",
    "21q",
    "22q",
)
#: the planted copy-number module (first module of the CNV table)
IDH_WT_CNV_MODULE = ("EGFR", "7p", "7q", "CDKN2A", "CDKN2B", "PTEN")
# (omics type, module index, shift in activity SD, classes carrying it)
PLANTED = (
    ("rna", 2, 4.0, ("glioma_idh_mutant",)),
    ("cnv", 0, 4.0, ("glioma_idh_wildtype",)),
)
IMAGE_ONLY_CEILING = 0.75
OMICS_ONLY_CEILING = 0.75
SPACING_MM = 4.0
# Lesion centre as a fraction of the volume edge from its centre (RAS: +x right, +y anterior, +z superior).
LESION_OFFSET = (0.17, 0.20, 0.08)


def omics_specs(n_genes: int = 240, n_segments: int = 42) -> dict[str, OmicsSpec]:
    """RNA (synthetic gene names) and copy number (PathomicFusion names + synthetic segments)."""
    genes = tuple(f"GENE{i:04d}" for i in range(1, n_genes + 1))
    real = [n for n in PATHOMIC_CNV_GENES + PATHOMIC_CNV_ARMS if n not in IDH_WT_CNV_MODULE]
    cnv = IDH_WT_CNV_MODULE + tuple(real) + tuple(f"SEG{i:03d}" for i in range(1, n_segments + 1))
    return {
        "rna": OmicsSpec("rna", genes, module_size=20, kind="expression"),
        "cnv": OmicsSpec("cnv", cnv, module_size=len(IDH_WT_CNV_MODULE), kind="copy_number", noise=0.4),
    }


def affine(size: int, spacing: float = SPACING_MM) -> np.ndarray:
    """RAS voxel -> mm matrix with the volume centred on the origin."""
    out = np.diag([spacing, spacing, spacing, 1.0])
    out[:3, 3] = -spacing * (size - 1) / 2.0
    return out


def _ellipsoid(coords: np.ndarray, centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Normalised radius: < 1 inside the ellipsoid."""
    return np.sqrt(sum(((coords[i] - centre[i]) / radii[i]) ** 2 for i in range(3)))


def head_volume(rng: np.random.Generator, size: int, class_name: str) -> tuple[np.ndarray, np.ndarray]:
    """One T1-Gd-like head ``(size,)*3`` float32 and the ``uint8`` mask of its planted finding.

    Scalp/skull shell, CSF rim, brain with smooth grey/white texture, two
    lateral ventricles; ``atrophy`` shrinks the brain and enlarges the
    ventricles (mask: both changes, i.e. the ventricles and the brain volume
    lost to CSF at the brain's edge), gliomas add a ring-enhancing mass with
    a necrotic core in the right frontal lobe (mask: the mass).
    """
    coords = np.mgrid[:size, :size, :size].astype(np.float64)
    centre = (size - 1) / 2.0 + rng.uniform(-1.5, 1.5, size=3)
    scale = rng.uniform(0.95, 1.05)
    head_r = np.array([0.42, 0.46, 0.40]) * size * scale
    r_head = _ellipsoid(coords, centre, head_r)
    atrophy = class_name == "atrophy"
    jitter = rng.uniform(0.98, 1.02)
    brain_fraction = (0.76 if atrophy else 0.86) * jitter
    r_brain = _ellipsoid(coords, centre, head_r * brain_fraction)
    lost = (_ellipsoid(coords, centre, head_r * 0.86 * jitter) <= 1.0) & (r_brain > 1.0) if atrophy else False
    vent_scale = (2.0 if atrophy else 1.0) * rng.uniform(0.9, 1.1)
    vent_r = np.array([0.05, 0.14, 0.08]) * size * vent_scale
    ventricles = np.zeros((size,) * 3, bool)
    for side in (-1.0, 1.0):
        vent_c = centre + np.array([side * (0.06 * size + vent_r[0]), 0.03 * size, 0.05 * size])
        ventricles |= _ellipsoid(coords, vent_c, vent_r) <= 1.0

    texture = ndimage.gaussian_filter(rng.standard_normal((size,) * 3), 1.5)
    texture /= texture.std() + 1e-8
    vol = np.zeros((size,) * 3)
    vol[r_head <= 1.0] = 700.0  # scalp fat (bright on T1)
    vol[(r_head <= 0.93)] = 220.0  # skull
    vol[(r_head <= 0.88)] = 140.0  # CSF rim
    brain = r_brain <= 1.0
    vol[brain] = 560.0 + 45.0 * texture[brain]
    vol[ventricles & brain] = 120.0
    mask = (ventricles & brain) | lost if atrophy else np.zeros((size,) * 3, bool)
    if class_name.startswith("glioma"):
        lesion_c = centre + np.asarray(LESION_OFFSET) * size + rng.uniform(-1.5, 1.5, size=3)
        radius = rng.uniform(4.5, 6.0)
        r_lesion = _ellipsoid(coords, lesion_c, np.full(3, radius))
        vol[r_lesion <= 1.0] = 1050.0  # enhancing rim
        vol[r_lesion <= 0.6] = 260.0  # necrotic core
        mask = r_lesion <= 1.0
    inside = r_head <= 1.0
    vol *= rng.uniform(0.9, 1.1)
    vol[inside] += rng.normal(0.0, 25.0, size=int(inside.sum()))
    vol[~inside] = 0.0
    return np.clip(vol, 0.0, None).astype(np.float32), mask.astype(np.uint8)


def _save_nifti(array: np.ndarray, affine_: np.ndarray, path: Path) -> None:
    import nibabel as nib

    tmp = path.with_name(f".{path.name}.tmp.nii.gz")
    nib.save(nib.Nifti1Image(array, affine_), tmp)
    os.replace(tmp, path)


def make_neuro_phantom(
    dataset_dir: str | os.PathLike,
    n_per_class: int = 40,
    size: int = 48,
    seed: int = 0,
    dicom_subjects: int = 1,
) -> dict:
    """Write the neuro phantom cohort into ``dataset_dir`` and return its ground truth.

    Layout written::

        images/<subject>.nii.gz    T1-Gd-like volume (float32, RAS affine, 4 mm)
        masks/<subject>.nii.gz     planted finding (1 inside; empty for controls)
        dicom/<subject>/*.dcm      the first ``dicom_subjects`` subjects again as DICOM series;
                                   samples.csv points at these folders
        omics/{rna,cnv}.csv        subjects x features, first column sample_id
        samples.csv                sample_id,image,label,class_name (paths relative to dataset_dir)
        ground_truth.json          classes, planted features, lesion location, ceilings

    Args:
        dataset_dir: output folder (created).
        n_per_class: subjects per class.
        size: volume edge in voxels.
        seed: everything is drawn from this seed.
        dicom_subjects: how many subjects are (also) written as DICOM series.
    """
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2 for a stratified split, got {n_per_class}")
    root = Path(dataset_dir)
    for sub in ("images", "masks", "omics"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), n_per_class)
    rng.shuffle(labels)
    sample_ids = [f"S{i:04d}" for i in range(1, len(labels) + 1)]
    affine_ = affine(size)

    rows = []
    for k, (sample_id, label) in enumerate(zip(sample_ids, labels, strict=False)):
        class_name = CLASS_NAMES[label]
        volume, mask = head_volume(rng, size, class_name)
        _save_nifti(volume, affine_, root / "images" / f"{sample_id}.nii.gz")
        _save_nifti(mask, affine_, root / "masks" / f"{sample_id}.nii.gz")
        image = f"images/{sample_id}.nii.gz"
        if k < dicom_subjects:
            write_dicom_series(
                volume, affine_, root / "dicom" / sample_id, description="T1 post-Gd phantom", patient_id=sample_id
            )
            image = f"dicom/{sample_id}"
        rows.append({"sample_id": sample_id, "image": image, "label": int(label), "class_name": class_name})

    informative: dict[str, list[str]] = {}
    for name, spec in omics_specs().items():
        shift = np.zeros((len(sample_ids), spec.n_modules))
        for omics_type, module, amount, classes in PLANTED:
            if omics_type == name:
                shift[np.isin(labels, [CLASS_NAMES.index(c) for c in classes]), module] = amount
                informative[name] = spec.module_features(module)
        draw_omics(spec, sample_ids, shift, rng).to_csv(root / "omics" / f"{name}.csv")

    pd.DataFrame(rows).to_csv(root / "samples.csv", index=False)
    truth = {
        "task": "neuro_mri_molecular",
        "classes": list(CLASS_NAMES),
        "informative_features": informative,
        "planted": [
            {"omics": o, "features": informative[o], "shift_sd": s, "classes": list(c)} for o, _, s, c in PLANTED
        ],
        "lesion_offset_fraction_ras": list(LESION_OFFSET),
        "omics_only_pairs": [["glioma_idh_mutant", "glioma_idh_wildtype"]],
        "image_only_pairs": [["control", "atrophy"]],
        "image_only_ceiling": IMAGE_ONLY_CEILING,
        "omics_only_ceiling": OMICS_ONLY_CEILING,
        "dicom_subjects": sample_ids[:dicom_subjects],
        "n_per_class": n_per_class,
        "size": size,
        "spacing_mm": SPACING_MM,
        "seed": seed,
    }
    atomic_write(root / "ground_truth.json", lambda tmp: tmp.write_text(json.dumps(truth, indent=2)))
    return truth
