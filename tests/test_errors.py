"""The error tree: one root, one family per layer, missing items that are KeyErrors too, nothing outside it."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import omicsfusion
from omicsfusion import (
    BenchmarkError,
    CheckpointError,
    LayoutError,
    MissingItemError,
    OmicsDataError,
    OmicsfusionError,
    SaliencyError,
    SpatialDataError,
    TransformError,
    VolumeError,
)
from omicsfusion.data import FeatureMismatchError, MissingLayerError, MissingSampleError
from omicsfusion.data.spatial import AnnotationColumnError
from omicsfusion.interpret import LayoutMismatchError, MissingCheckpointError, TargetLayerError

FAMILIES = [
    OmicsDataError,
    SpatialDataError,
    VolumeError,
    LayoutError,
    TransformError,
    CheckpointError,
    SaliencyError,
    BenchmarkError,
    MissingItemError,
]
MISSING_ITEMS = [MissingSampleError, MissingLayerError, AnnotationColumnError, TargetLayerError]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_the_root_catches_every_family(family):
    with pytest.raises(OmicsfusionError):
        raise family("bad input")


@pytest.mark.parametrize("family", [f for f in FAMILIES if f is not MissingItemError], ids=lambda f: f.__name__)
def test_every_family_is_still_a_value_error(family):
    assert issubclass(family, ValueError)


def test_a_missing_sample_is_a_data_error_and_a_key_error():
    message = "sample 'P7' not found in omics table 'rna' (rna.csv)"
    with pytest.raises(OmicsDataError):
        raise MissingSampleError(message)
    with pytest.raises(KeyError):
        raise MissingSampleError(message)
    assert str(MissingSampleError(message)) == message  # KeyError alone would print it quoted


@pytest.mark.parametrize("error", MISSING_ITEMS, ids=lambda e: e.__name__)
def test_missing_items_print_their_message_unquoted(error):
    assert issubclass(error, KeyError) and issubclass(error, MissingItemError)
    assert str(error("no column 'tissue' in a.csv")) == "no column 'tissue' in a.csv"


def test_shared_errors_belong_to_both_layers_they_serve():
    assert issubclass(FeatureMismatchError, OmicsDataError) and issubclass(FeatureMismatchError, LayoutError)
    assert issubclass(MissingCheckpointError, CheckpointError) and issubclass(MissingCheckpointError, FileNotFoundError)
    assert issubclass(LayoutMismatchError, CheckpointError)


def _module_names() -> list[str]:
    names = [omicsfusion.__name__]
    for info in pkgutil.walk_packages(omicsfusion.__path__, prefix="omicsfusion."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return names


def test_every_exception_class_of_the_package_subclasses_the_root():
    """Import every module (optional SDKs may be absent) and check each exception class defined there."""
    outside, unimportable = [], []
    for name in _module_names():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:  # an optional extra (e.g. the MONAI Deploy SDK) not installed
            assert error.name and not error.name.startswith("omicsfusion"), error
            unimportable.append(name)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == name
                and issubclass(cls, BaseException)
                and not issubclass(cls, Warning)
                and not issubclass(cls, OmicsfusionError)
            ):
                outside.append(f"{name}.{cls.__qualname__}")
    assert not outside, f"exception classes outside the OmicsfusionError tree: {outside}"
    root = Path(omicsfusion.__file__).parent
    for name in unimportable:  # read their source instead: they must define no exception class at all
        path = root.joinpath(*name.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        classes = [node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)]
        assert not [c for c in classes if c.endswith(("Error", "Exception"))], (name, classes)


def test_one_overlap_check_names_counts_and_the_first_missing_features():
    from omicsfusion.features import match_features

    expected = [f"g{i}" for i in range(10)]
    index = match_features(expected, ["g9", "x", "g0", "g1", "g2"], 0.4, "t.csv")
    assert index.tolist() == [2, 3, 4] + [-1] * 6 + [0]
    with pytest.raises(FeatureMismatchError) as info:
        match_features(expected, ["g9", "x", "g0", "g1", "g2"], 0.5, "omics table 'rna' (t.csv)")
    assert str(info.value) == (
        "omics table 'rna' (t.csv): 4 of 10 layout features present (min_overlap=0.5); "
        "missing 'g3', 'g4', 'g5', 'g6', 'g7', ..."
    )
    assert isinstance(info.value, LayoutError) and isinstance(info.value, OmicsDataError)
    assert match_features([], ["a"], 1.0, "t.csv").size == 0


def test_one_trained_checkpoint_guard(tmp_path):
    import numpy as np
    import pandas as pd

    import omicsfusion.interpret
    import omicsfusion.prepare
    from omicsfusion.checkpoint import require_trained
    from omicsfusion.data import OmicsTable
    from omicsfusion.layout import OTLayout
    from omicsfusion.preprocessing import OmicsPreprocessor

    assert omicsfusion.prepare.require_trained is require_trained  # evaluate.json / inference.json
    assert omicsfusion.interpret.require_checkpoint is require_trained  # saliency.json
    model, layout = tmp_path / "model.pt", tmp_path / "layout.npz"
    with pytest.raises(MissingCheckpointError, match=f"no trained checkpoint at {model}: run"):
        require_trained(model, layout, ["rna"])
    model.write_bytes(b"weights")
    assert require_trained(model, layout, []) is None  # an image-only model needs no layout
    with pytest.raises(FileNotFoundError, match=rf"no fitted layout at {layout} \(omics channels \['rna'\] need it\)"):
        require_trained(model, layout, ["rna"])
    with pytest.raises(MissingCheckpointError, match="the model's omics channels need it"):
        require_trained(model, layout, None)
    ids = [f"s{i}" for i in range(12)]
    rna = pd.DataFrame(np.random.default_rng(0).normal(size=(12, 16)), index=ids, columns=[f"g{i}" for i in range(16)])
    OmicsPreprocessor(layout=OTLayout(grid=(4, 4))).fit(OmicsTable({"rna": rna}).select(ids)).save(layout)
    assert require_trained(model, layout, ["rna"]).channel_names == ["rna"]
    assert require_trained(model, layout, None).channel_names == ["rna"]  # the Deploy app: whatever it holds
    with pytest.raises(LayoutMismatchError, match=r"holds omics channels \['rna'\], not \['cnv'\]"):
        require_trained(model, layout, ["rna", "cnv"])
