"""The small MONAI CNN that reads omics images, and its seeded, early-stopped trainer.

Small on purpose: the benchmark trains it once per layout per fold on two CPU
cores, and an omics image of a few thousand pixels does not need more. The
classifier head is a flatten + linear layer (MONAI ``Classifier``) rather than
global pooling, because in a layout image *where* a value sits says *which*
feature it is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from monai.networks.nets import Classifier
from torch import nn

from omicsfusion.benchmark.evaluate import inner_validation_split


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the caller's count (a global setting)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_cnn(in_shape: tuple[int, ...], n_classes: int, dropout: float = 0.2) -> nn.Module:
    """A two-stage strided MONAI ``Classifier`` for ``(C, H, W)`` or ``(C, H, W, D)`` inputs.

    Args:
        in_shape: channels first, then the layout grid.
        n_classes: number of output logits.
        dropout: dropout inside the conv blocks.
    """
    grid = in_shape[1:]
    # stride only while the grid is still large enough to be halved
    strides = tuple(2 if min(grid) >= 4 * 2**i else 1 for i in range(2))
    return Classifier(
        in_shape=in_shape,
        classes=n_classes,
        channels=(16, 32),
        strides=strides,
        num_res_units=0,
        act="RELU",
        norm="BATCH",
        dropout=dropout,
    )


@dataclass
class CNNClassifier:
    """Fit/predict wrapper around :func:`build_cnn` with early stopping.

    The inner validation split (``val_fraction`` of the training fold,
    stratified) decides when to stop and which epoch's weights to keep, so the
    outer test fold is never looked at during training.

    Attributes:
        max_epochs: hard cap on epochs.
        patience: epochs without a validation-loss improvement before stopping.
        batch_size: mini-batch size.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        val_fraction: share of the training fold held out for early stopping.
        seed: seeds weights, shuffling and the inner split.
        threads: torch intra-op threads (the benchmark targets 2 CPU cores).
    """

    max_epochs: int = 60
    patience: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-3
    val_fraction: float = 0.15
    seed: int = 0
    threads: int = 2

    def fit(self, images: np.ndarray, labels: np.ndarray, n_classes: int) -> CNNClassifier:
        """Train on ``images`` (n, C, *grid) with integer ``labels`` in ``0..n_classes-1``."""
        with torch_threads(self.threads):
            return self._fit(images, labels, n_classes)

    def _fit(self, images: np.ndarray, labels: np.ndarray, n_classes: int) -> CNNClassifier:
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        fit_idx, val_idx = inner_validation_split(labels, self.val_fraction, self.seed)
        x = torch.as_tensor(images, dtype=torch.float32)
        y = torch.as_tensor(labels, dtype=torch.long)
        self.network_ = build_cnn(tuple(images.shape[1:]), n_classes)
        optimiser = torch.optim.AdamW(self.network_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = nn.CrossEntropyLoss()
        best_loss, best_state, stale = float("inf"), None, 0
        self.epochs_ = 0
        for _ in range(self.max_epochs):
            self.network_.train()
            order = fit_idx[rng.permutation(len(fit_idx))]
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                if len(batch) < 2:  # batch norm needs two samples
                    continue
                optimiser.zero_grad()
                loss_fn(self.network_(x[batch]), y[batch]).backward()
                optimiser.step()
            self.epochs_ += 1
            val_loss = float(loss_fn(self._logits(x[val_idx]), y[val_idx]))
            if val_loss < best_loss - 1e-4:
                best_loss, best_state, stale = val_loss, copy.deepcopy(self.network_.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        self.network_.load_state_dict(best_state)
        self.best_val_loss_ = best_loss
        return self

    @torch.no_grad()
    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        self.network_.eval()
        return torch.cat([self.network_(x[i : i + 256]) for i in range(0, len(x), 256)])

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` for images shaped like the training ones."""
        with torch_threads(self.threads):
            logits = self._logits(torch.as_tensor(images, dtype=torch.float32))
        return torch.softmax(logits, dim=1).numpy()
