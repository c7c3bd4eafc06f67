"""What a phantom planted: its ``ground_truth.json`` (feature sets, class pairs) and ``masks/`` (planted regions).

Real data has no ground truth: :meth:`PlantedTruth.read` then returns ``None``
and a saliency run skips every planted-truth check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from omicsfusion.interpret.checks import planted_truth
from omicsfusion.interpret.errors import SaliencyError

__all__ = ["PlantedTruth", "read_ground_truth"]


def read_ground_truth(dataset_dir: str | os.PathLike | None) -> dict:
    """``dataset_dir/ground_truth.json`` of a phantom, or ``{}`` (real data: checks are skipped)."""
    if dataset_dir is None:
        return {}
    path = Path(dataset_dir) / "ground_truth.json"
    return json.loads(path.read_text()) if path.is_file() else {}


class PlantedTruth:
    """A phantom's planted truth in one shape (:func:`~omicsfusion.interpret.checks.planted_truth`), masks indexed.

    Args:
        truth: the content of ``ground_truth.json``.
        masks_dir: folder of ``<sample id>.<ext>`` region masks (absent: no pointing game).

    Attributes:
        feature_sets, omics_only_pairs, image_only_pairs: as ``planted_truth`` returns them.
    """

    def __init__(self, truth: dict, masks_dir: str | os.PathLike | None = None) -> None:
        planted = planted_truth(truth)
        self.feature_sets = planted["feature_sets"]
        self.omics_only_pairs = planted["omics_only_pairs"]
        self.image_only_pairs = planted["image_only_pairs"]
        self._index_masks(None if masks_dir is None else Path(masks_dir))

    @classmethod
    def read(cls, dataset_dir: str | os.PathLike | None) -> PlantedTruth | None:
        """The truth of a phantom's ``dataset_dir`` (``ground_truth.json`` and ``masks/``), or ``None``."""
        truth = read_ground_truth(dataset_dir)
        return cls(truth, Path(dataset_dir) / "masks") if truth else None

    def partners(self, class_names: Sequence[str]) -> dict[int, int]:
        """Class index -> the other class of its planted pair (omics-only or image-only)."""
        names = list(class_names)
        partner = {}
        for a, b in self.omics_only_pairs + self.image_only_pairs:
            if a in names and b in names:
                i, j = names.index(a), names.index(b)
                partner[i], partner[j] = j, i
        return partner

    def _index_masks(self, folder: Path | None) -> None:
        """Mask file of every sample id in ``folder`` (one directory scan) and the mask reader.

        A file ``<id>.<ext...>`` belongs to ``<id>``; ids may contain dots, so every
        prefix ending before a dot is indexed (the first file in name order wins).
        The reader is built once: MONAI's ``LoadImage`` registers its readers on construction.
        """
        from monai.transforms import Compose, EnsureChannelFirst, LoadImage, ResampleToMatch

        self.mask_files: dict[str, Path] = {}
        if folder is None or not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            for i, char in enumerate(path.name):
                if char == ".":
                    self.mask_files.setdefault(path.name[:i], path)
        self.load_mask = Compose([LoadImage(image_only=True), EnsureChannelFirst()])
        self.resample_mask = ResampleToMatch(mode="nearest", padding_mode="zeros")

    def mask(self, sample_id: str, shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray | None:
        """The planted-region mask of a sample on the network input's grid.

        The mask is loaded like the image (same reader, same orientation) and
        resampled (nearest) onto the grid the preprocessing left the image on
        (its affine and shape), so reorientation, respacing, resizing and
        cropping move the mask with the image. ``None`` when there is no mask or it is empty.
        """
        from monai.data import MetaTensor

        path = self.mask_files.get(sample_id)
        if path is None:
            return None
        mask = self.load_mask(str(path))
        if mask.ndim - 1 != len(shape):
            raise SaliencyError(f"mask {path} is {mask.ndim - 1}-D, the image of {sample_id!r} {len(shape)}-D")
        grid = MetaTensor(torch.zeros((1, *tuple(shape))), affine=torch.as_tensor(affine, dtype=torch.float64))
        mask = np.asarray(self.resample_mask(mask.float(), img_dst=grid))[0] > 0
        return mask if mask.any() else None  # an empty mask (a control subject) has no region to point at
