"""Accuracy benchmark: OT-image CNN versus layout controls, peer layouts and tabular models.

Answers, on a user's own omics table(s), whether an optimal-transport image fed
to a small MONAI CNN does as well as the tabular models they already trust and
better than a randomly laid-out image of the same pixels. Entry points:
:func:`omicsfusion.benchmark.runner.run_benchmark` and the ``benchmark`` command
(:mod:`omicsfusion.apps.benchmark_cli`).
"""

from omicsfusion.benchmark.errors import BenchmarkError

__all__ = ["BenchmarkError"]
