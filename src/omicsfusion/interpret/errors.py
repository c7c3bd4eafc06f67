"""Named errors of the interpretation layer, so a saliency run fails with a message that says what to fix."""

from __future__ import annotations

__all__ = ["SaliencyError", "MissingCheckpointError", "TargetLayerError", "ClassIndexError", "LayoutMismatchError"]


class SaliencyError(ValueError):
    """Base class of every bad-input error of :mod:`omicsfusion.interpret`."""


class MissingCheckpointError(SaliencyError, FileNotFoundError):
    """Saliency was asked for before training wrote the checkpoint (or the layout it needs)."""


class TargetLayerError(SaliencyError, KeyError):
    """A GradCAM target layer name that the network does not have; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ClassIndexError(SaliencyError, IndexError):
    """A class index (to explain, or a label) outside ``[0, n_classes)``."""


class LayoutMismatchError(SaliencyError):
    """The layout file's omics channels do not match the checkpoint's input channels."""
