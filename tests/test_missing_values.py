"""Empty cells (NaN) of omics tables: one policy, ``missing_values``, from fit to inference and the benchmark."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsfusion.apps import benchmark_cli as cli
from omicsfusion.data import EmptySampleError, MissingValuesError, NonFiniteError, OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.preprocessing import MissingValues, OmicsPreprocessor
from omicsfusion.transforms import OmicsChannels, OmicsReader

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OMICSFUSION_SHARED_DATA", REPO.parent / "shared" / "data"))
MONUSEG = DATA / "tcga_he_monuseg"
LEGACY = REPO / "tests" / "data" / "legacy_per_type.npz"


def _tables(n: int = 24, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Two types of 12 correlated features over ``n`` samples; no empty cell yet."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:02d}" for i in range(n)]
    base = rng.normal(size=(n, 3))
    out = {}
    for t in ("mut", "cnv"):
        values = np.repeat(base, 4, axis=1) + 0.3 * rng.normal(size=(n, 12))
        out[t] = pd.DataFrame(values, index=ids, columns=[f"{t}_g{j}" for j in range(12)])
    return out


def _pre(**params) -> OmicsPreprocessor:
    return OmicsPreprocessor(layout=OTLayout(method="random", grid=(4, 4), random_state=0), **params)


def test_empty_cells_are_refused_with_counts_per_table_and_the_option():
    tables = _tables()
    for row, col in ((1, 0), (2, 0), (2, 5)):
        tables["mut"].iloc[row, col] = np.nan
    tables["cnv"].iloc[3, 7] = np.nan
    with pytest.raises(MissingValuesError) as caught:
        _pre().fit(tables)
    message = str(caught.value)
    assert "table 'mut': 3 of 288 cells in 2 feature(s) and 2 sample(s)" in message
    assert "table 'cnv': 1 of 288 cells" in message and "'cnv_g7'" in message and "'P03'" in message
    assert "missing_values='median'" in message and "--missing-values" in message
    assert isinstance(caught.value, NonFiniteError)


@pytest.mark.parametrize("strategy", ["median", "mean", "constant"])
def test_fills_are_learnt_from_the_training_rows_only(strategy):
    tables = _tables()
    train, test = [f"P{i:02d}" for i in range(16)], [f"P{i:02d}" for i in range(16, 24)]
    tables["mut"].loc["P01", "mut_g0"] = np.nan
    tables["mut"].loc["P20", "mut_g0"] = np.nan  # a test row to fill
    tables["mut"].loc[test[:3], "mut_g0"] = 1e6  # test values that must never reach the fill
    pre = _pre(missing_values=strategy, fill_value=-7.0).fit(OmicsTable(tables).select(train))
    observed = tables["mut"].loc[train, "mut_g0"].dropna().to_numpy(np.float32)
    expected = {"median": np.median(observed), "mean": observed.mean(), "constant": -7.0}[strategy]
    names = list(pre.feature_names("mut"))
    fill = pre.imputers_["mut"].fill_values_[names.index("mut_g0")]
    assert fill == pytest.approx(expected, rel=1e-5)
    assert pre.missing_report_["tables"]["mut"]["cells_filled"] == 1
    row = tables["mut"].loc["P20", names].to_numpy()
    filled = pre.fill_missing("mut", row, "P20")
    assert filled[names.index("mut_g0")] == pytest.approx(expected, rel=1e-5)
    images = pre.transform(OmicsTable(tables).select(test))
    assert np.isfinite(images).all()


def test_features_empty_in_too_many_training_samples_are_dropped_and_counted(caplog):
    tables = _tables()
    tables["cnv"].iloc[:15, 2] = np.nan  # 15 of 24 = 62% > 50%
    tables["cnv"]["cnv_g9"] = np.nan  # never observed
    tables["cnv"].iloc[:6, 4] = np.nan  # 25%: filled
    with caplog.at_level("INFO", logger="omicsfusion.preprocessing.missing"):
        pre = _pre(missing_values="median").fit(tables)
    report = pre.missing_report_["tables"]["cnv"]
    assert report["features_dropped"] == 2 and report["features_dropped_first"] == ["cnv_g2", "cnv_g9"]
    assert report["cells_filled"] == 6 and report["empty_cells"] == 15 + 24 + 6
    assert report["most_affected_features"] == {"cnv_g9": 24, "cnv_g2": 15, "cnv_g4": 6}
    assert {"cnv_g2", "cnv_g9"}.isdisjoint(pre.feature_names("cnv")) and "cnv_g4" in pre.feature_names("cnv")
    assert "2 feature(s) dropped" in caplog.text and "'cnv_g2', 'cnv_g9'" in caplog.text
    assert pre.missing_report_["tables"]["mut"]["empty_cells"] == 0
    kept = _pre(missing_values="median", max_missing_fraction=0.7).fit(tables)
    assert kept.missing_report_["tables"]["cnv"]["features_dropped"] == 1  # the never-observed one only


def test_the_layout_file_carries_the_fills_to_inference(tmp_path):
    tables = _tables()
    tables["mut"].iloc[[0, 4, 9], 3] = np.nan
    tables["cnv"].iloc[20, [1, 2]] = np.nan  # an inference-time sample with empty cells
    pre = _pre(missing_values="mean").fit(OmicsTable(tables).select([f"P{i:02d}" for i in range(16)]))
    path = pre.save(tmp_path / "layout.npz")
    loaded = OmicsPreprocessor.load(path)
    assert loaded.missing_values == "mean" and loaded.max_missing_fraction == 0.5
    assert loaded.fingerprint == pre.fingerprint
    for t in pre.types_:
        np.testing.assert_array_equal(loaded.imputers_[t].fill_values_, pre.imputers_[t].fill_values_)
    expected = pre.transform(OmicsTable(tables).select(["P20"]))[0]
    np.testing.assert_allclose(np.asarray(OmicsChannels(tables, path)("P20")), expected, atol=1e-5)
    vectors, _ = OmicsReader(tables, path).get_data(OmicsReader(tables, path).read("P20"))
    assert np.isfinite(vectors["cnv"]).all()


def test_a_refusing_layout_file_names_the_sample_type_and_features_at_inference(tmp_path):
    tables = _tables()
    path = _pre().fit(tables).save(tmp_path / "layout.npz")
    tables["cnv"].iloc[5, [0, 3]] = np.nan
    with pytest.raises(MissingValuesError, match=r"sample 'P05', omics type 'cnv': 2 empty .*'cnv_g0', 'cnv_g3'"):
        OmicsChannels(tables, path)("P05")
    legacy = OmicsPreprocessor.load(LEGACY)  # format 1, written before the fills: refuses empty cells
    assert legacy.missing_values == "raise"
    t = legacy.types_[0]
    row = np.full(legacy.feature_names(t).size, np.nan)
    with pytest.raises(MissingValuesError, match=f"omics type '{t}'"):
        legacy.fill_missing(t, row, "S1")


def test_a_sample_with_no_value_in_any_type_is_refused_by_name(tmp_path):
    tables = _tables()
    tables["mut"].loc["P07"] = np.nan
    tables["cnv"].loc["P07"] = np.nan
    with pytest.raises(EmptySampleError, match="'P07'"):
        _pre(missing_values="median").fit(tables)
    masked = {"mut": tables["mut"], "cnv": tables["cnv"].drop(index="P07")}
    with pytest.raises(EmptySampleError, match=r"1 sample\(s\) have no value in any omics type.*'P07'"):
        _pre(missing_values="median", missing="mask").fit(masked)
    fitted = _pre(missing_values="median").fit(OmicsTable(tables).select([f"P{i:02d}" for i in range(8, 24)]))
    with pytest.raises(EmptySampleError, match="'P07'"):
        fitted.transform(OmicsTable(tables).select(["P06", "P07"]))
    path = fitted.save(tmp_path / "layout.npz")
    with pytest.raises(EmptySampleError, match="'P07'"):
        OmicsChannels(tables, path)("P07")
    only_mut = {"mut": tables["mut"].drop(index="P07"), "cnv": tables["cnv"]}  # no mut row, an empty cnv row
    with pytest.raises(EmptySampleError, match="'P07'"):
        OmicsChannels(only_mut, path, on_missing="zeros")("P07")


def test_missing_values_estimator_is_validated_in_fit():
    with pytest.raises(ValueError, match="missing_values must be one of"):
        MissingValues(strategy="zero").fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"max_missing_fraction must be in \[0, 1\]"):
        MissingValues(max_missing_fraction=2).fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="missing_values must be one of"):
        _pre(missing_values="zero").fit(_tables())


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m omicsfusion")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["benchmark", *argv])
    return args.func(args)


def test_benchmark_refuses_then_fills_every_model_alike_and_reports(tmp_path, capsys):
    tables = _tables(n=40, seed=3)
    labels = pd.Series(np.where(tables["mut"]["mut_g0"] > 0, "hi", "lo"), index=tables["mut"].index, name="y")
    tables["mut"].iloc[::4, 2] = np.nan
    tables["cnv"].iloc[::3, 5] = np.nan
    tables["cnv"].iloc[:30, 6] = np.nan  # 75%: dropped per fold
    paths = []
    for t, frame in tables.items():
        frame.to_csv(tmp_path / f"{t}.csv", index_label="sample_id")
        paths.append(f"{t}={tmp_path / f'{t}.csv'}")
    labels.to_csv(tmp_path / "labels.csv", index_label="sample_id")
    common = [*paths, "--label-table", str(tmp_path / "labels.csv"), "--label-column", "y", "--no-progress"]
    common += ["--folds", "2", "--seeds", "0", "--threads", "1", "--max-epochs", "2", "--patience", "1"]
    assert _main([*common, "--models", "logreg"]) == 2
    refusal = capsys.readouterr().err
    assert "table 'mut': 10 of 480 cells" in refusal and "--missing-values" in refusal
    out = tmp_path / "result.json"
    argv = [*common, "--models", "logreg,random_forest,ot_cnn", "--missing-values", "median", "--json", str(out)]
    assert _main(argv) == 0
    assert "empty cells, table 'cnv': 44 of 480" in capsys.readouterr().out
    fills = json.loads(out.read_text())["_meta"]["missing_values"]
    assert fills["missing_values"] == "median" and fills["max_missing_fraction"] == 0.5
    assert fills["tables"]["mut"]["empty_cells"] == 10 and fills["tables"]["cnv"]["features_affected"] == 2
    assert len(fills["folds"]) == 2
    for fold in fills["folds"]:
        assert fold["tables"]["cnv"]["features_dropped_first"] == ["cnv_g6"]
        assert 0 < fold["tables"]["mut"]["cells_filled"] == fold["tables"]["mut"]["empty_cells"] <= 10


needs_monuseg = pytest.mark.skipif(
    not (MONUSEG / "omics" / "mutation.csv").is_file(), reason="shared data tcga_he_monuseg absent"
)


@needs_monuseg
def test_real_tcga_mutation_and_copy_number_tables_with_empty_cells(tmp_path, capsys):
    omics = MONUSEG / "omics"
    argv = [f"mutation={omics / 'mutation.csv'}", f"cnv={omics / 'cnv.csv'}", "--label-table"]
    argv += [str(MONUSEG / "labels.csv"), "--label-column", "organ", "--folds", "2", "--seeds", "0"]
    argv += ["--models", "logreg", "--threads", "1", "--no-progress", "--drop-small-classes"]
    assert _main(argv) == 2
    err = capsys.readouterr().err
    assert "empty (NaN/inf) cells: table 'mutation'" in err and "--missing-values" in err
    out = tmp_path / "real.json"
    assert _main([*argv, "--missing-values", "median", "--json", str(out)]) == 0
    fills = json.loads(out.read_text())["_meta"]["missing_values"]
    assert fills["tables"]["mutation"]["empty_cells"] > 0 and fills["tables"]["cnv"]["empty_cells"] > 0
    cnv = pd.read_csv(omics / "cnv.csv", index_col=0)
    never_called = int(cnv.isna().all().sum())  # features without a call in any patient
    assert never_called > 0 and all(f["tables"]["cnv"]["features_dropped"] == never_called for f in fills["folds"])
    # two folds: every patient trains once, so the mutation cells filled add up to the empty ones
    assert (
        sum(f["tables"]["mutation"]["cells_filled"] for f in fills["folds"])
        == fills["tables"]["mutation"]["empty_cells"]
    )


def test_missing_values_is_keyword_only_and_a_bundle_override():
    from monai.bundle import ConfigParser

    with pytest.raises(TypeError, match="positional argument"):
        MissingValues("median")
    parser = ConfigParser()
    parser.read_config(str(REPO / "bundles" / "pan_cancer_classification" / "configs" / "train.json"))
    assert parser["preprocessor"]["missing_values"] == "raise"
    parser.update({"preprocessor#missing_values": "median"})  # --preprocessor#missing_values median
    assert parser.get_parsed_content("preprocessor").missing_values == "median"
