"""Saliency of a bag-of-patches network: its patch network explained patch by patch, put back together per bag.

:class:`~omicsfusion.networks.PatchBag` with mean pooling gives a bag the mean of its patches' logits, and
each patch is an input of its own (the patient's omics channels stacked on every patch). So, exactly:

* Integrated Gradients of the bag's target logit is each patch's IG divided by N (completeness holds patch
  by patch, hence for the bag: the bag's delta and gap are the patches' means);
* ablating a modality in every patch changes the bag's logit by the mean of the patches' changes;
* a gene's attribution is the mean over the patches of its attribution in each (the sum over its N copies,
  each weighted 1 / N).

The patches are explained for the bag's target (its label, else the bag's prediction), not their own.
Region maps are made per patch and put back where the patch was cut from its tile (meta ``patch_location``
and ``patch_size`` of :class:`~omicsfusion.transforms.TileBag`), at the network's input scale: one map per
patient over the tile, blank where the bag holds no patch (a row of patches when the bag carries no
locations or comes from several files). Max pooling is not a sum over patches and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from monai.data import MetaTensor
from torch import nn

from omicsfusion.interpret import genes, modalities
from omicsfusion.interpret.errors import BagSaliencyError, SaliencyError
from omicsfusion.interpret.explainer import Explanation, FusedBatch, FusedExplainer
from omicsfusion.interpret.targets import check_class_index, class_weights
from omicsfusion.networks import PatchBag

__all__ = ["BagExplainer", "explainer_for", "tile_canvas"]


def _bag_of(network: nn.Module) -> PatchBag | None:
    inner = getattr(network, "module", network)
    return inner if isinstance(inner, PatchBag) else None


def explainer_for(network: nn.Module, *args, **kwargs) -> FusedExplainer:
    """:class:`BagExplainer` for a :class:`~omicsfusion.networks.PatchBag`, else :class:`FusedExplainer`
    (same arguments); what a bundle's ``saliency.json`` builds."""
    return (BagExplainer if _bag_of(network) is not None else FusedExplainer)(network, *args, **kwargs)


