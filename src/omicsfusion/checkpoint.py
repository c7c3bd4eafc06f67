"""Training checkpoints that survive a crash: atomic files, the latest one found, training resumed.

MONAI's ``CheckpointSaver`` writes through ignite's ``DiskSaver`` with
``atomic=False`` (to keep group read permission), so a process killed while
saving leaves a truncated file under the final name, and ignite deletes the
previous checkpoint *before* writing the next one. :class:`AtomicCheckpointSaver`
writes every file to a temporary sibling and renames it
(:func:`omicsfusion.fileio.atomic_write`), and deletes a superseded file only
after its successor is complete, so a crash at any instant leaves complete
checkpoints only. It can also save the engine it is attached to, and the
best-model tracker of a key-metric saver, which a config cannot reference
without a cycle (the trainer's handlers would refer to the trainer).

A bundle's ``train.json`` saves model, optimizer, lr scheduler, trainer and
best-model tracker every ``save_interval`` epochs (``checkpoint_epoch=N.pt``,
the latest kept) and at the end (``checkpoint_final.pt``); with ``resume``
the next run finds the latest one with :func:`latest_checkpoint` and
:class:`ResumeLoader` restores it, so training continues at the next epoch
and stops at the same ``max_epochs``. Every load is ``weights_only=True``.
:func:`require_trained` is the one guard that evaluation, inference, saliency
and the Deploy app pass before they use a trained checkpoint and its layout file.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections.abc import Sequence
from pathlib import Path

import ignite.distributed as idist
import torch
from ignite.engine import Engine
from ignite.handlers.checkpoint import BaseSaveHandler
from monai.handlers import CheckpointLoader, CheckpointSaver

from omicsfusion.errors import CheckpointError, LayoutMismatchError, MissingCheckpointError
from omicsfusion.fileio import atomic_write
from omicsfusion.preprocessing.preprocess import OmicsPreprocessor

__all__ = [
    "AtomicCheckpointSaver",
    "CheckpointError",
    "ResumeLoader",
    "latest_checkpoint",
    "load_weights",
    "require_trained",
]

logger = logging.getLogger(__name__)

#: names of the checkpoints a bundle's training writes (interval and final), never the temporary files
CHECKPOINT_GLOB = "checkpoint_*.pt"


class AtomicSaver(BaseSaveHandler):
    """ignite save handler: ``torch.save`` into a temporary sibling, then rename; rank 0 only.

    Args:
        dirname: folder of the checkpoints (created).
        filename: fixed file name overriding ignite's (e.g. ``model.pt``); it is replaced, never deleted.
    """

    def __init__(self, dirname: str | os.PathLike, filename: str | None = None) -> None:
        self.dirname = Path(dirname)
        self.filename = filename
        self._superseded: list[str] = []

    def __call__(self, checkpoint, filename: str, metadata=None) -> None:
        if idist.get_rank() != 0:
            return
        atomic_write(self.dirname / (self.filename or filename), lambda tmp: torch.save(checkpoint, tmp))
        for name in self._superseded:  # only now that the successor is complete
            (self.dirname / name).unlink(missing_ok=True)
        self._superseded.clear()

    def remove(self, filename: str) -> None:
        if self.filename is None:
            self._superseded.append(filename)


class AtomicCheckpointSaver(CheckpointSaver):
    """MONAI ``CheckpointSaver`` whose files are written atomically, optionally with the engine itself.

    Args:
        save_dir: folder of the checkpoints.
        save_dict: objects to save (``state_dict`` / ``load_state_dict``).
        engine_key: when set, the engine the saver is attached to is saved under this key
            (e.g. ``"trainer"``), so that its epoch and iteration can be restored.
        kwargs: MONAI ``CheckpointSaver`` arguments (``save_final``, ``final_filename``,
            ``save_key_metric``, ``key_metric_filename``, ``save_interval``, ``n_saved``, ...).
    """

    def __init__(self, save_dir: str, save_dict: dict, engine_key: str | None = None, **kwargs) -> None:
        super().__init__(save_dir=save_dir, save_dict=dict(save_dict), **kwargs)
        self.engine_key = engine_key
        for checkpoint in self._checkpoints():
            checkpoint.save_handler = AtomicSaver(save_dir, checkpoint.save_handler.filename)

    def _checkpoints(self) -> list:
        return [c for c in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint) if c]

    def attach(self, engine: Engine) -> None:
        if self.engine_key is not None:
            self.save_dict[self.engine_key] = engine  # the Checkpoints hold this same dict
        if self._interval_checkpoint is not None:  # an earlier run's files count as older than any of this run's
            earlier = sorted(p.name for p in Path(self.save_dir).glob("checkpoint_epoch=*.pt"))
            self._interval_checkpoint.load_state_dict({"_saved": [(0, name) for name in earlier]})
        super().attach(engine)

    def state_dict(self) -> dict:
        """The best-model tracker (key metric and file of the best so far), so a resumed run keeps comparing."""
        checkpoint = self._key_metric_checkpoint
        return dict(checkpoint.state_dict()) if checkpoint is not None else {}


class ResumeLoader(CheckpointLoader):
    """MONAI ``CheckpointLoader`` (``weights_only``) that also restores the engine it is attached to.

    Args:
        load_path: the checkpoint (see :func:`latest_checkpoint`).
        load_dict: objects to restore; the engine is added under ``engine_key``.
        engine_key: key of the engine in the checkpoint.
        kwargs: MONAI ``CheckpointLoader`` arguments (``map_location``, ``strict``, ...).

    Raises:
        CheckpointError: the file does not fit the objects (another network, other
            modalities, other omics features); the message says how to start afresh.
    """

    def __init__(self, load_path: str, load_dict: dict, engine_key: str = "trainer", **kwargs) -> None:
        super().__init__(load_path=load_path, load_dict=dict(load_dict), **kwargs)
        self.engine_key = engine_key

    def attach(self, engine: Engine) -> None:
        self.load_dict[self.engine_key] = engine
        super().attach(engine)

    def __call__(self, engine: Engine) -> None:
        try:
            super().__call__(engine)
        except (RuntimeError, KeyError, ValueError) as error:
            raise CheckpointError(
                f"cannot resume from {self.load_path}: {str(error).rstrip('.')}. It was written by a different "
                "configuration (network, modalities, omics features or max_epochs); train into a new ckpt_dir or "
                "pass --resume false"
            ) from error
        logger.info("resumed from %s: epoch %d of %d done", self.load_path, engine.state.epoch, engine.state.max_epochs)


def load_weights(path: str | os.PathLike, map_location: str = "cpu", mmap: bool = False):
    """``torch.load(path, weights_only=True)``, with a named error when the file holds pickled objects.

    Raises:
        CheckpointError: the file would need an unsafe load (it pickles classes or functions,
            i.e. code that unpickling would run); the message names the offending global.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        found = re.search(r"WeightsUnpickler error: ([^.]*)", str(error))
        reason = found.group(1) if found else str(error).splitlines()[0]
        raise CheckpointError(
            f"{path}: refused by torch.load(weights_only=True): {reason}; the file pickles "
            "objects beyond tensors and plain containers, which could run code when loaded"
        ) from None


