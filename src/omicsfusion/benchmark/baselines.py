"""The scikit-learn models a user already trusts on a feature table.

They read the same normalised features (all omics types side by side) that
the CNNs read as images, fitted on the same training folds.
"""

from __future__ import annotations

from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

TABULAR_MODELS = ("logreg", "random_forest", "mlp")


def make_tabular(name: str, seed: int, threads: int) -> ClassifierMixin:
    """A fresh, seeded, unfitted baseline.

    Args:
        name: one of :data:`TABULAR_MODELS`.
        seed: random state.
        threads: worker processes for the random forest.
    """
    if name == "logreg":
        return LogisticRegression(C=1.0, max_iter=2000)  # L2 by default
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=300, n_jobs=threads, random_state=seed)
    if name == "mlp":
        return MLPClassifier(
            hidden_layer_sizes=(256,), alpha=1e-3, early_stopping=True, max_iter=300, random_state=seed
        )
    raise ValueError(f"unknown tabular model {name!r}; known: {', '.join(TABULAR_MODELS)}")
