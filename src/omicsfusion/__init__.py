"""omicsfusion: molecular omics as image channels for MONAI pipelines.

Omics tables are laid out on a pixel grid by optimal transport
(:mod:`omicsfusion.layout`), turned into channels aligned with a pathology
patch or an MRI volume (:mod:`omicsfusion.transforms`), learned jointly with
the image by a stock MONAI network, and read back as image regions, omics
types and genes (:mod:`omicsfusion.interpret`). Every error it raises on bad
input is an :class:`OmicsfusionError`, grouped in one family per layer
(:mod:`omicsfusion.errors`, ``docs/errors.md``).
"""

from omicsfusion.errors import (
    BenchmarkError,
    CheckpointError,
    LayoutError,
    MissingItemError,
    OmicsDataError,
    OmicsfusionError,
    SaliencyError,
    SpatialDataError,
    TransformError,
    VolumeError,
)

__version__ = "0.1.0"
__all__ = [
    "BenchmarkError",
    "CheckpointError",
    "LayoutError",
    "MissingItemError",
    "OmicsDataError",
    "OmicsfusionError",
    "SaliencyError",
    "SpatialDataError",
    "TransformError",
    "VolumeError",
    "__version__",
]
