"""The small MONAI CNN that reads omics images, and its seeded, early-stopped trainer.

The network is the bundles' omics stem (:func:`omicsfusion.networks.omics_cnn`), so
what the benchmark measures is what the bundles' mid-fusion network trains.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from monai.networks.layers import GaussianFilter
from torch import nn

from omicsfusion.benchmark.evaluate import inner_validation_split
from omicsfusion.networks import omics_cnn


class ImageBatches(Protocol):
    """Images indexed like an array: ``len`` samples, ``[indices]`` -> ``(k, C, *grid)`` float32.

    A numpy array is one; :class:`omicsfusion.benchmark.images.RenderedImages` renders each batch
    from the table instead, so a quarter of a million images never sit in memory at once.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, indices: np.ndarray) -> np.ndarray: ...


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the caller's count (a global setting)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def mask_channels(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Zero each sample's channels with probability ``p``, never all channels of one sample.

    A zero channel is what a sample lacking that omics type gets (its normalised training mean),
    so a network trained this way predicts from the types a sample has.
    """
    if p <= 0 or x.shape[1] < 2:
        return x
    drop = torch.rand(x.shape[:2], generator=generator) < p
    drop[drop.all(dim=1)] = False
    return x * (~drop).to(x.dtype).reshape(*x.shape[:2], *([1] * (x.ndim - 2)))


def drop_pixels(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Zero each training sample's pixels with probability ``p``, the same pixels in every channel.

    A pixel is a feature (or a few) of the layout, so this is feature dropout in image space; where
    the layout puts similar features side by side, a dropped pixel's neighbours still carry its signal.
    """
    if p <= 0:
        return x
    keep = torch.rand((x.shape[0], 1, *x.shape[2:]), generator=generator) >= p
    return x * keep.to(x.dtype)


class WithSmoothed(nn.Module):
    """Append a Gaussian-smoothed copy of every channel (``sigma`` pixels) before ``backbone``.

    The smoothed channel averages each pixel with its layout neighbours: on an OT layout that
    pools similar features (a denoised value), on a random layout it mixes unrelated ones.
    """

    def __init__(self, backbone: nn.Module, sigma: float, spatial_dims: int) -> None:
        super().__init__()
        self.smooth = GaussianFilter(spatial_dims, sigma)
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(torch.cat([x, self.smooth(x)], dim=1))


@dataclass
class CNNClassifier:
    """Fit/predict wrapper around :func:`~omicsfusion.networks.omics_cnn` with early stopping, optionally an ensemble.

    The inner validation split (``val_fraction`` of the training fold,
    stratified) decides when to stop and which epoch's weights to keep, so the
    outer test fold is never looked at during training. With ``n_members > 1``
    each member has its own seed and inner split, and the probabilities are averaged.

    Attributes:
        max_epochs: hard cap on epochs.
        patience: epochs without a validation-loss improvement before stopping.
        batch_size: mini-batch size.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        val_fraction: share of the training fold held out for early stopping.
        channel_dropout: per training sample, probability of masking each channel (omics type).
        n_members: networks averaged.
        width: channels of the first conv stage (the second has twice as many).
        pixel_dropout: per training sample, probability of zeroing each pixel (all channels).
        smoothing: when > 0, a Gaussian-smoothed copy of each channel (sigma in pixels) is appended.
        seed: seeds weights, shuffling and the inner split (member ``m`` uses ``seed + m``).
        threads: torch intra-op threads (the benchmark targets 2 CPU cores).
    """

    max_epochs: int = 60
    patience: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-3
    val_fraction: float = 0.15
    channel_dropout: float = 0.0
    n_members: int = 1
    width: int = 16
    pixel_dropout: float = 0.0
    smoothing: float = 0.0
    seed: int = 0
    threads: int = 2

    def fit(self, images: ImageBatches, labels: np.ndarray, n_classes: int) -> CNNClassifier:
        """Train on ``images`` (n, C, *grid), read a batch at a time, with integer ``labels`` in ``0..n_classes-1``."""
        if self.n_members < 1:
            raise ValueError(f"n_members must be at least 1, got {self.n_members}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        with torch_threads(self.threads):
            y = torch.as_tensor(labels, dtype=torch.long)
            fitted = [self._fit_member(images, y, n_classes, self.seed + m) for m in range(self.n_members)]
        self.networks_ = [network for network, _, _ in fitted]
        self.epochs_ = float(np.mean([epochs for _, epochs, _ in fitted]))
        self.best_val_loss_ = float(np.mean([loss for _, _, loss in fitted]))
        return self

    def _fit_member(self, x: ImageBatches, y: torch.Tensor, n_classes: int, seed: int) -> tuple[nn.Module, int, float]:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(seed)
        fit_idx, val_idx = inner_validation_split(y.numpy(), self.val_fraction, seed)
        network = self._network(tuple(x[np.arange(1)].shape[1:]), n_classes)
        optimiser = torch.optim.AdamW(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = nn.CrossEntropyLoss()
        best_loss, best_state, stale, epochs = float("inf"), None, 0, 0
        for _ in range(self.max_epochs):
            network.train()
            order = fit_idx[rng.permutation(len(fit_idx))]
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                if len(batch) < 2:  # batch norm needs two samples
                    continue
                optimiser.zero_grad()
                inputs = mask_channels(_tensor(x, batch), self.channel_dropout, generator)
                inputs = drop_pixels(inputs, self.pixel_dropout, generator)
                loss_fn(network(inputs), y[batch]).backward()
                optimiser.step()
            epochs += 1
            val_loss = float(loss_fn(_logits(network, x, val_idx), y[val_idx]))
            if val_loss < best_loss - 1e-4:
                best_loss, best_state, stale = val_loss, copy.deepcopy(network.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        network.load_state_dict(best_state)
        return network, epochs, best_loss

    def _network(self, in_shape: tuple[int, ...], n_classes: int) -> nn.Module:
        channels = (self.width, 2 * self.width)
        if self.smoothing <= 0:
            return omics_cnn(in_shape, n_classes, channels=channels)
        stem = omics_cnn((2 * in_shape[0], *in_shape[1:]), n_classes, channels=channels)
        return WithSmoothed(stem, self.smoothing, len(in_shape) - 1)

    def predict_proba(self, images: ImageBatches) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, the members' mean, for images shaped like the training ones."""
        with torch_threads(self.threads):
            index = np.arange(len(images))
            proba = torch.stack([torch.softmax(_logits(net, images, index), dim=1) for net in self.networks_]).mean(0)
        return proba.numpy()


def _tensor(images: ImageBatches, indices: np.ndarray) -> torch.Tensor:
    """``images[indices]`` as a C-ordered float32 tensor (rendered batches come sample-minor: same values,
    other strides, which would send the convolutions down another, slower and differently rounded path)."""
    return torch.from_numpy(np.ascontiguousarray(images[indices], dtype=np.float32))


@torch.no_grad()
def _logits(network: nn.Module, images: ImageBatches, indices: np.ndarray) -> torch.Tensor:
    """Logits of ``images[indices]``, read 256 at a time."""
    network.eval()
    return torch.cat([network(_tensor(images, indices[i : i + 256])) for i in range(0, len(indices), 256)])
