"""End-to-end benchmark: the layout matters on modular data, the CLI, its JSON and bad input."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from omicsfusion.__main__ import COMMANDS
from omicsfusion.apps import benchmark_cli as cli
from omicsfusion.benchmark.inputs import join_inputs
from omicsfusion.benchmark.models import CNNClassifier, WithSmoothed, drop_pixels, mask_channels
from omicsfusion.benchmark.runner import run_benchmark
from omicsfusion.errors import BenchmarkError
from omicsfusion.phantoms import labelled_modules

DATA = Path(__file__).parents[2] / "shared" / "data" / "stlearn_testdata"


def _main(argv: list[str]) -> int:
    """The benchmark subcommand as ``python -m omicsfusion`` would run it."""
    parser = argparse.ArgumentParser(prog="python -m omicsfusion")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["benchmark", *argv])
    return args.func(args)


def test_benchmark_is_a_registered_command():
    assert COMMANDS["benchmark"] == "omicsfusion.apps.benchmark_cli"


def test_cnn_is_seeded_and_learns_a_planted_pixel():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((160, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, 2, 3] > 0).astype(int)
    threads = torch.get_num_threads()
    other = 1 if threads != 1 else 2
    a = CNNClassifier(max_epochs=15, patience=15, threads=other).fit(x[:120], y[:120], 2)
    b = CNNClassifier(max_epochs=15, patience=15, threads=other).fit(x[:120], y[:120], 2)
    pa, pb = a.predict_proba(x[120:]), b.predict_proba(x[120:])
    assert torch.get_num_threads() == threads  # the caller's thread count is restored
    np.testing.assert_allclose(pa, pb, atol=1e-6)
    assert (pa.argmax(1) == y[120:]).mean() >= 0.8


def test_ot_layout_beats_the_random_layout_on_modular_data():
    """The control: same pixels and CNN, only the feature placement differs."""
    tables, labels = labelled_modules(n_samples=300, n_features=400, n_modules=8, noise=2.5, n_classes=3, seed=3)
    result = run_benchmark(
        join_inputs(tables, labels),
        folds=3,
        seeds=(3,),
        models=["ot_cnn", "random_layout_cnn"],
        threads=1,
        progress=False,
    )
    ot, control = result.summary["ot_cnn"], result.summary["random_layout_cnn"]
    assert ot["accuracy"] > control["accuracy"] + 0.03, (ot, control)
    assert ot["auc"] > control["auc"]


def test_cli_two_omics_types_json_schema(tmp_path, capsys):
    tables, labels = labelled_modules(n_samples=120, n_features=60, n_modules=4, noise=1.0, n_types=2, seed=1)
    paths = []
    for name, frame in tables.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path)
        paths.append(f"{name}={path}")
    labels.to_frame().to_csv(tmp_path / "labels.csv")
    out = tmp_path / "out" / "bench.json"
    code = _main(
        [
            *paths,
            "--label-table",
            str(tmp_path / "labels.csv"),
            "--label-column",
            "label",
            "--folds",
            "3",
            "--max-epochs",
            "10",
            "--patience",
            "3",
            "--cnn-width",
            "12",
            "--pixel-dropout",
            "0.1",
            "--threads",
            "1",
            "--seeds",
            "0",
            "--models",
            "ot_cnn,ot_cnn_shared,random_layout_cnn,logreg,mlp,genomap_cnn",
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| ot_cnn_shared |" in printed and "| logreg |" in printed
    result = json.loads(out.read_text())
    assert not list(out.parent.glob(".*.tmp"))
    models = [k for k in result if not k.startswith("_")]
    expected = {"ot_cnn", "ot_cnn_shared", "random_layout_cnn", "logreg", "mlp"}
    assert expected <= set(models) and set(models) <= expected | {"genomap_cnn"}
    for model in models:
        entry = result[model]
        for key in ("accuracy", "accuracy_sd", "macro_f1", "weighted_f1", "auc", "fit_s"):
            assert isinstance(entry[key], float), (model, key)
        assert 0.0 <= entry["accuracy"] <= 1.0 and entry["n_folds"] == 3
    assert len(result["ot_cnn"]["grid"]) == 2 and "shared" in result["ot_cnn_shared"]["layout"]
    meta = result["_meta"]
    assert meta["n_features"] == {"t0": 60, "t1": 60} and meta["split"] == "3-fold stratified"
    assert set(meta["classes"]) == {"c0", "c1", "c2"}
    assert meta["cnn_params"]["width"] == 12 and meta["cnn_params"]["pixel_dropout"] == 0.1


def test_seeds_give_mean_sd_over_seeds_and_paired_differences():
    tables, labels = labelled_modules(n_samples=90, n_features=40, n_modules=4, noise=1.0, n_classes=2, seed=5)
    result = run_benchmark(
        join_inputs(tables, labels),
        folds=2,
        seeds=(0, 1),
        threads=1,
        progress=False,
        models=["ot_cnn", "random_layout_cnn", "logreg", "random_forest"],
        cnn_params={"max_epochs": 4, "patience": 2},
    )
    ot = result.summary["ot_cnn"]
    assert ot["n_seeds"] == 2 and ot["n_folds"] == 2 and len(result.per_run["ot_cnn"]) == 4
    per_seed = [np.mean([r["accuracy"] for r in result.per_run["ot_cnn"] if r["seed"] == s]) for s in (0, 1)]
    assert ot["accuracy"] == pytest.approx(np.mean(per_seed))
    assert ot["accuracy_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    best = max(("logreg", "random_forest"), key=lambda m: result.summary[m]["accuracy"])
    assert set(result.paired) == {"ot_cnn - random_layout_cnn", f"ot_cnn - {best}"}
    assert result.paired[f"ot_cnn - {best}"]["best_baseline"]
    control = result.paired["ot_cnn - random_layout_cnn"]
    assert control["accuracy"] == pytest.approx(ot["accuracy"] - result.summary["random_layout_cnn"]["accuracy"])
    assert result.meta["seeds"] == [0, 1]


def test_a_type_missing_for_some_samples_is_masked_not_dropped():
    tables, labels = labelled_modules(n_samples=90, n_features=30, n_modules=3, noise=1.0, n_types=2, seed=6)
    lacking = tables["t1"].index[::3]
    tables = {"t0": tables["t0"], "t1": tables["t1"].drop(lacking)}
    with pytest.warns(UserWarning, match="'t0': 30 of 90 samples are not in every table"):
        dropped = join_inputs(tables, labels)
    assert len(dropped.sample_ids) == 60 and dropped.missing == "raise"
    with pytest.warns(UserWarning, match="'t1': 30 of 90 samples have no row; its channel is masked"):
        data = join_inputs(tables, labels, missing_types="mask")
    assert len(data.sample_ids) == 90 and data.missing == "mask" and len(data.tables["t1"]) == 60
    result = run_benchmark(
        data,
        folds=2,
        seeds=(0,),
        models=["ot_cnn", "logreg"],
        threads=1,
        progress=False,
        cnn_params={"max_epochs": 3, "patience": 2},
    )
    assert result.meta["missing_types"] == "mask" and result.meta["cnn_params"]["channel_dropout"] == 0.3
    assert len(result.per_run["ot_cnn"]) == 2


def test_cnn_ensemble_averages_its_members():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((80, 2, 8, 8)).astype(np.float32)
    y = (x[:, 0, 2, 3] > 0).astype(int)
    ensemble = CNNClassifier(max_epochs=3, patience=3, n_members=2, threads=1).fit(x, y, 2)
    single = CNNClassifier(max_epochs=3, patience=3, threads=1).fit(x, y, 2)
    assert len(ensemble.networks_) == 2
    second = CNNClassifier(max_epochs=3, patience=3, seed=1, threads=1).fit(x, y, 2)
    np.testing.assert_allclose(
        ensemble.predict_proba(x), (single.predict_proba(x) + second.predict_proba(x)) / 2, atol=1e-5
    )


def test_channel_masking_never_masks_every_channel():
    generator = torch.Generator().manual_seed(0)
    x = torch.ones(4000, 3, 2, 2)
    masked = mask_channels(x, 0.5, generator)
    kept = masked[:, :, 0, 0]
    assert kept.sum(dim=1).min() >= 1  # every sample keeps a channel
    assert set(torch.unique(masked).tolist()) == {0.0, 1.0}
    assert 0.35 < 1 - kept.mean().item() < 0.5  # ~p, less the all-masked draws given back
    assert torch.equal(mask_channels(x[:, :1], 0.9, generator), x[:, :1])  # one channel: nothing to mask


def test_pixel_dropout_zeroes_the_same_pixels_in_every_channel():
    generator = torch.Generator().manual_seed(0)
    x = torch.ones(200, 3, 8, 8)
    dropped = drop_pixels(x, 0.25, generator)
    assert torch.equal(dropped[:, 0], dropped[:, 1]) and torch.equal(dropped[:, 0], dropped[:, 2])
    assert 0.2 < 1 - dropped.mean().item() < 0.3
    assert torch.equal(drop_pixels(x, 0.0, generator), x)


def test_cnn_width_and_smoothing_build_the_network_they_name():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 2, 8, 8)).astype(np.float32)
    y = (x[:, 0, 2, 3] > 0).astype(int)
    plain = CNNClassifier(max_epochs=1, threads=1).fit(x, y, 2).networks_[0]
    narrow = CNNClassifier(max_epochs=1, threads=1, width=8).fit(x, y, 2).networks_[0]
    assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in plain.parameters()) / 2
    smoothed = CNNClassifier(max_epochs=2, threads=1, smoothing=1.0, pixel_dropout=0.1).fit(x, y, 2)
    network = smoothed.networks_[0]
    assert isinstance(network, WithSmoothed)
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1
    spread = network.smooth(impulse)
    assert spread[0, 0, 4, 4] < 1 and spread[0, 0, 4, 5] > 0 and abs(spread.sum().item() - 1) < 1e-4
    assert smoothed.predict_proba(x).shape == (60, 2)


def test_cli_predefined_split_and_label_column_inside_the_table(tmp_path, capsys):
    tables, labels = labelled_modules(n_samples=90, n_features=30, n_modules=3, n_classes=2, noise=1.0, seed=2)
    frame = tables["t0"].assign(label=labels)
    frame.to_csv(tmp_path / "rna.csv")
    ids = frame.index.tolist()
    (tmp_path / "train.txt").write_text("\n".join(ids[:60]) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(ids[60:]) + "\n")
    code = _main(
        [
            str(tmp_path / "rna.csv"),
            "--label-column",
            "label",
            "--seeds",
            "0",
            "--train-ids",
            str(tmp_path / "train.txt"),
            "--test-ids",
            str(tmp_path / "test.txt"),
            "--models",
            "logreg,random_forest",
            "--threads",
            "1",
            "--json",
            str(tmp_path / "r.json"),
            "--no-progress",
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["logreg"]["n_folds"] == 1 and result["logreg"]["accuracy_sd"] is None
    assert result["_meta"]["split"] == "predefined train/test ids"
    assert result["_meta"]["n_features"] == {"rna": 30}  # the label column is not a feature


@pytest.mark.parametrize(
    ("labels", "extra", "message"),
    [
        (lambda ids: pd.Series("a", index=ids), [], "one class"),
        (lambda ids: pd.Series(["a"] * 37 + ["b"] * 3, index=ids), [], r"'b' \(3 samples\).*--folds 3"),
        (lambda ids: pd.Series(["a", "b"] * 10, index=[f"X{i}" for i in range(20)]), [], "none of the 40 samples"),
        (lambda ids: pd.Series(["a", "b"] * 10, index=ids[:20]), [], r"20 of 40 samples \(50%\) have no label"),
        (lambda ids: pd.Series(["a", "b"] * 10, index=ids[:20]), ["--folds", "2", "--max-missing-labels", "0.6"], None),
    ],
)
def test_cli_bad_labels_are_named(tmp_path, capsys, labels, extra, message):
    tables, _ = labelled_modules(n_samples=40, n_features=12, n_modules=2, n_classes=2, seed=0)
    tables["t0"].to_csv(tmp_path / "rna.csv")
    labels(tables["t0"].index).rename("y").to_frame().to_csv(tmp_path / "labels.csv")
    code = _main(
        [
            str(tmp_path / "rna.csv"),
            "--label-table",
            str(tmp_path / "labels.csv"),
            "--label-column",
            "y",
            "--models",
            "logreg",
            "--seeds",
            "0",
            "--no-progress",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    if message is None:
        assert code == 0 and "note: 20 of 40 samples have no label and were dropped" in captured.out
    else:
        assert code == 2 and captured.err.startswith("error: ")
        assert re.search(message, captured.err), captured.err


def test_cli_tables_without_shared_samples_report_the_overlap(tmp_path, capsys):
    a = pd.DataFrame(np.random.default_rng(0).standard_normal((10, 3)), index=[f"A{i}" for i in range(10)])
    b = pd.DataFrame(np.random.default_rng(1).standard_normal((8, 3)), index=[f"B{i}" for i in range(8)])
    a.to_csv(tmp_path / "a.csv")
    b.to_csv(tmp_path / "b.csv")
    pd.Series(["x", "y"] * 5, index=a.index, name="y").to_frame().to_csv(tmp_path / "l.csv")
    code = _main(
        [
            f"rna={tmp_path / 'a.csv'}",
            f"meth={tmp_path / 'b.csv'}",
            "--label-table",
            str(tmp_path / "l.csv"),
            "--label-column",
            "y",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "share no sample id" in err and "'rna': 10, 'meth': 8" in err and "'rna'&'meth': 0" in err


def test_cli_unknown_model_and_missing_label_column(tmp_path, capsys):
    tables, labels = labelled_modules(n_samples=30, n_features=10, n_modules=2, n_classes=2, seed=0)
    tables["t0"].to_csv(tmp_path / "rna.csv")
    labels.to_frame().to_csv(tmp_path / "labels.csv")
    base = [str(tmp_path / "rna.csv"), "--label-table", str(tmp_path / "labels.csv"), "--no-progress"]
    assert _main([*base, "--label-column", "label", "--models", "xgboost"]) == 2
    assert "unknown model(s) ['xgboost']" in capsys.readouterr().err
    assert _main([*base, "--label-column", "tissue"]) == 2
    assert "label column 'tissue' not found" in capsys.readouterr().err


@pytest.mark.skipif(not (DATA / "test_data.h5").is_file(), reason="stlearn test data not present")
def test_real_stlearn_breast_cancer_spots(tmp_path, capsys):
    """Visium spots (AnnData saved as .h5) labelled by the pathologist annotation CSV."""
    out = tmp_path / "st.json"
    code = _main(
        [
            str(DATA / "test_data.h5"),
            "--label-table",
            str(DATA / "v1_human_breast_cancer_block_a_section_1.csv"),
            "--label-column",
            "annot_type",
            "--drop-small-classes",
            "--folds",
            "3",
            "--threads",
            "1",
            "--seeds",
            "0",
            "--max-epochs",
            "10",
            "--patience",
            "3",
            "--models",
            "ot_cnn,random_layout_cnn,logreg",
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text())
    meta = result["_meta"]
    assert meta["n_features"] == {"test_data": 100}
    # classes with fewer spots than the 3 folds ('Invasive', 1 spot) are dropped
    assert meta["classes"] == {"Healthy": 4, "Surrounding tumor": 38, "Tumor": 272}
    assert any("1 of 316 samples have no label" in note for note in meta["notes"])
    majority = 272 / 314
    for model in ("ot_cnn", "random_layout_cnn", "logreg"):
        assert result[model]["accuracy"] > majority - 0.1


def test_a_training_split_of_one_class_is_refused_before_any_fit():
    tables, labels = labelled_modules(n_samples=40, n_features=12, n_modules=3, noise=1.0, n_types=1, seed=0)
    data = join_inputs(tables, labels)
    train, test = data.sample_ids[data.y == 0], data.sample_ids[data.y != 0]
    with pytest.raises(BenchmarkError, match=r"training samples of a fold \(seed 0\) hold one class only"):
        run_benchmark(data, split=(train, test), seeds=(0, 1), models=["logreg"], threads=1, progress=False)
