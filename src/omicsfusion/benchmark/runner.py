"""Run every model on identical folds and collect per-fold metrics.

Per seed and split: the fills of empty cells (``missing_values``), the normaliser
and every layout are fitted on the training samples only (at most ``fit_samples`` of
them, a seeded subsample, which bounds the layout fit and the tabular models on very
large tables); the tabular models read the filled, normalised features, the CNN models
read the same features as images, rendered from the table a batch at a time. One
progress bar ticks once per (seed, split, model).
"""

from __future__ import annotations

import functools
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from omicsfusion.benchmark import images as imaging
from omicsfusion.benchmark.baselines import TABULAR_MODELS, make_tabular
from omicsfusion.benchmark.errors import BenchmarkError
from omicsfusion.benchmark.evaluate import (
    aggregate_runs,
    fold_metrics,
    paired_difference,
    predefined_split,
    stratified_folds,
)
from omicsfusion.benchmark.inputs import BenchmarkData
from omicsfusion.benchmark.models import CNNClassifier
from omicsfusion.benchmark.peers import DeepInsightPeer, GenomapPeer, peer_problem
from omicsfusion.data import OmicsTable
from omicsfusion.preprocessing import FeatureNormalizer, OmicsPreprocessor
from omicsfusion.preprocessing.missing import MissingValues, fit_imputers
from omicsfusion.preprocessing.rendering import empty_cells, held_ids, normalized_rows

#: test samples a tabular model predicts at once (their feature rows are built per batch)
_TEST_BATCH = 8192
CNN_MODELS = ("ot_cnn", "ot_cnn_shared", "random_layout_cnn", "deepinsight_cnn", "genomap_cnn")
ALL_MODELS = CNN_MODELS + TABULAR_MODELS


@dataclass
class BenchmarkResult:
    """Per-model summaries, per-fold metrics and what was run.

    Attributes:
        summary: model -> metrics, mean ± sd over seeds (see :func:`evaluate.aggregate_runs`).
        per_run: model -> one metric dict per (seed, fold), with ``seed`` and ``fold``.
        paired: ``"ot_cnn - <model>"`` -> mean ± sd of the paired differences (same seeds and folds)
            against the random-layout control and the best tabular model.
        meta: data shape, classes, split, seeds, layouts used, skipped models, notes.
    """

    summary: dict[str, dict[str, Any]]
    per_run: dict[str, list[dict[str, float]]]
    paired: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """``{model: {"accuracy": ..., "accuracy_sd": ..., ...}, "_paired": {...}, "_meta": {...}}``."""
        out: dict[str, Any] = {name: dict(values) for name, values in self.summary.items()}
        out["_paired"] = self.paired
        out["_meta"] = self.meta
        return out


def _select_models(models: Sequence[str] | None, n_types: int, grid_dims: int) -> tuple[list[str], dict[str, str]]:
    """Requested models that can run here, and the reason each other one is skipped."""
    wanted = list(ALL_MODELS if models is None else models)
    unknown = [m for m in wanted if m not in ALL_MODELS]
    if unknown:
        raise BenchmarkError(f"unknown model(s) {unknown}; choose from {', '.join(ALL_MODELS)}")
    skipped: dict[str, str] = {}
    if "ot_cnn_shared" in wanted and n_types < 2:
        skipped["ot_cnn_shared"] = "one omics type: the shared layout is the per-type layout"
    if "genomap_cnn" in wanted and (problem := peer_problem("genomap")):
        skipped["genomap_cnn"] = problem
    for peer in ("genomap_cnn", "deepinsight_cnn"):
        if peer in wanted and peer not in skipped and grid_dims != 2:
            skipped[peer] = "peer layouts are 2-D only"
    return [m for m in wanted if m not in skipped], skipped


