"""Folds, metrics, aggregation and input joining of the benchmark (no layouts, no torch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsfusion.benchmark.errors import BenchmarkError
from omicsfusion.benchmark.evaluate import (
    METRICS,
    aggregate,
    aggregate_runs,
    fold_metrics,
    inner_validation_split,
    paired_difference,
    predefined_split,
    stratified_folds,
)
from omicsfusion.benchmark.inputs import join_inputs
from omicsfusion.data.errors import MissingValuesError


def test_folds_are_stratified_seeded_and_partition_the_samples():
    y = np.array([0] * 30 + [1] * 20 + [2] * 10)
    folds = stratified_folds(y, 5, seed=3)
    assert len(folds) == 5
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests) == list(range(60))
    for tr, te in folds:
        assert not set(tr) & set(te)
        assert np.bincount(y[te]).tolist() == [6, 4, 2]
    again = stratified_folds(y, 5, seed=3)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=False))


def test_one_class_is_refused():
    with pytest.raises(BenchmarkError, match="one class"):
        stratified_folds(np.zeros(10, dtype=int), 5, 0)


def test_class_smaller_than_folds_names_it_and_suggests_fewer_folds():
    y = np.array([0] * 20 + [1] * 3)
    with pytest.raises(BenchmarkError, match=r"'rare' \(3 samples\).*--folds 3"):
        stratified_folds(y, 5, 0, class_names=["common", "rare"])


def test_predefined_split_checks_overlap_and_presence():
    ids = ["a", "b", "c", "d"]
    ((tr, te),) = predefined_split(ids, ["a", "b", "zz"], ["d"])
    assert tr.tolist() == [0, 1] and te.tolist() == [3]
    with pytest.raises(BenchmarkError, match="in both"):
        predefined_split(ids, ["a", "b"], ["b"])
    with pytest.raises(BenchmarkError, match="test-ids"):
        predefined_split(ids, ["a"], ["x", "y"])


def test_inner_split_is_stratified_and_disjoint():
    y = np.array([0] * 40 + [1] * 20)
    fit, val = inner_validation_split(y, 0.25, seed=0)
    assert not set(fit) & set(val) and len(fit) + len(val) == 60
    assert np.bincount(y[val]).tolist() == [10, 5]


def test_binary_and_multiclass_metrics():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    m = fold_metrics(y, proba, 1.5)
    assert m["accuracy"] == 0.75 and m["auc"] == 1.0 and m["fit_s"] == 1.5
    y3 = np.array([0, 1, 2, 2])
    p3 = np.eye(3)[[0, 1, 2, 1]] * 0.8 + 0.2 / 3
    m3 = fold_metrics(y3, p3, 0.0)
    assert m3["accuracy"] == 0.75
    assert 0.5 < m3["auc"] <= 1.0
    assert m3["macro_f1"] == pytest.approx(np.mean([1.0, 2 / 3, 2 / 3]))


def test_aggregate_mean_sd_and_single_split():
    folds = [{"accuracy": a, "macro_f1": a, "weighted_f1": a, "auc": float("nan"), "fit_s": 1.0} for a in (0.5, 0.7)]
    s = aggregate(folds)
    assert s["accuracy"] == pytest.approx(0.6) and s["accuracy_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert s["auc"] is None and s["n_folds"] == 2
    assert aggregate(folds[:1])["accuracy_sd"] is None


def _tables():
    a = pd.DataFrame(np.arange(12.0).reshape(6, 2), index=list("abcdef"), columns=["g1", "g2"])
    b = pd.DataFrame(np.arange(8.0).reshape(4, 2), index=list("cdef"), columns=["m1", "m2"])
    return a, b


def test_join_keeps_shared_labelled_samples_and_reports_drops():
    a, b = _tables()
    labels = pd.Series(["x", "y", "x", "y", None, "x"], index=list("abcdef"))
    with pytest.warns(UserWarning, match="1 of 4 samples have no label"):
        data = join_inputs({"a": a, "b": b}, labels, max_missing_labels=0.5)
    assert data.sample_ids.tolist() == ["c", "d", "f"]
    assert data.classes.tolist() == ["x", "y"] and data.y.tolist() == [0, 1, 0]
    assert data.tables["a"].index.tolist() == ["c", "d", "f"]


def test_join_refuses_too_many_missing_labels():
    a, _ = _tables()
    labels = pd.Series(["x", "y"], index=["a", "b"])
    with pytest.raises(BenchmarkError, match=r"4 of 6 samples \(67%\) have no label"):
        join_inputs({"a": a}, labels, max_missing_labels=0.2)


def test_join_reports_the_overlap_of_disjoint_tables():
    a, _ = _tables()
    c = pd.DataFrame(np.ones((3, 1)), index=["p", "q", "r"], columns=["z"])
    with pytest.raises(BenchmarkError, match=r"share no sample id.*'a': 6, 'c': 3.*'a'&'c': 0"):
        join_inputs({"a": a, "c": c}, pd.Series(["x"] * 6, index=list("abcdef")))


def test_join_names_the_non_finite_value():
    a, _ = _tables()
    a.loc["c", "g2"] = np.nan
    with pytest.raises(MissingValuesError, match=r"table 'a': 1 of .* features \['g2'\] and samples \['c'\]"):
        join_inputs({"a": a}, pd.Series(list("xyxyxy"), index=list("abcdef")))
    filled_later = join_inputs({"a": a}, pd.Series(list("xyxyxy"), index=list("abcdef")), missing_values="median")
    assert filled_later.empty_cells["a"]["empty_cells"] == 1


def test_join_can_drop_rare_classes():
    a, _ = _tables()
    labels = pd.Series(list("xxxxxy"), index=list("abcdef"))
    with pytest.warns(UserWarning, match="'y' \\(1\\)"):
        data = join_inputs({"a": a}, labels, drop_classes_below=2)
    assert data.classes.tolist() == ["x"]


def test_aggregate_runs_is_over_seeds_and_paired_difference_matches_runs():
    runs_a = [
        {**dict.fromkeys(METRICS, 0.0), "accuracy": acc, "seed": seed, "fold": fold}
        for (seed, fold), acc in {(0, 0): 0.8, (0, 1): 0.6, (1, 0): 0.9, (1, 1): 0.9}.items()
    ]
    runs_b = [{**run, "accuracy": run["accuracy"] - 0.1 * (run["seed"] + 1)} for run in runs_a]
    summary = aggregate_runs(runs_a)
    assert summary["accuracy"] == pytest.approx(0.8) and summary["accuracy_sd"] == pytest.approx(
        np.std([0.7, 0.9], ddof=1)
    )
    assert summary["n_seeds"] == 2 and summary["n_folds"] == 2
    diff = paired_difference(runs_a, runs_b)
    assert diff["accuracy"] == pytest.approx(0.15) and diff["accuracy_sd"] == pytest.approx(np.std([0.1, 0.2], ddof=1))
    one_seed = aggregate_runs(runs_a[:2])
    assert one_seed["n_seeds"] == 1 and one_seed["accuracy_sd"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    with pytest.raises(BenchmarkError, match="same seeds and folds"):
        paired_difference(runs_a, runs_b[:3])
