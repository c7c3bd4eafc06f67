"""The one exception type of the benchmark, so callers can catch bad input precisely."""

from __future__ import annotations


class BenchmarkError(ValueError):
    """Bad benchmark input: labels, folds, sample ids or tables that cannot be compared fairly."""
