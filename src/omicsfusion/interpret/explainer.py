"""The I/O-free explainer: fused network + preprocessor + a batch -> region maps, modality shares, gene attributions.

It reads nothing and writes nothing: a saliency run (:mod:`~omicsfusion.interpret.runner`)
feeds it batches and hands what it returns to the writers and, on a phantom, to
the planted-truth checks. What each attribution explains is a weighted sum of
logits (:mod:`~omicsfusion.interpret.targets`): the target class's logit for
modality shares and genes, the region contrast for region maps.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from omicsfusion.interpret import genes, modalities
from omicsfusion.interpret.errors import BagSaliencyError, LayoutMismatchError, SaliencyError
from omicsfusion.interpret.regions import GradCAMRegions, IGRegions, RegionMethod
from omicsfusion.interpret.targets import check_class_index, class_weights, fused_baseline, region_versus, versus_matrix
from omicsfusion.networks import PatchBag
from omicsfusion.preprocessing.preprocess import OmicsPreprocessor
from omicsfusion.transforms import AlignToReference

__all__ = ["Explanation", "FusedBatch", "FusedExplainer", "find_aligner"]

#: values of ``FusedExplainer(omics_baseline=...)``
OMICS_BASELINES = ("mean", "zero")
#: the stated baseline, as ``summary.json`` records it: omics from the training means, or from 0
BASELINE = (
    "image channels: per-sample spatial mean; omics channels: the training mean of every feature, rendered "
    "through layout and alignment; pair contrasts: samples of the partner class"
)
BASELINE_ZERO = (
    "image channels: per-sample spatial mean; omics channels: 0 (omics_baseline 'zero', or a layout "
    "file without training means; the training mean only after a z-score); pair contrasts: samples of "
    "the partner class"
)


def find_aligner(transform) -> AlignToReference | None:
    """The ``aligner`` (an ``AlignToReference``) of the first transform holding one in a (nested) Compose, if any.

    ``AlignToReferenced`` and ``OmicsChannelsd`` hold theirs there.
    """
    aligner = getattr(transform, "aligner", None)
    if isinstance(aligner, AlignToReference):
        return aligner
    for child in getattr(transform, "transforms", ()) or ():
        found = find_aligner(child)
        if found is not None:
            return found
    return None


@dataclass
class FusedBatch:
    """One collated batch of preprocessed dicts, read for explaining.

    Attributes:
        x: ``(B, C, *spatial)`` fused input on the network's device (image channels first).
        n_image: number of image channels (meta ``n_image_channels``, else ``C`` minus the omics channels).
        ids: sample ids (``sample_<n>`` where the batch carries none).
        labels: ``(B,)`` class indices, or ``None``.
        affines: each sample's affine after preprocessing (identity where the batch carries none).
    """

    x: torch.Tensor
    n_image: int
    ids: list[str]
    labels: torch.Tensor | None
    affines: list[np.ndarray]

    @classmethod
    def from_batch(
        cls, batch: Mapping, n_omics: int, device: torch.device, offset: int = 0, limit: int | None = None
    ) -> FusedBatch:
        """Read ``batch["image"]`` / ``"sample_id"`` / ``"label"``; keep at most ``limit`` samples."""
        x_meta = batch["image"]
        x = torch.as_tensor(x_meta.as_tensor() if hasattr(x_meta, "as_tensor") else x_meta).float()
        meta = getattr(x_meta, "meta", {}) or {}
        value = meta.get("n_image_channels")
        n_image = int(torch.as_tensor(value).reshape(-1)[0]) if value is not None else x.shape[1] - n_omics
        if n_image + n_omics != x.shape[1]:
            raise LayoutMismatchError(
                f"the fused input has {x.shape[1]} channels, not {n_image} image + {n_omics} omics"
            )
        x = x[:limit].to(device)
        ids = [str(s) for s in batch.get("sample_id", [f"sample_{offset + i}" for i in range(len(x))])][: len(x)]
        labels = batch.get("label")
        labels = None if labels is None else torch.as_tensor(labels).reshape(-1)[: len(x)].long()
        affine = getattr(x_meta, "affine", None)
        if affine is None:
            affines = [np.eye(4)] * len(x)
        else:
            affine = torch.as_tensor(affine).double()
            affines = [np.asarray(affine if affine.ndim == 2 else affine[b]) for b in range(len(x))]
        return cls(x, n_image, ids, labels, affines)


@dataclass
class Explanation:
    """What the explainer found for one batch.

    Attributes:
        batch: the input.
        target, predicted: ``(B,)`` explained and predicted class indices; ``probs`` ``(B, K)``.
        ig: Integrated Gradients of the target logit over the fused input (stated baseline).
        ig_shares, ablation_shares: ``(B, G)`` modality shares (IG, FeatureAblation) of ``groups``.
        maps: region method name -> ``(B, *spatial)`` map of the region contrast (empty without image channels).
        features: omics type -> ``(B, F)`` feature attributions (empty without a preprocessor).
        grid: ``(B, C_omics, *grid)`` omics attributions on the layout grid, or ``None``.
        timings: seconds per step.
    """

    batch: FusedBatch
    target: torch.Tensor
    predicted: torch.Tensor
    probs: torch.Tensor
    ig: modalities.GroupAttribution
    ig_shares: np.ndarray
    ablation_shares: np.ndarray
    groups: list[str]
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)
    grid: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)


class FusedExplainer:
    """Explain a trained fused classifier, batch by batch, without reading or writing files.

    Args:
        network: the trained network (logits ``(B, K)``); it is put in eval mode.
        class_names: output classes in logit order.
        omics_types: omics channels of the input, in channel order (with the missing indicator also the
            mask channels ``<type>_missing``: their own share group and gene rows, baseline "no cell empty").
        preprocessor: the fitted layout (``require_checkpoint(...)`` returns it); ``None``: no gene attributions.
        align: how the omics maps were aligned onto the image (:func:`find_aligner` of the preprocessing).
        region_methods: region method name -> :class:`~omicsfusion.interpret.regions.RegionMethod`; the first
            is "the" region map (default: ``{"ig": IGRegions(network)}``).
        n_steps: Integrated Gradients steps of the modality shares and genes.
        ig_internal_batch_size: inputs per forward pass inside Integrated Gradients (``None``: all at once).
        class_index: explain this class for every sample (default: the label, else the prediction).
        region_contrast: what the region maps explain (:func:`~omicsfusion.interpret.targets.region_versus`).
        same_image_pairs: class pairs whose images look alike (a phantom's omics-only pairs), for ``"auto"``.
        omics_baseline: ``"mean"``: omics channels start from the training mean (0 after a z-score), so a gene
            is credited for its deviation from its usual level; ``"zero"``: from 0 (no expression, with an
            unscaled input), so it is credited for its level. A layout file without training means gives 0.
    """

    def __init__(
        self,
        network: nn.Module,
        class_names: Sequence[str],
        omics_types: Sequence[str] = (),
        preprocessor: OmicsPreprocessor | None = None,
        align: AlignToReference | None = None,
        region_methods: Mapping[str, RegionMethod] | None = None,
        n_steps: int = 32,
        ig_internal_batch_size: int | None = None,
        class_index: int | None = None,
        region_contrast: str | Mapping[str, Sequence[str]] = "auto",
        same_image_pairs: Sequence[Sequence[str]] = (),
        omics_baseline: str = "mean",
    ) -> None:
        if isinstance(getattr(network, "module", network), PatchBag):
            raise BagSaliencyError(
                "FusedExplainer explains a tile network; a bag-of-patches network (bag_patches > 0) is explained "
                "by omicsfusion.interpret.BagExplainer (explainer_for picks it)"
            )
        if omics_baseline not in OMICS_BASELINES:
            raise SaliencyError(f"omics_baseline must be one of {OMICS_BASELINES}, got {omics_baseline!r}")
        self.omics_baseline = omics_baseline
        self.class_names = [str(c) for c in class_names]
        if class_index is not None:
            check_class_index(class_index, self.class_names)
        self.network = network.eval()
        self.omics_types = [str(t) for t in omics_types]
        self.preprocessor = preprocessor
        self.align = align or AlignToReference()
        self.methods = dict(region_methods) if region_methods else {"ig": IGRegions(network)}
        self.n_steps = int(n_steps)
        self.ig_internal_batch_size = None if ig_internal_batch_size is None else int(ig_internal_batch_size)
        self.class_index = class_index
        self.region_versus = region_versus(region_contrast, self.class_names, same_image_pairs)
        self.region_matrix = versus_matrix(self.region_versus, len(self.class_names))

    @property
    def device(self) -> torch.device:
        return next(iter(self.network.parameters()), torch.empty(0)).device

    def __call__(self, batch: Mapping, offset: int = 0, limit: int | None = None) -> Explanation:
        """Explain one collated batch (at most ``limit`` samples; ``offset``: index of its first sample in the run)."""
        fused = FusedBatch.from_batch(batch, len(self.omics_types), self.device, offset, limit)
        x, n_image = fused.x, fused.n_image
        if fused.labels is not None:
            check_class_index(fused.labels, self.class_names)
        with torch.no_grad():
            probs = torch.softmax(self.network(x), dim=1).cpu()
        predicted = probs.argmax(dim=1)
        target = self.explained_class(predicted, fused.labels)
        timings: dict[str, float] = {}
        weights = class_weights(target, len(self.class_names)).to(self.device)
        ig, ablation = self.attribute(x, weights, self.baseline(x, n_image), n_image, timings)
        explained = Explanation(
            fused,
            target,
            predicted,
            probs,
            ig,
            modalities.shares(modalities.group_sums(ig.attr, n_image)),
            modalities.shares(ablation),
            modalities.group_names(n_image, self.omics_types),
            timings=timings,
        )
        if n_image:
            explained.maps = self.region_maps(x, target, n_image, timings)
        if self.preprocessor is not None:
            t = time.perf_counter()
            explained.features = self.feature_attributions(ig.attr, n_image)
            explained.grid = genes.grid_maps(ig.attr, n_image, self.preprocessor, self.align)
            timings["gene_backprojection"] = time.perf_counter() - t
        return explained

    def explained_class(self, predicted: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """``(B,)`` class each sample is explained for: ``class_index``, else its label, else its prediction."""
        if self.class_index is not None:
            return torch.full_like(predicted, int(self.class_index))
        return labels if labels is not None else predicted

    @property
    def omics_means(self) -> dict[str, np.ndarray] | None:
        """Omics type -> training mean ``(F,)`` in normalised units the baseline starts from, or ``None``.

        ``None``: ``omics_baseline="zero"``, no preprocessor, or a layout file written before the means were stored.
        """
        if self.preprocessor is None or self.omics_baseline == "zero":
            return None
        return self.preprocessor.training_means(self.omics_types)

    def baseline(self, x: torch.Tensor, n_image: int) -> torch.Tensor:
        """The stated baseline of ``x``: image channels -> per-sample mean; omics channels -> the training mean."""
        means = self.omics_means
        if means is None or not self.omics_types:
            return fused_baseline(x, n_image)
        # one render for the batch: every sample shares the mean and the collated grid
        omics = genes.render_omics(
            {t: m[None] for t, m in means.items()},
            self.preprocessor,
            self.omics_types,
            self.align,
            x[:1, n_image:].cpu(),
        )
        return fused_baseline(x, n_image, omics.expand((len(x), *tuple(omics.shape[1:]))))

    def attribute(
        self,
        x: torch.Tensor,
        weights: torch.Tensor,
        baseline: torch.Tensor,
        n_image: int,
        timings: dict[str, float] | None = None,
    ) -> tuple[modalities.GroupAttribution, np.ndarray]:
        """IG over the fused input and FeatureAblation contributions ``(B, G)`` of ``weights`` from ``baseline``."""
        timings = {} if timings is None else timings
        t = time.perf_counter()
        ig = modalities.integrated_gradients(
            self.network, x, weights, baseline, self.n_steps, self.ig_internal_batch_size
        )
        timings["integrated_gradients"] = time.perf_counter() - t
        t = time.perf_counter()
        ablation = modalities.ablation_groups(self.network, x, weights, baseline, n_image)
        timings["feature_ablation"] = time.perf_counter() - t
        return ig, ablation

    def region_maps(
        self, x: torch.Tensor, target: torch.Tensor, n_image: int, timings: dict[str, float]
    ) -> dict[str, np.ndarray]:
        """Region maps of every method for the region contrast of each sample's target."""
        weights = self.region_matrix.to(x.device)[target.to(x.device)]
        maps = {}
        for name, method in self.methods.items():
            t = time.perf_counter()
            maps[name] = method(x, weights, n_image)
            timings[name] = time.perf_counter() - t
        return maps

    def feature_attributions(self, attr: torch.Tensor, n_image: int) -> dict[str, np.ndarray]:
        """Omics type -> ``(B, F)`` attributions of a fused attribution, read back through alignment and layout."""
        return genes.feature_attributions(attr, self.preprocessor, n_image, self.omics_types, self.align)

    def settings(self, x: torch.Tensor) -> dict:
        """What the run explains and how, as ``summary.json`` records it (GradCAM's layer as used on ``x``)."""
        names = list(self.methods)
        ig = next((m for m in self.methods.values() if isinstance(m, IGRegions)), None)
        cam = next((m for m in self.methods.values() if isinstance(m, GradCAMRegions)), None)
        return {
            "region_method": names[0],
            "region_baseline": None if ig is None else ig.baseline,
            "compared_methods": names[1:],
            "region_contrast": {
                c: [self.class_names[j] for j in self.region_versus.get(k, [])] for k, c in enumerate(self.class_names)
            },
            "target_layer": None if cam is None else cam.layer(x),
            "ig_steps": self.n_steps,
            "ig_internal_batch_size": self.ig_internal_batch_size,
            "omics_baseline": self.omics_baseline,
            "baseline": BASELINE_ZERO if self.omics_means is None else BASELINE,
        }
