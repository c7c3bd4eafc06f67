"""Seeded phantom data sets with planted, known signal, written as real files."""

from .neuro import CLASS_NAMES as NEURO_CLASSES
from .neuro import make_neuro_phantom
from .pan_cancer import CLASS_NAMES as PAN_CANCER_CLASSES
from .pan_cancer import make_pan_cancer_phantom
from .spatial import CLASS_NAMES as SPATIAL_CLASSES
from .spatial import make_spatial_phantom

__all__ = [
    "NEURO_CLASSES",
    "PAN_CANCER_CLASSES",
    "SPATIAL_CLASSES",
    "make_neuro_phantom",
    "make_pan_cancer_phantom",
    "make_spatial_phantom",
]
