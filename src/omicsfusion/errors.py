"""The error tree: one root, :class:`OmicsfusionError`, and one family per layer.

``except OmicsfusionError`` catches every bad input the package refuses; a
family (``except OmicsDataError``, ``except LayoutError``, ...) catches one
layer's. Each family is also the standard-library type callers already catch
(``ValueError``; a missing item is also a ``KeyError``). The named errors of a
layer live in its own ``errors`` module; this module holds the families and
the errors shared by several layers (and :func:`first_names`, which
lists names in their messages), and imports no omicsfusion module, so every layer
(``layout`` included, which imports neither torch nor MONAI) can build on it.
See ``docs/errors.md``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BenchmarkError",
    "CheckpointError",
    "FeatureMismatchError",
    "LayoutError",
    "LayoutMismatchError",
    "MissingCheckpointError",
    "MissingItemError",
    "OmicsDataError",
    "OmicsfusionError",
    "SaliencyError",
    "SpatialDataError",
    "TransformError",
    "VolumeError",
    "first_names",
]


class OmicsfusionError(Exception):
    """Root of every error omicsfusion raises on bad input (its message names the file, sample or feature)."""


class MissingItemError(OmicsfusionError, KeyError):
    """An item asked for by name (sample, layer, column, network layer) is absent; also a ``KeyError``."""

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return str(self.args[0]) if self.args else ""


class OmicsDataError(OmicsfusionError, ValueError):
    """Data family: bad omics tables, datalists and sample ids (:mod:`omicsfusion.data`)."""


class SpatialDataError(OmicsDataError):
    """Spatial family: bad spatial-transcriptomics input (:mod:`omicsfusion.data.spatial`)."""


class VolumeError(OmicsfusionError, ValueError):
    """Image family: a bad image, volume, DICOM series or slice folder (message names the file)."""


class LayoutError(OmicsfusionError, ValueError):
    """Layout family: bad input to the layout engine (table, grid, layout file; :mod:`omicsfusion.layout`)."""


class FeatureMismatchError(OmicsDataError, LayoutError):
    """A table shares too few features with a layout (or names them differently); both data and layout."""


class TransformError(OmicsfusionError, ValueError):
    """Transform family: a pipeline the omics transforms cannot run (:mod:`omicsfusion.transforms`)."""


class CheckpointError(OmicsfusionError, ValueError):
    """Checkpoint family: a trained checkpoint (or its layout file) that is absent or cannot be used."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """Evaluation, inference, saliency or deployment was asked for before training wrote the checkpoint or layout."""


class LayoutMismatchError(CheckpointError):
    """The layout file's omics channels do not match the checkpoint's (or the config's) input channels."""


class SaliencyError(OmicsfusionError, ValueError):
    """Interpret family: a saliency run that cannot be done as asked (:mod:`omicsfusion.interpret`)."""


class BenchmarkError(OmicsfusionError, ValueError):
    """Benchmark family: labels, folds, sample ids or tables that cannot be compared fairly."""


def first_names(names: Iterable[object], limit: int = 5) -> str:
    """Comma-separated first ``limit`` names, with '...' when there are more."""
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (", ..." if len(names) > limit else "")
