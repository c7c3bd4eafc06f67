"""DICOM series folders: check one before an image reader sees it; write one from a volume.

ITK's series reader silently takes the first series UID of a folder, so a
folder that mixes series (e.g. T1 and FLAIR exported together) would load as
whichever sorts first. :func:`check_dicom_series` reads headers only and
refuses such folders by name. :func:`write_dicom_series` lets the phantoms
(and tests) exercise the DICOM path with a known volume and affine.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from omicsfusion.data.errors import MixedSeriesError

__all__ = ["check_dicom_series", "write_dicom_series"]

_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def check_dicom_series(folder: str | os.PathLike) -> str:
    """Return the one ``SeriesInstanceUID`` of the DICOM files in ``folder``.

    Files that are not DICOM (no preamble / unreadable header) are ignored.

    Raises:
        MixedSeriesError: the folder holds no DICOM file, or files of several series
            (the message lists each series UID, its description and file count).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    folder = Path(folder)
    series: Counter[str] = Counter()
    descriptions: dict[str, str] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            header = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID", "SeriesDescription"]
            )
        except (InvalidDicomError, OSError):
            continue
        uid = str(header.get("SeriesInstanceUID", ""))
        series[uid] += 1
        descriptions.setdefault(uid, str(header.get("SeriesDescription", "")))
    if not series:
        raise MixedSeriesError(f"DICOM folder {folder} holds no readable DICOM file")
    if len(series) > 1:
        listing = "; ".join(f"{uid} ({descriptions[uid]!r}, {n} files)" for uid, n in series.most_common())
        raise MixedSeriesError(
            f"DICOM folder {folder} mixes {len(series)} series: {listing}; put each series in its own folder"
        )
    return next(iter(series))


def write_dicom_series(
    volume: np.ndarray,
    affine: np.ndarray,
    folder: str | os.PathLike,
    series_uid: str | None = None,
    description: str = "",
    patient_id: str = "PHANTOM",
    modality: str = "MR",
) -> Path:
    """Write a 3-D volume as one axial DICOM file per slice (MR, uint16 + rescale).

    Args:
        volume: ``(I, J, K)`` array; slice ``k`` is ``volume[:, :, k]``.
        affine: 4 x 4 voxel -> RAS (mm) matrix, as NIfTI / MONAI use; written as
            LPS ``ImagePositionPatient`` / ``ImageOrientationPatient`` / ``PixelSpacing``.
        folder: output folder (created); files ``slice_0000.dcm`` ...
        series_uid: ``SeriesInstanceUID`` (default: a fresh one).
        description: ``SeriesDescription``.
        patient_id: ``PatientID``.
        modality: DICOM modality.
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    volume = np.asarray(volume, dtype=np.float64)
    if volume.ndim != 3:
        raise ValueError(f"write_dicom_series needs a 3-D volume, got shape {volume.shape}")
    lps = _LPS_FROM_RAS @ np.asarray(affine, dtype=np.float64)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    row_cos, col_cos = lps[:3, 0] / spacing[0], lps[:3, 1] / spacing[1]
    low, high = float(volume.min()), float(volume.max())
    slope = (high - low) / 65535.0 if high > low else 1.0
    stored = np.round((volume - low) / slope).astype(np.uint16)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(), generate_uid()
    for k in range(volume.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = _MR_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = _MR_IMAGE_STORAGE, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PatientID, ds.PatientName = modality, patient_id, patient_id
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = description, 1, k + 1
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row_cos, *col_cos)]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in lps[:3, 3] + k * lps[:3, 2]]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]  # row spacing, column spacing
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", f"{low:.10g}"
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()  # rows = J, columns = I
        tmp = folder / f".slice_{k:04d}.dcm.tmp"
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
        os.replace(tmp, folder / f"slice_{k:04d}.dcm")
    return folder
