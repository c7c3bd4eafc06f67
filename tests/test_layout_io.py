"""Layout files: round trip, extras, integrity, format version, no pickle."""

from __future__ import annotations

import numpy as np
import pytest

from omicsfusion.layout import LayoutError, OTLayout, io
from omicsfusion.phantoms import modular_table


@pytest.fixture(scope="module")
def fitted():
    table = modular_table(n_samples=30, n_features=50, n_modules=4, noise=0.5, seed=4)
    return table, OTLayout(grid=(8, 8), random_state=0, impute="mean").fit(table)


def test_round_trip_with_extras(fitted, tmp_path):
    table, layout = fitted
    extras = {"mean": np.arange(50.0), "kind": np.asarray(["rna", "cnv"])}
    path = layout.save(tmp_path / "layout.npz", extras=extras)
    loaded = OTLayout.load(path)
    assert loaded.grid_ == layout.grid_ and loaded.method_ == layout.method_
    assert (loaded.matrix_ != layout.matrix_).nnz == 0
    np.testing.assert_array_equal(loaded.feature_names_, layout.feature_names_)
    np.testing.assert_array_equal(loaded.transform(table), layout.transform(table))
    np.testing.assert_array_equal(loaded.impute_values_, layout.impute_values_)
    assert loaded.get_params() == layout.get_params()
    assert loaded.fit_seconds_ == layout.fit_seconds_
    assert set(loaded.extras_) == {"mean", "kind"}
    np.testing.assert_array_equal(loaded.extras_["kind"], extras["kind"])
    assert [p.name for p in tmp_path.iterdir()] == ["layout.npz"]  # no temp files left


def test_empty_extras_and_arrays_round_trip(fitted, tmp_path):
    _, layout = fitted
    assert OTLayout.load(layout.save(tmp_path / "a.npz")).extras_ == {}
    again = OTLayout.from_arrays(layout.to_arrays())
    assert (again.matrix_ != layout.matrix_).nnz == 0


def test_metric_round_trip_and_unknown_metric(fitted, tmp_path):
    table, _ = fitted
    layout = OTLayout(grid=(8, 8), metric="abs_spearman", method="random").fit(table)
    loaded = OTLayout.load(layout.save(tmp_path / "abs.npz"))
    assert loaded.metric == "abs_spearman"
    assert loaded.quality(table) == layout.quality(table)  # scored with its own metric
    arrays = layout.to_arrays()  # as a later version with another metric would write it: resealed
    arrays["params"] = np.asarray(str(arrays["params"]).replace("abs_spearman", "kendall"))
    io.write_npz(tmp_path / "odd.npz", {f"layout/{k}": v for k, v in io.seal(arrays).items()})
    with pytest.raises(LayoutError, match=r"odd.npz: unknown metric 'kendall'"):
        OTLayout.load(tmp_path / "odd.npz")


def test_tampered_file_refused(fitted, tmp_path):
    _, layout = fitted
    path = layout.save(tmp_path / "layout.npz")
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["layout/matrix_data"] = arrays["layout/matrix_data"] * 2
    np.savez(path, **arrays)
    with pytest.raises(LayoutError, match=r"layout.npz: checksum mismatch"):
        OTLayout.load(path)


def test_tampered_arrays_refused(fitted):
    _, layout = fitted
    arrays = layout.to_arrays()
    arrays["feature_names"] = arrays["feature_names"][::-1].copy()
    with pytest.raises(LayoutError, match="checksum mismatch"):
        OTLayout.from_arrays(arrays)


def test_other_format_version_refused(fitted, tmp_path):
    _, layout = fitted
    arrays = {f"layout/{k}": v for k, v in layout.to_arrays().items()}
    arrays["layout/format_version"] = np.asarray(io.FORMAT_VERSION + 1)
    io.write_npz(tmp_path / "future.npz", arrays)
    with pytest.raises(LayoutError, match=r"future.npz: layout format version 2, this omicsfusion reads version 1"):
        OTLayout.load(tmp_path / "future.npz")


def test_object_arrays_refused(fitted, tmp_path):
    _, layout = fitted
    with pytest.raises(LayoutError, match="Python objects"):
        layout.save(tmp_path / "x.npz", extras={"bad": np.asarray([{"a": 1}], dtype=object)})
    np.savez(tmp_path / "pickled.npz", bad=np.asarray([{"a": 1}], dtype=object))
    with pytest.raises(LayoutError, match=r"pickled.npz: not a readable layout file"):
        OTLayout.load(tmp_path / "pickled.npz")


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(LayoutError, match="no such layout file"):
        OTLayout.load(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LayoutError, match=r"junk.npz"):
        OTLayout.load(tmp_path / "junk.npz")
