"""Per-feature normalisation fitted on the training split only.

The fitted statistics travel inside the layout file (see
:class:`omicsfusion.preprocessing.preprocess.OmicsPreprocessor`) so that evaluation and
inference reproduce training exactly; they are plain arrays, never pickled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, validate_data

from omicsfusion.data.errors import NonFiniteError, OmicsDataError

__all__ = ["NORMALIZATIONS", "FeatureNormalizer", "detect_normalization"]

#: ``zscore``: (x - mean) / std; ``log1p``: log(1 + x) for counts;
#: ``log1p_zscore``: log1p then z-score; ``none``: identity;
#: ``binary``: 0/1 calls (mutations) kept as they are: z-scoring a gene mutated in one patient
#: would make that patient's pixel sqrt(n) high; ``ordinal``: ordered calls (GISTIC copy number
#: -2 .. 2) divided by the largest training magnitude (2), not centred, so 0 stays "no change";
#: ``auto``: ``binary``, ``ordinal`` or ``zscore`` chosen from the training values
#: (:func:`detect_normalization`; the choice is the fitted ``method_``).
NORMALIZATIONS = ("zscore", "log1p", "log1p_zscore", "none", "binary", "ordinal", "auto")
#: largest magnitude of the calls ``auto`` reads as ordinal (GISTIC: -2 .. 2)
ORDINAL_RANGE = 2


def detect_normalization(X: np.ndarray) -> str:
    """The method ``auto`` picks for training rows ``X``.

    "binary" when every finite value is 0 or 1, "ordinal" when all are integers
    in -``ORDINAL_RANGE`` .. ``ORDINAL_RANGE``, else "zscore".
    """
    values = np.asarray(X, dtype=np.float64)
    values = values[np.isfinite(values)]
    if np.isin(values, (0.0, 1.0)).all():
        return "binary"
    if (values == np.round(values)).all() and (np.abs(values) <= ORDINAL_RANGE).all():
        return "ordinal"
    return "zscore"


class FeatureNormalizer(TransformerMixin, BaseEstimator):
    """Per-feature affine normalisation, optionally after ``log1p``; a scikit-learn transformer.

    Args:
        method: one of :data:`NORMALIZATIONS` (checked by ``fit``).

    Fitted attributes: ``method_`` (``method``, or what ``auto`` chose), ``offset_`` and ``scale_``
    (float32, one per feature; output = (f(x) - offset_) * scale_), ``feature_names_``, ``mean_`` (the
    mean output over the training rows: 0 after a z-score, the mean expression
    with ``none``; the "no deviation" baseline of the attributions), and
    scikit-learn's ``n_features_in_`` (``feature_names_in_`` after a DataFrame).
    A negative ``scale_`` renders a feature with its sign flipped (``fit(signs=...)``).
    """

    def __init__(self, *, method: str = "zscore") -> None:
        self.method = method

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # float32 out, whatever comes in
        return tags

    @property
    def _log(self) -> bool:
        return self.method_.startswith("log1p")

    def fit(
        self,
        X: np.ndarray | pd.DataFrame,
        y: object = None,
        *,
        feature_names: Sequence[str] | None = None,
        signs: np.ndarray | None = None,
    ) -> FeatureNormalizer:
        """Learn per-feature statistics from training rows ``X`` (n, F); ``y`` is ignored.

        ``feature_names`` name the columns (default: a DataFrame's columns, else "0", "1", ...).
        ``signs`` (+1 / -1 per feature, e.g. ``omicsfusion.layout.signs.coherent_signs``) multiply
        each feature's output: the same information, and attributions are unchanged
        (``(x - b) * df/dx`` is the same for ``-x``).

        Raises:
            OmicsDataError: an unknown ``method``, ``X`` is not a non-empty 2-D numeric matrix, or
                ``binary`` meets a value other than 0/1 (feature named).
            NonFiniteError: a feature has NaN/inf in the training rows (named).
        """
        if self.method not in NORMALIZATIONS:
            raise OmicsDataError(f"unknown normalization {self.method!r}; use one of {NORMALIZATIONS}")
        try:
            X = validate_data(self, X, dtype=np.float64, ensure_all_finite=False)
        except ValueError as error:  # scikit-learn's message says what is wrong with X
            raise OmicsDataError(f"FeatureNormalizer.fit: {error}") from None
        if feature_names is None:
            feature_names = getattr(self, "feature_names_in_", np.arange(X.shape[1]))
        names = np.asarray(feature_names).astype(str)
        if names.size != X.shape[1]:
            raise OmicsDataError(f"{names.size} feature names for {X.shape[1]} columns")
        self.method_ = detect_normalization(X) if self.method == "auto" else self.method
        if self._log:
            with np.errstate(invalid="ignore", divide="ignore"):
                X = np.log1p(X)
        bad = ~np.isfinite(X).all(axis=0)
        if bad.any():
            raise NonFiniteError(
                f"{int(bad.sum())} feature(s) have NaN/inf in the training rows"
                f"{' after log1p' if self._log else ''}, e.g. {names[bad][:5].tolist()}"
            )
        offset = np.zeros(X.shape[1])
        scale = np.ones(X.shape[1])
        if self.method_.endswith("zscore"):
            offset = X.mean(axis=0)
            std = X.std(axis=0)
            scale = np.divide(1.0, std, out=np.ones_like(std), where=std > 1e-12)
        elif self.method_ == "binary":
            other = ~np.isin(X, (0.0, 1.0)).all(axis=0)
            if other.any():
                raise OmicsDataError(
                    f"normalization 'binary' takes 0/1 calls; {int(other.sum())} feature(s) hold other values, "
                    f"e.g. {names[other][:5].tolist()}"
                )
        elif self.method_ == "ordinal":
            largest = float(np.abs(X).max())
            scale /= largest if largest > 0 else 1.0
        self.offset_ = offset.astype(np.float32)
        self.scale_ = scale.astype(np.float32) * self._signs(signs, X.shape[1])
        self.feature_names_ = names
        self.mean_ = ((X - self.offset_) * self.scale_).mean(axis=0).astype(np.float32)
        return self

    def transform(self, X: np.ndarray | pd.DataFrame, *, sample_ids: Sequence[str] | None = None) -> np.ndarray:
        """Normalise ``X`` of shape (F,) or (n, F); returns float32 of the same shape.

        ``sample_ids`` name the rows in errors (default: a DataFrame's index, else "row i").

        Raises:
            OmicsDataError: ``X`` does not have the fitted number of features.
            NonFiniteError: NaN/inf in the result (names the sample and feature).
        """
        check_is_fitted(self, "offset_")
        if sample_ids is None and isinstance(X, pd.DataFrame):
            sample_ids = X.index.astype(str).tolist()
        vector = getattr(X, "ndim", None) == 1  # one sample's (F,) vector
        try:
            X = validate_data(
                self, np.atleast_2d(X) if vector else X, dtype=np.float32, ensure_all_finite=False, reset=False
            )
        except ValueError as error:
            raise OmicsDataError(f"FeatureNormalizer.transform: {error}") from None
        X = X[0] if vector else X
        if self._log:
            with np.errstate(invalid="ignore", divide="ignore"):
                X = np.log1p(X)
        out = (X - self.offset_) * self.scale_
        if not np.isfinite(out).all():
            where = np.argwhere(~np.isfinite(np.atleast_2d(out)))[0]
            sample = sample_ids[where[0]] if sample_ids is not None else f"row {where[0]}"
            raise NonFiniteError(
                f"NaN/inf after {self.method_} normalisation for sample {sample!r}, "
                f"feature {str(self.feature_names_[where[1]])!r}"
            )
        return out

    @staticmethod
    def _signs(signs: np.ndarray | None, n_features: int) -> np.ndarray:
        if signs is None:
            return np.ones(n_features, dtype=np.float32)
        signs = np.asarray(signs, dtype=np.float32)
        if signs.shape != (n_features,) or not np.isin(signs, (-1.0, 1.0)).all():
            raise OmicsDataError(
                f"signs must be one sign (+1 or -1) per feature ({n_features}), got shape {signs.shape}"
            )
        return signs

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects) for an ``.npz`` file."""
        return {
            "method": np.asarray(self.method_),
            "offset": self.offset_,
            "scale": self.scale_,
            "feature_names": self.feature_names_.astype(str),
            "mean": self.mean_,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FeatureNormalizer:
        """Inverse of :meth:`to_arrays` (``method`` is the fitted ``method_``).

        ``mean_`` is ``None`` in files written before it was stored.
        """
        out = cls(method=str(arrays["method"]))
        out.method_ = out.method
        out.offset_ = np.asarray(arrays["offset"], np.float32)
        out.n_features_in_ = out.offset_.size
        out.scale_ = np.asarray(arrays["scale"], np.float32)
        out.feature_names_ = np.asarray(arrays["feature_names"], str)
        out.mean_ = np.asarray(arrays["mean"], np.float32) if "mean" in arrays else None
        return out
