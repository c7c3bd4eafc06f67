"""Named errors of the spatial-transcriptomics readers.

Each bad input a reader can meet has its own type (all are
:class:`~omicsfusion.errors.SpatialDataError`, an ``OmicsDataError``, i.e. ``ValueError``), so a
bundle or a test can catch exactly what it expects; every message names the
file, sample or column at fault and says what to do.
"""

from __future__ import annotations

from omicsfusion.errors import MissingItemError, SpatialDataError


class SpotsOutsideSlideError(SpatialDataError):
    """Spot pixel coordinates fall outside the slide (count, examples, slide size)."""


class ScaleFactorError(SpatialDataError):
    """A scale factor is missing from ``scalefactors_json.json`` or disagrees with the image size."""


class BarcodeMismatchError(SpatialDataError):
    """Barcodes of the positions file and of the count matrix do not match (counts both ways)."""


class AnnotationJoinError(BarcodeMismatchError):
    """No spot of a section is in its annotation table (the first ids of both sides show their formats)."""


class NoLabelledSpotError(SpatialDataError):
    """A section of a training export has no spot with a label."""


class SectionFileError(SpatialDataError, FileNotFoundError):
    """A file a ``sections.csv`` row names (counts, image, annotations, ...) does not exist (row, section, path)."""


class SlideBackendError(SpatialDataError):
    """No installed backend could open the image (lists the backends tried and how to install one)."""


class AnnotationColumnError(SpatialDataError, MissingItemError):
    """The annotation column asked for does not exist (lists the columns that do); also a ``KeyError``."""


class PixelSizeError(SpatialDataError):
    """The microns-per-pixel of a slide is unknown or not a positive number."""
