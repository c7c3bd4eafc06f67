"""Spatial transcriptomics: readers that return one :class:`SpatialSample`, lazy slides.

Readers: :func:`read_spaceranger` (10x Space Ranger 1.x-3.x), :func:`read_hest`
(HEST-style / scanpy / stLearn AnnData + image + metadata JSON) and
:func:`read_legacy_st` (original ST counts + spot selection + JPEG). All
return spots with pixel coordinates in ``obsm["spatial"]``, a lazily read
slide handle and the microns per pixel. This subpackage reads slides through
MONAI's ``WSIReader`` API and so imports MONAI (and torch), unlike the rest of
:mod:`omicsfusion.data`.
"""

from omicsfusion.data.spatial.annotations import annotate
from omicsfusion.data.spatial.errors import (
    AnnotationColumnError,
    AnnotationJoinError,
    BarcodeMismatchError,
    NoLabelledSpotError,
    PixelSizeError,
    ScaleFactorError,
    SectionFileError,
    SlideBackendError,
    SpatialDataError,
    SpotsOutsideSlideError,
)
from omicsfusion.data.spatial.export import FORMATS, export_spots, read_section, spot_rows
from omicsfusion.data.spatial.hest import read_hest
from omicsfusion.data.spatial.legacy_st import read_legacy_st
from omicsfusion.data.spatial.sample import VISIUM_SPOT_UM, SpatialSample, check_spots_inside
from omicsfusion.data.spatial.spaceranger import read_10x_h5, read_10x_mtx, read_spaceranger
from omicsfusion.data.spatial.wsi import PlainImageWSIReader, RegionTiffWSIReader, Slide, open_slide

__all__ = [
    "FORMATS",
    "VISIUM_SPOT_UM",
    "AnnotationColumnError",
    "AnnotationJoinError",
    "BarcodeMismatchError",
    "NoLabelledSpotError",
    "PixelSizeError",
    "PlainImageWSIReader",
    "RegionTiffWSIReader",
    "ScaleFactorError",
    "SectionFileError",
    "Slide",
    "SlideBackendError",
    "SpatialDataError",
    "SpatialSample",
    "SpotsOutsideSlideError",
    "annotate",
    "check_spots_inside",
    "export_spots",
    "open_slide",
    "read_10x_h5",
    "read_10x_mtx",
    "read_hest",
    "read_legacy_st",
    "read_section",
    "read_spaceranger",
    "spot_rows",
]
