"""Omics data layer: tables, normalisation, the fitted preprocessor, datalists (no torch)."""

from omicsfusion.data.datalist import build_datalist, grouped_split, load_datalist, stratified_split, write_datalist
from omicsfusion.data.dicom import check_dicom_series
from omicsfusion.data.errors import (
    DuplicateSampleError,
    FeatureMismatchError,
    MissingLayerError,
    MissingSampleError,
    MixedSeriesError,
    NonFiniteError,
    NonFiniteVolumeError,
    OmicsDataError,
    SequenceMismatchError,
    VolumeDimensionError,
    VolumeError,
)
from omicsfusion.data.normalize import NORMALIZATIONS, FeatureNormalizer
from omicsfusion.data.preprocess import OmicsPreprocessor
from omicsfusion.data.tables import OmicsTable, read_table

__all__ = [
    "NORMALIZATIONS",
    "DuplicateSampleError",
    "FeatureMismatchError",
    "FeatureNormalizer",
    "MissingLayerError",
    "MissingSampleError",
    "MixedSeriesError",
    "NonFiniteError",
    "NonFiniteVolumeError",
    "OmicsDataError",
    "OmicsPreprocessor",
    "OmicsTable",
    "SequenceMismatchError",
    "VolumeDimensionError",
    "VolumeError",
    "build_datalist",
    "check_dicom_series",
    "grouped_split",
    "load_datalist",
    "read_table",
    "stratified_split",
    "write_datalist",
]
