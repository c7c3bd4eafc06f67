"""Interpretation building blocks and named errors, on tiny untrained networks (no training needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bundle_utils import error_chain, run_workflow
from monai.data import DataLoader
from monai.networks.nets import DenseNet

from omicsfusion.interpret import (
    ClassIndexError,
    FusedExplainer,
    LayoutMismatchError,
    MissingCheckpointError,
    SaliencyCheckpointLoader,
    SaliencyError,
    SaliencyRunner,
    TargetLayerError,
    region_methods,
    require_checkpoint,
)
from omicsfusion.interpret.regions import IGRegions, check_target_layer, default_target_layer
from omicsfusion.interpret.targets import channel_groups, check_class_index, fused_baseline, region_versus

CLASSES = ["a", "b", "c"]
BUNDLE = "pan_cancer_classification"


def _net(in_channels=5):
    torch.manual_seed(0)
    return DenseNet(
        spatial_dims=2, in_channels=in_channels, out_channels=3, init_features=8, growth_rate=4, block_config=(1, 1)
    )


def _run(tmp_path, net, data, class_names=CLASSES, **runner_args):
    """A saliency run as ``saliency.json`` builds it: checkpoint loader handler, dataloader, explainer, report."""
    loader = SaliencyCheckpointLoader(str(tmp_path / "model.pt"), {"model": net})
    explainer = FusedExplainer(net, class_names, region_methods=region_methods(["ig", "gradcam"], net, {}))
    runner = SaliencyRunner(
        explainer, DataLoader(data, batch_size=4), tmp_path / "out", handlers=[loader], **runner_args
    )
    return runner.run()


def _tiles(n=2, channels=5):
    from monai.data import MetaTensor

    return [
        {
            "image": MetaTensor(torch.rand(channels, 16, 16), meta={"n_image_channels": channels}),
            "label": i % 3,
            "sample_id": f"s{i}",
        }
        for i in range(n)
    ]


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(MissingCheckpointError, match="no trained checkpoint"):
        _run(tmp_path, _net(), _tiles())


def test_unknown_target_layer_lists_valid_names():
    with pytest.raises(TargetLayerError) as info:
        region_methods(["gradcam"], _net(), {"gradcam": {"target_layer": "features.nope"}})
    message = str(info.value)
    assert "features.nope" in message and "class_layers.relu" in message and "features.denseblock1" in message
    assert check_target_layer(_net(), "class_layers.relu") == "class_layers.relu"
    with pytest.raises(SaliencyError, match="unknown region method"):
        region_methods(["ig", "saliency"], _net())


def test_default_target_layer_is_the_last_spatial_one():
    assert default_target_layer(_net(), torch.zeros(1, 5, 32, 32)) == "class_layers.relu"


def test_class_index_out_of_range():
    with pytest.raises(ClassIndexError, match="3 classes"):
        FusedExplainer(_net(), CLASSES, class_index=3)
    with pytest.raises(ClassIndexError):
        check_class_index(torch.tensor([0, -1]), CLASSES)


def test_checkpoint_with_other_input_channels_is_a_layout_mismatch(tmp_path):
    torch.save(_net(in_channels=6).state_dict(), tmp_path / "model.pt")
    with pytest.raises(LayoutMismatchError, match="expects 6 input channels"):
        _run(tmp_path, _net(), _tiles())


def test_checkpoint_with_other_weight_shapes_names_the_settings(tmp_path):
    wider = DenseNet(spatial_dims=2, in_channels=5, out_channels=3, init_features=8, growth_rate=6, block_config=(1, 1))
    torch.save(wider.state_dict(), tmp_path / "model.pt")
    with pytest.raises(LayoutMismatchError, match=r"does not fit this network \(.*size mismatch.*other settings"):
        _run(tmp_path, _net(), _tiles())


def test_layout_without_the_checkpoint_omics_types_is_a_layout_mismatch(tmp_path):
    import pandas as pd

    from omicsfusion.data import OmicsTable
    from omicsfusion.layout import OTLayout
    from omicsfusion.preprocessing import OmicsPreprocessor

    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(12)]
    rna = pd.DataFrame(rng.normal(size=(12, 16)), index=ids, columns=[f"g{i}" for i in range(16)])
    pre = OmicsPreprocessor(layout=OTLayout(grid=(4, 4))).fit(OmicsTable({"rna": rna}).select(ids))
    pre.save(tmp_path / "layout.npz")
    torch.save(_net().state_dict(), tmp_path / "model.pt")
    with pytest.raises(LayoutMismatchError, match=r"holds omics channels \['rna'\], not \['cnv'\]"):
        require_checkpoint(tmp_path / "model.pt", tmp_path / "layout.npz", ["rna", "cnv"])


def test_run_loads_the_checkpoint_and_stops_at_max_samples(tmp_path):
    """The loader handler puts the trained weights into the network; five tiles, ``max_samples`` 3: three rows."""
    import pandas as pd

    trained = _net()
    with torch.no_grad():
        trained.class_layers.out.bias.add_(1.0)
    torch.save({"model": trained.state_dict()}, tmp_path / "model.pt")
    net = _net()
    summary = _run(tmp_path, net, _tiles(5), max_samples=3)
    assert torch.equal(net.class_layers.out.bias, trained.class_layers.out.bias)
    samples = pd.read_csv(tmp_path / "out" / "samples.csv")
    assert summary["n_samples"] == 3 and samples["sample_id"].tolist() == ["s0", "s1", "s2"]
    assert summary["region_method"] == "ig" and summary["compared_methods"] == ["gradcam"]
    assert summary["target_layer"] == "class_layers.relu" and summary["region_baseline"] == "blur"
    assert samples["region_file"].tolist() == [f"regions/s{i}.png" for i in range(3)]


def test_baseline_and_groups():
    x = torch.arange(2 * 5 * 2 * 2, dtype=torch.float32).reshape(2, 5, 2, 2)
    base = fused_baseline(x, 3)
    assert torch.allclose(base[:, :3], x[:, :3].mean(dim=(2, 3), keepdim=True).expand(2, 3, 2, 2))
    assert not base[:, 3:].any()
    mask, n = channel_groups(x, 3)
    assert n == 3 and mask.shape == (1, 5, 2, 2)
    assert mask[0, :, 0, 0].tolist() == [0, 0, 0, 1, 2]


def test_batched_gradcam_equals_monai_per_sample():
    from monai.visualize import GradCAM

    from omicsfusion.interpret.regions import gradcam_maps
    from omicsfusion.interpret.targets import class_weights

    net = _net().eval()
    x = torch.rand(4, 5, 32, 32)
    target = torch.tensor([0, 2, 1, 2])
    ours = gradcam_maps(net, x, class_weights(target, 3), "class_layers.relu")
    cam = GradCAM(net, "class_layers.relu", postprocessing=lambda m: m)
    reference = np.concatenate([cam(x[i : i + 1], class_idx=int(target[i]))[:, 0].detach().numpy() for i in range(4)])
    assert np.allclose(ours, reference, atol=1e-6)


def test_gradcam_reaches_a_frozen_stem_and_leaves_it_frozen():
    """A pretrained encoder trained as fixed features has no parameter that wants a gradient: GradCAM on it
    must still see one (it failed with an IndexError from MONAI's CAM) and the model must stay frozen."""
    from omicsfusion.interpret.regions import gradcam_maps
    from omicsfusion.interpret.targets import class_weights

    net = _net().eval()
    x = torch.rand(2, 5, 32, 32)
    target = torch.tensor([0, 2])
    unfrozen = gradcam_maps(net, x, class_weights(target, 3), "class_layers.relu")
    net.requires_grad_(False)
    frozen = gradcam_maps(net, x, class_weights(target, 3), "class_layers.relu")
    assert np.allclose(frozen, unfrozen, atol=1e-6) and np.abs(frozen).sum() > 0
    assert not any(p.requires_grad for p in net.parameters())


def test_default_target_layer_passes_over_a_module_shared_by_several_blocks():
    """One activation instance called by every block (EfficientNet-Lite's way) would pair its last activation
    with another call's gradient in CAM: the default is the last spatial module called once."""
    from omicsfusion.interpret.regions import default_target_layer, gradcam_maps
    from omicsfusion.interpret.targets import class_weights

    class SharedActivation(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2 = torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(4, 8, 3, padding=1)
            self.act, self.head = torch.nn.ReLU(), torch.nn.Linear(8, 3)

        def forward(self, x):
            x = self.act(self.conv2(self.act(self.conv1(x))))
            return self.head(x.mean(dim=(2, 3)))

    net, x = SharedActivation().eval(), torch.rand(2, 3, 8, 8)
    assert default_target_layer(net, x) == "conv2"
    maps = gradcam_maps(net, x, class_weights(torch.tensor([0, 1]), 3), default_target_layer(net, x))
    assert maps.shape == (2, 8, 8) and np.isfinite(maps).all()


def test_ig_group_sums_are_complete_and_shares_sum_to_one():
    from omicsfusion.interpret import modalities
    from omicsfusion.interpret.targets import class_weights

    net = _net().eval()
    x = torch.rand(3, 5, 16, 16)
    weights = class_weights(torch.tensor([0, 1, 2]), 3)
    ig = modalities.integrated_gradients(net, x, weights, fused_baseline(x, 3), n_steps=16)
    sums = modalities.group_sums(ig.attr, 3)
    assert sums.shape == (3, 3)
    assert np.allclose(sums.sum(axis=1) - ig.gap, ig.delta, atol=1e-4)
    assert np.allclose(modalities.shares(sums).sum(axis=1), 1.0)
    ablation = modalities.ablation_groups(net, x, weights, fused_baseline(x, 3), 3)
    assert ablation.shape == (3, 3) and np.allclose(modalities.shares(ablation).sum(axis=1), 1.0)


def test_nifti_map_keeps_the_input_affine(tmp_path):
    """3-D: the region map is a NIfTI file with the affine of the input volume."""
    import nibabel as nib
    from monai.data import MetaTensor
    from monai.networks.nets import DenseNet

    torch.manual_seed(0)
    net = DenseNet(spatial_dims=3, in_channels=1, out_channels=2, init_features=4, growth_rate=4, block_config=(1,))
    torch.save(net.state_dict(), tmp_path / "model.pt")
    affine = torch.diag(torch.tensor([2.0, 1.5, 3.0, 1.0]))
    affine[:3, 3] = torch.tensor([-10.0, 5.0, 7.0])
    data = [
        {
            "image": MetaTensor(torch.rand(1, 12, 10, 8), affine=affine, meta={"n_image_channels": 1}),
            "label": i % 2,
            "sample_id": f"s{i}",
        }
        for i in range(2)
    ]
    _run(tmp_path, net, data, class_names=["x", "y"])
    volume = nib.load(tmp_path / "out" / "regions" / "s0.nii.gz")
    assert volume.shape == (12, 10, 8)
    assert np.allclose(volume.affine, affine.numpy())


def test_saliency_before_training_is_refused(tmp_path):
    with pytest.raises(RuntimeError) as info:
        run_workflow(
            BUNDLE,
            ["train.json", "saliency.json"],
            "train",
            dataset_dir=str(tmp_path / "data"),
            ckpt_dir=str(tmp_path / "models"),
            output_dir=str(tmp_path / "eval"),
            phantom_size=6,
        )
    assert "MissingCheckpointError" in error_chain(info.value)


def test_planted_truth_reads_every_phantom_format():
    """Pan-cancer / neuro list planted sets and pairs; the spatial phantom lists genes per class and one pair."""
    from omicsfusion.interpret.checks import planted_truth

    listed = planted_truth(
        {
            "planted": [{"omics": "cnv", "features": ["EGFR"], "shift_sd": 4.0, "classes": ["b"]}],
            "omics_only_pairs": [["a", "b"]],
            "image_only_pairs": [["c", "d"]],
        }
    )
    assert listed == {
        "feature_sets": [{"name": "cnv", "omics": "cnv", "classes": ["b"], "features": ["EGFR"]}],
        "omics_only_pairs": [["a", "b"]],
        "image_only_pairs": [["c", "d"]],
    }
    spots = planted_truth(
        {
            "informative_genes": {"tumor": ["G1", "G2"], "stroma": ["G3"]},
            "ambiguous_pair": ["tumor", "normal_epithelium"],
        }
    )
    assert [(s["name"], s["classes"], s["features"]) for s in spots["feature_sets"]] == [
        ("rna:tumor", ["tumor"], ["G1", "G2"]),
        ("rna:stroma", ["stroma"], ["G3"]),
    ]
    assert spots["omics_only_pairs"] == [["tumor", "normal_epithelium"]] and spots["image_only_pairs"] == []
    assert planted_truth({}) == {"feature_sets": [], "omics_only_pairs": [], "image_only_pairs": []}


def test_region_file_names_are_file_safe():
    from omicsfusion.interpret.writers import file_safe

    assert file_safe("section_1:AAAC-1") == "section_1_AAAC-1"
    assert file_safe("../etc/x y") == "_etc_x_y" and file_safe("S0001") == "S0001"


def test_versus_matrix_weighs_a_class_against_the_mean_of_others():
    from omicsfusion.interpret.targets import versus_matrix

    matrix = versus_matrix({0: [2, 3], 1: [], 3: [0, 1, 2]}, 4)
    logits = torch.tensor([[4.0, 1.0, 2.0, 0.0]])
    assert torch.allclose((logits * matrix[0]).sum(), torch.tensor(4.0 - 1.0))  # 4 - mean(2, 0)
    assert torch.equal(matrix[1], torch.tensor([0.0, 1.0, 0.0, 0.0]))  # empty list: own logit
    assert torch.equal(matrix[2], torch.tensor([0.0, 0.0, 1.0, 0.0]))  # absent: own logit
    assert torch.allclose(matrix.sum(dim=1)[[0, 3]], torch.zeros(2))
    with pytest.raises(ClassIndexError):
        versus_matrix({0: [4]}, 4)


def test_region_contrast_auto_excludes_omics_only_partners():
    """With a phantom's truth, a class is contrasted with the classes whose image differs from its own."""
    names = ["a", "b", "c", "d"]
    assert region_versus("auto", names, [["a", "b"]]) == {0: [2, 3], 1: [2, 3], 2: [0, 1, 3], 3: [0, 1, 2]}
    assert region_versus("auto", names) == {0: [1, 2, 3], 1: [0, 2, 3], 2: [0, 1, 3], 3: [0, 1, 2]}  # no truth
    assert region_versus("logit", names, [["a", "b"]]) == {}
    assert region_versus({"c": ["a"]}, names, [["a", "b"]]) == {2: [0]}


def test_region_contrast_is_checked():
    with pytest.raises(SaliencyError, match="region_contrast must be one of"):
        FusedExplainer(_net(), CLASSES, region_contrast="rest")
    with pytest.raises(SaliencyError, match=r"classes \['z'\]"):
        FusedExplainer(_net(), CLASSES, region_contrast={"a": ["z"]})


class _Linear(torch.nn.Module):
    """logit k = sum of channel-0 pixels times w_k: IG from any baseline is exactly w_k * (x - baseline)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x[:, 0].flatten(1).sum(dim=1, keepdim=True)
        return torch.cat([total, -total], dim=1)


def test_region_ig_credits_structure_from_a_blurred_baseline_and_ignores_the_omics_channels():
    from omicsfusion.interpret import regions

    x = torch.zeros(1, 2, 32, 32)
    x[0, 0, :, :16] = 1.0  # flat bright half, flat dark half: structure only at the edge
    x[0, 1] = torch.randn(32, 32)  # an omics channel, held at its values
    weights = torch.tensor([[1.0, 0.0]])
    blur = regions.ig_image_maps(_Linear(), x, weights, 1, n_steps=8, baseline="blur", sigma=2.0)
    mean = regions.ig_image_maps(_Linear(), x, weights, 1, n_steps=8, baseline="mean", sigma=0.0)
    edge, flat = blur[0, :, 14:18].mean(), blur[0, :, :8].mean()
    assert edge > 20 * flat  # the blurred image differs from the image only near the edge
    np.testing.assert_allclose(mean[0], 0.5, atol=1e-5)  # |x - mean| = 0.5 everywhere: every pixel credited
    with pytest.raises(ValueError, match="region baseline must be one of"):
        regions.ig_image_maps(_Linear(), x, weights, 1, baseline="zero")


def test_fused_region_baseline_is_the_image_part_of_the_fused_ig():
    from omicsfusion.interpret import modalities, regions
    from omicsfusion.interpret.targets import class_weights

    net = _net().eval()
    x = torch.rand(2, 5, 16, 16)
    weights = class_weights(torch.tensor([0, 2]), 3)
    fused = modalities.integrated_gradients(net, x, weights, fused_baseline(x, 3), n_steps=8).attr
    expected = regions.smoothed_magnitude(fused[:, :3], 1.0)
    ours = regions.ig_image_maps(net, x, weights, 3, n_steps=8, baseline="fused", sigma=1.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)


def test_region_baseline_is_checked():
    with pytest.raises(SaliencyError, match="region_baseline must be one of"):
        IGRegions(_net(), baseline="noise")


def test_pair_gene_check_requires_one_separating_set_per_omics_only_pair():
    """Sets both classes carry (or neither) cannot split the pair and are not required; one separating set must pass."""
    from omicsfusion.interpret.checks import pair_gene_check

    sets = [
        {"name": "rna", "classes": ["b"]},
        {"name": "cnv", "classes": ["a", "b"]},
        {"name": "meth", "classes": ["c", "d"]},
        {"name": "alt", "classes": ["a"]},
    ]
    rows = pair_gene_check({"rna": 0.6, "cnv": 0.0, "meth": 0.0, "alt": 0.9}, sets, [["a", "b"]])
    assert rows == [
        {
            "pair": "a/b",
            "separating_sets": ["rna", "alt"],
            "best_set": "alt",
            "precision_at_k": 0.9,
            "target": 0.8,
            "passed": True,
        }
    ]
    assert not pair_gene_check({"rna": 0.75, "cnv": 1.0}, sets, [["a", "b"]])[0]["passed"]
    assert pair_gene_check({"meth": 1.0}, sets, [["a", "b"]]) == []  # nothing separating was scored


def test_layout_map_labels_never_overlap():
    """Ten top genes on neighbouring pixels: labels in a side column, joined by leader lines."""
    from matplotlib.text import Text

    from omicsfusion.interpret.writers import layout_map_figure

    names = [f"ENSG{i:011d}" for i in range(64)]
    positions = np.stack(np.unravel_index(np.arange(64), (8, 8)), axis=1)
    labelled = names[:10]
    fig = layout_map_figure(
        np.random.default_rng(0).normal(size=(8, 8)),
        positions,
        names,
        labelled,
        "t",
        [f"SYM{i}_{n}" for i, n in enumerate(names)],
    )
    fig.canvas.draw()
    texts = [t for t in fig.axes[0].texts if t.get_text().startswith("SYM")]
    assert sorted(t.get_text() for t in texts) == sorted(f"SYM{i}_{names[i]}" for i in range(10))
    boxes = [Text.get_window_extent(t) for t in texts]  # the text itself, without its leader line
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_a_registered_region_method_is_chosen_by_name_and_the_explainer_reads_no_files():
    """A RegionMethod subclass registered under a name is built by name; the explainer maps a batch to results."""
    from monai.data import list_data_collate

    from omicsfusion.interpret import regions

    @regions.register
    class Brightness(regions.RegionMethod):
        name = "brightness"

        def __init__(self, nn_module, channel=0):
            super().__init__(nn_module)
            self.channel = channel

        def compute_map(self, x, weights, n_image_channels):
            return x[:, self.channel].detach().cpu().numpy()

    try:
        net = _net().eval()
        methods = region_methods(["brightness", "gradcam"], net, {"brightness": {"channel": 1}})
        assert list(methods) == ["brightness", "gradcam"] and methods["brightness"].channel == 1
        batch = list_data_collate(_tiles(3))
        explained = FusedExplainer(net, CLASSES, region_methods=methods)(batch, limit=2)
        assert explained.batch.ids == ["s0", "s1"] and explained.target.tolist() == [0, 1]
        np.testing.assert_array_equal(explained.maps["brightness"], batch["image"][:2, 1].numpy())
        assert explained.maps["gradcam"].shape == (2, 16, 16) and explained.groups == ["image"]
        assert np.allclose(explained.ig_shares, 1.0) and explained.features == {} and explained.grid is None
    finally:
        regions.REGION_METHODS.pop("brightness")


def test_the_omics_baseline_is_the_rendered_training_mean_and_ig_stays_complete(rna_cnv_table):
    """Unscaled omics: the baseline's omics channels are the training mean through layout and alignment."""
    from monai.data import MetaTensor, list_data_collate

    from omicsfusion.interpret.explainer import BASELINE, BASELINE_ZERO
    from omicsfusion.layout import OTLayout
    from omicsfusion.preprocessing import OmicsPreprocessor

    ids = rna_cnv_table.sample_ids()[:12]
    pre = OmicsPreprocessor(layout=OTLayout(grid=(6, 6), random_state=0), omics_types=["rna"], normalization="none")
    pre.fit(rna_cnv_table.select(ids))
    kept = np.isin(rna_cnv_table.features("rna"), pre.feature_names("rna"))
    np.testing.assert_allclose(
        pre.training_means()["rna"], rna_cnv_table.rows("rna", ids)[:, kept].mean(0), rtol=1e-5, atol=1e-6
    )
    net = _net(in_channels=4).eval()
    image = torch.rand(2, 3, 12, 12)
    omics = torch.as_tensor(pre.images({"rna": rna_cnv_table.rows("rna", ids[:2])[:, kept]}))
    x = torch.cat([image, torch.nn.functional.interpolate(omics, size=(12, 12), mode="nearest")], dim=1)
    batch = list_data_collate(
        [{"image": MetaTensor(x[i], meta={"n_image_channels": 3}), "label": i, "sample_id": f"s{i}"} for i in range(2)]
    )
    explainer = FusedExplainer(net, CLASSES, ["rna"], preprocessor=pre, n_steps=64)
    base = explainer.baseline(batch["image"].as_tensor(), 3)
    rendered = torch.nn.functional.interpolate(
        torch.as_tensor(pre.images({"rna": pre.training_means()["rna"]}))[None], size=(12, 12), mode="nearest"
    )
    torch.testing.assert_close(base[:, 3:], rendered.expand(2, -1, -1, -1))
    torch.testing.assert_close(base[:, :3], image.mean(dim=(2, 3), keepdim=True).expand_as(image))
    explained = explainer(batch)
    assert (np.abs(explained.ig.delta) <= 0.05 * np.abs(explained.ig.gap) + 1e-4).all()
    assert explainer.settings(x)["baseline"] == BASELINE
    zero = FusedExplainer(net, CLASSES, ["rna"], preprocessor=pre, omics_baseline="zero")
    assert zero.settings(x)["baseline"] == BASELINE_ZERO
    torch.testing.assert_close(zero.baseline(x, 3)[:, 3:], torch.zeros(2, 1, 12, 12))
    pre.normalizers_["rna"].mean_ = None  # as a layout file written before the means were stored reads
    assert explainer.settings(x)["baseline"] == BASELINE_ZERO
    torch.testing.assert_close(explainer.baseline(x, 3)[:, 3:], torch.zeros(2, 1, 12, 12))
    with pytest.raises(SaliencyError, match="omics_baseline"):
        FusedExplainer(net, CLASSES, ["rna"], omics_baseline="median")


def test_find_aligner_reads_the_aligner_a_step_holds_in_a_nested_compose(tmp_path):
    from monai.transforms import Compose, Identityd

    from omicsfusion.interpret import find_aligner
    from omicsfusion.transforms import AlignToReferenced, OmicsChannelsd

    step = OmicsChannelsd(
        keys="omics",
        tables={"rna": str(tmp_path / "rna.csv")},
        preprocessor=str(tmp_path / "layout.npz"),
        ref_key="image",
        mode="bilinear",
    )  # names files it has not read yet
    assert find_aligner(Compose([Identityd(keys="image"), Compose([step])])) is step.aligner
    assert find_aligner(AlignToReferenced(keys="omics", ref_key="image", axis=0)).axis == 0
    assert find_aligner(Compose([Identityd(keys="image")])) is None
