"""Coordinate channels: values, shapes, TorchScript, and that they make a GAP network position-aware."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import DenseNet121, ResNet

from omicsfusion.networks import CoordinateChannels, WithCoordinates


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
        backbone = ResNet("basic", [1, 1, 1, 1], [4, 8, 8, 8], spatial_dims=2, n_input_channels=1 + 2 * wrapped,
                          num_classes=2, conv1_t_size=3, conv1_t_stride=1, no_max_pool=True)
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
