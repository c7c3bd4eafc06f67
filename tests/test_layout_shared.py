"""One layout over several omics types: same gene, same pixel, every channel."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

from omicsfusion.layout import LayoutError, LayoutWarning, OTLayout, fit_shared_layout
from omicsfusion.phantoms import modular_table


@pytest.fixture(scope="module")
def tables():
    rna = modular_table(n_samples=40, n_features=60, n_modules=4, noise=0.5, seed=6)
    cnv = modular_table(n_samples=40, n_features=60, n_modules=4, noise=0.8, seed=7).iloc[:, 20:]
    cnv = cnv.iloc[5:]  # fewer samples: only the common ones are used
    meth = -rna.iloc[:, :30] + np.random.default_rng(0).normal(0, 0.1, (40, 30))
    return {"rna": rna, "cnv": cnv, "methylation": meth}


def test_gene_at_same_pixel_in_every_channel(tables):
    layout = fit_shared_layout(tables, random_state=0)
    assert isinstance(layout, OTLayout)
    union = set().union(*(t.columns for t in tables.values()))
    assert set(layout.feature_names_) == union and layout.feature_names_.size == 60
    gene = "G00025"  # in all three types
    pixel = {}
    for kind, table in tables.items():
        one_hot = table.iloc[:1] * 0.0
        one_hot[gene] = 1.0
        with pytest.warns(LayoutWarning) if kind != "rna" else nullcontext():
            image = layout.transform(one_hot)[0]
        pixel[kind] = np.unravel_index(np.argmax(image), image.shape)
    assert len(set(pixel.values())) == 1
    assert layout.quality(tables["rna"])["collisions"] == 0


def test_shared_layout_needs_common_samples(tables):
    other = tables["rna"].set_axis([f"X{i}" for i in range(40)], axis=0)
    with pytest.raises(LayoutError, match="share 0 sample id"):
        fit_shared_layout({"rna": tables["rna"], "other": other})


def test_shared_layout_names_bad_type(tables):
    bad = tables["cnv"].copy()
    bad["note"] = "x"
    with pytest.raises(LayoutError, match=r"omics type 'cnv'.*'note'"):
        fit_shared_layout({"rna": tables["rna"], "cnv": bad})
    with pytest.raises(LayoutError, match="at least one"):
        fit_shared_layout({})
