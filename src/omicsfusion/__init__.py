"""omicsfusion: molecular omics as image channels for MONAI pipelines.

Omics tables are laid out on a pixel grid by optimal transport
(:mod:`omicsfusion.layout`), turned into channels aligned with a pathology
patch or an MRI volume (:mod:`omicsfusion.transforms`), learned jointly with
the image by a stock MONAI network, and read back as image regions, omics
types and genes (:mod:`omicsfusion.interpret`). Every error it raises on bad
input is an :class:`OmicsfusionError`, grouped in one family per layer
(:mod:`omicsfusion.errors`, ``docs/errors.md``).

Layers, top to bottom (a module imports only its own layer and those below;
``tests/test_layers.py`` checks it):

* :mod:`omicsfusion.apps`: data-set recipes, real-data drivers, the commands of
  ``python -m omicsfusion``;
* the bundles' glue: :mod:`omicsfusion.prepare`, :mod:`omicsfusion.handlers`,
  :mod:`omicsfusion.checkpoint`, :mod:`omicsfusion.interpret`,
  :mod:`omicsfusion.deploy`, :mod:`omicsfusion.benchmark`;
* :mod:`omicsfusion.transforms`: MONAI transforms;
* :mod:`omicsfusion.preprocessing`: the fitted preprocessor (normalisers,
  layouts, rendering) and its layout file;
* :mod:`omicsfusion.layout`: OT layouts (no torch, no MONAI);
* :mod:`omicsfusion.phantoms`: phantom data sets and generated omics tables;
* :mod:`omicsfusion.data`: readers of tables, spatial data, DICOM, slices, images, datalists;
* :mod:`omicsfusion.errors`, :mod:`omicsfusion.features`, :mod:`omicsfusion.fileio`,
  :mod:`omicsfusion.networks`.
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
