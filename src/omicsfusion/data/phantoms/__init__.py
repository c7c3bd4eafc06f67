"""Seeded phantom data sets with planted, known signal, written as real files."""

from .pan_cancer import CLASS_NAMES as PAN_CANCER_CLASSES
from .pan_cancer import make_pan_cancer_phantom

__all__ = ["PAN_CANCER_CLASSES", "make_pan_cancer_phantom"]
