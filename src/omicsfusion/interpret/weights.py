"""Trained weights for a saliency run: MONAI's ``CheckpointLoader`` with named errors, and the guard before it.

A saliency run explains the model training wrote; loading it is MONAI's
``CheckpointLoader`` (``weights_only``, attached to the run's engine like any
evaluator handler). :class:`SaliencyCheckpointLoader` adds what the run must
say in plain words: there is no checkpoint yet (training has not run), or the
checkpoint's first convolution expects other input channels than the
configured layout and modalities build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from monai.handlers import CheckpointLoader

from omicsfusion.checkpoint import load_weights, require_trained
from omicsfusion.interpret.errors import LayoutMismatchError, SaliencyError

__all__ = ["SaliencyCheckpointLoader", "first_conv_channels", "load_checkpoint", "require_checkpoint"]

#: the trained-checkpoint guard under the name ``saliency.json`` calls first in ``initialize``
require_checkpoint = require_trained


def load_checkpoint(checkpoint: str | os.PathLike) -> dict[str, torch.Tensor]:
    """State dict of a trained model (``weights_only``); a ``{"model": state}`` wrapper is unwrapped.

    Raises:
        MissingCheckpointError: no file at ``checkpoint`` (training has not run).
        CheckpointError: the file holds pickled objects (code) that ``weights_only`` refuses.
    """
    require_trained(checkpoint)
    state = load_weights(checkpoint)
    if "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]
    return dict(state)


def first_conv_channels(state: Mapping[str, torch.Tensor]) -> int:
    """Input channels of a network: dim 1 of the first convolution weight (>= 3-D tensor) of its state dict."""
    for name, value in state.items():
        if name.endswith("weight") and value.ndim >= 3:
            return int(value.shape[1])
    raise SaliencyError("the checkpoint holds no convolution weight to read its input channels from")


class SaliencyCheckpointLoader(CheckpointLoader):
    """MONAI ``CheckpointLoader`` of one network whose failures name their cause.

    Args:
        load_path: the trained checkpoint (``models/model.pt``).
        load_dict: ``{"model": network}``.
        kwargs: MONAI ``CheckpointLoader`` arguments (``map_location``, ``strict``, ...).

    Raises (when called):
        MissingCheckpointError: no file at ``load_path``.
        LayoutMismatchError: the checkpoint's first convolution expects other input channels than the network,
            or its weights have other shapes (e.g. trained on another patch size).
    """

    def __call__(self, engine) -> None:
        require_trained(self.load_path)
        try:
            super().__call__(engine)
        except RuntimeError as error:
            (network,) = self.load_dict.values()
            expected = first_conv_channels(load_checkpoint(self.load_path))
            built = first_conv_channels(network.state_dict())
            if expected == built:
                raise LayoutMismatchError(
                    f"checkpoint {self.load_path} does not fit this network ({str(error).splitlines()[-1].strip()}): "
                    "was it trained with other settings (patch_px / image size, network)?"
                ) from error
            raise LayoutMismatchError(
                f"checkpoint {self.load_path} expects {expected} input channels (first convolution) but this run "
                f"builds {built}: the layout / modalities do not match the checkpoint"
            ) from error
