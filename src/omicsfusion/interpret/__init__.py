"""Attribution of fused image + omics predictions: image regions, omics types, genes, checked against truth.

Modules, one idea each: :mod:`~omicsfusion.interpret.targets` (what is
explained, against which baseline), :mod:`~omicsfusion.interpret.regions`
(image-channel saliency), :mod:`~omicsfusion.interpret.modalities`
(channel-group shares), :mod:`~omicsfusion.interpret.genes` (back-projected
gene ranking), :mod:`~omicsfusion.interpret.writers` (CSV/PNG/NIfTI),
:mod:`~omicsfusion.interpret.checks` (planted-truth checks) and
:mod:`~omicsfusion.interpret.runner` (the run a bundle's ``saliency.json`` calls).
"""

from omicsfusion.interpret.errors import (
    ClassIndexError,
    LayoutMismatchError,
    MissingCheckpointError,
    SaliencyError,
    TargetLayerError,
)
from omicsfusion.interpret.runner import SaliencyRunner, load_checkpoint, require_checkpoint

__all__ = [
    "ClassIndexError",
    "LayoutMismatchError",
    "MissingCheckpointError",
    "SaliencyError",
    "SaliencyRunner",
    "TargetLayerError",
    "load_checkpoint",
    "require_checkpoint",
]
