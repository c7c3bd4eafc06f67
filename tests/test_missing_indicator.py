"""The missing indicator: a mask channel per omics type, rendered where the type's genes sit."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from omicsfusion.apps import benchmark_cli as cli
from omicsfusion.data import OmicsDataError, OmicsTable
from omicsfusion.layout import OTLayout
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import OmicsChannels, OmicsReader, omics_feature_attributions

TRAIN = [f"P{i:02d}" for i in range(16)]


def _tables(n: int = 24, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Two types of 12 correlated features over ``n`` samples."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:02d}" for i in range(n)]
    base = rng.normal(size=(n, 3))
    return {
        t: pd.DataFrame(
            np.repeat(base, 4, axis=1) + 0.3 * rng.normal(size=(n, 12)),
            index=ids,
            columns=[f"{t}_g{j}" for j in range(12)],
        )
        for t in ("mut", "cnv")
    }


def _pre(**params) -> OmicsPreprocessor:
    return OmicsPreprocessor(layout=OTLayout(method="random", grid=(4, 4), random_state=0), **params)


def _pixel(pre: OmicsPreprocessor, omics_type: str, feature: str) -> tuple[int, int]:
    column = list(pre.feature_names(omics_type)).index(feature)
    weights = pre.matrix(omics_type)[:, column].toarray().ravel()
    return np.unravel_index(int(np.argmax(weights)), pre.grid_)


def test_a_hole_lands_on_its_genes_pixel_of_the_types_mask_channel():
    tables = _tables()
    tables["cnv"].loc["P20", "cnv_g5"] = np.nan
    pre = _pre(missing_values="median", missing_indicator=True).fit(OmicsTable(tables).select(TRAIN))
    assert pre.channel_names == ["mut", "cnv", "mut_missing", "cnv_missing"]
    assert pre.channel_type("cnv_missing") == "cnv" and pre.is_mask("cnv_missing") and not pre.is_mask("cnv")
    images = pre.transform(OmicsTable(tables).select(["P19", "P20"]))
    assert images.shape == (2, 4, 4, 4)
    names = list(pre.feature_names("cnv"))
    mask = np.zeros(len(names), np.float32)
    mask[names.index("cnv_g5")] = 1.0
    expected = (pre.matrix("cnv") @ mask).reshape(pre.grid_)
    np.testing.assert_allclose(images[1, 3], expected)
    assert images[1, 3][_pixel(pre, "cnv", "cnv_g5")] > 0 and images[1, 3].sum() == pytest.approx(expected.sum())
    assert not images[1, 2].any() and not images[0, 2:].any()  # no other hole
    plain = _pre(missing_values="median").fit(OmicsTable(tables).select(TRAIN))
    np.testing.assert_allclose(images[:, :2], plain.transform(OmicsTable(tables).select(["P19", "P20"])))
    # the raw vectors' holes give the same mask channel
    raw = {t: tables[t].loc[["P20"], pre.feature_names(t)].to_numpy() for t in pre.types_}
    np.testing.assert_allclose(pre.images(raw)[0], images[1], atol=1e-5)
    # mask channels back-project onto the same genes, under their own name
    back = pre.backproject(images[1])
    assert set(back) == set(pre.channel_names)
    assert int(np.argmax(back["cnv_missing"])) == names.index("cnv_g5")


def test_fills_and_masks_round_trip_through_the_layout_file_to_omics_channels(tmp_path):
    tables = _tables()
    tables["mut"].iloc[[0, 4, 9], 3] = np.nan
    tables["cnv"].iloc[20, [1, 2]] = np.nan
    pre = _pre(missing_values="mean", missing_indicator=True).fit(OmicsTable(tables).select(TRAIN))
    path = pre.save(tmp_path / "layout.npz")
    loaded = OmicsPreprocessor.load(path)
    assert loaded.missing_indicator and loaded.missing_indicator_ and loaded.fingerprint == pre.fingerprint
    assert loaded.fingerprint != _pre(missing_values="mean").fit(OmicsTable(tables).select(TRAIN)).fingerprint
    expected = pre.transform(OmicsTable(tables).select(["P20"]))[0]
    channels = OmicsChannels(tables, path)
    out = channels("P20")
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)
    assert out.meta["omics_channels"] == ["mut", "cnv", "mut_missing", "cnv_missing"]
    assert np.asarray(out)[3].any() and not np.asarray(out)[2].any()
    vectors, _ = OmicsReader(tables, path).get_data(OmicsReader(tables, path).read("P20"))
    names = list(loaded.feature_names("cnv"))
    assert vectors["cnv_missing"][[names.index("cnv_g1"), names.index("cnv_g2")]].tolist() == [1.0, 1.0]
    assert vectors["cnv_missing"].sum() == 2 and np.isfinite(vectors["cnv"]).all()
    attr = omics_feature_attributions(np.asarray(out), loaded, 0)
    assert set(attr) == set(loaded.channel_names)


def test_a_sample_without_a_type_gets_an_all_ones_mask(tmp_path):
    tables = _tables()
    only = {"mut": tables["mut"], "cnv": tables["cnv"].drop(index=["P03", "P21"])}
    pre = _pre(missing="mask", missing_indicator=True).fit(OmicsTable(only).select(TRAIN))
    images = pre.transform(OmicsTable(only).select(["P03", "P04"]))
    ones = (pre.matrix("cnv") @ np.ones(pre.feature_names("cnv").size, np.float32)).reshape(pre.grid_)
    np.testing.assert_allclose(images[0, 3], ones)
    assert not images[0, 1].any() and not images[1, 3].any()
    path = pre.save(tmp_path / "layout.npz")
    out = OmicsChannels(only, path, on_missing="zeros")("P21")
    np.testing.assert_allclose(np.asarray(out)[3], ones, atol=1e-6)
    assert out.meta["omics_missing_channels"].tolist() == [False, True, False, False]


def test_the_indicator_is_keyword_only_validated_and_off_in_older_files(tmp_path):
    with pytest.raises(TypeError, match="positional argument"):
        OmicsPreprocessor(None, "zscore", False, None, None, "auto", "raise", "median", 0.0, 0.5, True)
    with pytest.raises(OmicsDataError, match="missing_indicator=True"):
        _pre(missing_indicator=True).fit(_tables())
    with pytest.raises(OmicsDataError, match="clash"):
        _pre(missing_values="median", missing_indicator=True).fit(
            {"a": _tables()["mut"], "a_missing": _tables()["cnv"]}
        )
    pre = _pre(missing_values="median").fit(_tables())
    assert pre.channel_names == ["mut", "cnv"]
    path = pre.save(tmp_path / "new.npz")
    first = OTLayout.load(path)
    extras = {k: v for k, v in first.extras_.items() if k != "missing_indicator"}  # a format 2 file before the key
    old = OmicsPreprocessor.load(first.save(tmp_path / "old.npz", extras=extras))
    assert (
        str(extras["format"]).endswith("/2") and old.missing_indicator is False and old.channel_names == ["mut", "cnv"]
    )


def test_benchmark_gives_every_model_the_masks(tmp_path, capsys):
    tables = _tables(n=40, seed=3)
    labels = pd.Series(np.where(tables["mut"]["mut_g0"] > 0, "hi", "lo"), index=tables["mut"].index, name="y")
    tables["mut"].iloc[::4, 2] = np.nan
    tables["cnv"].iloc[::3, 5] = np.nan
    paths = []
    for t, frame in tables.items():
        frame.to_csv(tmp_path / f"{t}.csv", index_label="sample_id")
        paths.append(f"{t}={tmp_path / f'{t}.csv'}")
    labels.to_csv(tmp_path / "labels.csv", index_label="sample_id")
    argv = [*paths, "--label-table", str(tmp_path / "labels.csv"), "--label-column", "y", "--no-progress"]
    argv += ["--folds", "2", "--seeds", "0", "--threads", "1", "--max-epochs", "1", "--patience", "1"]
    argv += ["--models", "logreg,ot_cnn,random_layout_cnn", "--missing-values", "median", "--missing-indicator"]
    out = tmp_path / "result.json"
    parser = argparse.ArgumentParser(prog="python -m omicsfusion")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["benchmark", *argv, "--json", str(out)])
    assert args.func(args) == 0
    assert "missing indicator: the CNNs read a mask channel per omics type" in capsys.readouterr().out
    assert json.loads(out.read_text())["_meta"]["missing_values"]["missing_indicator"] is True


def test_benchmark_cnns_and_tabular_baselines_get_the_same_masks():
    from omicsfusion.benchmark.inputs import BenchmarkData
    from omicsfusion.benchmark.runner import _Fold

    tables = _tables(n=20)
    tables["cnv"].iloc[[2, 15], 4] = np.nan
    ids = np.asarray(tables["mut"].index)
    data = BenchmarkData(tables=tables, sample_ids=ids, y=np.arange(20) % 2, classes=np.asarray(["a", "b"]), notes=())
    imputation = {"missing_values": "median", "fill_value": 0.0, "max_missing_fraction": 0.5}
    train, test = np.arange(12), np.arange(12, 20)
    plain_fold = _Fold(OmicsTable(tables), data, train, test, "zscore", {}, 0, imputation)
    masked_fold = _Fold(
        OmicsTable(tables), data, train, test, "zscore", {}, 0, {**imputation, "missing_indicator": True}
    )
    train_ids, test_ids = list(ids[train]), list(ids[test])
    plain = plain_fold.tabular(train_ids), plain_fold.tabular(test_ids)
    masked = masked_fold.tabular(train_ids), masked_fold.tabular(test_ids)
    assert masked[0].shape[1] == 2 * plain[0].shape[1] == 48
    np.testing.assert_array_equal(masked[0][:, :24], plain[0])
    assert masked[0][:, 24:].sum() == 1 and masked[0][2, 24 + 12 + 4] == 1  # cnv_g4 of P02
    assert masked[1][:, 24:].sum() == 1 and masked[1][3, 24 + 12 + 4] == 1  # cnv_g4 of P15
    fold = _Fold(
        OmicsTable(tables), data, train, test, "zscore", {"grid": (4, 4)}, 0, {**imputation, "missing_indicator": True}
    )
    ot = fold.imager("ot_cnn").images(["P02", "P03"])
    shuffled = fold.imager("random_layout_cnn").images(["P02", "P03"])
    assert ot.shape == shuffled.shape == (2, 4, 4, 4)
    pre = fold.preprocessor("ot")[0]
    assert _pixel(pre, "cnv", "cnv_g4") in set(zip(*np.nonzero(ot[0, 3]), strict=True))
    assert ot[0, 3].sum() == pytest.approx(shuffled[0, 3].sum()) and not ot[1, 2:].any() and not shuffled[1, 2:].any()


@pytest.mark.slow
def test_pan_cancer_bundle_trains_evaluates_infers_and_explains_with_the_indicator(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bundle_utils import run_dirs, run_workflow
    from conftest import TINY_RUNS

    from omicsfusion.prepare import ensure_dataset

    bundle, dirs = "pan_cancer_classification", run_dirs(tmp_path)
    tiny = TINY_RUNS[bundle]
    ensure_dataset(dirs["dataset_dir"], "pan_cancer", tiny["phantom_size"], 0)
    cnv_file = Path(dirs["dataset_dir"]) / "omics" / "cnv.csv"
    cnv = pd.read_csv(cnv_file, index_col=0)
    cnv.iloc[::3, :5] = np.nan  # holes in a third of the patients
    cnv.to_csv(cnv_file)
    # as `python -m monai.bundle run ... --preprocessor#missing_indicator true` passes it: a string
    overrides = {**dirs, **tiny, "preprocessor#missing_values": "median", "preprocessor#missing_indicator": "true"}
    train = run_workflow(bundle, ["train.json"], "train", **overrides)
    assert train.parser.get_parsed_content("input_channels") == 3 + 6
    pre = OmicsPreprocessor.load(Path(dirs["ckpt_dir"]) / "layout.npz")
    assert pre.channel_names == ["rna", "cnv", "meth", "rna_missing", "cnv_missing", "meth_missing"]
    run_workflow(bundle, ["train.json", "evaluate.json"], "eval", **overrides)
    assert json.loads((Path(dirs["output_dir"]) / "summary.json").read_text())["n"] > 0
    run_workflow(bundle, ["inference.json"], "infer", **dirs)  # the channels come from the layout file
    assert len(pd.read_csv(Path(dirs["output_dir"]) / "predictions.csv")) > 0
    run_workflow(bundle, ["train.json", "saliency.json"], "train", **overrides, **{"saliency#runner#max_samples": 4})
    out = Path(dirs["output_dir"]) / "saliency"
    samples = pd.read_csv(out / "samples.csv")
    shares = samples[[f"ig_share_{g}" for g in ["image", *pre.channel_names]]].to_numpy()
    assert np.allclose(shares.sum(axis=1), 1.0)
    genes = pd.read_csv(out / "genes.csv")
    assert set(genes["omics_type"]) == set(pre.channel_names)
    assert set(genes.loc[genes["omics_type"] == "cnv_missing", "feature"]) == set(pre.feature_names("cnv"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bundle", "phantom", "holes", "n_types"),
    [("neuro_mri_molecular", "neuro", "omics/cnv.csv", 2), ("pathology_spatial_transcriptomics", None, None, 1)],
)
def test_the_other_bundles_train_and_evaluate_with_the_indicator(tmp_path, bundle, phantom, holes, n_types):
    """Neuro with holes punched in its copy number; spatial (count tables: no holes) for the channel count."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bundle_utils import run_dirs, run_workflow
    from conftest import TINY_RUNS

    from omicsfusion.prepare import ensure_dataset

    dirs, tiny = run_dirs(tmp_path), TINY_RUNS[bundle]
    if holes:
        ensure_dataset(dirs["dataset_dir"], phantom, tiny["phantom_size"], 0)
        table = pd.read_csv(Path(dirs["dataset_dir"]) / holes, index_col=0)
        table.iloc[::3, :4] = np.nan
        table.to_csv(Path(dirs["dataset_dir"]) / holes)
    overrides = {**dirs, **tiny, "preprocessor#missing_values": "median", "preprocessor#missing_indicator": True}
    train = run_workflow(bundle, ["train.json"], "train", **overrides)
    pre = OmicsPreprocessor.load(Path(dirs["ckpt_dir"]) / "layout.npz")
    assert len(pre.channel_names) == 2 * n_types and pre.channel_names[n_types:] == [f"{t}_missing" for t in pre.types_]
    assert train.parser.get_parsed_content("omics_channels") == pre.channel_names
    run_workflow(bundle, ["train.json", "evaluate.json"], "eval", **overrides)
    assert (Path(dirs["output_dir"]) / "summary.json").is_file()
