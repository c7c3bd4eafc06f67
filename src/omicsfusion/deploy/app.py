"""The MONAI Deploy application: one exported fused bundle, a folder of images and omics tables.

Input folder::

    <input>/<sample_id>.png ...          one image per sample, named by its omics sample id
    <input>/omics/<type>.csv ...         one table per omics type of the model (any of
                                         omicsfusion.data.tables.TABLE_SUFFIXES), rows indexed by sample id

Model: ``model.ts`` written by ``python -m monai.bundle ckpt_export`` (it carries the bundle's
metadata and inference.json) with the training's ``layout.npz`` beside it. Output:
``<output>/predictions.csv``, the columns of the bundle's own inference run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monai.deploy.conditions import CountCondition
from monai.deploy.core import Application, Image, IOType
from monai.deploy.operators.monai_bundle_inference_operator import IOMapping, get_bundle_config

from omicsfusion.checkpoint import require_trained
from omicsfusion.data.tables import TABLE_SUFFIXES
from omicsfusion.deploy.operators import (
    OMICS,
    FusedBundleInferenceOperator,
    PredictionsWriterOperator,
    SampleLoaderOperator,
)


def sample_images(input_folder: Path) -> list[Path]:
    """The image files directly in the input folder (hidden files and folders left out)."""
    images = sorted(p for p in input_folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not images:
        raise FileNotFoundError(f"no image file in the input folder {input_folder}")
    return images


def omics_tables(input_folder: Path, omics_types: list[str]) -> dict[str, str]:
    """``{type: table}`` from ``<input>/omics/``, one table for each omics type of the model."""
    tables = {}
    for omics_type in omics_types:
        found = [input_folder / "omics" / f"{omics_type}{s}" for s in TABLE_SUFFIXES]
        found = [p for p in found if p.is_file()]
        if not found:
            raise FileNotFoundError(
                f"the model needs omics type {omics_type!r}: no "
                f"{input_folder / 'omics' / omics_type}{{{','.join(TABLE_SUFFIXES)}}}"
            )
        tables[omics_type] = str(found[0])
    return tables


def bundle_overrides(model_file: Path, input_folder: Path) -> dict[str, Any]:
    """Config values that tie the exported bundle to this run: its layout file and the input's tables."""
    layout_file = model_file.with_name("layout.npz")  # the training's models/layout.npz, beside model.ts
    omics_types = require_trained(model_file, layout_file, omics_types=None).fitted_types()
    return {
        "layout_file": str(layout_file),
        "modalities": ["image", *omics_types],
        "omics_tables": omics_tables(input_folder, omics_types),
    }


def class_names(model_file: Path) -> list[str]:
    """Output class names, in channel order, from the metadata inside the exported model."""
    channel_def = get_bundle_config(str(model_file), "inference")["_meta_"]["network_data_format"]["outputs"]
    channel_def = next(iter(channel_def.values()))["channel_def"]
    return [channel_def[str(k)] for k in range(len(channel_def))]


class FusedClassificationApp(Application):
    """Image + omics classification with an exported omicsfusion bundle (e.g. pan_cancer_classification)."""

    name = "omicsfusion_fused_classification"
    description = "Classifies each image of the input folder fused with its omics row, with a MONAI bundle."
    version = "0.1.0"

    def compose(self) -> None:
        app_context = Application.init_app_context(self.argv)
        input_folder, output_folder = Path(app_context.input_path), Path(app_context.output_path)
        model_file = Path(app_context.model_path)
        overrides = bundle_overrides(model_file, input_folder)  # refuses a missing model.ts or layout.npz
        images = sample_images(input_folder)
        loader = SampleLoaderOperator(self, CountCondition(self, len(images)), images=images, name="loader")
        infer = FusedBundleInferenceOperator(
            self,
            app_context=app_context,
            input_mapping=[IOMapping("image", Image, IOType.IN_MEMORY)],
            output_mapping=[IOMapping("pred", dict, IOType.IN_MEMORY)],
            overrides=overrides,
            name="bundle_inference",
        )
        writer = PredictionsWriterOperator(
            self, output_folder=output_folder, class_names=class_names(model_file), name="writer"
        )
        self.add_flow(loader, infer, {("image", "image"), (OMICS, OMICS)})
        self.add_flow(loader, writer, {(OMICS, "sample_id")})
        self.add_flow(infer, writer, {("pred", "pred")})
