"""Pair contrasts of a phantom: image vs omics shares of ``logit[class] - logit[partner]``, against partner samples.

The reference input of each sample is a sample of its partner class (the other
class of its planted pair; up to ``n_references`` of them, seen in this or
earlier batches; attributions are averaged over them, as in expected
gradients). Swapping a modality to the partner's then measures how much of
the pair's difference that modality carries: image and omics of the two
classes of an omics-only pair share one distribution except for the planted
genes, so the image part of the path contributes only what the network reads
from per-sample noise. Samples with no partner sample seen yet are skipped.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import torch

from omicsfusion.interpret import modalities
from omicsfusion.interpret.errors import SaliencyError
from omicsfusion.interpret.explainer import Explanation, FusedExplainer
from omicsfusion.interpret.targets import contrast_weights

__all__ = ["PairContrast"]


class PairContrast:
    """Pair-contrast shares and gene attributions, batch by batch, with a pool of partner-class references.

    Args:
        explainer: the run's explainer (network, attribution settings, layout).
        partner: class index -> the other class of its planted pair.
        n_references: partner-class samples used as references of each sample.
    """

    def __init__(self, explainer: FusedExplainer, partner: dict[int, int], n_references: int = 2) -> None:
        if int(n_references) < 1:
            raise SaliencyError(f"contrast_references must be >= 1, got {n_references}")
        self.explainer = explainer
        self.partner = dict(partner)
        self.n_references = int(n_references)
        self.references: dict[int, list[torch.Tensor]] = defaultdict(list)

    def __call__(self, explained: Explanation) -> tuple[list[dict], dict[str, pd.DataFrame]]:
        """Rows of ``pair_contrast_shares.csv`` and, per omics type, ``|attribution|`` per sample and reference.

        The batch's samples join the reference pool first (up to ``n_references`` per class).
        """
        x, target, names = explained.batch.x, explained.target, self.explainer.class_names
        for b, k in enumerate(target.tolist()):
            if len(self.references[k]) < self.n_references:
                self.references[k].append(x[b].detach().clone())
        pairs = [
            (b, ref)
            for b, k in enumerate(target.tolist())
            if k in self.partner
            for ref in self.references[self.partner[k]]
        ]
        if not pairs:
            return [], {}
        n_image = explained.batch.n_image
        rows = torch.tensor([b for b, _ in pairs], dtype=torch.long, device=x.device)
        own = target[rows.cpu()]
        other = torch.tensor([self.partner[int(k)] for k in own.tolist()])
        weights = contrast_weights(own, other, len(names)).to(self.explainer.device)
        ig, ablation = self.explainer.attribute(
            x[rows], weights, torch.stack([r for _, r in pairs]).to(x.device), n_image
        )
        contributions = {"integrated_gradients": modalities.group_sums(ig.attr, n_image), "feature_ablation": ablation}
        out = []
        sample_rows = rows.cpu().numpy()
        for b in sorted(set(sample_rows.tolist())):
            mine = sample_rows == b
            for estimator, values in contributions.items():
                share = modalities.shares(values[mine].mean(axis=0, keepdims=True))[0]
                out.append(
                    {
                        "sample_id": explained.batch.ids[b],
                        "class": names[int(target[b])],
                        "versus": names[self.partner[int(target[b])]],
                        "estimator": estimator,
                        "n_references": int(mine.sum()),
                        "image_share": float(share[0]),
                        "omics_share": float(share[1:].sum()),
                    }
                )
        classes = [names[int(k)] for k in own.tolist()]
        frames = {
            t: pd.DataFrame(np.abs(v)).assign(_class=classes)
            for t, v in self.explainer.feature_attributions(ig.attr, n_image).items()
        }
        return out, frames
