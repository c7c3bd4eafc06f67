"""Seeded phantom data sets with planted, known signal, written as real files, and the generated omics tables.

The bundles' phantoms are written by ``make_*_phantom``; :mod:`.omics` is the one generator of
synthetic omics tables (layouts' test data, the benchmarks' labelled tables, the phantoms' omics).
"""

from .neuro import CLASS_NAMES as NEURO_CLASSES
from .neuro import make_neuro_phantom
from .omics import labelled_modules, modular_table
from .pan_cancer import CLASS_NAMES as PAN_CANCER_CLASSES
from .pan_cancer import make_pan_cancer_phantom
from .spatial import CLASS_NAMES as SPATIAL_CLASSES
from .spatial import make_spatial_phantom

__all__ = [
    "NEURO_CLASSES",
    "PAN_CANCER_CLASSES",
    "SPATIAL_CLASSES",
    "labelled_modules",
    "make_neuro_phantom",
    "make_pan_cancer_phantom",
    "make_spatial_phantom",
    "modular_table",
]
