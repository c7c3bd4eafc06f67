"""Named errors of the saliency run, on a tiny untrained network (no training needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.networks.nets import DenseNet

from omicsfusion.interpret import ClassIndexError, LayoutMismatchError, MissingCheckpointError, SaliencyRunner
from omicsfusion.interpret import TargetLayerError
from omicsfusion.interpret.regions import check_target_layer, default_target_layer
from omicsfusion.interpret.targets import channel_groups, check_class_index, fused_baseline

CLASSES = ["a", "b", "c"]


def _net(in_channels=5):
    torch.manual_seed(0)
    return DenseNet(spatial_dims=2, in_channels=in_channels, out_channels=3, init_features=8, growth_rate=4,
                    block_config=(1, 1))


def _runner(tmp_path, **kwargs):
    args = {"network": _net(), "checkpoint": tmp_path / "model.pt", "dataset": [], "class_names": CLASSES,
            "output_dir": tmp_path / "out"}
    args.update(kwargs)
    return SaliencyRunner(**args)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(MissingCheckpointError, match="no trained checkpoint"):
        _runner(tmp_path).run()


def test_unknown_target_layer_lists_valid_names(tmp_path):
    with pytest.raises(TargetLayerError) as info:
        _runner(tmp_path, target_layer="features.nope")
    message = str(info.value)
    assert "features.nope" in message and "class_layers.relu" in message and "features.denseblock1" in message
    assert check_target_layer(_net(), "class_layers.relu") == "class_layers.relu"


def test_default_target_layer_is_the_last_spatial_one():
    assert default_target_layer(_net(), torch.zeros(1, 5, 32, 32)) == "class_layers.relu"


def test_class_index_out_of_range(tmp_path):
    with pytest.raises(ClassIndexError, match="3 classes"):
        _runner(tmp_path, class_index=3)
    with pytest.raises(ClassIndexError):
        check_class_index(torch.tensor([0, -1]), CLASSES)


def test_checkpoint_with_other_input_channels_is_a_layout_mismatch(tmp_path):
    torch.save(_net(in_channels=6).state_dict(), tmp_path / "model.pt")
    with pytest.raises(LayoutMismatchError, match="expects 6 input channels"):
        _runner(tmp_path).run()


def test_layout_without_the_checkpoint_omics_types_is_a_layout_mismatch(tmp_path):
    import pandas as pd

    from omicsfusion.data import OmicsPreprocessor, OmicsTable

    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(12)]
    rna = pd.DataFrame(rng.normal(size=(12, 16)), index=ids, columns=[f"g{i}" for i in range(16)])
    OmicsPreprocessor().fit(OmicsTable({"rna": rna}), ids, grid=(4, 4)).save(tmp_path / "layout.npz")
    torch.save(_net().state_dict(), tmp_path / "model.pt")
    with pytest.raises(LayoutMismatchError, match=r"holds omics channels \['rna'\], not \['cnv'\]"):
        _runner(tmp_path, layout_file=tmp_path / "layout.npz", omics_types=["rna", "cnv"]).run()


def test_baseline_and_groups():
    x = torch.arange(2 * 5 * 2 * 2, dtype=torch.float32).reshape(2, 5, 2, 2)
    base = fused_baseline(x, 3)
    assert torch.allclose(base[:, :3], x[:, :3].mean(dim=(2, 3), keepdim=True).expand(2, 3, 2, 2))
    assert not base[:, 3:].any()
    mask, n = channel_groups(x, 3)
    assert n == 3 and mask.shape == (1, 5, 2, 2)
    assert mask[0, :, 0, 0].tolist() == [0, 0, 0, 1, 2]
