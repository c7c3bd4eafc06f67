"""Generated omics tables with known gene modules, for tests, demo and benchmark.

Each module is driven by two latent factors; a feature of the module mixes
the two at its own angle (so features within a module form a continuum and
have meaningful nearest neighbours) plus noise. Module factors share a few
programme factors, neighbouring modules (on a ring) more than distant ones,
which gives the table global structure as well as local structure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
    signal = (np.cos(theta) * factors[:, module, 0] + np.sin(theta) * factors[:, module, 1])
    values = signal + noise * rng.standard_normal((n_samples, n_features))
    scale = rng.lognormal(0.0, 0.5, n_features)
    offset = rng.uniform(2.0, 8.0, n_features)
    order = rng.permutation(n_features)  # column order carries no information
    return pd.DataFrame(
        (offset + scale * values)[:, order],
        index=[f"S{i:04d}" for i in range(n_samples)],
        columns=[f"G{j:05d}" for j in range(n_features)],
    )
