"""Mutation calls and copy number as omics types: their normalisations, the rare-feature filter,
the co-mutation metric and the gene-level shared layout (one pixel per gene in every channel)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from omicsfusion.apps import benchmark_cli
from omicsfusion.data import OmicsDataError, OmicsTable
from omicsfusion.layout import LayoutWarning, OTLayout
from omicsfusion.layout.metrics import unit_profiles
from omicsfusion.phantoms import modular_table
from omicsfusion.preprocessing import FeatureNormalizer, OmicsPreprocessor
from omicsfusion.preprocessing.normalize import detect_normalization

GENES = [f"G{j:02d}" for j in range(36)]


@pytest.fixture(scope="module")
def gene_table() -> OmicsTable:
    """60 patients: rna of 30 of the 36 genes (floats), copy number -2..2 and rare 0/1 mutations of all 36."""
    expression = modular_table(60, 36, n_modules=4, seed=5)
    expression.columns = GENES
    rng = np.random.default_rng(5)
    cnv = np.clip(np.round(expression * 1.2), -2, 2)
    mutation = (rng.random((60, 36)) < np.linspace(0.005, 0.3, 36)).astype(float)
    mutation[:2, 0] = 1.0  # G00: mutated in exactly 2 patients (of the first 50, the training split)
    mutation[2:, 0] = 0.0
    return OmicsTable(
        {
            "mutation": pd.DataFrame(mutation, index=expression.index, columns=GENES),
            "cnv": cnv,
            "rna": expression.iloc[:, :30],
        }
    )


def test_binary_and_ordinal_normalizations_and_their_stored_statistics():
    calls = np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]], dtype=float)
    binary = FeatureNormalizer(method="binary").fit(calls, feature_names=["TP53", "KRAS", "APC"])
    np.testing.assert_array_equal(binary.transform(calls), calls)  # kept 0/1: no sqrt(n) pixel for a rare gene
    np.testing.assert_allclose(binary.mean_, [0.25, 0.75, 0.25])  # the mutation frequency is the baseline
    gistic = np.array([[-2, 0, 1], [0, 1, 2], [1, -1, 0]], dtype=float)
    ordinal = FeatureNormalizer(method="ordinal").fit(gistic)
    np.testing.assert_allclose(ordinal.transform(gistic), gistic / 2)  # by the range, not centred: 0 = no change
    for fitted in (binary, ordinal):
        back = FeatureNormalizer.from_arrays(fitted.to_arrays())
        assert back.method_ == fitted.method_
        np.testing.assert_array_equal(back.scale_, fitted.scale_)
        np.testing.assert_array_equal(back.offset_, fitted.offset_)
    with pytest.raises(OmicsDataError, match=r"'binary' takes 0/1 calls; 1 feature.*\['APC'\]"):
        FeatureNormalizer(method="binary").fit(calls * [1, 1, 2], feature_names=["TP53", "KRAS", "APC"])


def test_auto_detection():
    assert detect_normalization(np.array([[0.0, 1.0], [1.0, np.nan]])) == "binary"
    assert detect_normalization(np.array([[-2.0, 1.0], [0.0, 2.0]])) == "ordinal"
    assert detect_normalization(np.array([[-3.0, 1.0], [0.0, 2.0]])) == "zscore"
    assert detect_normalization(np.array([[0.5, 1.0], [0.0, 2.0]])) == "zscore"
    norm = FeatureNormalizer(method="auto").fit(np.array([[0.0, 1.0], [1.0, 1.0]]))
    assert norm.method == "auto" and norm.method_ == "binary"
    assert FeatureNormalizer.from_arrays(norm.to_arrays()).method_ == "binary"  # the choice is what is stored


def test_auto_choice_is_reported_and_stored_in_the_layout_file(gene_table, tmp_path):
    train = gene_table.sample_ids()[:50]
    pre = OmicsPreprocessor(layout=OTLayout(method="random"), normalization="auto")
    with pytest.warns(LayoutWarning) as caught:
        pre.fit(gene_table.select(train))
    message = " ".join(str(w.message) for w in caught)
    assert "'mutation': normalization 'auto' chose 'binary'" in message
    assert "'cnv': normalization 'auto' chose 'ordinal'" in message
    assert "'rna': normalization 'auto' chose 'zscore'" in message
    assert pre.normalizations_ == {"mutation": "binary", "cnv": "ordinal", "rna": "zscore"}
    loaded = OmicsPreprocessor.load(pre.save(tmp_path / "layout.npz"))
    assert {t: n.method_ for t, n in loaded.normalizers_.items()} == pre.normalizations_
    test = gene_table.select(gene_table.sample_ids()[50:])
    np.testing.assert_array_equal(loaded.transform(test), pre.transform(test))
    assert loaded.fingerprint == pre.fingerprint


def test_min_samples_per_feature_leaves_out_rare_mutations_with_a_count(gene_table):
    train = gene_table.sample_ids()[:50]
    counts = pd.Series((gene_table.rows("mutation", train) != 0).sum(axis=0), index=GENES)
    pre = OmicsPreprocessor(
        layout=OTLayout(method="random"),
        normalization={"mutation": "binary", "cnv": "ordinal", "rna": "zscore"},
        omics_types=["mutation"],
        min_samples_per_feature=3,
    )
    with pytest.warns(LayoutWarning, match=r"'mutation': left out \d+ feature\(s\) non-zero in fewer than 3"):
        pre.fit(gene_table.select(train))
    rare = counts.index[counts < 3]
    assert "G00" in rare  # mutated in 2 training patients
    assert pre.left_out_["mutation"].tolist() == rare.tolist()
    assert set(pre.feature_names("mutation")) == set(counts.index[counts >= 3])


def test_cosine_metric_is_the_ochiai_co_mutation_coefficient():
    calls = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 0, 1]], dtype=float)
    profiles = unit_profiles(calls, "cosine")
    for a in range(4):
        for b in range(4):
            both = float((calls[:, a] * calls[:, b]).sum())
            ochiai = both / np.sqrt(calls[:, a].sum() * calls[:, b].sum())
            assert profiles[a] @ profiles[b] == pytest.approx(ochiai)
    assert profiles[0] @ profiles[3] == pytest.approx(1 / np.sqrt(6))  # one shared patient of 3 and 2
    assert profiles[2] @ profiles[3] == 0.0  # never mutated together: as far apart as possible


def test_cosine_layout_fits_and_round_trips(gene_table, tmp_path):
    frame = gene_table.frame("mutation").loc[:, lambda f: f.sum() > 0]
    layout = OTLayout(metric="cosine", random_state=0).fit(frame)
    assert layout.quality(frame)["collisions"] == 0
    assert OTLayout.load(layout.save(tmp_path / "mutation.npz")).metric == "cosine"


def test_shared_layout_puts_each_gene_at_one_pixel_in_every_channel(gene_table):
    train = gene_table.sample_ids()[:50]
    pre = OmicsPreprocessor(
        layout=OTLayout(method="random", grid=(6, 6)),
        normalization={"mutation": "binary", "cnv": "ordinal", "rna": "zscore"},
        shared=True,
    )
    with pytest.warns(LayoutWarning, match=r"'rna' lacks 6 of the shared layout's 36 feature\(s\)"):
        pre.fit(gene_table.select(train))
    assert pre.absent_["rna"].tolist() == GENES[30:] and pre.absent_["mutation"].size == 0
    for gene in ("G03", "G20", "G33"):
        pixels = set()
        for t in pre.channel_names:
            if gene not in pre.feature_names(t):
                continue
            one_hot = {u: np.zeros(pre.feature_names(u).size) for u in pre.channel_names}
            one_hot[t][pre.feature_names(t).tolist().index(gene)] = 1.0
            channel = pre.images(one_hot, normalized=True)[pre.channel_names.index(t)]
            pixels.add(np.unravel_index(np.argmax(channel), channel.shape))
        assert len(pixels) == 1, gene
    rna = pre.channel_names.index("rna")
    absent = np.zeros(pre.grid_, bool)  # the pixels of the genes rna lacks stay 0 in its channel
    for gene in GENES[30:]:
        one_hot = {u: np.zeros(pre.feature_names(u).size) for u in pre.channel_names}
        one_hot["cnv"][pre.feature_names("cnv").tolist().index(gene)] = 1.0
        absent |= pre.images(one_hot, normalized=True)[pre.channel_names.index("cnv")] != 0
    images = pre.transform(gene_table.select(gene_table.sample_ids()[50:]))
    assert absent.sum() == 6 and (images[:, rna][:, absent] == 0).all()


def test_shared_layout_keeps_a_types_left_out_features_out_of_its_channel(gene_table):
    """A gene the mutation filter left out but copy number keeps: in the shared layout, not in the mutation channel."""
    pre = OmicsPreprocessor(
        layout=OTLayout(method="random", grid=(6, 6)),
        normalization={"mutation": "binary", "cnv": "ordinal"},
        omics_types=["mutation", "cnv"],
        shared=True,
        min_samples_per_feature=3,
    )
    with pytest.warns(LayoutWarning, match="'mutation' lacks"):
        pre.fit(gene_table.select(gene_table.sample_ids()[:50]))
    assert "G00" in pre.layouts_["cnv"].feature_names_
    assert "G00" not in pre.feature_names("mutation") and "G00" in pre.absent_["mutation"]


def _benchmark(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m omicsfusion")
    benchmark_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["benchmark", *argv])
    return args.func(args)


def test_benchmark_cli_takes_a_normalization_per_type_a_min_count_and_the_metric(gene_table, tmp_path, capsys):
    paths = []
    for t in ("mutation", "cnv"):
        gene_table.frame(t).to_csv(tmp_path / f"{t}.csv")
        paths.append(str(tmp_path / f"{t}.csv"))
    labels = pd.Series(np.tile(["a", "b"], 30), index=gene_table.sample_ids(), name="label")
    labels.to_frame().to_csv(tmp_path / "labels.csv")
    common = [*paths, "--label-table", str(tmp_path / "labels.csv"), "--label-column", "label", "--folds", "2"]
    common += ["--seeds", "0", "--threads", "1", "--no-progress", "--max-epochs", "2", "--patience", "1"]
    out = tmp_path / "bench.json"
    typed = ["--normalization", "mutation=binary,cnv=ordinal", "--min-count", "3", "--metric", "cosine"]
    with pytest.warns(LayoutWarning, match="'mutation': left out"):
        assert _benchmark([*common, *typed, "--models", "ot_cnn,logreg", "--json", str(out)]) == 0
    meta = json.loads(out.read_text())["_meta"]
    assert meta["normalization"] == {"mutation": "binary", "cnv": "ordinal"}
    assert meta["min_samples_per_feature"] == 3 and meta["layout_params"]["metric"] == "cosine"
    assert _benchmark([*common, "--normalization", "mutation=binary", "--models", "logreg"]) == 2
    assert "--normalization names types ['mutation']" in capsys.readouterr().err
