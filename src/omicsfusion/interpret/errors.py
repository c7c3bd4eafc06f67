"""Named errors of the interpretation layer, so a saliency run fails with a message that says what to fix.

The family :class:`SaliencyError` and the checkpoint errors a saliency run
also raises (:class:`MissingCheckpointError`, :class:`LayoutMismatchError`,
both of the checkpoint family) live in :mod:`omicsfusion.errors`.
"""

from __future__ import annotations

from omicsfusion.errors import LayoutMismatchError, MissingCheckpointError, MissingItemError, SaliencyError

__all__ = [
    "BagSaliencyError",
    "ClassIndexError",
    "LayoutMismatchError",
    "MissingCheckpointError",
    "SaliencyError",
    "TargetLayerError",
]


class TargetLayerError(SaliencyError, MissingItemError):
    """A GradCAM target layer name that the network does not have; the message lists the valid ones."""


class ClassIndexError(SaliencyError, IndexError):
    """A class index (to explain, or a label) outside ``[0, n_classes)``."""


class BagSaliencyError(SaliencyError, NotImplementedError):
    """A bag-of-patches network (``PatchBag``) that cannot be explained patch by patch (max pooling), or a bag
    handed to the tile explainer (``FusedExplainer``; ``BagExplainer`` explains bags)."""
