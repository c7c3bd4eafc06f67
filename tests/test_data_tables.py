"""OmicsTable: formats, O(1) lookup, named errors, process cache, feature alignment."""

from __future__ import annotations

import os

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from omicsfusion.data import (
    DuplicateSampleError,
    EmptyTableError,
    FeatureMismatchError,
    MissingLayerError,
    MissingSampleError,
    OmicsDataError,
    OmicsTable,
    tables,
)
from omicsfusion.data.tables import TABLE_SUFFIXES, table_suffix


def _frame(n: int = 6, f: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(size=(n, f)),
        index=pd.Index([f"P{i}" for i in range(n)], name="sample"),
        columns=[f"g{j}" for j in range(f)],
    )


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".TXT.gz", ".parquet"])
def test_text_and_parquet_round_trip(tmp_path, suffix):
    df = _frame()
    path = tmp_path / f"rna{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, sep="," if suffix.startswith(".csv") else "\t")
    table = OmicsTable({"rna": path})
    assert table.types == ("rna",)
    assert table.sample_ids("rna") == list(df.index)
    np.testing.assert_array_equal(table.features("rna"), df.columns)
    np.testing.assert_allclose(table.row("rna", "P3"), df.loc["P3"].to_numpy(), rtol=1e-6)
    assert table.row("rna", "P3").dtype == np.float32
    assert not table.row("rna", "P3").flags.writeable


@pytest.mark.parametrize("index", ["range", "stored", "named"])
def test_parquet_is_read_straight_into_float32_as_pandas_would_give_it(tmp_path, monkeypatch, index):
    """The column-block reader matches the pandas route value for value, bool / int / float64 / float32 alike."""
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(40)],
            "f64": rng.normal(size=40),
            "i64": rng.integers(-2, 3, 40),
            "flag": rng.random(40) > 0.5,
            "f32": rng.normal(size=40).astype(np.float32),
        }
    )
    df.loc[3, "f64"] = np.nan
    frame = {"range": df, "stored": df.set_index("id"), "named": df.set_index("id").rename_axis("sample")}[index]
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, index=index != "range")
    monkeypatch.setattr(tables, "PARQUET_COLUMN_BLOCK", 3)  # blocks of 3 columns: the last block is partial
    direct = tables.read_table(path, exclude=["i64"])
    monkeypatch.setattr(tables, "_read_parquet_matrix", lambda *args: None)  # the pandas route
    via_pandas = tables.read_table(path, exclude=["i64"])
    assert direct.ids.tolist() == via_pandas.ids.tolist() == df["id"].tolist()
    assert direct.features.tolist() == via_pandas.features.tolist() == ["f64", "flag", "f32"]
    np.testing.assert_array_equal(direct.values, via_pandas.values)
    assert direct.values.dtype == np.float32 and direct.values.flags.c_contiguous and np.isnan(direct.values[3, 0])


def test_parquet_nullable_integers_read_as_nan_and_text_columns_are_refused_by_name(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"id": ["a", "b"], "g": pd.array([1, None], dtype="Int64")}).to_parquet(path, index=False)
    assert np.isnan(tables.read_table(path).values[1, 0]) and tables.read_table(path).values[0, 0] == 1
    pd.DataFrame({"id": ["a", "b"], "g": [1.0, 2.0], "note": ["x", "y"]}).to_parquet(path, index=False)
    with pytest.raises(OmicsDataError, match=r"non-numeric.*note"):
        tables.read_table(path)


def test_id_column_and_non_numeric_columns(tmp_path):
    df = _frame().reset_index()
    df.insert(1, "project", "TCGA-GBM")
    df.insert(0, "row", range(len(df)))
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(OmicsDataError, match=r"non-numeric.*project.*exclude"):
        OmicsTable({"rna": tmp_path / "t.csv"}, id_column="sample")
    table = OmicsTable({"rna": tmp_path / "t.csv"}, id_column="sample", exclude=["project"])
    assert list(table.features("rna")) == ["row", "g0", "g1", "g2", "g3"]
    assert table.has("rna", "P0") and not table.has("rna", "P99")


