"""MONAI Deploy operators around a fused bundle: sample loader, bundle inference with omics, CSV writer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monai.deploy.core import Fragment, Image, Operator, OperatorSpec
from monai.deploy.operators import MonaiBundleInferenceOperator
from monai.transforms import LoadImage

from omicsfusion.handlers import ClassProbabilityWriter

OMICS = "omics"
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def sample_id(path: Path) -> str:
    """``P0010.png`` -> ``P0010``, ``S0002.nii.gz`` -> ``S0002``; dots inside an id are kept."""
    name = path.name
    suffix = next((s for s in IMAGE_SUFFIXES if name.lower().endswith(s)), path.suffix)
    return name[: len(name) - len(suffix)]


class SampleLoaderOperator(Operator):
    """Emit one sample per call: the image as MONAI reads it (``image``) and its omics sample id (``omics``).

    The bundle operator strips ``LoadImaged`` from the bundle's preprocessing, so the image is
    read here with MONAI's own reader: same axis order, channel meta and affine as in training.
    The file name less its image suffix (``.png``, ``.nii.gz``, ...) is the sample id.
    """

    def __init__(self, fragment: Fragment, *args, images: Sequence[Path], **kwargs) -> None:
        self.images = list(images)
        self.index = 0
        self.reader = LoadImage(image_only=True)
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.output("image")
        spec.output(OMICS)

    def compute(self, op_input, op_output, context) -> None:
        path = self.images[self.index]
        self.index += 1
        image = self.reader(str(path))
        op_output.emit(Image(np.asarray(image), metadata=dict(image.meta)), "image")
        op_output.emit(sample_id(path), OMICS)


class FusedBundleInferenceOperator(MonaiBundleInferenceOperator):
    """``MonaiBundleInferenceOperator`` with an ``omics`` input port for the sample id.

    The SDK operator receives only the network inputs named in the bundle metadata and hands
    the first to the inferer, the rest as keyword arguments. A fused bundle's network has one
    input, the fused image, built by its preprocessing from the image AND the omics sample id
    (``OmicsChannelsd`` ... ``FuseChannelsd``); so the id arrives on its own port and joins the
    dictionary the preprocessing sees, and the network still gets one tensor.

    Args:
        overrides: bundle config values set before its transforms are built, e.g. the
            ``layout_file`` next to the exported model and the ``omics_tables`` of the input folder.
        Other arguments: see ``MonaiBundleInferenceOperator``.
    """

    def __init__(self, fragment: Fragment, *args, overrides: Mapping[str, Any], **kwargs) -> None:
        self.overrides = dict(overrides)
        self.sample_id: str | None = None
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        super().setup(spec)
        spec.input(OMICS)

    def _get_compose(self, obj_name, disallowed_prefixes):
        # the SDK builds the bundle's pre/postprocessing here, after parsing the config inside model.ts
        self._parser.update(self.overrides)
        return super()._get_compose(obj_name, disallowed_prefixes)

    def compute(self, op_input, op_output, context) -> None:
        self.sample_id = op_input.receive(OMICS)
        super().compute(op_input, op_output, context)

    def pre_process(self, data: Any, *args, **kwargs) -> Any:
        return super().pre_process({**data, OMICS: self.sample_id}, *args, **kwargs)


class PredictionsWriterOperator(Operator):
    """Write ``predictions.csv`` (sample_id, predicted_class, prob_<class>) as the bundle's inference does.

    The class is the argmax of the probabilities: the SDK's ``result`` list maps every
    probability through ``int()`` to a class name, which suits class-index outputs only.
    The file is rewritten atomically after each sample.
    """

    def __init__(self, fragment: Fragment, *args, output_folder: Path, class_names: Sequence[str], **kwargs) -> None:
        self.writer = ClassProbabilityWriter(Path(output_folder) / "predictions.csv", class_names)
        self.rows: list[tuple] = []
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("pred")
        spec.input("sample_id")

    def compute(self, op_input, op_output, context) -> None:
        probabilities = np.asarray(op_input.receive("pred")["probabilities"], dtype=np.float32).reshape(-1)
        self.rows.append((str(op_input.receive("sample_id")), probabilities, None, {}))
        self.writer.write(self.rows)
