"""Named errors of the omics data layer.

Every bad input the data layer can meet has its own exception type so that
bundles and tests can catch exactly what they expect; each message names the
file, sample or feature at fault. The families (:class:`OmicsDataError`,
:class:`VolumeError`) and :class:`FeatureMismatchError`, which the layout
engine raises too, live in :mod:`omicsfusion.errors`.
"""

from __future__ import annotations

from omicsfusion.errors import FeatureMismatchError, MissingItemError, OmicsDataError, VolumeError

__all__ = [
    "DatalistPathError",
    "DuplicateSampleError",
    "EmptySampleError",
    "EmptyTableError",
    "FeatureMismatchError",
    "ImageTooLargeError",
    "MissingLayerError",
    "MissingSampleError",
    "MissingValuesError",
    "MixedSeriesError",
    "NonFiniteError",
    "NonFiniteVolumeError",
    "OmicsDataError",
    "SequenceMismatchError",
    "SliceFolderError",
    "SliceGapError",
    "SliceShapeError",
    "TableEncodingError",
    "TableTooWideError",
    "VolumeDimensionError",
    "VolumeError",
]


class MissingSampleError(OmicsDataError, MissingItemError):
    """A sample id is absent from an omics table (message names id and file); also a ``KeyError``."""


class MissingLayerError(OmicsDataError, MissingItemError):
    """An AnnData file lacks the requested layer (message lists the layers it has); also a ``KeyError``."""


class EmptyTableError(OmicsDataError):
    """An omics table file is empty, or holds a header but no sample row (message names the file)."""


class DuplicateSampleError(OmicsDataError):
    """An omics table holds the same sample id more than once."""


class DatalistPathError(OmicsDataError):
    """A datalist path resolves (through ``..``, an absolute path or a symlink) outside the dataset folder."""


class TableTooWideError(OmicsDataError):
    """A text table's header has more columns than the limit (refused before parsing)."""


class TableEncodingError(OmicsDataError):
    """A table, or a sample id in it, is not UTF-8 text (message names the file and the line)."""


class NonFiniteError(OmicsDataError):
    """NaN or inf remained after normalisation."""


class MissingValuesError(NonFiniteError):
    """Empty (NaN/inf) cells in an omics table under ``missing_values="raise"``.

    The message gives the counts per table, the first features and samples affected
    and the option that fills them (``missing_values="median"``, the benchmark's
    ``--missing-values``).
    """


class EmptySampleError(OmicsDataError):
    """A sample has no value at all in any omics type (every row absent or empty); the sample is named."""


class VolumeDimensionError(VolumeError):
    """An image has fewer (or more) spatial dimensions than the pipeline needs, e.g. 2-D where 3-D is required."""


class ImageTooLargeError(VolumeError):
    """An image header claims more pixels than the limit (a decompression bomb, or a slide that needs a pyramid)."""


class NonFiniteVolumeError(VolumeError):
    """An image volume holds NaN or inf voxels."""


class SequenceMismatchError(VolumeError):
    """Sequences of one subject differ in shape or affine beyond the tolerance."""


class MixedSeriesError(VolumeError):
    """A DICOM folder holds more than one series (or no DICOM file at all)."""


class SliceFolderError(VolumeError):
    """A folder of 2-D slice files holds no slice, or its masks do not match its slices (folder named)."""


class SliceGapError(SliceFolderError):
    """The slice numbers of a slice folder are not consecutive (the missing numbers are named)."""


class SliceShapeError(SliceFolderError):
    """The slices of a slice folder differ in shape or channels (the first odd file is named)."""