def test_h5ad_sparse_layer_and_obs_id(tmp_path):
    X = sp.random(5, 7, density=0.4, format="csr", random_state=0, dtype=np.float32)
    adata = anndata.AnnData(
        X=X,
        obs=pd.DataFrame({"barcode": [f"b{i}" for i in range(5)]}, index=[f"c{i}" for i in range(5)]),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(7)]),
        layers={"counts": X * 10},
    )
    adata.write_h5ad(tmp_path / "a.h5ad")
    table = OmicsTable({"rna": tmp_path / "a.h5ad"})
    np.testing.assert_allclose(table.row("rna", "c2"), X[2].toarray().ravel())
    counts = OmicsTable({"rna": tmp_path / "a.h5ad"}, layer="counts", id_column="barcode")
    np.testing.assert_allclose(counts.row("rna", "b2"), 10 * X[2].toarray().ravel(), rtol=1e-6)
    with pytest.raises(MissingLayerError, match=r"a\.h5ad: no layer 'raw'.*counts"):
        OmicsTable({"rna": tmp_path / "a.h5ad"}, layer="raw")


def test_missing_sample_names_id_and_file(tmp_path):
    _frame().to_csv(tmp_path / "cnv.csv")
    table = OmicsTable({"cnv": tmp_path / "cnv.csv"})
    with pytest.raises(MissingSampleError, match=r"'NOPE'.*'cnv'.*cnv\.csv") as err:
        table.row("cnv", "NOPE")
    assert isinstance(err.value, KeyError)
    with pytest.raises(MissingSampleError, match="NOPE"):
        table.rows("cnv", ["P0", "NOPE"])


def test_duplicate_ids_and_unknown_format(tmp_path):
    df = _frame()
    df.index = ["A", "B", "A", "C", "D", "B"]
    df.to_csv(tmp_path / "dup.csv")
    with pytest.raises(DuplicateSampleError, match=r"dup\.csv.*2 sample id.*'A'"):
        OmicsTable({"rna": tmp_path / "dup.csv"})
    for name in ("x.xlsx", "x.parquet.gz"):  # only text tables may be gzipped
        (tmp_path / name).write_text("")
        with pytest.raises(OmicsDataError, match=rf"{name}: unsupported omics table type \(use one of \.csv, "):
            OmicsTable({"rna": tmp_path / name})


def test_one_list_of_table_suffixes(tmp_path):
    from omicsfusion.apps.benchmark_cli import _header, _read_frame

    assert TABLE_SUFFIXES == (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".h5ad")
    assert [table_suffix(n) for n in ("a.CSV.gz", "b.v2.txt", "c.h5ad", "d.parquet.gz", "e.gz", "f")] == [
        ".csv.gz",
        ".txt",
        ".h5ad",
        "",
        "",
        "",
    ]
    _frame().to_csv(tmp_path / "rna.txt.gz", sep="\t")  # a gzipped text table, with its sidecar of gene symbols
    pd.DataFrame({"feature": ["g1"], "display_name": ["TP53"]}).to_csv(tmp_path / "rna.features.csv", index=False)
    assert OmicsTable({"rna": tmp_path / "rna.txt.gz"}).display_names("rna").tolist() == ["g0", "TP53", "g2", "g3"]
    assert _header(str(tmp_path / "rna.txt.gz")) == ["sample", "g0", "g1", "g2", "g3"]  # the benchmark CLI too
    assert _read_frame(str(tmp_path / "rna.txt.gz"), None).index.tolist() == [f"P{i}" for i in range(6)]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"sample,g0,g1\n"])
def test_empty_table_is_named(tmp_path, content):
    path = tmp_path / "rna.csv"
    path.write_bytes(content)
    with pytest.raises(EmptyTableError, match=r"rna\.csv: (the file is empty|no header|no sample rows)"):
        OmicsTable({"rna": path})


