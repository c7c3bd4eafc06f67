"""Checks on loaded MRI volumes that MONAI's loaders leave to the user.

MONAI's ``LoadImaged`` reads NIfTI / NRRD / DICOM fine, but a 2-D file, a
volume with NaNs, or two sequences of one subject on different grids reach
the network (or fail deep inside a batch collate) without saying which file
was at fault. These array transforms run right after ``LoadImaged`` +
``EnsureChannelFirstd`` and raise the named errors of
:mod:`omicsfusion.data.errors`; :mod:`omicsfusion.transforms.dictionary`
wraps them. ``check_dicom_series`` (before loading) lives in
:mod:`omicsfusion.data.dicom`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import ResampleToMatch, Transform
from monai.utils import TransformBackends

from omicsfusion.data.errors import NonFiniteVolumeError, SequenceMismatchError, VolumeDimensionError

__all__ = ["CheckVolume", "MatchSequences", "source_name"]


def source_name(img: torch.Tensor, fallback: str = "<volume>") -> str:
    """The file (or DICOM folder) a loaded image came from, for error messages."""
    meta = getattr(img, "meta", {}) or {}
    return str(meta.get("filename_or_obj", fallback))


def _affine(img: torch.Tensor) -> np.ndarray:
    affine = img.affine if isinstance(img, MetaTensor) else torch.eye(4)
    return np.asarray(torch.as_tensor(affine, dtype=torch.float64).cpu())


class CheckVolume(Transform):
    """Refuse a channel-first image that is not ``spatial_dims``-D or holds non-finite voxels.

    Args:
        spatial_dims: spatial dimensions required (3 for MRI volumes).
        min_size: least size of every spatial axis; the default 2 refuses a single
            slice stored as a 3-D file (shape ``(H, W, 1)``) as 2-D data.

    Raises:
        VolumeDimensionError: wrong number of spatial dims or a (near-)empty axis.
        NonFiniteVolumeError: NaN or inf voxels (count and file named).
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, spatial_dims: int = 3, min_size: int = 2) -> None:
        self.spatial_dims = int(spatial_dims)
        self.min_size = int(min_size)

    def __call__(self, img: torch.Tensor, name: str | None = None) -> torch.Tensor:
        name = name or source_name(img)
        spatial = tuple(int(s) for s in img.shape[1:])
        if len(spatial) != self.spatial_dims or min(spatial, default=0) < self.min_size:
            raise VolumeDimensionError(
                f"{name}: channel-first spatial shape {spatial} is not a {self.spatial_dims}-D volume "
                f"(every axis >= {self.min_size}); give a {self.spatial_dims}-D image (e.g. NIfTI, NRRD or a "
                "DICOM series folder), not a single slice or a 2-D picture"
            )
        finite = torch.isfinite(torch.as_tensor(img))
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise NonFiniteVolumeError(
                f"{name}: {bad} of {finite.numel()} voxels are NaN or inf; fix or mask the volume before training"
            )
        return img


class MatchSequences(Transform):
    """Check that co-registered sequences of one subject share the first one's grid.

    Shapes must be equal and affines equal within ``atol`` (mm); otherwise
    :class:`SequenceMismatchError` names both files, or, with ``resample=True``,
    the later sequences are resampled onto the first with MONAI's
    ``ResampleToMatch``.

    Args:
        resample: resample mismatching sequences onto the first instead of raising.
        atol: affine tolerance in mm (and in direction-cosine units).
        mode: interpolation used when resampling.
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, resample: bool = False, atol: float = 1e-3, mode: str = "bilinear") -> None:
        self.resample = bool(resample)
        self.atol = float(atol)
        self.resampler = ResampleToMatch(mode=mode)

    def mismatch(self, img: torch.Tensor, ref: torch.Tensor) -> str | None:
        """Why ``img`` is not on ``ref``'s grid, or ``None``."""
        if tuple(img.shape[1:]) != tuple(ref.shape[1:]):
            return f"spatial shape {tuple(img.shape[1:])} vs {tuple(ref.shape[1:])}"
        diff = float(np.abs(_affine(img) - _affine(ref)).max())
        if diff > self.atol:
            return f"affines differ by up to {diff:.4g} (> atol={self.atol})"
        return None

    def __call__(self, images: Sequence[torch.Tensor], names: Sequence[str] | None = None) -> list[torch.Tensor]:
        names = list(names) if names is not None else [source_name(i, f"sequence {k}") for k, i in enumerate(images)]
        ref, out = images[0], [images[0]]
        for img, name in zip(images[1:], names[1:], strict=True):
            reason = self.mismatch(img, ref)
            if reason is None:
                out.append(img)
            elif self.resample:
                out.append(self.resampler(img, img_dst=ref))
            else:
                raise SequenceMismatchError(
                    f"{name} is not on the grid of {names[0]}: {reason}; register the sequences, or set "
                    "resample=True to resample every sequence onto the first"
                )
        return out