def _iteration(path: Path, engine_key: str) -> int:
    try:
        state = load_weights(path, mmap=True)
    except (RuntimeError, EOFError, OSError) as error:
        raise CheckpointError(
            f"{path}: not a loadable training checkpoint ({error}); delete it to start afresh or pass --resume false"
        ) from error
    if not isinstance(state, dict) or not isinstance(state.get(engine_key), dict):
        raise CheckpointError(f"{path}: holds no {engine_key!r} state, so training cannot resume from it")
    return int(state[engine_key]["iteration"])


def latest_checkpoint(ckpt_dir: str | os.PathLike, engine_key: str = "trainer") -> str | None:
    """The training checkpoint in ``ckpt_dir`` with the most iterations done, or ``None``.

    Looks at ``checkpoint_*.pt`` (interval and final files; temporary files of an
    interrupted save are hidden ``.tmp-*`` names and never match) and reads each
    one's trainer state (``weights_only``, memory-mapped: tensors are not read).

    Raises:
        CheckpointError: a candidate cannot be loaded safely or holds no trainer state.
    """
    candidates = sorted(Path(ckpt_dir).glob(CHECKPOINT_GLOB)) if Path(ckpt_dir).is_dir() else []
    if not candidates:
        return None
    return str(max(candidates, key=lambda p: (_iteration(p, engine_key), p.name == "checkpoint_final.pt")))


def require_trained(
    checkpoint: str | os.PathLike, layout_file: str | os.PathLike | None = None, omics_types: Sequence[str] | None = ()
) -> OmicsPreprocessor | None:
    """Refuse evaluation, inference, saliency or deployment before training wrote the checkpoint and layout.

    Args:
        checkpoint: the trained model (``models/model.pt``, or the ``model.ts`` exported from it).
        layout_file: the layout file training writes next to the checkpoint (``models/layout.npz``).
        omics_types: the omics channels the run builds; empty for an image-only model (no layout
            needed), ``None`` for "whatever the layout file holds" (the Deploy app).

    Returns:
        The fitted preprocessor of ``layout_file`` (loaded once per process), or ``None`` when no layout is needed.

    Raises:
        MissingCheckpointError: no file at ``checkpoint``, or at ``layout_file`` when it is needed.
        LayoutMismatchError: the layout file holds no layout for some of ``omics_types``.
    """
    if not Path(checkpoint).is_file():
        raise MissingCheckpointError(
            f"no trained checkpoint at {checkpoint}: run the bundle's configs/train.json "
            "first (a Deploy app takes the model.ts that ckpt_export writes from it)"
        )
    if omics_types is not None and not omics_types:
        return None
    if layout_file is None or not Path(layout_file).is_file():
        channels = "the model's omics channels" if omics_types is None else f"omics channels {list(omics_types)}"
        raise MissingCheckpointError(
            f"no fitted layout at {layout_file} ({channels} need it): configs/train.json "
            f"writes it next to the checkpoint {checkpoint}"
        )
    fitted = OmicsPreprocessor.cached(layout_file)
    absent = [t for t in omics_types or () if t not in fitted.channel_names]
    if absent:
        raise LayoutMismatchError(
            f"layout file {layout_file} holds omics channels {fitted.channel_names}, not "
            f"{absent}; the run builds omics channels {list(omics_types)} for {checkpoint}"
        )
    return fitted


def layout_channels(layout_file: str | os.PathLike | None, omics_types: Sequence[str]) -> list[str]:
    """The omics channels a trained model reads for ``omics_types``, as its layout file renders them.

    The types, then their mask channels when the layout was fitted with the missing indicator
    (``OmicsPreprocessor.channels_of``); ``[]`` for an image-only model. Before training wrote the
    layout file (MONAI's metadata checks build the network then) the types alone: a run is refused
    by :func:`require_trained` anyway. The evaluation, inference and saliency configs count the
    network's omics ``in_channels`` with it.
    """
    types = [str(t) for t in omics_types]
    if not types or layout_file is None or not Path(layout_file).is_file():
        return types
    return OmicsPreprocessor.cached(layout_file).channels_of(types)
