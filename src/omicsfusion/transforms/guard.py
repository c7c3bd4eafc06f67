"""Guard for the augmentation rule: intensity transforms never touch omics channels.

Spatial augmentation may act on the image before fusion or on the fused
tensor as a whole (omics pixels then move with the image); intensity
augmentation (noise, contrast, scaling, ...) would corrupt expression values,
so it must name image keys only, before fusion. :func:`check_omics_augmentation`
walks a pipeline in order, follows omics keys through ``FuseChannelsd``,
``ConcatItemsd`` and ``CopyItemsd``, and raises when an intensity transform
names one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from monai.transforms import ConcatItemsd, CopyItemsd, MapTransform

from omicsfusion.errors import TransformError
from omicsfusion.transforms.dictionary import FuseChannelsd, MacenkoNormalized, RandHEDJitterd

__all__ = ["OmicsAugmentationError", "check_omics_augmentation", "is_intensity_transform"]

T = TypeVar("T")
_STAIN_TRANSFORMS = (MacenkoNormalized, RandHEDJitterd)
_INTENSITY_MODULES = ("monai.transforms.intensity.", "monai.transforms.smooth_field.")


class OmicsAugmentationError(TransformError):
    """An intensity transform is pointed at omics data (or a tensor holding omics channels)."""


def is_intensity_transform(transform: Any) -> bool:
    """Whether ``transform`` is one of MONAI's intensity transforms or a stain transform."""
    return type(transform).__module__.startswith(_INTENSITY_MODULES) or isinstance(transform, _STAIN_TRANSFORMS)


def _flatten(transforms: Any) -> Iterable[Any]:
    if isinstance(transforms, (list, tuple)):
        for t in transforms:
            yield from _flatten(t)
    elif hasattr(transforms, "transforms") and not isinstance(transforms, MapTransform):
        yield from _flatten(list(transforms.transforms))  # Compose, OneOf, RandomOrder, SomeOf
    else:
        yield transforms


def check_omics_augmentation(transforms: T, omics_keys: str | Iterable[str] = "omics") -> T:
    """Raise if an intensity transform in ``transforms`` would touch omics channels.

    Args:
        transforms: a ``Compose`` (nested ones included) or a list of transforms.
        omics_keys: keys that hold omics data in the pipeline.

    Returns:
        ``transforms`` unchanged, so a bundle config can wrap its pipeline.

    Raises:
        OmicsAugmentationError: names the transform and the omics key it touches.
    """
    tainted = {omics_keys} if isinstance(omics_keys, str) else set(omics_keys)
    for t in _flatten(transforms):
        if not isinstance(t, MapTransform):
            continue
        keys = set(t.keys)
        touched = keys & tainted
        if touched and is_intensity_transform(t):
            raise OmicsAugmentationError(
                f"{type(t).__name__} is an intensity transform but is applied to {sorted(touched)}, which "
                "holds omics channels; apply intensity augmentation to the image key before fusion"
            )
        if touched and isinstance(t, (FuseChannelsd, ConcatItemsd)):
            tainted.add(t.name)
        if isinstance(t, CopyItemsd):  # names[i] copies keys[i % len(keys)]
            tainted.update(n for i, n in enumerate(t.names) if t.keys[i % len(t.keys)] in tainted)
    return transforms
