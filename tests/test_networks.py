"""Coordinate channels (values, shapes, TorchScript, position awareness) and the mid-fusion network."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from monai.networks.nets import DenseNet121, ResNet
from torch import nn

from omicsfusion.networks import CoordinateChannels, MidFusion, WithCoordinates, omics_cnn


def test_coordinate_channels_span_minus_one_to_one_per_axis():
    out = CoordinateChannels()(torch.zeros(2, 1, 3, 5))
    assert out.shape == (2, 3, 3, 5)
    assert torch.equal(out[:, 0], torch.zeros(2, 3, 5))
    assert torch.allclose(out[0, 1, :, 0], torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(out[0, 2, 0], torch.linspace(-1, 1, 5))
    assert torch.equal(out[0], out[1])


def test_three_dimensional_input_gets_three_channels():
    out = CoordinateChannels()(torch.zeros(1, 2, 4, 5, 6))
    assert out.shape == (1, 5, 4, 5, 6)
    assert torch.allclose(out[0, 4, 0, 0], torch.linspace(-1, 1, 6))


def test_input_without_batch_axis_is_refused():
    with pytest.raises(ValueError, match="batch of images"):
        CoordinateChannels()(torch.zeros(3, 4))


def test_torchscript_gives_the_same_output():
    net = WithCoordinates(DenseNet121(spatial_dims=2, in_channels=4 + 2, out_channels=3)).eval()
    x = torch.randn(2, 4, 32, 32)
    with torch.no_grad():
        assert torch.allclose(torch.jit.script(net)(x), net(x), atol=1e-6)


def test_wrapped_network_tells_where_a_block_lights_up():
    """A global-average-pooled ResNet cannot see which corner holds a bright block; with coordinates it can."""
    torch.manual_seed(0)
    n = 64
    x = torch.randn(n, 1, 16, 16) * 0.1
    y = torch.arange(n) % 2
    for i in range(n):
        rows = slice(0, 4) if y[i] == 0 else slice(12, 16)
        x[i, 0, rows, 6:10] += 3.0

    def accuracy(wrapped: bool) -> float:
        torch.manual_seed(0)
        backbone = ResNet(
            "basic",
            [1, 1, 1, 1],
            [4, 8, 8, 8],
            spatial_dims=2,
            n_input_channels=1 + 2 * wrapped,
            num_classes=2,
            conv1_t_size=3,
            conv1_t_stride=1,
            no_max_pool=True,
        )
        net = WithCoordinates(backbone) if wrapped else backbone
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(60):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            return float((net(x).argmax(1) == y).float().mean())

    assert accuracy(wrapped=True) == 1.0


def test_backbone_factory_gets_the_data_channels_plus_one_per_axis():
    net = WithCoordinates(
        partial(ResNet, "basic", [1, 1, 1, 1], [4, 8, 8, 8], spatial_dims=3, num_classes=2),
        in_channels=4,
        spatial_dims=3,
        channels_arg="n_input_channels",
    )
    assert net.backbone.conv1.in_channels == 4 + 3
    assert net.eval()(torch.zeros(1, 4, 8, 8, 8)).shape == (1, 2)
    with pytest.raises(ValueError, match="in_channels and spatial_dims"):
        WithCoordinates(partial(ResNet, "basic", [1, 1, 1, 1], [4, 8, 8, 8]))


def _mid(image: bool = True, omics: bool = True, p: float = 0.0, fusion: str = "concat") -> MidFusion:
    image_net = ResNet("basic", [1, 1, 1, 1], [4, 8, 8, 8], spatial_dims=2, n_input_channels=3, num_classes=8)
    return MidFusion(
        image_channels=3,
        features=8,
        num_classes=2,
        image_net=image_net if image else None,
        omics_net=omics_cnn((2, 16, 16), 8) if omics else None,
        modality_dropout=p,
        fusion=fusion,
    )


def test_mid_fusion_sends_image_channels_to_the_image_stem_and_the_rest_to_the_omics_stem():
    torch.manual_seed(0)
    net = _mid().eval()
    x = torch.randn(2, 5, 16, 16)
    x.requires_grad_(True)
    net(x)[:, 1].sum().backward()
    assert x.grad.abs().sum() > 0
    seen = {}

    def record(name):
        def hook(_module, inputs, _output):
            seen[name] = inputs[0].shape[1]

        return hook

    net.image_net.register_forward_hook(record("image"))
    net.omics_net.register_forward_hook(record("omics"))
    net(x)
    assert seen == {"image": 3, "omics": 2}
    omics_only = _mid(image=False).eval()
    assert omics_only.image_channels == 0 and omics_only(torch.randn(2, 2, 16, 16)).shape == (2, 2)
    with pytest.raises(ValueError, match="image_net, an omics_net or both"):
        MidFusion(image_channels=3, features=8, num_classes=2)


def test_modality_dropout_zeroes_one_stem_per_sample_in_training_only():
    torch.manual_seed(0)
    net = _mid(p=0.5)
    kept = net._kept(torch.ones(1000, 8)).bool()
    assert kept.shape == (1000, 2) and kept.any(1).all()  # never both stems of one sample
    assert 0.4 < (~kept.all(1)).float().mean() < 0.6
    net.eval()
    x = torch.randn(4, 5, 16, 16)
    assert torch.equal(net(x), net(x))


@pytest.mark.parametrize("fusion", ["concat", "late"])
def test_mid_fusion_scripts_and_ablations_load_their_own_stems_only(fusion):
    net = _mid(fusion=fusion).eval()
    x = torch.randn(2, 5, 16, 16)
    with torch.no_grad():
        assert torch.allclose(torch.jit.script(net)(x), net(x), atol=1e-6)
    assert not any(k.startswith("omics_net.") for k in _mid(omics=False, fusion=fusion).state_dict())
    if fusion == "concat":
        assert isinstance(net.head[-1], nn.Linear) and net.head[-1].in_features == 16 and not net.heads
    else:
        assert net.head is None and list(net.heads) == ["omics", "image"]
        assert all(head[-1].in_features == 8 for head in net.heads.values())
        assert list(_mid(omics=False, fusion=fusion).heads) == ["image"]


def test_late_fusion_is_the_mean_of_one_head_per_stem_at_eval():
    torch.manual_seed(0)
    net = _mid(p=0.5, fusion="late").eval()
    x = torch.randn(3, 5, 16, 16)
    with torch.no_grad():
        fused, alone = net(x), net.modality_logits(x)
    assert fused.shape == (3, 2) and list(alone) == ["omics", "image"]
    torch.testing.assert_close(fused, (alone["omics"] + alone["image"]) / 2)
    other = x.clone()
    other[:, :3] = torch.randn(3, 3, 16, 16)  # the image alone changes: so does the fused output
    with torch.no_grad():
        assert not torch.allclose(net(other), fused)
    omics_only = _mid(image=False, fusion="late").eval()
    with torch.no_grad():
        y = torch.randn(2, 2, 16, 16)
        assert torch.equal(omics_only(y), omics_only.modality_logits(y)["omics"])
    with pytest.raises(ValueError, match="fusion must be one of"):
        _mid(fusion="sum")


def test_late_fusion_scores_a_sample_by_the_kept_head_alone_when_a_stem_is_dropped(monkeypatch):
    net = _mid(p=0.5, fusion="late").train()
    x = torch.randn(3, 5, 16, 16)
    kept = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # image dropped, omics dropped, both kept
    monkeypatch.setattr(net, "_kept", lambda features: kept)
    torch.manual_seed(0)  # the same omics-stem dropout draws in both calls
    fused = net(x)
    torch.manual_seed(0)
    alone = net.modality_logits(x)
    assert torch.equal(fused[0], alone["omics"][0]) and torch.equal(fused[1], alone["image"][1])
    torch.testing.assert_close(fused[2], (alone["omics"][2] + alone["image"][2]) / 2)
    fused[0].sum().backward()  # the dropped stem's head gets no gradient from that sample, the kept one does
    assert net.heads["omics"][-1].weight.grad.abs().sum() > 0 and not net.heads["image"][-1].weight.grad.any()


def test_concat_modality_logits_zero_the_other_stem():
    net = _mid().eval()
    x = torch.randn(2, 5, 16, 16)
    with torch.no_grad():
        alone = net.modality_logits(x)
        omics, image = net.omics_net(x[:, 3:]), net.image_net(x[:, :3])
        torch.testing.assert_close(alone["omics"], net.head(torch.cat([omics, torch.zeros_like(image)], dim=1)))
        torch.testing.assert_close(alone["image"], net.head(torch.cat([torch.zeros_like(omics), image], dim=1)))


def test_late_fusion_state_dict_round_trips_and_is_refused_by_concat(tmp_path):
    torch.manual_seed(0)
    net = _mid(fusion="late").eval()
    torch.save(net.state_dict(), tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=True)
    torch.manual_seed(1)
    loaded = _mid(fusion="late").eval()
    loaded.load_state_dict(state)
    x = torch.randn(2, 5, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    with pytest.raises(RuntimeError, match=r"heads\.omics"):
        _mid().load_state_dict(state)
