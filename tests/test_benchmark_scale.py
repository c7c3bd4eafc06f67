"""The benchmark at scale: the panel-cohort generator, images rendered per batch, fits on a subsample."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsfusion.benchmark import images as imaging
from omicsfusion.benchmark.inputs import join_inputs
from omicsfusion.benchmark.models import CNNClassifier
from omicsfusion.benchmark.report import format_table
from omicsfusion.benchmark.runner import run_benchmark
from omicsfusion.data import OmicsTable

SCRIPT = Path(__file__).parents[1] / "scripts" / "make_panel_cohort.py"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("make_panel_cohort", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cohort(generator, tmp_path_factory):
    """400 patients x 2 types x 60 genes, 4 studies, written in chunks of 150 patients."""
    out = tmp_path_factory.mktemp("cohort")
    genes = np.asarray([f"G{j:02d}" for j in range(60)])
    generator.write_cohort(out, 400, genes, 4, seed=1, chunk=150, fmt="parquet")
    return out


def _filled_inputs(folder: Path):
    """The cohort's tables with empty cells set to 0 by hand, joined with the study labels."""
    tables = {
        t: pd.read_parquet(folder / f"{t}.parquet").set_index("sample_id").fillna(0.0) for t in ("mutation", "cnv")
    }
    labels = pd.read_csv(folder / "labels.csv", index_col=0)["study"]
    return join_inputs(tables, labels)


def test_generated_cohort_values_empty_cells_and_seed(generator, cohort, tmp_path):
    mutation = pd.read_parquet(cohort / "mutation.parquet").set_index("sample_id")
    cnv = pd.read_parquet(cohort / "cnv.parquet").set_index("sample_id")
    labels = pd.read_csv(cohort / "labels.csv", index_col=0)
    assert mutation.shape == cnv.shape == (400, 60) and (mutation.dtypes == np.float32).all()
    assert list(mutation.index) == list(labels.index) == [f"P{i:07d}" for i in range(400)]
    assert set(np.unique(mutation.to_numpy()[~mutation.isna().to_numpy()])) <= {0.0, 1.0}
    assert set(np.unique(cnv.to_numpy()[~cnv.isna().to_numpy()])) <= {-2.0, -1.0, 0.0, 1.0, 2.0}
    # as in the real tables: mutation calls empty for whole patients, copy number for whole genes per study
    empty_rows = mutation.isna().all(axis=1)
    assert empty_rows.any() and (mutation.isna().any(axis=1) == empty_rows).all()
    assert 0 < cnv.isna().to_numpy().mean() < 0.1 and cnv.isna().all(axis=0).any()
    for _, empty in cnv.isna().groupby(labels["study"]):
        assert (empty == empty.iloc[0]).all().all()
    assert labels["study"].nunique() == 4
    train = (cohort / "train.txt").read_text().split()
    test = (cohort / "test.txt").read_text().split()
    assert not set(train) & set(test) and len(train) + len(test) == 400
    again = tmp_path / "again"
    generator.write_cohort(again, 400, mutation.columns.to_numpy(), 4, seed=1, chunk=150, fmt="csv")
    from_csv = pd.read_csv(again / "mutation.csv", index_col=0, dtype={"sample_id": str})
    np.testing.assert_array_equal(from_csv.to_numpy(np.float32), mutation.to_numpy())  # seeded, either format


def test_rendered_batches_are_the_dense_images(cohort):
    data = _filled_inputs(cohort)
    table = OmicsTable(data.tables)
    ids = list(data.sample_ids)
    pre, _ = imaging.fit_preprocessor(table, ids[:300], "zscore", {"random_state": 0}, shared=False)
    imager = imaging.from_preprocessor(pre, table, "ot", 0.0)
    dense = pre.transform(table.select(ids[300:]))
    rendered = imaging.RenderedImages(imager, ids[300:])
    assert len(rendered) == 100
    index = np.array([5, 0, 99, 42])
    np.testing.assert_array_equal(rendered[index], dense[index])


def test_cnn_on_rendered_batches_matches_the_in_memory_images(cohort):
    """The streaming path trains and predicts exactly what the dense path does (same batches, same seed)."""
    data = _filled_inputs(cohort)
    table = OmicsTable(data.tables)
    ids = list(data.sample_ids)
    pre, _ = imaging.fit_preprocessor(table, ids[:300], "zscore", {"random_state": 0}, shared=False)
    imager = imaging.shuffled(pre, table, "control", seed=0)
    params = dict(max_epochs=3, patience=3, batch_size=32, threads=1, seed=2, channel_dropout=0.3)
    y = data.y[:300]
    streamed = CNNClassifier(**params).fit(imaging.RenderedImages(imager, ids[:300]), y, len(data.classes))
    dense = CNNClassifier(**params).fit(imager.images(ids[:300]), y, len(data.classes))
    np.testing.assert_allclose(
        streamed.predict_proba(imaging.RenderedImages(imager, ids[300:])),
        dense.predict_proba(imager.images(ids[300:])),
        atol=1e-5,
    )
    assert streamed.epochs_ == dense.epochs_


def test_fit_samples_bounds_the_layout_and_tabular_fits_and_is_reported(cohort):
    data = _filled_inputs(cohort)
    ids = list(data.sample_ids)
    split = (ids[:300], ids[300:])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = run_benchmark(
            data,
            split=split,
            models=["ot_cnn", "random_layout_cnn", "logreg"],
            cnn_params={"max_epochs": 2, "patience": 2},
            threads=1,
            progress=False,
            fit_samples=120,
        )
    assert result.meta["fit_samples"] == 120
    assert "fitted on at most 120 training samples" in format_table(result)
    for model in ("ot_cnn", "random_layout_cnn", "logreg"):
        assert 0.0 <= result.summary[model]["accuracy"] <= 1.0
    # the studies are learnable from their driver genes and favoured arms
    assert result.summary["logreg"]["accuracy"] > 0.5
    # a cap above the training size changes nothing and is not reported
    capped = run_benchmark(data, split=split, models=["logreg"], threads=1, progress=False, fit_samples=1000)
    uncapped = run_benchmark(data, split=split, models=["logreg"], threads=1, progress=False)
    assert capped.meta["fit_samples"] is None and "fitted on at most" not in format_table(capped)
    assert capped.summary["logreg"]["accuracy"] == uncapped.summary["logreg"]["accuracy"]
