"""Named errors of the networks: pretrained encoder weights that are absent or do not fit (checkpoint family)."""

from __future__ import annotations

from omicsfusion.errors import CheckpointError

__all__ = ["EncoderWeightsError"]


class EncoderWeightsError(CheckpointError):
    """Encoder weights absent, unreadable or with other keys than the encoder (file and first keys named)."""