def _one(meta: Mapping, key: str, b: int):
    """Sample ``b``'s value of a collated meta key (a batched tensor / array, or a per-sample list)."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):  # default_collate transposes a per-sample list of N names
        return [v[b] if isinstance(v, (list, tuple)) else v for v in value]
    return np.asarray(torch.as_tensor(value)[b] if torch.as_tensor(value).ndim else value)


def tile_canvas(
    patches: np.ndarray,
    locations: np.ndarray | None,
    patch_size: float | None,
    fill: np.ndarray,
    max_px: int = 4096,
) -> np.ndarray:
    """``(N, C, h, w)`` patches -> ``(C, H, W)`` canvas with each patch where it was cut (``locations``: its first
    row and column in the tile, ``patch_size``: its edge there), at the patches' scale; ``fill`` ``(C,)`` elsewhere.

    Without locations, with overlapping ones, or when the canvas would be over ``max_px`` on a side (the
    darkest cells of a whole slide lie far apart), the patches are laid side by side in bag order.
    """
    n, channels, h, w = patches.shape
    if locations is not None and patch_size:
        rows = np.rint(np.asarray(locations, dtype=np.float64)[:, 0] / float(patch_size)).astype(int)
        cols = np.rint(np.asarray(locations, dtype=np.float64)[:, 1] / float(patch_size)).astype(int)
        distinct = len({*zip(rows.tolist(), cols.tolist(), strict=True)}) == n
        if not distinct or min(rows.min(), cols.min()) < 0 or max((rows.max() + 1) * h, (cols.max() + 1) * w) > max_px:
            locations = None
    if locations is None or not patch_size:
        rows, cols = np.zeros(n, dtype=int), np.arange(n)
    canvas = np.empty((channels, (rows.max() + 1) * h, (cols.max() + 1) * w), dtype=np.float64)
    canvas[...] = np.asarray(fill, dtype=np.float64).reshape(channels, 1, 1)
    for k in range(n):
        canvas[:, rows[k] * h : (rows[k] + 1) * h, cols[k] * w : (cols[k] + 1) * w] = patches[k]
    return canvas


class BagExplainer(FusedExplainer):
    """Explain a :class:`~omicsfusion.networks.PatchBag` (mean pooling) bag by bag; see the module.

    Arguments as :class:`FusedExplainer`, with ``network`` the bag network; region methods may be built on
    either (:func:`~omicsfusion.interpret.regions.region_methods` explains the patch network).

    Raises:
        BagSaliencyError: ``network`` is no bag network, or pools by max.
    """

    def __init__(self, network: nn.Module, *args, **kwargs) -> None:
        bag = _bag_of(network)
        if bag is None or bag.pooling != "mean":
            raise BagSaliencyError(
                "BagExplainer explains a PatchBag with mean pooling (the bag's logit is then the mean of its "
                f"patches'), got {type(network).__name__}"
                + ("" if bag is None else f" with pooling {bag.pooling!r}: train with --bag_pooling mean")
            )
        super().__init__(bag.network, *args, **kwargs)
        self.bag = bag.eval()
        self._patch_input: torch.Tensor | None = None

    def __call__(self, batch: Mapping, offset: int = 0, limit: int | None = None) -> Explanation:
        """Explain one collated batch of bags ``(B, N, C, h, w)`` (at most ``limit`` bags)."""
        bags = batch["image"]
        x = torch.as_tensor(bags.as_tensor() if hasattr(bags, "as_tensor") else bags).float()[:limit]
        if x.dim() != 5:
            raise SaliencyError(f"a batch of bags is (B, N, C, H, W); got shape {list(x.shape)}")
        meta = getattr(bags, "meta", {}) or {}
        n_bags, n = x.shape[:2]
        flat = MetaTensor(x.flatten(0, 1), meta={k: meta[k] for k in ("n_image_channels",) if k in meta})
        ids = [str(s) for s in batch.get("sample_id", [f"sample_{offset + i}" for i in range(n_bags)])][:n_bags]
        labels = batch.get("label")
        labels = None if labels is None else torch.as_tensor(labels).reshape(-1)[:n_bags].long()
        if labels is not None:
            check_class_index(labels, self.class_names)
        patches = FusedBatch.from_batch({"image": flat}, len(self.omics_types), self.device)
        px, n_image = patches.x, patches.n_image
        self._patch_input = px[:1]
        with torch.no_grad():
            probs = torch.softmax(self.bag(px.unflatten(0, (n_bags, n))), dim=1).cpu()
        predicted = probs.argmax(dim=1)
        target = self.explained_class(predicted, labels)
        per_patch = target.repeat_interleave(n)
        timings: dict[str, float] = {}
        weights = class_weights(per_patch, len(self.class_names)).to(self.device)
        ig, ablation = self.attribute(px, weights, self.baseline(px, n_image), n_image, timings)

        def bag_mean(values: np.ndarray) -> np.ndarray:
            return np.asarray(values).reshape(n_bags, n, *np.shape(values)[1:]).mean(axis=1)

        bag_ig = modalities.GroupAttribution(
            ig.attr.unflatten(0, (n_bags, n)) / n, bag_mean(ig.delta), bag_mean(ig.gap)
        )
        explained = Explanation(
            self._canvases(px, None, meta, n_bags, n, n_image, ids, labels),
            target,
            predicted,
            probs,
            bag_ig,
            modalities.shares(bag_mean(modalities.group_sums(ig.attr, n_image))),
            modalities.shares(bag_mean(ablation)),
            modalities.group_names(n_image, self.omics_types),
            timings=timings,
        )
        if n_image:
            maps = self.region_maps(px, per_patch, n_image, timings)
            explained.maps = {
                name: self._canvases(px, m, meta, n_bags, n, n_image, ids, labels).x[:, 0].cpu().numpy()
                for name, m in maps.items()
            }
        if self.preprocessor is not None:
            explained.features = {t: bag_mean(v) for t, v in self.feature_attributions(ig.attr, n_image).items()}
            explained.grid = bag_mean(genes.grid_maps(ig.attr, n_image, self.preprocessor, self.align))
        return explained

    def _canvases(
        self,
        px: torch.Tensor,
        maps: np.ndarray | None,
        meta: Mapping,
        n_bags: int,
        n: int,
        n_image: int,
        ids: Sequence[str],
        labels: torch.Tensor | None,
    ) -> FusedBatch:
        """Per bag, its patches' image channels (``maps is None``) or region maps on the tile: a batch of canvases."""
        images = px[:, :n_image].detach().cpu().double().numpy().reshape(n_bags, n, n_image, *px.shape[2:])
        canvases, fills = [], []
        for b in range(n_bags):
            sources = _one(meta, "patch_source", b)
            one_file = sources is None or len({s for s in sources if s}) <= 1
            locations = _one(meta, "patch_location", b) if one_file else None
            size = _one(meta, "patch_size", b)
            scale = None if size is None else float(np.asarray(size).reshape(-1)[0])
            if maps is None:
                fills.append(images[b].max(axis=(0, 2, 3)))  # blank tile: the brightest value of each channel
                canvases.append(tile_canvas(images[b], locations, scale, fills[-1]))
            else:
                one = np.asarray(maps, dtype=np.float64).reshape(n_bags, n, 1, *px.shape[2:])[b]
                fills.append(np.zeros(1))
                canvases.append(tile_canvas(one, locations, scale, fills[-1]))
        # tiles of other extents in one batch: each canvas padded (blank) to the largest
        height, width = max(c.shape[1] for c in canvases), max(c.shape[2] for c in canvases)
        padded = np.empty((n_bags, canvases[0].shape[0], height, width))
        for b, canvas in enumerate(canvases):
            padded[b] = fills[b].reshape(-1, 1, 1)
            padded[b, :, : canvas.shape[1], : canvas.shape[2]] = canvas
        x = torch.from_numpy(padded)
        eye = [np.eye(4)] * n_bags
        return FusedBatch(x, n_image if maps is None else 1, list(ids), labels, eye)

    def settings(self, x: torch.Tensor) -> dict:
        """As :meth:`FusedExplainer.settings`, on a patch of the last batch (GradCAM's layer is the patch network's)."""
        return {**super().settings(self._patch_input if self._patch_input is not None else x), "bag_patches": True}
