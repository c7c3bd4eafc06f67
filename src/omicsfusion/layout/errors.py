"""Exceptions and warnings of the layout engine.

Every bad input the layout engine detects raises :class:`LayoutError` (the
layout family of :mod:`omicsfusion.errors`), a ``ValueError`` so that callers
who only know the standard library still catch it; recoverable oddities
(constant features, missing features) are reported with :class:`LayoutWarning`.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

from omicsfusion.errors import FeatureMismatchError, LayoutError

__all__ = ["FeatureMismatchError", "LayoutError", "LayoutNotFittedError", "LayoutWarning"]


class LayoutWarning(UserWarning):
    """Something was dropped or filled in; the message says what and how much."""


class LayoutNotFittedError(LayoutError, NotFittedError):
    """A layout used before ``fit`` or ``load``; also scikit-learn's ``NotFittedError``."""
