"""Exceptions and warnings of the layout engine.

Every bad input the layout engine detects raises :class:`LayoutError` (the
layout family of :mod:`omicsfusion.errors`), a ``ValueError`` so that callers
who only know the standard library still catch it; recoverable oddities
(constant features, missing features) are reported with :class:`LayoutWarning`.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from omicsfusion.errors import FeatureMismatchError, LayoutError

__all__ = ["FeatureMismatchError", "LayoutError", "LayoutNotFittedError", "LayoutWarning", "check_fitted"]


class LayoutWarning(UserWarning):
    """Something was dropped or filled in; the message says what and how much."""


class LayoutNotFittedError(LayoutError, NotFittedError):
    """A layout used before ``fit`` or ``load``; also scikit-learn's ``NotFittedError``."""


def check_fitted(estimator: object, attribute: str) -> None:
    """scikit-learn's ``check_is_fitted`` on ``attribute``; raises :class:`LayoutNotFittedError` (a ``LayoutError``)."""
    try:
        check_is_fitted(estimator, attribute, msg="this %(name)s is not fitted; call fit() or load() first")
    except NotFittedError as error:
        raise LayoutNotFittedError(str(error)) from None
