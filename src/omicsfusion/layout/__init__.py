"""Feature -> pixel layouts of omics tables by optimal transport (no torch, no MONAI).

``OTLayout`` fits one layout; ``fit_shared_layout`` fits one layout over the
union of features of several omics types; ``coherent_signs`` signs features so
correlated grid neighbours move together. Generated test tables are in
:mod:`omicsfusion.phantoms.omics`.
"""

from .errors import LayoutError, LayoutWarning
from .otlayout import METHODS, OTLayout
from .shared import fit_shared_layout
from .signs import coherent_signs

__all__ = ["METHODS", "LayoutError", "LayoutWarning", "OTLayout", "coherent_signs", "fit_shared_layout"]
