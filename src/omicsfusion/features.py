"""The one feature-overlap check of the package, shared by layouts, omics tables and transforms.

Below both ``layout`` and ``data`` (it imports only :mod:`omicsfusion.errors`), so
that neither has to import the other to match a table's features to a layout's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from omicsfusion.errors import FeatureMismatchError, first_names

__all__ = ["match_features"]


def match_features(expected: object, names: object, min_overlap: float, source: str) -> np.ndarray:
    """Column in ``names`` (unique) of each ``expected`` layout feature, ``-1`` where absent.

    Raises:
        FeatureMismatchError: fewer than ``min_overlap`` of the expected features are present; the message
            names ``source``, the counts present and expected, and the first missing names.
    """
    expected = np.asarray(expected, dtype=str)
    index = pd.Index(np.asarray(names, dtype=str)).get_indexer(expected).astype(np.int64)
    missing = expected[index < 0]
    present = expected.size - missing.size
    if expected.size and present / expected.size < min_overlap:
        raise FeatureMismatchError(
            f"{source}: {present} of {expected.size} layout features present "
            f"(min_overlap={min_overlap:g}); missing {first_names(missing)}"
        )
    return index
