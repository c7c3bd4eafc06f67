"""Omics data layer: tables, normalisation, the fitted preprocessor, datalists (no torch)."""

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
    TableEncodingError,
    TableTooWideError,
    VolumeDimensionError,
    VolumeError,
)
from omicsfusion.data.images import check_image_size, image_shape
from omicsfusion.data.normalize import NORMALIZATIONS, FeatureNormalizer
from omicsfusion.data.preprocess import OmicsPreprocessor
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
    "TableEncodingError",
    "TableTooWideError",
    "VolumeDimensionError",
    "VolumeError",
    "build_datalist",
    "check_dicom_series",
    "check_image_size",
    "grouped_split",
    "image_shape",
    "load_datalist",
    "read_table",
    "stratified_split",
    "write_datalist",
]
