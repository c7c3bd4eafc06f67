"""Folds, per-fold metrics and their aggregation.

Every model sees exactly the same outer splits, so differences between models
are differences between models and not between folds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from omicsfusion.benchmark.errors import BenchmarkError

METRICS = ("accuracy", "macro_f1", "weighted_f1", "auc", "fit_s")


def check_classes(labels: np.ndarray, n_folds: int, class_names: Sequence[str] | None = None) -> None:
    """Refuse labels that cannot be split into ``n_folds`` stratified folds.

    Args:
        labels: class per sample (codes or names).
        n_folds: outer folds wanted.
        class_names: names of the codes in ``labels``, for the message.

    Raises:
        BenchmarkError: a single class, or a class with fewer samples than folds
            (the message names the class and suggests a fold count that works).
    """
    codes, counts = np.unique(labels, return_counts=True)
    classes = [str(class_names[c]) if class_names is not None else str(c) for c in codes]
    if len(classes) < 2:
        raise BenchmarkError(
            f"label column has one class only ({classes[0]!r} x {counts[0]}); a classifier needs at least two"
            if len(classes)
            else "no labelled samples left"
        )
    small = [(c, n) for c, n in zip(classes, counts, strict=False) if n < n_folds]
    if small:
        named = ", ".join(f"{c!r} ({n} samples)" for c, n in small)
        smallest = int(counts.min())
        hint = f"use --folds {smallest}" if smallest >= 2 else "drop that class from the labels"
        raise BenchmarkError(
            f"class(es) with fewer samples than the {n_folds} folds: {named}; {hint} or pass --drop-small-classes"
        )


def stratified_folds(
    labels: np.ndarray, n_folds: int, seed: int, class_names: Sequence[str] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded stratified K-fold splits as (train_index, test_index) pairs (see :func:`check_classes`)."""
    if n_folds < 2:
        raise BenchmarkError(f"--folds must be at least 2, got {n_folds}")
    check_classes(labels, n_folds, class_names)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(labels)), labels)]


def predefined_split(
    sample_ids: Sequence[str], train_ids: Sequence[str], test_ids: Sequence[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (train_index, test_index) pair from explicit id lists.

    Raises:
        BenchmarkError: ids in both lists, or an empty side after intersecting
            with the labelled samples (the message reports the overlap).
    """
    both = sorted(set(train_ids) & set(test_ids))
    if both:
        raise BenchmarkError(f"{len(both)} sample id(s) are in both the train and test lists, e.g. {both[:3]}")
    position = {sid: i for i, sid in enumerate(sample_ids)}
    sides = []
    for name, ids in (("train", train_ids), ("test", test_ids)):
        index = np.array(sorted(position[s] for s in set(ids) if s in position), dtype=int)
        if index.size == 0:
            raise BenchmarkError(
                f"none of the {len(set(ids))} --{name}-ids is a labelled sample present in every table "
                f"(first ids: {list(ids)[:3]})"
            )
        sides.append(index)
    return [(sides[0], sides[1])]


def inner_validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (fit_index, validation_index) inside a training fold, for early stopping.

    Falls back to an unstratified split when a class is too rare to stratify.
    """
    index = np.arange(len(labels))
    n_val = max(1, round(fraction * len(labels)))
    _, counts = np.unique(labels, return_counts=True)
    stratify = labels if counts.min() >= 2 and n_val >= len(counts) else None
    fit_idx, val_idx = train_test_split(index, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(fit_idx), np.sort(val_idx)


def _ovr_auc(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    """Binary AUC, or the macro one-vs-rest AUC over the classes present in this fold."""
    if n_classes == 2:
        if len(np.unique(y_true)) < 2:
            return float("nan")
        return float(roc_auc_score(y_true, proba[:, 1]))
    scores = [
        roc_auc_score(y_true == k, proba[:, k]) for k in range(n_classes) if 0 < np.sum(y_true == k) < len(y_true)
    ]
    return float(np.mean(scores)) if scores else float("nan")


def fold_metrics(y_true: np.ndarray, proba: np.ndarray, fit_seconds: float) -> dict[str, float]:
    """Accuracy, macro/weighted F1 and AUC of one fold from class probabilities.

    Args:
        y_true: integer class codes ``0..K-1`` of the test samples.
        proba: ``(n_test, K)`` class probabilities, columns in code order.
        fit_seconds: wall time spent fitting this model on this fold.
    """
    y_pred = proba.argmax(axis=1)
    labels = np.arange(proba.shape[1])
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "auc": _ovr_auc(y_true, proba, proba.shape[1]),
        "fit_s": float(fit_seconds),
    }


def aggregate(per_fold: Sequence[dict[str, float]]) -> dict[str, float | None]:
    """Mean and sample standard deviation of each metric across folds.

    The sd of a single split is undefined and reported as ``None``; NaN fold
    values (an AUC on a fold with one class) are left out of that metric.
    """
    summary: dict[str, float | None] = {}
    for key in METRICS:
        values = np.array([fold[key] for fold in per_fold], dtype=float)
        values = values[~np.isnan(values)]
        summary[key] = float(values.mean()) if values.size else None
        summary[f"{key}_sd"] = float(values.std(ddof=1)) if values.size > 1 else None
    summary["n_folds"] = len(per_fold)
    return summary


def _finite_mean(values: Sequence[float]) -> float:
    """Mean of the non-NaN values (NaN when there is none)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[~np.isnan(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def aggregate_runs(runs: Sequence[dict[str, float]]) -> dict[str, float | None]:
    """Mean ± sd of each metric over seeds (each seed's folds averaged first); over folds for one seed.

    Each run is a :func:`fold_metrics` dict with ``seed`` and ``fold`` keys. The sd
    answers "how much does this number move when I rerun with another seed".
    """
    seeds = sorted({run["seed"] for run in runs})
    if len(seeds) == 1:
        summary = aggregate(runs)
    else:
        per_seed = []
        for seed in seeds:
            mine = [run for run in runs if run["seed"] == seed]
            per_seed.append({key: _finite_mean([run[key] for run in mine]) for key in METRICS})
        summary = aggregate(per_seed)
        summary["n_folds"] = len(runs) // len(seeds)
    summary["n_seeds"] = len(seeds)
    return summary


def paired_difference(
    runs_a: Sequence[dict[str, float]], runs_b: Sequence[dict[str, float]]
) -> dict[str, float | None]:
    """Mean ± sd of ``a - b`` per metric, paired on the same (seed, fold): same samples, same split.

    Raises:
        BenchmarkError: the two models were not run on the same (seed, fold) pairs.
    """
    by_key = {(run["seed"], run["fold"]): run for run in runs_b}
    if {(run["seed"], run["fold"]) for run in runs_a} != set(by_key):
        raise BenchmarkError("a paired difference needs both models run on the same seeds and folds")
    diffs = [
        {
            **{key: run[key] - by_key[(run["seed"], run["fold"])][key] for key in METRICS},
            "seed": run["seed"],
            "fold": run["fold"],
        }
        for run in runs_a
    ]
    return aggregate_runs(diffs)
