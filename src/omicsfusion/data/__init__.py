"""Data layer: omics tables, normalisation, the fitted preprocessor, datalists, image checks (no torch).

``lgg`` prepares TCGA-LGG for the neuro bundle (``python -m omicsfusion.data.lgg``).
"""

from omicsfusion.data.datalist import build_datalist, grouped_split, load_datalist, stratified_split, write_datalist
from omicsfusion.data.dicom import check_dicom_series
from omicsfusion.data.errors import (
    DatalistPathError,
    DuplicateSampleError,
    EmptyTableError,
    FeatureMismatchError,
    ImageTooLargeError,
    MissingLayerError,
    MissingSampleError,
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
from omicsfusion.data.normalize import NORMALIZATIONS, FeatureNormalizer
from omicsfusion.data.preprocess import OmicsPreprocessor
from omicsfusion.data.slices import check_slice_folder, read_slice_folder
from omicsfusion.data.tables import OmicsTable, read_table

__all__ = [
    "NORMALIZATIONS",
    "DatalistPathError",
    "DuplicateSampleError",
    "EmptyTableError",
    "FeatureMismatchError",
    "FeatureNormalizer",
    "ImageTooLargeError",
    "MissingLayerError",
    "MissingSampleError",
    "MixedSeriesError",
    "NonFiniteError",
    "NonFiniteVolumeError",
    "OmicsDataError",
    "OmicsPreprocessor",
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