def test_anndata_without_rows_is_named(tmp_path):
    empty = anndata.AnnData(np.zeros((0, 3), np.float32))
    empty.write_h5ad(tmp_path / "rna.h5ad")
    with pytest.raises(EmptyTableError, match=r"rna\.h5ad: no sample rows \(a header of 3 column"):
        OmicsTable({"rna": tmp_path / "rna.h5ad"})


def test_several_types_and_common_samples():
    a, b = _frame(6), _frame(4, 3, seed=1)
    table = OmicsTable({"rna": a, "cnv": b})
    assert table.types == ("rna", "cnv")
    assert table.sample_ids() == ["P0", "P1", "P2", "P3"]
    assert table.frame("cnv").shape == (4, 3)


def test_cache_reads_once_and_rereads_changed_file(tmp_path):
    path = tmp_path / "rna.csv"
    _frame().to_csv(path)
    first = OmicsTable.cached({"rna": str(path)})
    assert OmicsTable.cached({"rna": path}) is first
    _frame(seed=5).to_csv(path)
    os.utime(path, ns=(1, 10**18))
    second = OmicsTable.cached({"rna": path})
    assert second is not first
    np.testing.assert_allclose(second.row("rna", "P0"), _frame(seed=5).loc["P0"], rtol=1e-6)


def test_feature_alignment_fills_reports_and_refuses():
    table = OmicsTable({"rna": _frame(f=4)})
    with pytest.warns(UserWarning, match="1 of 4 layout features absent"):
        rows = table.aligned_rows("rna", ["P1"], ["g3", "g0", "zz", "g1"], fill_value=-7.0)
    expected = table.row("rna", "P1")[[3, 0, 0, 1]].copy()
    expected[2] = -7.0
    np.testing.assert_allclose(rows[0], expected)
    match = r"1 of 4 layout features present \(min_overlap=0\.5\); missing 'x1', 'x2', 'x3'"
    with pytest.raises(FeatureMismatchError, match=match):
        table.feature_index("rna", ["g0", "x1", "x2", "x3"], min_overlap=0.5)


_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=5)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(_TEXT, min_size=1, max_size=6),
    names=st.lists(_TEXT, min_size=1, max_size=5),
    data=st.data(),
    suffix=st.sampled_from([".csv", ".tsv"]),
)
def test_text_table_parsing_property(tmp_path_factory, ids, names, data, suffix):
    """Any ids, feature names and NaNs: the table round-trips exactly, or the first rule it breaks is named."""
    values = data.draw(
        st.lists(
            st.lists(
                st.one_of(st.floats(-1e6, 1e6, width=32), st.just(float("nan"))),
                min_size=len(names),
                max_size=len(names),
            ),
            min_size=len(ids),
            max_size=len(ids),
        )
    )
    frame = pd.DataFrame(values, index=pd.Index(ids, name="sample"), columns=names, dtype=np.float64)
    path = tmp_path_factory.mktemp("prop") / f"t{suffix}"
    frame.to_csv(path, sep="," if suffix == ".csv" else "\t")
    if any(not n.strip() for n in names):
        expected = (OmicsDataError, "have no name")
    elif len(set(names)) < len(names):
        expected = (OmicsDataError, "feature name\\(s\\) occur more than once")
    elif any(not i.strip() or i != i.strip() for i in ids):  # ids are checked row by row: the first bad one is named
        first = next(i for i in ids if not i.strip() or i != i.strip())
        expected = (OmicsDataError, "has no sample id" if not first.strip() else "leading or trailing spaces")
    elif len(set(ids)) < len(ids):
        expected = (DuplicateSampleError, "occur more than once")
    else:
        table = OmicsTable({"omics": path})
        assert table.sample_ids("omics") == ids
        np.testing.assert_array_equal(table.features("omics"), names)
        np.testing.assert_array_equal(table.rows("omics", ids), frame.to_numpy(np.float32))  # NaN where NaN
        return
    with pytest.raises(expected[0], match=expected[1]):
        OmicsTable({"omics": path})
