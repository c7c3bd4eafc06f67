"""Coherent feature signs: anti-correlated grid neighbours are flipped, and rendering them keeps every fact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsfusion.data import OmicsDataError, OmicsTable
from omicsfusion.layout import LayoutError, OTLayout, coherent_signs
from omicsfusion.preprocessing import OmicsPreprocessor


def signed_modules(n_samples: int = 200, n_modules: int = 16, size: int = 20, seed: int = 0):
    """Latent-factor modules with a quarter of the loadings negative: (values, module of each feature, loading sign)."""
    rng = np.random.default_rng(seed)
    module = np.repeat(np.arange(n_modules), size)
    sign = np.where(rng.random(module.size) < 0.25, -1.0, 1.0)
    sign[::size] = 1.0  # every module has a positive majority
    activity = rng.standard_normal((n_samples, n_modules))
    values = activity[:, module] * sign * rng.uniform(0.7, 1.3, module.size)
    return values + 0.6 * rng.standard_normal(values.shape), module, sign


def block_positions(module: np.ndarray, size: int = 20) -> np.ndarray:
    """Each module as a 4 x 5 block, blocks side by side on a 16 x 20 grid."""
    within = np.arange(module.size) % size
    return np.stack([(module // 4) * 4 + within // 5, (module % 4) * 5 + within % 5], axis=1)


def test_signs_follow_the_loadings_of_each_module():
    values, module, sign = signed_modules()
    signs = coherent_signs(values, block_positions(module))
    np.testing.assert_array_equal(signs, sign)  # each module keeps its majority (positive) direction
    flipped = values * signs
    corr = np.corrcoef(flipped.T)
    same_module = module[:, None] == module[None, :]
    assert corr[same_module].min() > 0.3


def test_positively_correlated_neighbours_and_noise_keep_their_sign():
    rng = np.random.default_rng(1)
    values, module, _ = signed_modules(seed=1)
    positive = np.abs(values)  # every neighbour pair correlates positively (or not at all)
    np.testing.assert_array_equal(coherent_signs(positive, block_positions(module)), 1.0)
    noise = rng.standard_normal((200, 100))  # no correlation above the noise level: nothing to align
    positions = np.stack(np.unravel_index(np.arange(100), (10, 10)), axis=1)
    np.testing.assert_array_equal(coherent_signs(noise, positions), 1.0)


def test_signs_work_on_shared_pixels_and_3d_grids():
    values, module, sign = signed_modules(n_modules=4)
    on_one_pixel = np.zeros((module.size, 3), dtype=int)
    on_one_pixel[:, 0] = module  # 20 features per voxel, modules in a row of voxels
    np.testing.assert_array_equal(coherent_signs(values, on_one_pixel), sign)


def test_bad_input_is_named():
    values, module, _ = signed_modules(n_modules=2)
    with pytest.raises(LayoutError, match="39 feature positions for 40 features"):
        coherent_signs(values, block_positions(module)[:-1])
    with pytest.raises(LayoutError, match="at least 3 samples"):
        coherent_signs(values[:2], block_positions(module))


@pytest.fixture(scope="module")
def signed_table() -> tuple[OmicsTable, list[str], np.ndarray]:
    values, _, sign = signed_modules(n_samples=120, n_modules=8)
    names = [f"G{j:03d}" for j in range(values.shape[1])]
    frame = pd.DataFrame(values + 5.0, index=[f"s{i:03d}" for i in range(len(values))], columns=names)
    return OmicsTable({"rna": frame}), list(frame.index[:100]), pd.Series(sign, index=names)


def test_unsigned_layouts_render_coherent_signs_by_default(signed_table, tmp_path):
    table, train, sign = signed_table
    coherent = OmicsPreprocessor(layout=OTLayout(metric="abs_correlation")).fit(table.select(train))
    plain = OmicsPreprocessor(layout=OTLayout(metric="abs_correlation"), signs="none").fit(table.select(train))
    signed = OmicsPreprocessor(layout=OTLayout(metric="correlation")).fit(table.select(train))
    scale = pd.Series(coherent.normalizers_["rna"].scale_, index=coherent.feature_names("rna"))
    np.testing.assert_array_equal(np.sign(scale[sign.index]), sign)
    assert (plain.normalizers_["rna"].scale_ > 0).all() and (signed.normalizers_["rna"].scale_ > 0).all()
    # the same layout, each feature times its sign: the rendered image is A @ (s * z)
    test = [s for s in table.sample_ids() if s not in train]
    np.testing.assert_array_equal(coherent.layouts_["rna"].matrix_.toarray(), plain.layouts_["rna"].matrix_.toarray())
    z = plain.normalize("rna", table.rows("rna", test))
    expected = (coherent.matrix("rna") @ (z * np.sign(scale.to_numpy())).T).T.reshape((len(test), 1, *plain.grid_))
    np.testing.assert_allclose(coherent.transform(table.select(test)), expected, atol=1e-5)
    coherent.save(tmp_path / "layout.npz")
    np.testing.assert_array_equal(
        OmicsPreprocessor.load(tmp_path / "layout.npz").transform(table.select(test)),
        coherent.transform(table.select(test)),
    )


def test_neighbouring_pixels_correlate_positively_once_signed(signed_table):
    table, train, _ = signed_table

    def neighbour_correlation(pre: OmicsPreprocessor) -> float:
        images = pre.transform(table.select(train))[:, 0]
        right = [
            np.corrcoef(images[:, i, j], images[:, i, j + 1])[0, 1]
            for i in range(images.shape[1])
            for j in range(images.shape[2] - 1)
            if images[:, i, j].std() > 0 and images[:, i, j + 1].std() > 0
        ]
        return float(np.mean(right))

    coherent = neighbour_correlation(
        OmicsPreprocessor(layout=OTLayout(metric="abs_correlation")).fit(table.select(train))
    )
    plain = neighbour_correlation(
        OmicsPreprocessor(layout=OTLayout(metric="abs_correlation"), signs="none").fit(table.select(train))
    )
    assert coherent > plain + 0.1


def test_unknown_signs_option_is_named(signed_table):
    table, train, _ = signed_table
    with pytest.raises(OmicsDataError, match="signs must be one of"):
        OmicsPreprocessor(signs="flip").fit(table.select(train))


def test_normaliser_signs_are_decided_at_fit():
    from omicsfusion.preprocessing import FeatureNormalizer

    X = np.arange(12.0).reshape(4, 3)
    norm = FeatureNormalizer(method="zscore").fit(X)
    signed = FeatureNormalizer(method="zscore").fit(X, signs=np.array([1.0, -1.0, 1.0]))
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(signed.transform(x), norm.transform(x) * [1, -1, 1])
    with pytest.raises(OmicsDataError, match="one sign"):
        FeatureNormalizer(method="zscore").fit(X, signs=np.array([1.0, 0.5, 1.0]))
