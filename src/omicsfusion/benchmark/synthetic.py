"""Labelled omics tables whose classes depend on gene modules, so the layout can matter.

:func:`omicsfusion.layout.synthetic.modular_table` makes realistic module
structure but no labels (its latent factors are not returned). Here each
module is driven by one latent factor, the class is decided by a few module
factors, and every single feature is noisy: a model that pools the features of
a module (as a CNN does over a good layout) reads the class much better than
one looking at scattered features. The column order is shuffled, so nothing
but the layout can bring a module's features together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
