"""The planted-truth checks of a saliency run on a phantom, fed batch by batch and summarised at the end.

Used only when the dataset holds a phantom's ground truth (:class:`~omicsfusion.interpret.truth.PlantedTruth`).
Per batch: the pointing game of every region method against the sample's
mask, the pair contrasts (:class:`~omicsfusion.interpret.contrast.PairContrast`)
and the gene-deletion curves. At the end, the four checks of
:mod:`~omicsfusion.interpret.checks` as ``checks.json`` holds them, and the
tables behind them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from omicsfusion.interpret import checks
from omicsfusion.interpret.contrast import PairContrast
from omicsfusion.interpret.errors import SaliencyError
from omicsfusion.interpret.explainer import Explanation, FusedExplainer
from omicsfusion.interpret.truth import PlantedTruth
from omicsfusion.transforms import OmicsReader

__all__ = ["PlantedChecks"]


class PlantedChecks:
    """Pointing game, gene recovery, modality attribution of the planted pairs and faithfulness.

    Args:
        truth: what the phantom planted.
        explainer: the run's explainer.
        omics_tables: omics type -> table file; enables the gene-deletion curves.
        deletion_ks: numbers of genes deleted in the faithfulness curves.
        contrast_references: partner-class samples used as references of each pair contrast.
        seed: seed of the random deletions and random rankings.
    """

    def __init__(
        self,
        truth: PlantedTruth,
        explainer: FusedExplainer,
        omics_tables: Mapping[str, str] | None = None,
        deletion_ks: Sequence[int] = (1, 2, 5, 10, 20, 50, 100),
        contrast_references: int = 2,
        seed: int = 0,
    ) -> None:
        self.truth, self.explainer = truth, explainer
        self.contrast = PairContrast(explainer, truth.partners(explainer.class_names), contrast_references)
        self.deletion_ks = tuple(int(k) for k in deletion_ks)
        self.seed = int(seed)
        pre, tables = explainer.preprocessor, dict(omics_tables or {})
        channels = explainer.omics_types  # a mask channel (missing indicator) is read with its type
        types = list(dict.fromkeys(channels if pre is None else [pre.channel_type(c) for c in channels]))
        self.reader = None
        if tables and types:
            missing = [t for t in types if t not in tables]
            if missing:
                raise SaliencyError(f"omics_tables has no table for {missing} ({sorted(tables)})")
            self.reader = OmicsReader({t: tables[t] for t in types}, explainer.preprocessor)
        self.hits: dict[str, list[tuple[str, bool]]] = defaultdict(list)  # method -> (true class, hit)
        self.deletion_parts: list[tuple[int, pd.DataFrame]] = []
        self.contrast_rows: list[dict] = []
        self.contrast_genes: dict[str, list[pd.DataFrame]] = defaultdict(list)

    def observe(self, explained: Explanation, rows: list[dict]) -> dict[str, float]:
        """Score one batch; adds ``pointing_<method>`` to the sample ``rows``; returns the timings."""
        timings = {}
        self._point(explained, rows)
        if self.reader is not None and self.explainer.preprocessor is not None:
            t = time.perf_counter()
            batch, e = explained.batch, self.explainer
            curves = checks.deletion_curves(
                e.network,
                batch.x,
                explained.target,
                self._vectors(batch.ids),
                explained.features,
                e.preprocessor,
                e.omics_types,
                e.align,
                batch.n_image,
                self.deletion_ks,
                seed=self.seed,
                means=e.omics_means,
            )
            self.deletion_parts.append((len(batch.x), curves))
            timings["deletion_curves"] = time.perf_counter() - t
        if self.contrast.partner and explained.batch.n_image and self.explainer.omics_types:
            t = time.perf_counter()
            contrast_rows, per_type = self.contrast(explained)
            self.contrast_rows += contrast_rows
            for omics_type, frame in per_type.items():
                self.contrast_genes[omics_type].append(frame)
            timings["pair_contrast"] = time.perf_counter() - t
        return timings

    def _vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Omics type -> ``(B, F)`` normalised feature vectors of the samples, read from the omics tables."""
        rows = [self.reader.get_data(self.reader.read(i))[0] for i in ids]
        return {t: np.stack([r[t] for r in rows]) for t in self.explainer.omics_types}

    def _point(self, explained: Explanation, rows: list[dict]) -> None:
        """Pointing game of every region map of the batch whose sample has a planted-region mask."""
        if not explained.maps:
            return
        batch, names = explained.batch, self.explainer.class_names
        for b, (sample_id, row) in enumerate(zip(batch.ids, rows, strict=False)):
            mask = self.truth.mask(sample_id, tuple(batch.x.shape[2:]), batch.affines[b])
            if mask is None:
                continue
            for method, maps in explained.maps.items():
                hit = bool(checks.pointing_hits(maps[b][None], mask[None])[0])
                row[f"pointing_{method}"] = hit
                if batch.labels is not None and int(explained.predicted[b]) == int(batch.labels[b]):
                    self.hits[method].append((names[int(batch.labels[b])], hit))

    def results(
        self, per_sample: Mapping[str, np.ndarray], targets: np.ndarray
    ) -> tuple[dict, dict[str, pd.DataFrame]]:
        """``checks.json``'s content and its tables (``pair_contrast_shares``, ``deletion_curves``, when computed).

        Args:
            per_sample: omics type -> ``(N, F)`` feature attributions of the target logit, all samples.
            targets: ``(N,)`` explained class of each sample.
        """
        result: dict = {}
        tables: dict[str, pd.DataFrame] = {}
        if self.hits:
            result["pointing_game"] = {method: self._pointing(pairs) for method, pairs in self.hits.items()}
        sets = [s for s in self.truth.feature_sets if s["omics"] in per_sample]
        recovery = self._gene_recovery(sets, per_sample, targets)
        if recovery:
            result["gene_recovery"] = recovery
            pairs = checks.pair_gene_check(
                {name: v["precision_at_k"] for name, v in recovery.items() if "precision_at_k" in v},
                sets,
                self.truth.omics_only_pairs,
            )
            if pairs:
                result["gene_recovery_pairs"] = pairs
        if self.contrast_rows:
            tables["pair_contrast_shares"] = pd.DataFrame(self.contrast_rows)
            result["modality_pairs"] = self._modality_pairs(tables["pair_contrast_shares"])
        if self.deletion_parts:
            weights = np.array([n for n, _ in self.deletion_parts], dtype=float)
            curves = sum(w * c for w, (_, c) in zip(weights, self.deletion_parts, strict=False)) / weights.sum()
            curves["k"] = curves["k"].round().astype(int)
            tables["deletion_curves"] = curves
            result["faithfulness"] = self._faithfulness(curves, sets)
        return result, tables

    @staticmethod
    def _pointing(pairs: list[tuple[str, bool]]) -> dict:
        frame = pd.DataFrame(pairs, columns=["class", "hit"])
        return {
            "hit_rate": float(frame["hit"].mean()),
            "n_correct": len(frame),
            "target": checks.POINTING_TARGET,
            "passed": bool(frame["hit"].mean() >= checks.POINTING_TARGET),
            "per_class": {c: float(v) for c, v in frame.groupby("class")["hit"].mean().items()},
        }

    def _ranked(self, omics_type: str, importance: np.ndarray) -> list[str]:
        """Feature names of ``omics_type`` by decreasing ``importance`` (ties keep layout order)."""
        names = self.explainer.preprocessor.feature_names(omics_type)
        return [str(n) for n in names[np.argsort(-importance, kind="stable")]]

    def _gene_recovery(self, sets: list[dict], per_sample: Mapping[str, np.ndarray], targets: np.ndarray) -> dict:
        """Precision@k per planted set over its carrier classes, and on the pair contrast where one class carries it."""
        class_names = self.explainer.class_names
        recovery = {}
        for planted in sets:
            omics_type, features = planted["omics"], planted["features"]
            classes = [class_names.index(c) for c in planted["classes"] or class_names if c in class_names]
            rows = np.isin(targets, classes)
            if not rows.any():
                continue
            ranked = self._ranked(omics_type, np.abs(per_sample[omics_type][rows]).mean(axis=0))
            recovery[planted["name"]] = {
                "k": len(features),
                "classes": [class_names[c] for c in classes],
                "precision_at_k": checks.precision_at_k(ranked, features),
                "random_ranking_precision_at_k": checks.random_ranking_precision(
                    self.explainer.preprocessor.feature_names(omics_type), features, seed=self.seed
                ),
                "top_k": ranked[: len(features)],
            }
        for feature_set, pair, frame in self._contrast_gene_tables():
            ranked = self._ranked(feature_set["omics"], frame.drop(columns="_class").to_numpy().mean(axis=0))
            recovery.setdefault(feature_set["name"], {"k": len(feature_set["features"])})["pair_contrast"] = {
                "pair": pair,
                "n": len(frame),
                "precision_at_k": checks.precision_at_k(ranked, feature_set["features"]),
                "top_k": ranked[: len(feature_set["features"])],
            }
        return recovery

    def _contrast_gene_tables(self):
        """``(feature set, "a/b", table)`` for each omics-only pair of which exactly one class carries the set.

        There the planted genes are the only evidence that separates the two classes, so the pair
        contrast's gene ranking must find them whatever else the model uses for the class as a whole.
        """
        for a, b in self.truth.omics_only_pairs:
            for feature_set in self.truth.feature_sets:
                frames = self.contrast_genes.get(feature_set["omics"])
                carriers = set(feature_set["classes"])
                if not frames or (a in carriers) == (b in carriers):
                    continue
                frame = pd.concat(frames, ignore_index=True)
                frame = frame[frame["_class"].isin([a, b])]
                if len(frame):
                    yield feature_set, f"{a}/{b}", frame

    def _modality_pairs(self, contrast: pd.DataFrame) -> dict:
        result = {}
        for estimator, part in contrast.groupby("estimator"):
            table = part.groupby("class")[["image_share", "omics_share"]].mean()
            check = checks.pair_modality_check(table, self.truth.omics_only_pairs, self.truth.image_only_pairs)
            result[estimator] = {
                "passed_share": float(check["passed"].mean()) if len(check) else None,
                "classes": check.to_dict(orient="records"),
            }
        return result

    @staticmethod
    def _faithfulness(curves: pd.DataFrame, sets: list[dict]) -> dict:
        k = max(len(s["features"]) for s in sets) if sets else int(curves["k"].max())
        row = curves.iloc[(curves["k"] - k).abs().argmin()]
        return {
            "k": int(row["k"]),
            "top_drop": float(row["top_drop"]),
            "random_drop": float(row["random_drop"]),
            "passed": bool(row["top_drop"] > row["random_drop"]),
            "curves": curves.to_dict(orient="list"),
        }
