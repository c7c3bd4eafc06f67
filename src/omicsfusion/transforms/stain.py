"""H&E stain normalisation and stain augmentation, on the image channels of a channel-first RGB patch.

Slides from different sites differ most in stain; a network trained on one site's colours meets
another's at test time. Two remedies, as bundle options (pan-cancer and spatial):

- :class:`MacenkoNormalize`: MONAI's Macenko normalisation (``monai.apps.pathology`` ``NormalizeHEStains``,
  its reference stain matrix and maximum concentrations by default) on a ``(3, H, W)`` patch in 0..255.
  A patch with no stained pixel (background, pen-free glass) has no stain vectors to estimate: MONAI
  raises there; this transform keeps such a patch as it is and counts it (``skipped``; a warning at the
  1st, 10th, 100th ... skip; each DataLoader worker counts its own), or raises
  :class:`StainNormalizationError` naming the file with ``on_failure="raise"``.
- :class:`RandHEDJitter`: stain augmentation in the haematoxylin-eosin-DAB space (Tellez et al. 2018):
  the RGB patch in [0, 1] is deconvolved into HED optical densities (Ruifrok & Johnston's matrix, scaled
  as scikit-image's ``rgb2hed``), each stain ``c`` becomes ``alpha_c * c + beta_c`` with ``alpha_c ~ U(1 -
  sigma, 1 + sigma)`` and ``beta_c ~ U(-bias, bias)``, and the result is recomposed and clipped to [0, 1].

Both are intensity transforms: the omics-augmentation guard refuses them on omics keys.
:mod:`omicsfusion.transforms.dictionary` wraps them.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from monai.apps.pathology.transforms import NormalizeHEStains
from monai.data.meta_obj import get_track_meta
from monai.transforms import RandomizableTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

from omicsfusion.errors import TransformError
from omicsfusion.transforms.volume import source_name

__all__ = ["MacenkoNormalize", "RandHEDJitter", "StainNormalizationError"]

logger = logging.getLogger(__name__)

#: Ruifrok & Johnston (2001) stain vectors, rows haematoxylin, eosin, DAB over RGB (scikit-image's rgb_from_hed)
RGB_FROM_HED = torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]], dtype=torch.float64)
#: scikit-image's floor for RGB before the logarithm; optical densities are divided by -log of it
RGB_FLOOR = 1e-6


class StainNormalizationError(TransformError):
    """Macenko normalisation failed on a patch (e.g. background only) and ``on_failure="raise"``; file named."""


def _rgb_check(img: torch.Tensor, name: str, low: float, high: float) -> None:
    if img.ndim != 3 or img.shape[0] != 3:
        raise TransformError(
            f"{name}: stain transforms take a channel-first RGB patch (3, H, W), got {tuple(img.shape)}"
        )
    lowest, highest = (float(img.min()), float(img.max())) if img.numel() else (low, high)
    if lowest < low - 1e-3 or highest > high + 1e-3:
        raise TransformError(
            f"{name}: stain transform expects RGB in [{low:g}, {high:g}], got [{lowest:g}, {highest:g}]"
        )


class MacenkoNormalize(Transform):
    """Macenko stain normalisation of a channel-first RGB patch in 0..255 (MONAI's ``NormalizeHEStains``).

    Args:
        target_he: reference stain matrix (3 x 2, RGB rows, H and E columns); None: MONAI's default.
        max_cref: reference maximum H and E concentrations; None: MONAI's default.
        on_failure: ``"skip"`` keeps a patch MONAI cannot normalise (no stained pixel) and counts it in
            ``skipped``; ``"raise"`` raises :class:`StainNormalizationError`.
    """

    backend = [TransformBackends.NUMPY]

    def __init__(self, target_he=None, max_cref=None, on_failure: str = "skip") -> None:
        if on_failure not in ("skip", "raise"):
            raise ValueError(f"on_failure must be 'skip' or 'raise', got {on_failure!r}")
        defaults = {"target_he": target_he, "max_cref": max_cref}
        self.normalizer = NormalizeHEStains(**{k: v for k, v in defaults.items() if v is not None})
        self.on_failure = on_failure
        self.skipped = 0

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        name, x = source_name(img, "<patch>"), convert_to_tensor(img, track_meta=False)
        _rgb_check(x, name, 0.0, 255.0)
        rgb = np.moveaxis(x.cpu().numpy(), 0, -1)
        try:
            normalized = self.normalizer(np.ascontiguousarray(rgb))
        except (ValueError, np.linalg.LinAlgError) as error:
            if self.on_failure == "raise":
                raise StainNormalizationError(f"{name}: Macenko stain normalisation failed: {error}") from error
            self.skipped += 1
            if np.log10(self.skipped).is_integer():
                logger.warning(
                    "Macenko normalisation kept %d patch(es) as they were (%s: %s)", self.skipped, name, error
                )
            return convert_to_tensor(img, track_meta=get_track_meta())
        out, *_ = convert_to_dst_type(np.moveaxis(normalized, -1, 0).astype(np.float32), img, dtype=torch.float32)
        return out


class RandHEDJitter(RandomizableTransform):
    """Randomly rescale and shift the H, E and DAB optical densities of an RGB patch in [0, 1] (Tellez et al. 2018).

    Args:
        sigma: each stain is multiplied by ``alpha ~ U(1 - sigma, 1 + sigma)``.
        bias: then shifted by ``beta ~ U(-bias, bias)`` (scikit-image's ``rgb2hed`` units).
        prob: probability of jittering a patch.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, sigma: float = 0.05, bias: float = 0.05, prob: float = 0.5) -> None:
        RandomizableTransform.__init__(self, prob)
        if sigma < 0 or bias < 0:
            raise ValueError(f"sigma and bias must be >= 0, got {sigma}, {bias}")
        self.sigma, self.bias = float(sigma), float(bias)
        self.alpha, self.beta = np.ones(3), np.zeros(3)

    def randomize(self, data: object = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        self.alpha = self.R.uniform(1.0 - self.sigma, 1.0 + self.sigma, 3)
        self.beta = self.R.uniform(-self.bias, self.bias, 3)

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        if randomize:
            self.randomize()
        if not self._do_transform:
            return convert_to_tensor(img, track_meta=get_track_meta())
        x = convert_to_tensor(img, track_meta=False)
        _rgb_check(x, source_name(img, "<patch>"), 0.0, 1.0)
        rgb = x.to(torch.float64).clamp_min(RGB_FLOOR).movedim(0, -1)
        scale = -np.log(RGB_FLOOR)
        stains = (torch.log(rgb) / -scale) @ torch.linalg.inv(RGB_FROM_HED).to(rgb.device)
        alpha = torch.as_tensor(self.alpha, dtype=torch.float64, device=rgb.device)
        beta = torch.as_tensor(self.beta, dtype=torch.float64, device=rgb.device)
        jittered = torch.exp(-scale * ((alpha * stains + beta) @ RGB_FROM_HED.to(rgb.device))).clamp(0.0, 1.0)
        out, *_ = convert_to_dst_type(jittered.movedim(-1, 0).to(x.dtype), img)
        return out
