"""Every feature a bundle lays out reaches its network: layout grid chosen from the image grid, on real Visium.

A 5,000-gene DLPFC section (read with the Space Ranger reader, spots
subsampled) goes through each bundle's omics preprocessing: the layout is
fitted with the bundle's ``preprocessor`` block (a few embedding epochs, to stay
cheap), then ``OmicsChannels`` and an ``AlignToReferenced`` with the bundle's own settings onto
its image shape. The map from features to network input is ``T = R A`` with
non-negative ``A`` (layout) and ``R`` (alignment), so a feature reaches the
network exactly when its entry of ``T^T 1`` (adjoint of layout + alignment
applied to ones) is positive. Skips when ``../shared/data`` is absent.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor

from omicsfusion.data import OmicsTable
from omicsfusion.layout.grid import auto_grid
from omicsfusion.prepare import bundle_preprocessor
from omicsfusion.preprocessing import OmicsPreprocessor
from omicsfusion.transforms import AlignToReferenced, OmicsChannels, SkippedPixelsError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("OMICSFUSION_SHARED_DATA", REPO.parent / "shared" / "data"))
SECTION = DATA / "dlpfc_151675_151676" / "151675" / "outs"
#: the network input's shape (image channels, *spatial) of each bundle, as a config expression
REFERENCE = {
    "pathology_spatial_transcriptomics": "$[3, @patch_px, @patch_px]",
    "pan_cancer_classification": "$[3] + list(@image_size)",
    "neuro_mri_molecular": "$[len(@sequences)] + list(@spatial_size)",
}


@pytest.fixture(scope="module")
def table() -> OmicsTable:
    if not SECTION.is_dir():
        pytest.skip(f"real data not available: {SECTION} (expected ../shared/data next to the repository)")
    from omicsfusion.data.spatial import read_spaceranger

    sample = read_spaceranger(SECTION)
    assert sample.adata.n_vars == 5000
    rows = np.sort(np.random.default_rng(0).choice(sample.adata.n_obs, 300, replace=False))
    counts = sample.adata.X[rows].toarray()
    frame = pd.DataFrame(
        np.log1p(counts), index=np.asarray(sample.adata.obs_names)[rows], columns=np.asarray(sample.adata.var_names)
    )
    return OmicsTable({"rna": frame})


def _bundle(name: str, **overrides: object) -> tuple[OmicsPreprocessor, tuple[int, ...], AlignToReferenced]:
    """The bundle's unfitted preprocessor, network-input shape and the alignment its ``OmicsChannelsd`` is
    configured with (config ``overrides`` applied)."""
    parser = ConfigParser()
    parser.read_config(str(REPO / "bundles" / name / "configs" / "train.json"))
    parser.update(overrides)
    parser["reference_shape"] = REFERENCE[name]
    steps = parser["omics_preprocessing"]["transforms"]
    at = next(i for i, step in enumerate(steps) if step["_target_"].endswith("OmicsChannelsd"))
    step = f"omics_preprocessing#transforms#{at}"
    settings = {
        k: parser.get_parsed_content(f"{step}#{k}")
        for k in ("ref_key", "mode", "axis", "allow_skip")
        if k in parser[step]
    }
    align = AlignToReferenced(keys="omics", **settings)
    shape = tuple(int(s) for s in parser.get_parsed_content("reference_shape"))
    return parser.get_parsed_content("preprocessor"), shape, align


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_every_placed_feature_reaches_the_network(table, name):
    template, shape, align = _bundle(name)
    assert isinstance(align, AlignToReferenced) and not align.aligner.allow_skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # genes constant over the subsampled spots are dropped, with a warning
        pre = bundle_preprocessor(template, ["rna"]).set_params(layout__n_epochs=20, layout__n_refine=0).fit(table)
    placed = pre.feature_names("rna")
    assert placed.size > int(np.prod(pre.grid_))  # more genes than pixels: mass splitting
    reference = MetaTensor(torch.zeros(shape))
    omics = OmicsChannels(table, pre)(table.sample_ids()[0])
    aligned = align({"omics": omics, align.ref_key: reference})["omics"]
    assert tuple(aligned.shape) == (1, *shape[1:])
    assert (pre.matrix("rna").data > 0).all()  # A >= 0; the alignment only copies or averages
    reached = pre.backproject(align.aligner.adjoint(torch.ones((1, *shape[1:])), pre.grid_).numpy())["rna"]
    assert (reached > 0).all(), f"{int((reached <= 0).sum())} placed genes never reach the {name} network"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_the_unbounded_auto_grid_would_be_refused(name):
    """Without the bundle's ``max_grid``, 5,000 genes get a 71 x 71 grid, which the alignment refuses."""
    _, shape, align = _bundle(name)
    omics = MetaTensor(torch.zeros((1, *auto_grid(5000))), meta={"omics_channels": ["rna"]})
    reference = MetaTensor(torch.zeros(shape))
    with pytest.raises(SkippedPixelsError, match=r"grid \(71, 71\)"):
        align({"omics": omics, align.ref_key: reference})


def test_neuro_max_grid_is_the_plane_the_layout_is_broadcast_over():
    """``spatial_size[:2]``: the axes other than the ``axis: -1`` along which ``AlignToReferenced`` broadcasts."""
    template, shape, align = _bundle("neuro_mri_molecular", spatial_size=[40, 44, 48])  # sizes that name their axes
    size, axis = align.aligner.plan((1, 1), shape[1:])
    assert axis == 2 and tuple(template.layout.max_grid) == size == (40, 44)