class _Fold:
    """One split: the training/test ids and lazily fitted image makers shared by the models."""

    def __init__(
        self,
        table: OmicsTable,
        data: BenchmarkData,
        train: np.ndarray,
        test: np.ndarray,
        normalization: str | Mapping[str, str],
        layout_params: Mapping[str, Any],
        seed: int,
        imputation: Mapping[str, Any],
        min_samples_per_feature: int | None = None,
        fit_samples: int | None = None,
    ) -> None:
        self.table = table
        self.missing = data.missing
        self.train_ids, self.test_ids = list(data.sample_ids[train]), list(data.sample_ids[test])
        self.y_train, self.y_test = data.y[train], data.y[test]
        fit = np.arange(len(train))
        if fit_samples is not None and len(train) > fit_samples:
            fit = np.sort(np.random.default_rng(seed).choice(len(train), int(fit_samples), replace=False))
        self.fit_ids, self.y_fit = [self.train_ids[i] for i in fit], self.y_train[fit]
        self.normalization = normalization
        self.min_samples_per_feature = min_samples_per_feature
        self.layout_params = dict(layout_params)
        self.seed = seed
        # OmicsPreprocessor's missing_values, fill_value, max_missing_fraction, missing_indicator
        self.imputation = dict(imputation)
        self._imagers: dict[str, imaging.Imager] = {}
        self._pre: dict[str, tuple[OmicsPreprocessor, float]] = {}

    @functools.cached_property
    def imputers(self) -> dict[str, MissingValues]:
        """Per type the fills of empty cells, fitted on the fitting rows it holds (as ``OmicsPreprocessor``'s)."""
        held = {t: held_ids(self.table, t, self.fit_ids, "mask") for t in self.table.types}
        rows = {t: self.table.rows(t, held[t]) for t in self.table.types}
        features = {t: self.table.features(t) for t in self.table.types}
        params = self.imputation
        return fit_imputers(
            rows,
            held,
            features,
            self.fit_ids,
            strategy=params["missing_values"],
            fill_value=params["fill_value"],
            max_missing_fraction=params["max_missing_fraction"],
        )

    @functools.cached_property
    def normalizers(self) -> dict[str, tuple[FeatureNormalizer, MissingValues]]:
        """Per type, the tabular models' normaliser fitted on the filled fitting rows, and the fills it aligns to."""
        out = {}
        for t, imputer in self.imputers.items():
            held = held_ids(self.table, t, self.fit_ids, "mask")
            method = self.normalization[t] if isinstance(self.normalization, Mapping) else self.normalization
            rows = imputer.transform(self.table.rows(t, held), sample_ids=held, name=t)
            norm = FeatureNormalizer(method=method).fit(rows, feature_names=imputer.feature_names_)
            out[t] = (norm, imputer.restrict(norm.feature_names_))  # over the kept features, as normalized_rows aligns
        return out

    def tabular(self, ids: Sequence[str]) -> np.ndarray:
        """Feature matrix of ``ids``: every type filled and normalised, side by side (float32).

        Empty cells get the fold's training fills (:attr:`imputers`); a sample without a row of
        some type gets zeros there (mean imputation under z-scoring). With ``missing_indicator``
        the masks of the CNNs' mask channels follow as columns (1 where a cell was empty, all
        ones for an absent type), as ``SimpleImputer(add_indicator=True)`` appends them.
        """
        parts = []
        for t, (norm, kept) in self.normalizers.items():
            parts.append(normalized_rows(self.table, t, ids, norm, missing="mask", imputer=kept))
        if self.imputation.get("missing_indicator"):  # the mask columns after every type's values
            for t, (norm, _) in self.normalizers.items():
                parts.append(empty_cells(self.table, t, ids, norm.feature_names_, missing="mask"))
        return np.concatenate(parts, axis=1)

    def preprocessor(self, key: str) -> tuple[OmicsPreprocessor, float]:
        """Fitted OmicsPreprocessor: "ot" (per type), "shared", or "deepinsight" (its baseline method)."""
        if key not in self._pre:
            params = dict(self.layout_params)
            if key == "deepinsight":
                params.update(method="deepinsight", grid=self.preprocessor("ot")[0].grid_)
            self._pre[key] = imaging.fit_preprocessor(
                self.table,
                self.fit_ids,
                self.normalization,
                params,
                shared=key == "shared",
                missing=self.missing,
                **self.imputation,
                min_samples_per_feature=self.min_samples_per_feature,
            )
        return self._pre[key]

    def imager(self, model: str) -> imaging.Imager:
        if model not in self._imagers:
            self._imagers[model] = self._fit_imager(model)
        return self._imagers[model]

    def _fit_imager(self, model: str) -> imaging.Imager:
        method = self.layout_params.get("method", "auto")
        ot_text = f"OmicsPreprocessor + OTLayout(method={method!r}) per omics type"
        if model == "ot_cnn":
            return imaging.from_preprocessor(*self._with("ot"), ot_text, self.preprocessor("ot")[1])
        if model == "ot_cnn_shared":
            return imaging.from_preprocessor(
                *self._with("shared"),
                f"OmicsPreprocessor(shared=True), method={method!r}",
                self.preprocessor("shared")[1],
            )
        pre = self.preprocessor("ot")[0]
        if model == "random_layout_cnn":
            return imaging.shuffled(pre, self.table, ot_text, self.seed, self.missing)
        grid = tuple(pre.grid_)
        if model == "deepinsight_cnn":
            problem = peer_problem("pyDeepInsight")
            if problem is None:
                return imaging.fit_peer(
                    pre,
                    self.table,
                    self.fit_ids,
                    lambda: DeepInsightPeer(grid, self.seed),
                    DeepInsightPeer.name,
                    self.missing,
                )
            return imaging.from_preprocessor(
                *self._with("deepinsight"),
                f"stand-in: omicsfusion OTLayout(method='deepinsight') (t-SNE + binning), because {problem}",
                self.preprocessor("deepinsight")[1],
            )
        if model == "genomap_cnn":
            return imaging.fit_peer(
                pre, self.table, self.fit_ids, lambda: GenomapPeer(grid), GenomapPeer.name, self.missing
            )
        raise BenchmarkError(f"{model!r} is not a CNN model")

    def _with(self, key: str) -> tuple[OmicsPreprocessor, OmicsTable]:
        return self.preprocessor(key)[0], self.table


