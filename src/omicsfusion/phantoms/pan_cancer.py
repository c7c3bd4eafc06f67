"""Pan-cancer phantom cohort: one H&E-like tile and three omics types per patient.

Four classes are planted so that neither modality alone suffices:

========  ===========  ======================================  =====================
class     morphology   omics signal                             separable from
========  ===========  ======================================  =====================
type_a    dense        CNV segment gain                         type_b: omics only
type_b    dense        CNV segment gain + RNA module up         type_a: omics only
type_c    glandular    methylation module down                  type_d: image only
type_d    spindle      methylation module down                  type_c: image only
========  ===========  ======================================  =====================

{a, b} vs {c, d} differ in both modalities. A perfect image-only model therefore
tops out at 75 % accuracy (it cannot split a from b), and so does a perfect
omics-only model (it cannot split c from d); only the fused model can reach
100 %. Files are written exactly as a user's data would be laid out, so the
bundle's loaders run on them unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from omicsfusion.fileio import atomic_write

from .omics import OmicsSpec, draw_omics
from .tissue import tissue_tile

CLASS_NAMES = ("type_a", "type_b", "type_c", "type_d")
MORPHOLOGY = {"type_a": "dense", "type_b": "dense", "type_c": "glandular", "type_d": "spindle"}
# (omics type, module index, shift in activity SD, classes carrying it)
PLANTED = (
    ("rna", 3, 4.0, ("type_b",)),
    ("cnv", 2, 4.0, ("type_a", "type_b")),
    ("meth", 5, -4.0, ("type_c", "type_d")),
)
IMAGE_ONLY_CEILING = 0.75
OMICS_ONLY_CEILING = 0.75


def omics_specs(n_genes: int = 400, n_cpgs: int = 300) -> dict[str, OmicsSpec]:
    """The three omics types; copy number covers the first half of the RNA genes (shared names)."""
    genes = tuple(f"GENE{i:04d}" for i in range(1, n_genes + 1))
    cpgs = tuple(f"cg{i:08d}" for i in range(1, n_cpgs + 1))
    return {
        "rna": OmicsSpec("rna", genes, module_size=20, kind="expression"),
        "cnv": OmicsSpec("cnv", genes[: n_genes // 2], module_size=15, kind="copy_number", noise=0.4),
        "meth": OmicsSpec("meth", cpgs, module_size=15, kind="methylation"),
    }


def make_pan_cancer_phantom(
    dataset_dir: str | os.PathLike,
    n_per_class: int = 60,
    tile_size: int = 64,
    n_genes: int = 400,
    seed: int = 0,
) -> dict:
    """Write the phantom cohort into ``dataset_dir`` and return its ground truth.

    Layout written::

        images/<sample>.png     RGB tile
        masks/<sample>.png      planted region (255 inside)
        omics/{rna,cnv,meth}.csv  samples x features, first column sample_id
        samples.csv             sample_id,image,label,class_name (image relative to dataset_dir)
        ground_truth.json       classes, planted genes per omics type, accuracy ceilings

    Args:
        dataset_dir: output folder (created).
        n_per_class: patients per class (the ``--size`` knob).
        tile_size: tile edge in pixels.
        n_genes: RNA genes (copy number covers half of them).
        seed: everything is drawn from this seed.
    """
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2 for a stratified split, got {n_per_class}")
    root = Path(dataset_dir)
    for sub in ("images", "masks", "omics"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), n_per_class)
    rng.shuffle(labels)
    sample_ids = [f"P{i:04d}" for i in range(1, len(labels) + 1)]

    rows = []
    for sample_id, label in zip(sample_ids, labels, strict=False):
        class_name = CLASS_NAMES[label]
        image, mask = tissue_tile(rng, tile_size, MORPHOLOGY[class_name])
        Image.fromarray(image).save(root / "images" / f"{sample_id}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"{sample_id}.png")
        rows.append(
            {"sample_id": sample_id, "image": f"images/{sample_id}.png", "label": int(label), "class_name": class_name}
        )

    specs = omics_specs(n_genes=n_genes)
    informative: dict[str, list[str]] = {}
    for name, spec in specs.items():
        shift = np.zeros((len(sample_ids), spec.n_modules))
        for omics_type, module, amount, classes in PLANTED:
            if omics_type != name:
                continue
            carriers = np.isin(labels, [CLASS_NAMES.index(c) for c in classes])
            shift[carriers, module] = amount
            informative[name] = spec.module_features(module)
        table = draw_omics(spec, sample_ids, shift, rng)
        table.to_csv(root / "omics" / f"{name}.csv")

    pd.DataFrame(rows).to_csv(root / "samples.csv", index=False)
    truth = {
        "task": "pan_cancer_classification",
        "classes": list(CLASS_NAMES),
        "morphology": MORPHOLOGY,
        "informative_features": informative,
        "planted": [
            {"omics": o, "features": informative[o], "shift_sd": s, "classes": list(c)} for o, _, s, c in PLANTED
        ],
        "omics_only_pairs": [["type_a", "type_b"]],
        "image_only_pairs": [["type_c", "type_d"]],
        "image_only_ceiling": IMAGE_ONLY_CEILING,
        "omics_only_ceiling": OMICS_ONLY_CEILING,
        "n_per_class": n_per_class,
        "tile_size": tile_size,
        "seed": seed,
    }
    atomic_write(root / "ground_truth.json", lambda tmp: tmp.write_text(json.dumps(truth, indent=2)))
    return truth
