"""Seeded phantom data sets with planted, known signal, written as real files."""

from .pan_cancer import CLASS_NAMES as PAN_CANCER_CLASSES
from .pan_cancer import make_pan_cancer_phantom
from .spatial import CLASS_NAMES as SPATIAL_CLASSES
from .spatial import make_spatial_phantom

__all__ = ["PAN_CANCER_CLASSES", "SPATIAL_CLASSES", "make_pan_cancer_phantom", "make_spatial_phantom"]