def _full_proba(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all classes when a model saw only some in training (predefined splits)."""
    out = np.zeros((proba.shape[0], n_classes))
    out[:, seen] = proba
    return out


def _fit_predict(
    model: str,
    fold: _Fold,
    n_classes: int,
    seed: int,
    threads: int,
    cnn_kwargs: Mapping[str, Any],
    fitted: dict[str, list[tuple[str, tuple[int, ...], float]]],
) -> tuple[np.ndarray, float]:
    """Fit one model on the fold's training samples: test probabilities and fit seconds.

    A CNN's layout description, grid and epochs go to ``fitted[model]`` for the report.
    """
    if model in TABULAR_MODELS:
        x_fit = fold.tabular(fold.fit_ids)
        t0 = time.perf_counter()
        clf = make_tabular(model, seed, threads).fit(x_fit, fold.y_fit)
        fit_s = time.perf_counter() - t0
        del x_fit
        test = fold.test_ids
        proba = np.concatenate(
            [clf.predict_proba(fold.tabular(test[i : i + _TEST_BATCH])) for i in range(0, len(test), _TEST_BATCH)]
        )
        return _full_proba(proba, clf.classes_, n_classes), fit_s
    imager = fold.imager(model)  # its own fit time is imager.fit_s
    t0 = time.perf_counter()
    cnn = CNNClassifier(seed=seed, threads=threads, **cnn_kwargs).fit(
        imaging.RenderedImages(imager, fold.train_ids), fold.y_train, n_classes
    )
    fit_s = imager.fit_s + time.perf_counter() - t0
    fitted[model].append((imager.description, imager.grid, cnn.epochs_))
    return cnn.predict_proba(imaging.RenderedImages(imager, fold.test_ids)), fit_s


def _paired(per_run: Mapping[str, list[dict[str, float]]], summary: Mapping[str, Mapping]) -> dict[str, dict]:
    """ot_cnn against the random-layout control and against the best tabular model (by mean accuracy)."""
    if "ot_cnn" not in per_run:
        return {}
    others = [m for m in ("random_layout_cnn",) if m in per_run]
    tabular = [m for m in TABULAR_MODELS if m in per_run]
    if tabular:
        others.append(max(tabular, key=lambda m: summary[m]["accuracy"]))
    return {
        f"ot_cnn - {m}": {
            **paired_difference(per_run["ot_cnn"], per_run[m]),
            "against": m,
            "best_baseline": m in tabular,
        }
        for m in others
    }


def run_benchmark(
    data: BenchmarkData,
    *,
    folds: int = 5,
    seeds: Sequence[int] = (0,),
    split: tuple[Sequence[str], Sequence[str]] | None = None,
    models: Sequence[str] | None = None,
    normalization: str | Mapping[str, str] = "zscore",
    min_samples_per_feature: int | None = None,
    layout_params: Mapping[str, Any] | None = None,
    cnn_params: Mapping[str, Any] | None = None,
    threads: int = 2,
    progress: bool = True,
    missing_values: str = "raise",
    fill_value: float = 0.0,
    max_missing_fraction: float = 0.5,
    fit_samples: int | None = None,
    missing_indicator: bool = False,
) -> BenchmarkResult:
    """Compare the OT-CNN with the layout controls, peer layouts and tabular baselines.

    Args:
        data: joined tables and labels (:func:`omicsfusion.benchmark.inputs.join_inputs`).
        folds: stratified folds (ignored when ``split`` is given).
        seeds: each seed draws its own folds, layouts, shuffle control and model weights; the
            summary is mean ± sd over seeds (over folds when there is one seed).
        split: (train ids, test ids) to use one predefined split instead of folds.
        models: subset of :data:`ALL_MODELS`; default all that can run.
        normalization: FeatureNormalizer method fitted per training fold, or a mapping type -> method.
        min_samples_per_feature: the image models leave out features non-zero in fewer training
            samples (``OmicsPreprocessor``); the tabular models keep every feature.
        layout_params: extra OTLayout parameters (e.g. ``method``, ``grid``).
        cnn_params: overrides of :class:`CNNClassifier` fields (e.g. ``max_epochs``).
        threads: CPU threads for torch and the random forest.
        progress: show a tqdm bar over (seed, split, model).
        missing_values, fill_value, max_missing_fraction: the
            :class:`~omicsfusion.preprocessing.missing.MissingValues` policy for empty cells, fitted
            per fold on its training samples and used by every model (CNNs and tabular); what each
            fold filled and dropped goes to ``meta["missing_values"]``.
        fit_samples: fit the normalisers, layouts and tabular models on at most this many training
            samples of each split (a seeded subsample; ``None``: all); the CNNs train on all of them.
        missing_indicator: every model also sees where cells were empty: the OT and shared OT
            CNNs a mask channel per type through their layouts, the random-layout control through
            its shuffled layout, the tabular models the mask columns (the peer layouts do not).

    Raises:
        BenchmarkError: unknown models, unusable labels or split, no seed.
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise BenchmarkError(f"seeds must be distinct and at least one, got {seeds}")
    params = dict(layout_params or {})
    if params.get("grid") == "auto":
        del params["grid"]  # let the widest omics type choose the grid the others reuse
    grid = params.get("grid")
    grid_dims = 2 if grid is None else len(grid.lower().split("x") if isinstance(grid, str) else grid)
    chosen, skipped = _select_models(models, len(data.tables), grid_dims)
    if not chosen:
        raise BenchmarkError(f"no model left to run; skipped: {skipped}")
    splits = _splits_per_seed(data, seeds, folds, split)
    n_classes = len(data.classes)
    # a type some samples lack: train the CNNs with whole channels masked at random, as they are at test time
    cnn_kwargs = {"channel_dropout": 0.3 if data.missing == "mask" else 0.0, **(cnn_params or {})}
    per_run: dict[str, list[dict[str, float]]] = {m: [] for m in chosen}
    fitted: dict[str, list[tuple[str, tuple[int, ...], float]]] = {m: [] for m in chosen if m in CNN_MODELS}
    started = time.perf_counter()
    table = OmicsTable(data.tables)
    imputation = {
        "missing_values": missing_values,
        "fill_value": fill_value,
        "max_missing_fraction": max_missing_fraction,
        "missing_indicator": bool(missing_indicator),
    }
    fold_fills: list[dict[str, Any]] = []
    total = sum(len(s) for s in splits.values()) * len(chosen)
    with tqdm(total=total, desc="benchmark", unit="fit", disable=not progress) as bar:
        for seed in seeds:
            for fold_index, (train, test) in enumerate(splits[seed]):
                fold = _Fold(
                    table,
                    data,
                    train,
                    test,
                    normalization,
                    {"random_state": seed, **params},
                    seed,
                    imputation,
                    min_samples_per_feature,
                    fit_samples,
                )
                if data.empty_cells is None or any(c["empty_cells"] for c in data.empty_cells.values()):
                    fold_fills.append({"seed": seed, "fold": fold_index, "tables": _fold_fills(fold)})
                for model in chosen:
                    bar.set_postfix_str(f"seed {seed} {model}")
                    proba, fit_s = _fit_predict(model, fold, n_classes, seed, threads, cnn_kwargs, fitted)
                    run = fold_metrics(fold.y_test, proba, fit_s)
                    per_run[model].append({**run, "seed": seed, "fold": fold_index})
                    bar.update()
    summary = _summary(per_run, fitted)
    meta = _run_meta(data, split, folds, seeds, normalization, params, cnn_kwargs, skipped, threads, started)
    meta["missing_values"] = {**imputation, "tables": data.empty_cells, "folds": fold_fills}
    meta["min_samples_per_feature"] = min_samples_per_feature
    subsampled = fit_samples is not None and any(len(tr) > fit_samples for s in splits.values() for tr, _ in s)
    meta["fit_samples"] = fit_samples if subsampled else None  # None: every fit saw every training sample
    return BenchmarkResult(summary, per_run, _paired(per_run, summary), meta)


def _fold_fills(fold: _Fold) -> dict[str, dict[str, Any]]:
    """Per type what the fold's training fills filled and dropped (the cell counts are on its training rows)."""
    keys = ("empty_cells", "cells_filled", "features_dropped", "features_dropped_first", "most_affected_features")
    return {t: {k: imputer.report_[k] for k in keys} for t, imputer in fold.imputers.items()}


def _splits_per_seed(
    data: BenchmarkData, seeds: list[int], folds: int, split: tuple[Sequence[str], Sequence[str]] | None
) -> dict[int, list]:
    """Per seed, its (train, test) index pairs: the predefined split, or its own stratified folds (all checked)."""
    splits = {
        seed: predefined_split(list(data.sample_ids), *split)
        if split is not None
        else stratified_folds(data.y, folds, seed, list(data.classes))
        for seed in seeds
    }
    for seed, folds_of_seed in splits.items():
        for train, _ in folds_of_seed:
            if len(np.unique(data.y[train])) < 2:
                raise BenchmarkError(
                    f"the training samples of a fold (seed {seed}) hold one class only "
                    f"({data.classes[data.y[train][0]]!r})"
                )
    return splits


def _summary(
    per_run: Mapping[str, list[dict[str, float]]], fitted: Mapping[str, list[tuple[str, tuple[int, ...], float]]]
) -> dict[str, dict]:
    """Mean ± sd per model; a CNN also gets its (last) layout, grid and mean epochs run."""
    summary = {m: aggregate_runs(runs) for m, runs in per_run.items()}
    for model, fits in fitted.items():
        summary[model]["layout"] = fits[-1][0]
        summary[model]["grid"] = list(fits[-1][1])
        summary[model]["epochs_mean"] = float(np.mean([epochs for _, _, epochs in fits]))
    return summary


def _run_meta(
    data: BenchmarkData,
    split,
    folds: int,
    seeds: list[int],
    normalization: str | Mapping[str, str],
    params: Mapping[str, Any],
    cnn_kwargs: Mapping[str, Any],
    skipped,
    threads: int,
    started: float,
) -> dict[str, Any]:
    """What the run was: data shape, classes, split, settings, machine and date, for the report."""
    counts = np.bincount(data.y, minlength=len(data.classes))
    return {
        "n_samples": len(data.y),
        "n_features": {t: int(f.shape[1]) for t, f in data.tables.items()},
        "classes": {str(c): int(n) for c, n in zip(data.classes, counts, strict=False)},
        "split": "predefined train/test ids" if split is not None else f"{folds}-fold stratified",
        "seeds": seeds,
        "normalization": normalization if isinstance(normalization, str) else dict(normalization),
        "layout_params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "cnn_params": cnn_kwargs,
        "missing_types": data.missing,
        "skipped": skipped,
        "notes": list(data.notes),
        "threads": threads,
        "total_s": time.perf_counter() - started,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"python {platform.python_version()}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
