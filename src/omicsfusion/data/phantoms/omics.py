"""Omics tables with gene modules and planted, class-dependent signal.

Real omics are correlated in modules (pathways, co-amplified segments,
co-methylated CpG islands); that structure is what an OT layout exploits, so
the phantoms draw features from latent module activities plus noise. A class
signal is planted by shifting one module's activity, which moves every gene of
that module together: the planted genes are known and written out, so gene
rankings can be scored against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class OmicsSpec:
    """How one omics type of a phantom is drawn.

    Attributes:
        name: omics type (channel name), e.g. ``"rna"``.
        feature_names: ordered feature names.
        module_size: features per latent module (contiguous in ``feature_names``,
            which mimics co-located genes for copy number).
        kind: ``"expression"`` (log2 scale, >= 0), ``"copy_number"`` (log ratio around 0)
            or ``"methylation"`` (beta values in (0, 1)).
        noise: standard deviation of per-feature noise relative to module activity.
    """

    name: str
    feature_names: tuple[str, ...]
    module_size: int
    kind: str = "expression"
    noise: float = 0.6

    @property
    def n_modules(self) -> int:
        return int(np.ceil(len(self.feature_names) / self.module_size))

    def module_features(self, module: int) -> list[str]:
        start = module * self.module_size
        return list(self.feature_names[start : start + self.module_size])


def draw_omics(
    spec: OmicsSpec,
    sample_ids: list[str],
    module_shift: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw a samples x features table for one omics type.

    Args:
        spec: what to draw.
        sample_ids: row index.
        module_shift: ``(n_samples, n_modules)`` planted shift of each module's activity
            (zeros where no signal is planted), in units of the activity's standard deviation.
        rng: seeded generator.
    """
    n, f = len(sample_ids), len(spec.feature_names)
    if module_shift.shape != (n, spec.n_modules):
        raise ValueError(f"{spec.name}: module_shift has shape {module_shift.shape}, expected {(n, spec.n_modules)}")
    activity = rng.standard_normal((n, spec.n_modules)) + module_shift
    module_of = np.arange(f) // spec.module_size
    loading = rng.uniform(0.7, 1.3, size=f) * rng.choice([1.0, 1.0, 1.0, -1.0], size=f)
    latent = activity[:, module_of] * loading + spec.noise * rng.standard_normal((n, f))
    if spec.kind == "expression":
        baseline = rng.uniform(3.0, 9.0, size=f)
        values = np.clip(baseline + 0.8 * latent, 0.0, None)
    elif spec.kind == "copy_number":
        values = 0.35 * latent
    elif spec.kind == "methylation":
        baseline = rng.uniform(-1.5, 1.5, size=f)
        values = 1.0 / (1.0 + np.exp(-(baseline + 0.9 * latent)))
    else:
        raise ValueError(f"{spec.name}: unknown kind {spec.kind!r}")
    table = pd.DataFrame(values.astype(np.float32), index=pd.Index(sample_ids, name="sample_id"),
                         columns=list(spec.feature_names))
    return table
