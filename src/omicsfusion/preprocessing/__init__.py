"""The fitted preprocessor: per-feature normalisers, OT layouts and their rendering, saved as one layout file.

:class:`OmicsPreprocessor` (scikit-learn estimator) fills the empty cells of each omics type
(:class:`MissingValues`, or refuses them), normalises it
(:class:`FeatureNormalizer`), fits its layouts (:mod:`omicsfusion.layout`) and
renders sample vectors as ``(C, *grid)`` images; it is written to and read from
the bundle's layout file (``models/layout.npz``). Built on the data readers and
the layouts; no torch.
"""

from omicsfusion.preprocessing.missing import MISSING_VALUES, MissingValues
from omicsfusion.preprocessing.normalize import NORMALIZATIONS, FeatureNormalizer
from omicsfusion.preprocessing.preprocess import OmicsPreprocessor

__all__ = ["MISSING_VALUES", "NORMALIZATIONS", "FeatureNormalizer", "MissingValues", "OmicsPreprocessor"]
