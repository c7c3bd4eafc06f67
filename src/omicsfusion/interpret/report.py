"""The files of a saliency run, gathered batch by batch from the explainer's output and written at the end.

Into ``output_dir`` (the bundle's ``eval/saliency``):

* ``samples.csv``: per sample target, prediction, IG delta, modality shares
  (IG and FeatureAblation), pointing-game hits when masks exist, region file;
* ``modality_shares.csv`` + ``modality_shares.png``: class x modality;
* ``genes.csv`` (class x omics type x feature id and display name: mean
  |attribution|, signed mean, rank) + ``layout_<type>_<class>.png`` (OT map,
  top genes labelled in a side column);
* ``regions/<sample>.png`` (2-D overlay on the tile) or ``.nii.gz`` (3-D, the
  affine of the preprocessed input), ``<sample>`` made file-safe;
* on a phantom, ``checks.json`` + ``pair_contrast_shares.csv`` + ``deletion_curves.csv`` / ``.png``;
* ``summary.json``: settings, timings, completeness gap.

The formats are those of :mod:`~omicsfusion.interpret.writers`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from omicsfusion.interpret import genes, writers
from omicsfusion.interpret.errors import SaliencyError
from omicsfusion.interpret.explainer import Explanation, FusedExplainer

__all__ = ["SaliencyReport"]

#: ``samples.csv`` column prefixes of the two modality-share estimators
SHARE_PREFIXES = {"integrated_gradients": "ig_share_", "feature_ablation": "ablation_share_"}


class SaliencyReport:
    """Gathers per-sample rows, gene attributions and layout-grid maps, and writes the run's files.

    Args:
        output_dir: where files go (created).
        explainer: the run's explainer (class names, omics types, layout).
        reverse_indexing: the image loader reversed the axes (MONAI's PILReader default); 2-D PNGs
            are transposed back for viewers.
        write_regions: write one region file per sample.
        top_genes: genes labelled on the layout maps.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        explainer: FusedExplainer,
        reverse_indexing: bool = True,
        write_regions: bool = True,
        top_genes: int = 10,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.explainer = explainer
        self.reverse_indexing = bool(reverse_indexing)
        self.write_regions = bool(write_regions)
        self.top_genes = int(top_genes)
        self.records: list[dict] = []
        self.gene_parts: dict[str, list[np.ndarray]] = defaultdict(list)
        self.grid_sums: dict[int, np.ndarray] = {}
        self.targets: list[int] = []

    def rows(self, explained: Explanation) -> list[dict]:
        """The ``samples.csv`` rows of a batch, before checks and region files are added."""
        names, batch = self.explainer.class_names, explained.batch
        rows = []
        for b, sample_id in enumerate(batch.ids):
            row = {
                "sample_id": sample_id,
                "label": names[int(batch.labels[b])] if batch.labels is not None else "",
                "target": names[int(explained.target[b])],
                "predicted": names[int(explained.predicted[b])],
                "target_probability": float(explained.probs[b, explained.target[b]]),
                "ig_delta": explained.ig.delta[b],
                "ig_gap": explained.ig.gap[b],
            }
            for estimator, shares in (
                ("integrated_gradients", explained.ig_shares),
                ("feature_ablation", explained.ablation_shares),
            ):
                row.update({f"{SHARE_PREFIXES[estimator]}{g}": shares[b, i] for i, g in enumerate(explained.groups)})
            rows.append(row)
        return rows

    def add(self, explained: Explanation, rows: list[dict]) -> None:
        """Keep a batch: its rows (with their region files, written now), gene attributions and grid maps."""
        batch = explained.batch
        for b, row in enumerate(rows):
            if self.write_regions and explained.maps:
                first = next(iter(explained.maps.values()))
                row["region_file"] = self._write_region(
                    batch.ids[b], batch.x[b, : batch.n_image].cpu().numpy(), first[b], batch.affines[b]
                )
        self.records += rows
        for omics_type, values in explained.features.items():
            self.gene_parts[omics_type].append(values)
        if explained.grid is not None:
            for b, k in enumerate(explained.target.tolist()):
                self.grid_sums[k] = self.grid_sums.get(k, 0) + explained.grid[b]
        self.targets += explained.target.tolist()

    def per_sample(self) -> dict[str, np.ndarray]:
        """Omics type -> ``(N, F)`` feature attributions of every sample kept so far."""
        return {t: np.concatenate(v) for t, v in self.gene_parts.items()}

    def _write_region(self, sample_id: str, image: np.ndarray, saliency: np.ndarray, affine: np.ndarray) -> str:
        """One region file per sample (name: the sample id made file-safe); returns its path relative to output_dir."""
        name = writers.file_safe(sample_id)
        if saliency.ndim == 2:
            relative = f"regions/{name}.png"
            writers.write_overlay_png(
                image, saliency, self.output_dir / relative, reverse_indexing=self.reverse_indexing
            )
        else:
            relative = f"regions/{name}.nii.gz"
            writers.write_nifti(saliency, affine, self.output_dir / relative)
        return relative

    def finish(
        self,
        settings: Mapping,
        checks: tuple[dict, dict[str, pd.DataFrame]] | None,
        timings: Mapping[str, float],
        seconds: float,
    ) -> dict:
        """Write every file; returns the summary (``summary.json``).

        Args:
            settings: :meth:`FusedExplainer.settings` of the run.
            checks: :meth:`PlantedChecks.results <omicsfusion.interpret.planted.PlantedChecks.results>`, or ``None``.
        """
        if not self.records:
            raise SaliencyError("the saliency dataset is empty: nothing to explain")
        samples = pd.DataFrame(self.records)
        writers.write_csv(samples, self.output_dir / "samples.csv")
        self._write_modality_shares(samples, settings["ig_steps"])
        summary = {
            "n_samples": len(self.records),
            **settings,
            "ig_mean_abs_delta": float(samples["ig_delta"].abs().mean()),
            "ig_mean_abs_gap": float(samples["ig_gap"].abs().mean()),
        }
        if self.gene_parts:
            self._write_genes()
        if checks is not None:
            summary["checks"], tables = checks
            for name, table in tables.items():
                writers.write_csv(table, self.output_dir / f"{name}.csv")
            if "deletion_curves" in tables:
                writers.write_deletion_curves(tables["deletion_curves"], self.output_dir / "deletion_curves.png")
            writers.write_json(summary["checks"], self.output_dir / "checks.json")
        summary["timings_seconds"] = {k: round(v, 3) for k, v in timings.items()}
        summary["total_seconds"] = round(seconds, 3)
        writers.write_json(summary, self.output_dir / "summary.json")
        return summary

    def _write_modality_shares(self, samples: pd.DataFrame, n_steps: int) -> None:
        names = self.explainer.class_names
        share_tables = {}
        for estimator, prefix in SHARE_PREFIXES.items():
            columns = [c for c in samples.columns if c.startswith(prefix)]
            table = samples.groupby("target")[columns].mean()
            table.columns = [c[len(prefix) :] for c in columns]
            share_tables[estimator] = table.reindex([c for c in names if c in table.index])
        long = pd.concat(share_tables, names=["estimator", "class"]).reset_index()
        writers.write_csv(long, self.output_dir / "modality_shares.csv")
        writers.write_share_bars(
            share_tables["integrated_gradients"],
            self.output_dir / "modality_shares.png",
            f"Integrated Gradients ({n_steps} steps): share per modality",
        )

    def _write_genes(self) -> None:
        """``genes.csv`` and the class-mean attribution on the layout grid of every omics type and class."""
        names, preprocessor = self.explainer.class_names, self.explainer.preprocessor
        targets = np.asarray(self.targets)
        gene_table = genes.class_gene_table(self.per_sample(), targets, names, preprocessor)
        writers.write_csv(gene_table, self.output_dir / "genes.csv")
        for k, total in self.grid_sums.items():
            mean_map = total / max(int((targets == k).sum()), 1)
            for c, omics_type in enumerate(self.explainer.omics_types):
                top = genes.top_features(gene_table, names[k], omics_type, self.top_genes)
                writers.write_layout_map(
                    mean_map[c],
                    genes.feature_positions(preprocessor, omics_type),
                    preprocessor.feature_names(omics_type),
                    top,
                    self.output_dir / f"layout_{omics_type}_{names[k]}.png",
                    f"{omics_type}: mean attribution, class {names[k]}",
                    preprocessor.display_names(omics_type),
                )
