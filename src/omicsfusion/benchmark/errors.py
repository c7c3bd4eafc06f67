"""The one exception type of the benchmark, so callers catch bad input precisely (from :mod:`omicsfusion.errors`)."""

from __future__ import annotations

from omicsfusion.errors import BenchmarkError

__all__ = ["BenchmarkError"]
