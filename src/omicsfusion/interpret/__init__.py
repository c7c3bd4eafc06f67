"""Attribution of fused image + omics predictions: image regions, omics types, genes, checked against truth.

Modules, one idea each: :mod:`~omicsfusion.interpret.targets` (what is
explained, against which baseline), :mod:`~omicsfusion.interpret.regions`
(image-region methods, registered by name), :mod:`~omicsfusion.interpret.modalities`
(channel-group shares), :mod:`~omicsfusion.interpret.genes` (back-projected
gene ranking), :mod:`~omicsfusion.interpret.explainer` (network + layout + a
batch -> all of these, no I/O), :mod:`~omicsfusion.interpret.bags` (the same for a
bag-of-patches network, put back onto the tiles), :mod:`~omicsfusion.interpret.weights` (the
trained weights, MONAI's ``CheckpointLoader``), :mod:`~omicsfusion.interpret.truth`
(what a phantom planted), :mod:`~omicsfusion.interpret.checks` and
:mod:`~omicsfusion.interpret.planted` (planted-truth checks),
:mod:`~omicsfusion.interpret.contrast` (pair contrasts of a phantom),
:mod:`~omicsfusion.interpret.writers` and :mod:`~omicsfusion.interpret.report`
(CSV/PNG/NIfTI files) and :mod:`~omicsfusion.interpret.runner` (the run a
bundle's ``saliency.json`` calls).
"""

from omicsfusion.interpret.bags import BagExplainer, explainer_for, tile_canvas
from omicsfusion.interpret.errors import (
    BagSaliencyError,
    ClassIndexError,
    LayoutMismatchError,
    MissingCheckpointError,
    SaliencyError,
    TargetLayerError,
)
from omicsfusion.interpret.explainer import Explanation, FusedBatch, FusedExplainer, find_aligner
from omicsfusion.interpret.planted import PlantedChecks
from omicsfusion.interpret.regions import REGION_METHODS, RegionMethod, region_methods
from omicsfusion.interpret.report import SaliencyReport
from omicsfusion.interpret.runner import SaliencyRunner
from omicsfusion.interpret.truth import PlantedTruth
from omicsfusion.interpret.weights import SaliencyCheckpointLoader, load_checkpoint, require_checkpoint

__all__ = [
    "REGION_METHODS",
    "BagExplainer",
    "BagSaliencyError",
    "ClassIndexError",
    "Explanation",
    "FusedBatch",
    "FusedExplainer",
    "LayoutMismatchError",
    "MissingCheckpointError",
    "PlantedChecks",
    "PlantedTruth",
    "RegionMethod",
    "SaliencyCheckpointLoader",
    "SaliencyError",
    "SaliencyReport",
    "SaliencyRunner",
    "TargetLayerError",
    "explainer_for",
    "find_aligner",
    "load_checkpoint",
    "region_methods",
    "require_checkpoint",
    "tile_canvas",
]
