"""One saliency run over a dataloader: explain every batch, check it against planted truth, write the files.

A bundle's ``configs/saliency.json`` (merged on ``train.json``) builds the
pieces from config references: the dataloader over the validation
preprocessing, a :class:`~omicsfusion.interpret.weights.SaliencyCheckpointLoader`
(MONAI's ``CheckpointLoader``) for the trained weights, the
:class:`~omicsfusion.interpret.explainer.FusedExplainer`, and on a phantom the
:class:`~omicsfusion.interpret.planted.PlantedChecks`; then it calls
:meth:`SaliencyRunner.run`. The run is an ignite ``Engine`` over the
dataloader, so the loader and any other handler attach to it as they do to
MONAI's evaluators. The files are listed in :mod:`~omicsfusion.interpret.report`.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from ignite.engine import Engine

from omicsfusion.interpret.errors import SaliencyError
from omicsfusion.interpret.explainer import FusedExplainer
from omicsfusion.interpret.planted import PlantedChecks
from omicsfusion.interpret.report import SaliencyReport

__all__ = ["SaliencyRunner"]

logger = logging.getLogger(__name__)


class SaliencyRunner:
    """Explain a trained fused classifier on a dataloader and write the results.

    Args:
        explainer: the explainer of the trained network.
        dataloader: batches of preprocessed dicts with the fused ``image`` (meta ``n_image_channels``),
            ``label`` (optional) and ``sample_id``.
        output_dir: where files go (created).
        handlers: ignite handlers attached to the run's engine (the checkpoint loader first).
        checks: the planted-truth checks (a phantom's ground truth), or ``None`` (real data).
        max_samples: explain at most this many samples.
        reverse_indexing, write_regions, top_genes: see :class:`~omicsfusion.interpret.report.SaliencyReport`.
    """

    def __init__(
        self,
        explainer: FusedExplainer,
        dataloader: Iterable,
        output_dir: str | os.PathLike,
        handlers: Sequence = (),
        checks: PlantedChecks | None = None,
        max_samples: int | None = None,
        reverse_indexing: bool = True,
        write_regions: bool = True,
        top_genes: int = 10,
    ) -> None:
        self.explainer = explainer
        self.dataloader = dataloader
        self.output_dir = output_dir
        self.handlers = list(handlers)
        self.checks = checks
        self.max_samples = max_samples
        self.report_options = {
            "reverse_indexing": reverse_indexing,
            "write_regions": write_regions,
            "top_genes": top_genes,
        }

    def run(self) -> dict:
        """Explain every sample (up to ``max_samples``), write all outputs, return the summary."""
        start = time.perf_counter()
        report = SaliencyReport(self.output_dir, self.explainer, **self.report_options)
        timings: dict[str, float] = defaultdict(float)
        settings: dict = {}

        def explain(engine: Engine, batch) -> None:
            seen = len(report.records)
            limit = None if self.max_samples is None else self.max_samples - seen
            explained = self.explainer(batch, offset=seen, limit=limit)
            if not settings:  # GradCAM's default layer is found on the first input
                settings.update(self.explainer.settings(explained.batch.x))
            rows = report.rows(explained)
            steps = dict(explained.timings)
            if self.checks is not None:
                steps.update(self.checks.observe(explained, rows))
            report.add(explained, rows)
            for name, seconds in steps.items():
                timings[name] += seconds
            if self.max_samples is not None and len(report.records) >= self.max_samples:
                engine.terminate()

        engine = Engine(explain)
        for handler in self.handlers:
            handler.attach(engine)
        if len(self.dataloader) == 0 or self.max_samples == 0:
            raise SaliencyError("the saliency dataset is empty: nothing to explain")
        engine.run(self.dataloader, max_epochs=1)
        checks = None
        if self.checks is not None:
            checks = self.checks.results(report.per_sample(), np.asarray(report.targets))
        summary = report.finish(settings, checks, timings, time.perf_counter() - start)
        logger.info(
            "saliency for %d samples written to %s in %.1f s",
            summary["n_samples"],
            self.output_dir,
            summary["total_seconds"],
        )
        return summary
