"""``python -m omicsfusion layout fit|score``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from omicsfusion.__main__ import main
from omicsfusion.layout import OTLayout
from omicsfusion.phantoms import modular_table

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture()
def table_csv(tmp_path):
    table = modular_table(n_samples=30, n_features=40, n_modules=4, noise=0.5, seed=8)
    table.insert(0, "diagnosis", ["a", "b", "c"] * 10)
    table.index.name = "sample_id"
    path = tmp_path / "table.csv"
    table.to_csv(path)
    return path


@pytest.mark.slow
def test_fit_then_score_json_subprocess(table_csv, tmp_path):
    out = tmp_path / "layout.npz"
    env = {**os.environ, "PYTHONPATH": SRC}
    fit = subprocess.run(
        [
            sys.executable,
            "-m",
            "omicsfusion",
            "layout",
            "fit",
            str(table_csv),
            "--out",
            str(out),
            "--label-column",
            "diagnosis",
            "--grid",
            "7x7",
            "--method",
            "emd",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert fit.returncode == 0, fit.stderr
    assert "OT placement" in fit.stderr  # progress shown
    score = subprocess.run(
        [
            sys.executable,
            "-m",
            "omicsfusion",
            "layout",
            "score",
            str(out),
            str(table_csv),
            "--label-column",
            "diagnosis",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert score.returncode == 0, score.stderr
    result = json.loads(score.stdout)
    assert set(result) == {"spearman", "knn10", "collisions", "fit_seconds"} and result["collisions"] == 0
    layout = OTLayout.load(out)
    assert layout.grid_ == (7, 7) and layout.random_state == 3 and "diagnosis" not in layout.feature_names_


@pytest.mark.parametrize("suffix", [".tsv", ".parquet", ".h5ad"])
def test_other_table_formats(table_csv, tmp_path, suffix, capsys):
    import pandas as pd

    table = pd.read_csv(table_csv, index_col=0).drop(columns="diagnosis")
    path = tmp_path / f"table{suffix}"
    if suffix == ".tsv":
        table.to_csv(path, sep="\t")
    elif suffix == ".parquet":
        table.to_parquet(path)
    else:
        import anndata

        anndata.AnnData(
            table.to_numpy(), obs=pd.DataFrame(index=table.index), var=pd.DataFrame(index=table.columns)
        ).write_h5ad(path)
    assert main(["layout", "fit", str(path), "--out", str(tmp_path / "l.npz"), "--method", "random"]) == 0
    assert main(["layout", "score", str(tmp_path / "l.npz"), str(path)]) == 0
    assert "spearman" in capsys.readouterr().out


def test_errors_name_the_file(table_csv, tmp_path, capsys):
    assert main(["layout", "fit", str(table_csv), "--out", str(tmp_path / "l.npz")]) == 2
    err = capsys.readouterr().err
    assert "table.csv" in err and "'diagnosis'" in err
    assert (
        main(
            [
                "layout",
                "fit",
                str(table_csv),
                "--out",
                str(tmp_path / "l.npz"),
                "--label-column",
                "diagnosis",
                "--grid",
                "3x3",
                "--method",
                "random",
            ]
        )
        == 2
    )
    assert "9 pixels for 40 features" in capsys.readouterr().err
    assert main(["layout", "score", str(tmp_path / "missing.npz"), str(table_csv)]) == 2
    assert "missing.npz" in capsys.readouterr().err


def test_impute_flag(table_csv, tmp_path, capsys):
    import pandas as pd

    table = pd.read_csv(table_csv, index_col=0)
    table.iloc[3, 5] = np.nan
    table.to_csv(table_csv)
    args = [
        "layout",
        "fit",
        str(table_csv),
        "--out",
        str(tmp_path / "l.npz"),
        "--label-column",
        "diagnosis",
        "--method",
        "random",
    ]
    assert main(args) == 2
    assert "NaN/inf" in capsys.readouterr().err
    assert main([*args, "--impute", "median"]) == 0


def test_metric_flag(table_csv, tmp_path):
    args = [
        "layout",
        "fit",
        str(table_csv),
        "--out",
        str(tmp_path / "l.npz"),
        "--label-column",
        "diagnosis",
        "--method",
        "random",
    ]
    assert main([*args, "--metric", "abs_correlation"]) == 0
    assert OTLayout.load(tmp_path / "l.npz").metric == "abs_correlation"
