"""One saliency run over a datalist: regions, omics-type shares, gene ranking, files, planted-truth checks.

A bundle's ``configs/saliency.json`` (merged on ``train.json``) builds a
:class:`SaliencyRunner` from config references only (network, checkpoint,
validation preprocessing, layout file, class names, ...) and calls
:meth:`SaliencyRunner.run`. Everything is written into ``output_dir``
(the bundle's ``eval/saliency``):

* ``samples.csv``: per sample target, prediction, IG delta, modality shares
  (IG and FeatureAblation), pointing-game hits when masks exist, region file;
* ``modality_shares.csv`` + ``modality_shares.png``: class x modality;
* ``genes.csv`` (class x omics type x feature id and display name: mean
  |attribution|, signed mean, rank) + ``layout_<type>_<class>.png`` (OT map,
  top genes labelled in a side column);
* ``regions/<sample>.png`` (2-D overlay on the tile) or ``.nii.gz`` (3-D, the
  affine of the preprocessed input), ``<sample>`` made file-safe;
* ``checks.json`` + ``deletion_curves.csv`` / ``.png`` when the dataset holds a
  phantom's ``ground_truth.json`` (any phantom's format, see
  :func:`~omicsfusion.interpret.checks.planted_truth`); its ``masks/`` are
  resampled onto the preprocessed input's grid for the pointing game;
* ``summary.json``: settings, timings, completeness gap.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from omicsfusion.checkpoint import load_weights, require_trained
from omicsfusion.interpret import checks, genes, modalities, regions, writers
from omicsfusion.interpret.errors import LayoutMismatchError, SaliencyError
from omicsfusion.interpret.targets import (check_class_index, class_weights, contrast_weights, fused_baseline,
                                           versus_matrix)
from omicsfusion.transforms import AlignToReference, AlignToReferenced, LoadOmics

__all__ = ["SaliencyRunner", "require_checkpoint", "load_checkpoint", "first_conv_channels", "find_aligner",
           "read_ground_truth"]

logger = logging.getLogger(__name__)

#: the named choices of ``SaliencyRunner(region_contrast=...)`` (a mapping is the fourth)
REGION_CONTRASTS = ("auto", "logit", "others")


#: the trained-checkpoint guard under the name ``saliency.json`` calls first in ``initialize``
require_checkpoint = require_trained


def load_checkpoint(checkpoint: str | os.PathLike) -> dict[str, torch.Tensor]:
    """State dict of a trained model (``weights_only``); a ``{"model": state}`` wrapper is unwrapped.

    Raises:
        MissingCheckpointError: no file at ``checkpoint`` (training has not run).
        CheckpointError: the file holds pickled objects (code) that ``weights_only`` refuses.
    """
    require_trained(checkpoint)
    state = load_weights(checkpoint)
    if "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]
    return dict(state)


def first_conv_channels(state: Mapping[str, torch.Tensor]) -> int:
    """Input channels of a network: dim 1 of the first convolution weight (>= 3-D tensor) of its state dict."""
    for name, value in state.items():
        if name.endswith("weight") and value.ndim >= 3:
            return int(value.shape[1])
    raise SaliencyError("the checkpoint holds no convolution weight to read its input channels from")


def find_aligner(transform) -> AlignToReference | None:
    """The ``AlignToReference`` of the first ``AlignToReferenced`` in a (nested) Compose, if any."""
    if isinstance(transform, AlignToReferenced):
        return transform.aligner
    for child in getattr(transform, "transforms", ()) or ():
        found = find_aligner(child)
        if found is not None:
            return found
    return None


def read_ground_truth(dataset_dir: str | os.PathLike | None) -> dict:
    """``dataset_dir/ground_truth.json`` of a phantom, or ``{}`` (real data: checks are skipped)."""
    import json

    if dataset_dir is None:
        return {}
    path = Path(dataset_dir) / "ground_truth.json"
    return json.loads(path.read_text()) if path.is_file() else {}


class SaliencyRunner:
    """Explain a trained fused classifier on a dataset and write the results.

    Args:
        network: the bundle's network (weights are loaded from ``checkpoint``).
        checkpoint: trained weights (``models/model.pt``).
        dataset: dataset of preprocessed dicts with the fused ``image`` (meta
            ``n_image_channels``), ``label`` (optional) and ``sample_id``.
        class_names: output classes in logit order.
        output_dir: where files go (created).
        layout_file: the fitted ``models/layout.npz`` (needed with omics channels).
        omics_types: omics channels of the run, in channel order.
        omics_tables: omics type -> table file; enables the gene-deletion curves.
        region_method: map written as overlay and used as "the" region map:
            ``"ig"`` (default; measured best on the pan-cancer phantom, see
            docs/interpret.md), ``"occlusion"``, ``"gradcam"`` or ``"gradcampp"``.
        compare_methods: further region methods to score in the pointing game.
        target_layer: GradCAM layer (default: the last spatial layer).
        n_steps: Integrated Gradients steps.
        ig_internal_batch_size: inputs per forward pass inside Integrated
            Gradients (default: all ``batch x n_steps`` at once); bounds memory on 3-D volumes.
        batch_size: samples per batch.
        class_index: explain this class for every sample (default: the label,
            or the prediction when there is no label).
        max_samples: explain at most this many samples.
        ground_truth_dir: folder holding ``ground_truth.json`` and ``masks/``
            (a phantom's ``dataset_dir``); checks run when present.
        device: torch device.
        reverse_indexing: the image loader reversed the axes (MONAI's
            PILReader default); 2-D PNGs are transposed back for viewers.
        write_regions: write one region file per sample.
        top_genes: genes labelled on the layout maps.
        deletion_ks: numbers of genes deleted in the faithfulness curves.
        occlusion_window, occlusion_stride: occlusion window/stride in pixels.
        seed: seed of the random deletions.
        contrast_references: partner-class samples used as references of each sample's
            pair contrast (see :meth:`_pair_contrast`).
        region_contrast: what the region maps explain. ``"logit"``: the target class's logit;
            ``"others"``: ``logit[k]`` minus the mean logit of all other classes; a mapping
            ``{class: [classes]}``: minus the mean logit of those classes; ``"auto"`` (default):
            with a phantom's ground truth, the classes whose image differs from the target's
            (every class except the target's omics-only partners: an image cannot point at
            evidence against a class it shares its morphology with), else ``"others"``. See
            :meth:`_region_versus`.
        region_baseline: where the IG of the ``"ig"`` region map starts. Over the image channels,
            the omics held at the sample's values: ``"blur"`` (default; the image blurred, so
            texture and edges are credited: tissue morphology) or ``"mean"`` (each channel's mean:
            every deviation, e.g. the size of a dark ventricle, is credited). ``"fused"``: the image
            part of IG over the fused input, the omics moving too (the map of bundles <= 0.3.0).
            See :func:`omicsfusion.interpret.regions.ig_image_maps`.
    """

    def __init__(
        self,
        network: nn.Module,
        checkpoint: str | os.PathLike,
        dataset: torch.utils.data.Dataset,
        class_names: Sequence[str],
        output_dir: str | os.PathLike,
        layout_file: str | os.PathLike | None = None,
        omics_types: Sequence[str] = (),
        omics_tables: Mapping[str, str] | None = None,
        region_method: str = "ig",
        compare_methods: Sequence[str] = ("gradcam",),
        target_layer: str | None = None,
        n_steps: int = 32,
        ig_internal_batch_size: int | None = None,
        batch_size: int = 16,
        class_index: int | None = None,
        max_samples: int | None = None,
        ground_truth_dir: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        reverse_indexing: bool = True,
        write_regions: bool = True,
        top_genes: int = 10,
        deletion_ks: Sequence[int] = (1, 2, 5, 10, 20, 50, 100),
        occlusion_window: int = 8,
        occlusion_stride: int = 4,
        seed: int = 0,
        contrast_references: int = 2,
        region_contrast: str | Mapping[str, Sequence[str]] = "auto",
        region_baseline: str = "blur",
    ) -> None:
        methods = [region_method] + [m for m in compare_methods if m != region_method]
        unknown = [m for m in methods if m not in regions.REGION_METHODS]
        if unknown:
            raise SaliencyError(f"unknown region method(s) {unknown}; choose from {regions.REGION_METHODS}")
        self.class_names = [str(c) for c in class_names]
        if class_index is not None:
            check_class_index(class_index, self.class_names)
        if target_layer is not None:
            regions.check_target_layer(network, target_layer)
        self.network = network
        self.checkpoint = Path(checkpoint)
        self.dataset = dataset
        self.output_dir = Path(output_dir)
        self.layout_file = None if layout_file is None else Path(layout_file)
        self.omics_types = [str(t) for t in omics_types]
        self.omics_tables = dict(omics_tables or {})
        self.methods = methods
        self.target_layer = target_layer
        self.n_steps = int(n_steps)
        self.ig_internal_batch_size = None if ig_internal_batch_size is None else int(ig_internal_batch_size)
        self.batch_size = int(batch_size)
        self.class_index = class_index
        self.max_samples = max_samples
        self.ground_truth_dir = None if ground_truth_dir is None else Path(ground_truth_dir)
        self.device = torch.device(device)
        self.reverse_indexing = bool(reverse_indexing)
        self.write_regions = bool(write_regions)
        self.top_genes = int(top_genes)
        self.deletion_ks = tuple(int(k) for k in deletion_ks)
        self.occlusion_window = int(occlusion_window)
        self.occlusion_stride = int(occlusion_stride)
        self.seed = int(seed)
        if int(contrast_references) < 1:
            raise SaliencyError(f"contrast_references must be >= 1, got {contrast_references}")
        self.contrast_references = int(contrast_references)
        if isinstance(region_contrast, str):
            if region_contrast not in REGION_CONTRASTS:
                raise SaliencyError(f"region_contrast must be one of {REGION_CONTRASTS} or a mapping "
                                    f"{{class: [classes]}}, got {region_contrast!r}")
        else:
            region_contrast = {str(k): [str(c) for c in v] for k, v in dict(region_contrast).items()}
            unknown = sorted({k for k, v in region_contrast.items() for k in [k, *v]} - set(self.class_names))
            if unknown:
                raise SaliencyError(f"region_contrast names classes {unknown} that the model does not have "
                                    f"({self.class_names})")
        self.region_contrast = region_contrast
        if region_baseline not in regions.REGION_BASELINES:
            raise SaliencyError(f"region_baseline must be one of {regions.REGION_BASELINES}, got {region_baseline!r}")
        self.region_baseline = region_baseline

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> None:
        """Checkpoint, layout and network must agree before anything is computed."""
        self.preprocessor = require_trained(self.checkpoint, self.layout_file, self.omics_types)
        state = load_checkpoint(self.checkpoint)
        expected = first_conv_channels(state)
        built = first_conv_channels(self.network.state_dict())
        if expected != built:
            raise LayoutMismatchError(
                f"checkpoint {self.checkpoint} expects {expected} input channels (first convolution) but this "
                f"run builds {built} (omics {self.omics_types} from {self.layout_file}): the layout / modalities "
                "do not match the checkpoint"
            )
        self.network.load_state_dict(state)
        self.network.to(self.device).eval()
        self.align = find_aligner(getattr(self.dataset, "transform", None)) or AlignToReference()
        self.truth = read_ground_truth(self.ground_truth_dir)
        self.planted = checks.planted_truth(self.truth)
        self.region_versus = self._region_versus()
        self.region_matrix = versus_matrix(self.region_versus, len(self.class_names))
        self._index_masks()
        self.loader = None
        if self.omics_tables and self.omics_types:
            missing = [t for t in self.omics_types if t not in self.omics_tables]
            if missing:
                raise SaliencyError(f"omics_tables has no table for {missing} ({sorted(self.omics_tables)})")
            self.loader = LoadOmics({t: self.omics_tables[t] for t in self.omics_types}, self.preprocessor)

    def _partner(self) -> dict[int, int]:
        """Class -> the other class of its planted pair (ground truth), for the pair-contrast attribution."""
        pairs = self.planted["omics_only_pairs"] + self.planted["image_only_pairs"]
        partner = {}
        for a, b in pairs:
            if a in self.class_names and b in self.class_names:
                i, j = self.class_names.index(a), self.class_names.index(b)
                partner[i], partner[j] = j, i
        return partner

    def _region_versus(self) -> dict[int, list[int]]:
        """Class -> the classes its region map is contrasted with (empty: its own logit).

        A logit alone is a poor question for "where in the image": when the image
        moves two classes together (both share a morphology) the network may raise
        neither logit and lower the others instead, and the target logit then reads
        whatever else its filters see (in early fusion: tissue under a gene block).
        Contrasting with the classes the image does tell apart asks where the
        evidence against them lies (measured in docs/interpret.md).
        """
        n = len(self.class_names)
        if self.region_contrast == "logit":
            return {}
        if isinstance(self.region_contrast, dict):
            index = self.class_names.index
            return {index(k): [index(c) for c in v] for k, v in self.region_contrast.items()}
        shares_image: dict[int, set[int]] = {k: {k} for k in range(n)}
        if self.region_contrast == "auto":
            for pair in self.planted["omics_only_pairs"]:
                members = [self.class_names.index(c) for c in pair if c in self.class_names]
                for k in members:
                    shares_image[k].update(members)
        return {k: [j for j in range(n) if j not in shares_image[k]] for k in range(n)}

    def _index_masks(self) -> None:
        """Mask file of every sample id in ``ground_truth_dir/masks`` (one directory scan) and the mask reader.

        A file ``<id>.<ext...>`` belongs to ``<id>``; ids may contain dots, so every
        prefix ending before a dot is indexed (the first file in name order wins).
        The reader is built once: MONAI's ``LoadImage`` registers its readers on construction.
        """
        from monai.transforms import Compose, EnsureChannelFirst, LoadImage, ResampleToMatch

        self.mask_files: dict[str, Path] = {}
        folder = None if self.ground_truth_dir is None else self.ground_truth_dir / "masks"
        if folder is None or not folder.is_dir():
            return
        for path in sorted(folder.iterdir()):
            for i, char in enumerate(path.name):
                if char == ".":
                    self.mask_files.setdefault(path.name[:i], path)
        self.load_mask = Compose([LoadImage(image_only=True), EnsureChannelFirst()])
        self.resample_mask = ResampleToMatch(mode="nearest", padding_mode="zeros")

    def _mask(self, sample_id: str, shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray | None:
        """The planted-region mask of a sample on the network input's grid.

        The mask is loaded like the image (same reader, same orientation) and
        resampled (nearest) onto the grid the preprocessing left the image on
        (its affine and shape), so reorientation, respacing, resizing and
        cropping move the mask with the image. ``None`` when there is no mask or it is empty.
        """
        from monai.data import MetaTensor

        path = self.mask_files.get(sample_id)
        if path is None:
            return None
        mask = self.load_mask(str(path))
        if mask.ndim - 1 != len(shape):
            raise SaliencyError(f"mask {path} is {mask.ndim - 1}-D, the image of {sample_id!r} {len(shape)}-D")
        grid = MetaTensor(torch.zeros((1,) + tuple(shape)), affine=torch.as_tensor(affine, dtype=torch.float64))
        mask = np.asarray(self.resample_mask(mask.float(), img_dst=grid))[0] > 0
        return mask if mask.any() else None  # an empty mask (a control subject) has no region to point at

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        """Explain every sample (up to ``max_samples``), write all outputs, return the summary."""
        from monai.data import DataLoader

        start = time.perf_counter()
        self._prepare()
        partner = self._partner()
        timings: dict[str, float] = defaultdict(float)
        records: list[dict] = []
        gene_parts: dict[str, list[np.ndarray]] = defaultdict(list)
        grid_sums: dict[int, np.ndarray] = {}
        targets_all: list[int] = []
        contrast_rows: list[dict] = []
        contrast_genes: dict[str, list[pd.DataFrame]] = defaultdict(list)
        references: dict[int, list[torch.Tensor]] = defaultdict(list)  # partner-class inputs of the contrasts
        deletion_parts: list[tuple[int, pd.DataFrame]] = []
        hits: dict[str, list[tuple[str, bool]]] = defaultdict(list)  # method -> (true class, hit)
        seen = 0
        self.output_dir.mkdir(parents=True, exist_ok=True)
        loader = DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, num_workers=0)
        for batch in loader:
            if self.max_samples is not None and seen >= self.max_samples:
                break
            x_meta = batch["image"]
            x = torch.as_tensor(x_meta.as_tensor() if hasattr(x_meta, "as_tensor") else x_meta).float()
            n_image = self._n_image(x_meta, x)
            if self.max_samples is not None:
                x = x[: self.max_samples - seen]
            x = x.to(self.device)
            ids = [str(s) for s in batch.get("sample_id", [f"sample_{seen + i}" for i in range(len(x))])][: len(x)]
            labels = batch.get("label")
            labels = None if labels is None else torch.as_tensor(labels).reshape(-1)[: len(x)].long()
            if labels is not None:
                check_class_index(labels, self.class_names)
            seen += len(x)

            with torch.no_grad():
                probs = torch.softmax(self.network(x), dim=1).cpu()
            predicted = probs.argmax(dim=1)
            if self.class_index is not None:
                target = torch.full_like(predicted, int(self.class_index))
            else:
                target = labels if labels is not None else predicted
            baseline = fused_baseline(x, n_image)
            weights = class_weights(target, len(self.class_names)).to(self.device)

            t = time.perf_counter()
            ig = modalities.integrated_gradients(self.network, x, weights, baseline, self.n_steps,
                                                 self.ig_internal_batch_size)
            timings["integrated_gradients"] += time.perf_counter() - t
            t = time.perf_counter()
            ablation = modalities.ablation_groups(self.network, x, weights, baseline, n_image)
            timings["feature_ablation"] += time.perf_counter() - t
            ig_shares = modalities.shares(modalities.group_sums(ig.attr, n_image))
            ab_shares = modalities.shares(ablation)
            groups = modalities.group_names(n_image, self.omics_types)

            maps = {}
            if n_image:
                maps = self._region_maps(x, target, weights, baseline, n_image, timings)
            if self.preprocessor is not None:
                t = time.perf_counter()
                per_type = genes.feature_attributions(ig.attr, self.preprocessor, n_image, self.omics_types,
                                                      self.align)
                for omics_type, values in per_type.items():
                    gene_parts[omics_type].append(values)
                grid = genes.grid_maps(ig.attr, n_image, self.preprocessor, self.align)
                for b, k in enumerate(target.tolist()):
                    grid_sums[k] = grid_sums.get(k, 0) + grid[b]
                timings["gene_backprojection"] += time.perf_counter() - t
                if self.loader is not None and self.truth:
                    t = time.perf_counter()
                    vectors = self._vectors(ids)
                    curves = checks.deletion_curves(self.network, x, target, vectors, per_type, self.preprocessor,
                                                    self.omics_types, self.align, n_image, self.deletion_ks,
                                                    seed=self.seed)
                    deletion_parts.append((len(x), curves))
                    timings["deletion_curves"] += time.perf_counter() - t
            if partner and n_image and self.omics_types:
                t = time.perf_counter()
                rows, per_type_contrast = self._pair_contrast(x, target, n_image, partner, ids, references)
                contrast_rows += rows
                for omics_type, values in per_type_contrast.items():
                    contrast_genes[omics_type].append(values)
                timings["pair_contrast"] += time.perf_counter() - t

            for b, sample_id in enumerate(ids):
                row = {"sample_id": sample_id,
                       "label": self.class_names[int(labels[b])] if labels is not None else "",
                       "target": self.class_names[int(target[b])],
                       "predicted": self.class_names[int(predicted[b])],
                       "target_probability": float(probs[b, target[b]]),
                       "ig_delta": ig.delta[b], "ig_gap": ig.gap[b]}
                row.update({f"ig_share_{g}": ig_shares[b, i] for i, g in enumerate(groups)})
                row.update({f"ablation_share_{g}": ab_shares[b, i] for i, g in enumerate(groups)})
                affine = self._affine(x_meta, b)
                mask = self._mask(sample_id, tuple(x.shape[2:]), affine) if maps else None
                if mask is not None:
                    for method, m in maps.items():
                        hit = bool(checks.pointing_hits(m[b][None], mask[None])[0])
                        row[f"pointing_{method}"] = hit
                        if labels is not None and int(predicted[b]) == int(labels[b]):
                            hits[method].append((self.class_names[int(labels[b])], hit))
                if self.write_regions and maps:
                    row["region_file"] = self._write_region(sample_id, x[b, :n_image].cpu().numpy(),
                                                            maps[self.methods[0]][b], affine)
                records.append(row)
            targets_all += target.tolist()

        if not records:
            raise SaliencyError("the saliency dataset is empty: nothing to explain")
        return self._finish(records, gene_parts, grid_sums, np.asarray(targets_all), (contrast_rows, contrast_genes),
                            deletion_parts, hits, timings, time.perf_counter() - start, seen)

    # ------------------------------------------------------------------ pieces
    def _n_image(self, x_meta, x: torch.Tensor) -> int:
        meta = getattr(x_meta, "meta", {}) or {}
        value = meta.get("n_image_channels")
        if value is not None:
            n_image = int(torch.as_tensor(value).reshape(-1)[0])
        else:
            n_image = x.shape[1] - len(self.omics_types)
        if n_image + len(self.omics_types) != x.shape[1]:
            raise LayoutMismatchError(
                f"the fused input has {x.shape[1]} channels, not {n_image} image + {len(self.omics_types)} omics "
                f"({self.omics_types})"
            )
        return n_image

    def _region_maps(self, x, target, weights, baseline, n_image, timings) -> dict[str, np.ndarray]:
        """Region maps of every method for the region contrast of each sample's target."""
        region_weights = self.region_matrix.to(weights.device)[target.to(weights.device)]
        maps = {}
        for method in self.methods:
            t = time.perf_counter()
            if method == "ig":
                maps[method] = regions.ig_image_maps(self.network, x, region_weights, n_image, self.n_steps,
                                                     self.ig_internal_batch_size, self.region_baseline)
            elif method == "occlusion":
                maps[method] = regions.occlusion_maps(self.network, x, region_weights, baseline, n_image,
                                                      self.occlusion_window, self.occlusion_stride)
            else:
                if self.target_layer is None:
                    self.target_layer = regions.default_target_layer(self.network, x)
                maps[method] = regions.gradcam_maps(self.network, x, region_weights, self.target_layer,
                                                    plus=method == "gradcampp")
            timings[method] += time.perf_counter() - t
        return maps

    def _vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        rows = [self.loader(i)[0] for i in ids]
        return {t: np.stack([r[t] for r in rows]) for t in self.omics_types}

    def _pair_contrast(self, x, target, n_image, partner, ids,
                       references) -> tuple[list[dict], dict[str, pd.DataFrame]]:
        """Image vs omics shares of ``logit[class] - logit[partner]``, against samples OF THE PARTNER CLASS.

        The reference input of each sample is a sample of its partner class (up to
        ``contrast_references`` of them, seen in this or earlier batches; attributions are
        averaged over them, as in expected gradients). Swapping a modality to the partner's
        then measures how much of the pair's difference that modality carries: image and
        omics of the two classes of an omics-only pair share one distribution except for the
        planted genes, so the image part of the path contributes only what the network reads
        from per-sample noise. Samples with no partner sample seen yet are skipped. ``references``
        (class -> inputs) is the run's pool, filled here. Also returns the contrast's gene
        attributions per omics type (one row per sample and reference).
        """
        for b, k in enumerate(target.tolist()):
            if len(references[k]) < self.contrast_references:
                references[k].append(x[b].detach().clone())
        pairs = [(b, ref) for b, k in enumerate(target.tolist()) if k in partner for ref in references[partner[k]]]
        if not pairs:
            return [], {}
        rows = torch.tensor([b for b, _ in pairs], dtype=torch.long, device=x.device)
        own = target[rows.cpu()]
        other = torch.tensor([partner[int(k)] for k in own.tolist()])
        weights = contrast_weights(own, other, len(self.class_names)).to(self.device)
        xs, refs = x[rows], torch.stack([ref for _, ref in pairs]).to(x.device)
        ig = modalities.integrated_gradients(self.network, xs, weights, refs, self.n_steps,
                                             self.ig_internal_batch_size)
        contributions = {"integrated_gradients": modalities.group_sums(ig.attr, n_image),
                         "feature_ablation": modalities.ablation_groups(self.network, xs, weights, refs, n_image)}
        out = []
        sample_rows = rows.cpu().numpy()
        for b in sorted(set(sample_rows.tolist())):
            mine = sample_rows == b
            for estimator, values in contributions.items():
                share = modalities.shares(values[mine].mean(axis=0, keepdims=True))[0]
                out.append({"sample_id": ids[b], "class": self.class_names[int(target[b])],
                            "versus": self.class_names[partner[int(target[b])]], "estimator": estimator,
                            "n_references": int(mine.sum()), "image_share": float(share[0]),
                            "omics_share": float(share[1:].sum())})
        per_type = genes.feature_attributions(ig.attr, self.preprocessor, n_image, self.omics_types, self.align)
        classes = [self.class_names[int(k)] for k in own.tolist()]
        frames = {t: pd.DataFrame(np.abs(v)).assign(_class=classes) for t, v in per_type.items()}
        return out, frames

    @staticmethod
    def _affine(x_meta, b: int) -> np.ndarray:
        """Sample ``b``'s affine after preprocessing (identity, MetaTensor's default, when the batch carries none)."""
        affine = getattr(x_meta, "affine", None)
        if affine is None:
            return np.eye(4)
        affine = torch.as_tensor(affine).double()
        return np.asarray(affine if affine.ndim == 2 else affine[b])

    def _write_region(self, sample_id: str, image: np.ndarray, saliency: np.ndarray, affine: np.ndarray) -> str:
        """One region file per sample (name: the sample id made file-safe); returns its path relative to output_dir."""
        name = writers.file_safe(sample_id)
        if saliency.ndim == 2:
            relative = f"regions/{name}.png"
            writers.write_overlay_png(image, saliency, self.output_dir / relative,
                                      reverse_indexing=self.reverse_indexing)
        else:
            relative = f"regions/{name}.nii.gz"
            writers.write_nifti(saliency, affine, self.output_dir / relative)
        return relative

    def _finish(self, records, gene_parts, grid_sums, targets, contrast, deletion_parts, hits, timings,
                seconds, seen) -> dict:
        out = self.output_dir
        samples = pd.DataFrame(records)
        writers.write_csv(samples, out / "samples.csv")
        share_tables = {}
        for estimator, prefix in (("integrated_gradients", "ig_share_"), ("feature_ablation", "ablation_share_")):
            columns = [c for c in samples.columns if c.startswith(prefix)]
            table = samples.groupby("target")[columns].mean()
            table.columns = [c[len(prefix):] for c in columns]
            share_tables[estimator] = table.reindex([c for c in self.class_names if c in table.index])
        long = pd.concat({k: v for k, v in share_tables.items()}, names=["estimator", "class"]).reset_index()
        writers.write_csv(long, out / "modality_shares.csv")
        writers.write_share_bars(share_tables["integrated_gradients"], out / "modality_shares.png",
                                 f"Integrated Gradients ({self.n_steps} steps): share per modality")
        summary: dict = {
            "n_samples": int(seen), "region_method": self.methods[0], "region_baseline": self.region_baseline,
            "compared_methods": self.methods[1:],
            "region_contrast": {self.class_names[k]: [self.class_names[j] for j in self.region_versus.get(k, [])]
                                for k in range(len(self.class_names))},
            "target_layer": self.target_layer, "ig_steps": self.n_steps,
            "ig_internal_batch_size": self.ig_internal_batch_size,
            "baseline": "image channels: per-sample spatial mean; omics channels: 0 (training mean, z-score); "
                        "pair contrasts: samples of the partner class",
            "ig_mean_abs_delta": float(samples["ig_delta"].abs().mean()),
            "ig_mean_abs_gap": float(samples["ig_gap"].abs().mean()),
        }
        gene_table = None
        if gene_parts:
            per_sample = {t: np.concatenate(v) for t, v in gene_parts.items()}
            gene_table = genes.class_gene_table(per_sample, targets, self.class_names, self.preprocessor)
            writers.write_csv(gene_table, out / "genes.csv")
            for k, total in grid_sums.items():
                mean_map = total / max(int((targets == k).sum()), 1)
                for c, omics_type in enumerate(self.omics_types):
                    names = self.preprocessor.feature_names(omics_type)
                    top = genes.top_features(gene_table, self.class_names[k], omics_type, self.top_genes)
                    writers.write_layout_map(mean_map[c], genes.feature_positions(self.preprocessor, omics_type),
                                             names, top, out / f"layout_{omics_type}_{self.class_names[k]}.png",
                                             f"{omics_type}: mean attribution, class {self.class_names[k]}",
                                             self.preprocessor.display_names(omics_type))
        if self.truth:
            summary["checks"] = self._checks(samples, gene_table, per_sample if gene_parts else {}, targets,
                                             contrast, deletion_parts, hits)
            writers.write_json(summary["checks"], out / "checks.json")
        summary["timings_seconds"] = {k: round(v, 3) for k, v in timings.items()}
        summary["total_seconds"] = round(seconds, 3)
        writers.write_json(summary, out / "summary.json")
        logger.info("saliency for %d samples written to %s in %.1f s", seen, out, seconds)
        return summary

    def _ranked(self, omics_type: str, importance: np.ndarray) -> list[str]:
        """Feature names of ``omics_type`` by decreasing ``importance`` (ties keep layout order)."""
        names = self.preprocessor.feature_names(omics_type)
        return [str(n) for n in names[np.argsort(-importance, kind="stable")]]

    def _contrast_gene_tables(self, contrast_genes):
        """``(feature set, "a/b", table)`` for each omics-only pair of which exactly one class carries the set.

        There the planted genes are the only evidence that separates the two classes, so the pair
        contrast's gene ranking must find them whatever else the model uses for the class as a whole.
        """
        for a, b in self.planted["omics_only_pairs"]:
            for feature_set in self.planted["feature_sets"]:
                frames = contrast_genes.get(feature_set["omics"])
                carriers = set(feature_set["classes"])
                if not frames or (a in carriers) == (b in carriers):
                    continue
                frame = pd.concat(frames, ignore_index=True)
                frame = frame[frame["_class"].isin([a, b])]
                if len(frame):
                    yield feature_set, f"{a}/{b}", frame

    def _checks(self, samples, gene_table, per_sample, targets, contrast, deletion_parts, hits) -> dict:
        contrast_rows, contrast_genes = contrast
        result: dict = {}
        if hits:
            result["pointing_game"] = {}
            for method, pairs in hits.items():
                frame = pd.DataFrame(pairs, columns=["class", "hit"])
                result["pointing_game"][method] = {
                    "hit_rate": float(frame["hit"].mean()), "n_correct": len(frame),
                    "target": checks.POINTING_TARGET, "passed": bool(frame["hit"].mean() >= checks.POINTING_TARGET),
                    "per_class": {c: float(v) for c, v in frame.groupby("class")["hit"].mean().items()}}
        sets = [s for s in self.planted["feature_sets"] if s["omics"] in per_sample]
        recovery = {}
        for planted in sets:
            omics_type, features = planted["omics"], planted["features"]
            classes = [self.class_names.index(c) for c in planted["classes"] or self.class_names
                       if c in self.class_names]
            rows = np.isin(targets, classes)
            if not rows.any():
                continue
            names = self.preprocessor.feature_names(omics_type)
            ranked = self._ranked(omics_type, np.abs(per_sample[omics_type][rows]).mean(axis=0))
            recovery[planted["name"]] = {
                "k": len(features), "classes": [self.class_names[c] for c in classes],
                "precision_at_k": checks.precision_at_k(ranked, features),
                "random_ranking_precision_at_k": checks.random_ranking_precision(names, features, seed=self.seed),
                "top_k": ranked[: len(features)],
            }
        for feature_set, pair, frame in self._contrast_gene_tables(contrast_genes):
            ranked = self._ranked(feature_set["omics"], frame.drop(columns="_class").to_numpy().mean(axis=0))
            recovery.setdefault(feature_set["name"], {"k": len(feature_set["features"])})["pair_contrast"] = {
                "pair": pair, "n": len(frame), "precision_at_k": checks.precision_at_k(ranked, feature_set["features"]),
                "top_k": ranked[: len(feature_set["features"])]}
        if recovery:
            result["gene_recovery"] = recovery
            pairs = checks.pair_gene_check({name: v["precision_at_k"] for name, v in recovery.items()
                                            if "precision_at_k" in v}, sets, self.planted["omics_only_pairs"])
            if pairs:
                result["gene_recovery_pairs"] = pairs
        if contrast_rows:
            contrast = pd.DataFrame(contrast_rows)
            writers.write_csv(contrast, self.output_dir / "pair_contrast_shares.csv")
            result["modality_pairs"] = {}
            for estimator, part in contrast.groupby("estimator"):
                table = part.groupby("class")[["image_share", "omics_share"]].mean()
                check = checks.pair_modality_check(table, self.planted["omics_only_pairs"],
                                                   self.planted["image_only_pairs"])
                result["modality_pairs"][estimator] = {
                    "passed_share": float(check["passed"].mean()) if len(check) else None,
                    "classes": check.to_dict(orient="records")}
        if deletion_parts:
            weights = np.array([n for n, _ in deletion_parts], dtype=float)
            curves = sum(w * c for w, (_, c) in zip(weights, deletion_parts)) / weights.sum()
            curves["k"] = curves["k"].round().astype(int)
            writers.write_csv(curves, self.output_dir / "deletion_curves.csv")
            writers.write_deletion_curves(curves, self.output_dir / "deletion_curves.png")
            k = max(len(s["features"]) for s in sets) if sets else int(curves["k"].max())
            row = curves.iloc[(curves["k"] - k).abs().argmin()]
            result["faithfulness"] = {"k": int(row["k"]), "top_drop": float(row["top_drop"]),
                                      "random_drop": float(row["random_drop"]),
                                      "passed": bool(row["top_drop"] > row["random_drop"]),
                                      "curves": curves.to_dict(orient="list")}
        return result
