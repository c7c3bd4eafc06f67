"""Fused-input attributions back to omics features: the adjoint of layout + alignment.

For a fused input ``[image channels | omics channels]`` the omics channel of
type ``c`` is ``R(A_c x_c)``: layout matrix ``A_c`` then the alignment ``R``
(nearest block upsampling, linear interpolation, broadcast along an axis).
The attribution of feature ``j`` is therefore ``(A_c^T R^T a_c)_j``; this
module computes exactly that, so ``<T x, a> == <x, T^* a>``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from omicsfusion.preprocessing.preprocess import OmicsPreprocessor
from omicsfusion.transforms.array import AlignToReference, ReferenceShapeError

__all__ = ["omics_feature_attributions"]


def omics_feature_attributions(
    attr: torch.Tensor | np.ndarray,
    preprocessor: OmicsPreprocessor,
    n_image_channels: int,
    mode: str = "nearest",
    axis: int = -1,
    omics_types: Sequence[str] | None = None,
    spatial_dims: int | None = None,
) -> dict[str, np.ndarray]:
    """Per omics type, per feature attributions from an attribution of the fused input.

    Args:
        attr: ``(C_total, *spatial)`` or ``(B, C_total, *spatial)`` attribution
            of the fused tensor (image channels first, as ``FuseChannels``
            builds it).
        preprocessor: the fitted preprocessor that made the omics channels.
        n_image_channels: number of leading image channels (the fused meta's
            ``n_image_channels``).
        mode, axis: the ``AlignToReference`` settings used in the pipeline.
        omics_types: the omics channels present, in order (default all).
        spatial_dims: spatial dims of the fused input (default: those of the
            layout grid; pass 3 when a 2-D layout was broadcast into a volume).

    Returns:
        type -> ``(F_type,)`` (or ``(B, F_type)``) float64 array, features in
        the order of ``preprocessor.feature_names(type)``.

    Raises:
        ReferenceShapeError: the channel count does not match.
    """
    types = preprocessor.channel_names if omics_types is None else list(omics_types)
    a = torch.as_tensor(attr, dtype=torch.float64)
    a = a.as_tensor() if hasattr(a, "as_tensor") else a
    spatial_dims = len(preprocessor.grid_) if spatial_dims is None else int(spatial_dims)
    if a.ndim not in (spatial_dims + 1, spatial_dims + 2):
        raise ReferenceShapeError(
            f"attribution of shape {tuple(a.shape)} is not (C, *spatial) or (B, C, *spatial) "
            f"with {spatial_dims} spatial dims"
        )
    batched = a.ndim == spatial_dims + 2
    if not batched:
        a = a[None]
    if a.shape[1] != n_image_channels + len(types):
        raise ReferenceShapeError(
            f"attribution has {a.shape[1]} channels; expected {n_image_channels} image + {len(types)} omics"
        )
    omics = a[:, n_image_channels:]
    spatial = tuple(omics.shape[2:])
    flat = omics.reshape((-1, *spatial))  # (B * C, *spatial)
    maps = AlignToReference(mode, axis).adjoint(flat, preprocessor.grid_)
    maps = maps.reshape((a.shape[0], len(types), *preprocessor.grid_)).numpy()
    out = preprocessor.backproject(maps, types)
    return out if batched else {t: v[0] for t, v in out.items()}
