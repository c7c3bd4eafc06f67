"""Data readers: omics tables, spatial transcriptomics, DICOM series, slice folders, image checks, datalists.

No torch and no layout: the fitted preprocessor builds on these readers in
:mod:`omicsfusion.preprocessing`, phantoms in :mod:`omicsfusion.phantoms`, data-set
recipes in :mod:`omicsfusion.apps`.
"""

from omicsfusion.data.datalist import build_datalist, grouped_split, load_datalist, stratified_split, write_datalist
from omicsfusion.data.dicom import check_dicom_series
from omicsfusion.data.errors import (
    DatalistPathError,
    DuplicateSampleError,
    EmptySampleError,
    EmptyTableError,
    FeatureMismatchError,
    ImageTooLargeError,
    MissingLayerError,
    MissingSampleError,
    MissingValuesError,
    MixedSeriesError,
    NonFiniteError,
    NonFiniteVolumeError,
    OmicsDataError,
    SequenceMismatchError,
    SliceFolderError,
    SliceGapError,
    SliceShapeError,
    TableEncodingError,
    TableTooWideError,
    VolumeDimensionError,
    VolumeError,
)
from omicsfusion.data.images import check_image_size, image_shape
from omicsfusion.data.slices import check_slice_folder, read_slice_folder
from omicsfusion.data.tables import OmicsTable, read_table

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
    "OmicsTable",
    "SequenceMismatchError",
    "SliceFolderError",
    "SliceGapError",
    "SliceShapeError",
    "TableEncodingError",
    "TableTooWideError",
    "VolumeDimensionError",
    "VolumeError",
    "build_datalist",
    "check_dicom_series",
    "check_image_size",
    "check_slice_folder",
    "grouped_split",
    "image_shape",
    "load_datalist",
    "read_slice_folder",
    "read_table",
    "stratified_split",
    "write_datalist",
]
