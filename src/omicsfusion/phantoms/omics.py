"""Generated omics tables with gene modules: the one synthetic-omics generator of the package.

Real omics are correlated in modules (pathways, co-amplified segments,
co-methylated CpG islands); that structure is what an OT layout exploits, so
every table here draws features from latent module activities plus noise, and
shuffles nothing but what the caller asks to be found:

* :func:`modular_table`: unlabelled, realistic structure (two factors per module,
  modules sharing programme factors on a ring, so the table has local and global
  structure); test data for layouts, the demo and the layout benchmark.
* :func:`labelled_modules`: one factor per module, the class decided by a few module
  factors, every feature noisy and the columns shuffled, so that a model pooling a
  module's features (a CNN over a good layout) reads the class better than one looking
  at scattered features; test data for the accuracy benchmark.
* :class:`OmicsSpec` + :func:`draw_omics`: one omics type of a phantom (expression,
  copy number or methylation scale) with a planted, class-dependent shift of chosen
  modules, whose genes are known so gene rankings can be scored against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["OmicsSpec", "draw_omics", "labelled_modules", "modular_table"]


def modular_table(
    n_samples: int = 200,
    n_features: int = 1500,
    n_modules: int = 12,
    noise: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """A samples x features table of log-expression-like values.

    Args:
        n_samples: rows, indexed "S0000", "S0001", ...
        n_features: columns, named "G00000", ...; each belongs to one module.
        n_modules: number of gene modules (placed on a ring of programmes).
        noise: standard deviation of the per-feature noise (signal has unit scale).
        seed: random seed; the same arguments give the same table.

    Returns:
        DataFrame (n_samples, n_features), float64.
    """
    rng = np.random.default_rng(seed)
    n_programmes = 4
    programmes = rng.standard_normal((n_samples, n_programmes))
    angles = 2 * np.pi * np.arange(n_modules) / n_modules
    # loading of module m on programme p: a smooth bump around the ring
    centres = 2 * np.pi * np.arange(n_programmes) / n_programmes
    bumps = np.exp(2.0 * np.cos(angles[:, None] - centres[None, :]))
    bumps /= np.linalg.norm(bumps, axis=1, keepdims=True)
    shared = programmes @ bumps.T  # (n_samples, n_modules)
    factors = np.empty((n_samples, n_modules, 2))
    for side in range(2):
        own = rng.standard_normal((n_samples, n_modules))
        factors[:, :, side] = np.sqrt(0.5) * shared + np.sqrt(0.5) * own
    module = np.sort(rng.integers(0, n_modules, n_features))
    theta = rng.uniform(0, np.pi / 2, n_features)
    signal = np.cos(theta) * factors[:, module, 0] + np.sin(theta) * factors[:, module, 1]
    values = signal + noise * rng.standard_normal((n_samples, n_features))
    scale = rng.lognormal(0.0, 0.5, n_features)
    offset = rng.uniform(2.0, 8.0, n_features)
    order = rng.permutation(n_features)  # column order carries no information
    return pd.DataFrame(
        (offset + scale * values)[:, order],
        index=[f"S{i:04d}" for i in range(n_samples)],
        columns=[f"G{j:05d}" for j in range(n_features)],
    )


def labelled_modules(
    n_samples: int = 300,
    n_features: int = 400,
    n_modules: int = 8,
    n_classes: int = 3,
    noise: float = 3.0,
    n_types: int = 1,
    seed: int = 0,
) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """Omics tables (one per type) plus labels driven by module factors.

    Args:
        n_samples: rows, ids "S0000", ...
        n_features: columns per omics type, named "<type>_G00000", ...
        n_modules: modules per type; each feature belongs to one.
        n_classes: the class is the argmax of the first ``n_classes`` module
            factors of type 0 (for 2 classes: the sign of their difference).
        noise: per-feature noise sd; the module signal has unit sd.
        n_types: number of omics types ("t0", "t1", ...); later types carry
            noisy copies of type 0's factors, so they add signal too.
        seed: same arguments, same data.

    Returns:
        (tables, labels): type -> DataFrame (samples x features), and a Series
        of class names "c0", "c1", ... indexed by sample id.
    """
    if n_classes > n_modules:
        raise ValueError(f"n_classes ({n_classes}) cannot exceed n_modules ({n_modules})")
    rng = np.random.default_rng(seed)
    ids = [f"S{i:04d}" for i in range(n_samples)]
    factors = rng.standard_normal((n_samples, n_modules))
    labels = pd.Series([f"c{k}" for k in factors[:, :n_classes].argmax(axis=1)], index=ids, name="label")
    tables = {}
    for t in range(n_types):
        own = factors if t == 0 else 0.7 * factors + 0.7 * rng.standard_normal(factors.shape)
        module = rng.integers(0, n_modules, n_features)
        loading = rng.uniform(0.5, 1.5, n_features)
        values = own[:, module] * loading + noise * rng.standard_normal((n_samples, n_features))
        values += rng.uniform(2.0, 6.0, n_features)  # per-feature offsets, as in log-expression
        order = rng.permutation(n_features)
        tables[f"t{t}"] = pd.DataFrame(
            values[:, order], index=ids, columns=[f"t{t}_G{j:05d}" for j in range(n_features)]
        )
    return tables, labels


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
    table = pd.DataFrame(
        values.astype(np.float32), index=pd.Index(sample_ids, name="sample_id"), columns=list(spec.feature_names)
    )
    return table
