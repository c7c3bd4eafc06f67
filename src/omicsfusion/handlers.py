"""Ignite handlers the bundles need beyond MONAI's own.

MONAI's ``ClassificationSaver`` writes probabilities without a header or
sample ids, and ``MetricsSaver`` writes scalars only; bundle users want a
per-sample CSV they can join on sample id and a per-class report with a
confusion matrix they can look at. Both collect the decollated evaluator
outputs of one epoch, gather them across ranks, and write on rank 0 only.
:class:`AtomicMetricsSaver` is MONAI's ``MetricsSaver`` with files that
appear whole, like every other file the bundles write.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from ignite.engine import Engine, Events
from monai.handlers import MetricsSaver

from omicsfusion.fileio import atomic_write


def _is_rank0() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _gather(values: list) -> list:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    gathered: list[list] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(gathered, values)
    return [v for part in gathered for v in part]


def _atomic_csv(frame: pd.DataFrame, path: Path, **kwargs) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, **kwargs))


def _scalar(value) -> object:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().item() if value.numel() == 1 else value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.item() if value.size == 1 else value.tolist()
    return value


class _EpochPredictions:
    """Collect ``(sample id, class probabilities, label)`` of every sample of an evaluator epoch."""

    def __init__(
        self,
        class_names: Sequence[str],
        id_key: str = "sample_id",
        pred_key: str = "pred",
        label_key: str | None = "label",
        extra_keys: Sequence[str] = (),
    ) -> None:
        self.class_names = [str(c) for c in class_names]
        self.id_key = id_key
        self.pred_key = pred_key
        self.label_key = label_key
        self.extra_keys = list(extra_keys)
        self._rows: list[tuple] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._completed)

    def _reset(self, engine: Engine) -> None:
        self._rows = []

    def _collect(self, engine: Engine) -> None:
        outputs = engine.state.output
        batch = engine.state.batch
        if isinstance(outputs, dict):  # not decollated: one dict of batched tensors
            raise TypeError(f"{type(self).__name__} needs decollated engine outputs (decollate=True)")
        for i, item in enumerate(outputs):
            probs = torch.as_tensor(item[self.pred_key]).detach().float().cpu().reshape(-1).numpy()
            if probs.shape[0] != len(self.class_names):
                raise ValueError(
                    f"{type(self).__name__}: prediction has {probs.shape[0]} values but {len(self.class_names)} "
                    f"class names were given ({self.class_names})"
                )
            source = batch[i] if isinstance(batch, list) else item
            sample_id = source.get(self.id_key, item.get(self.id_key, f"sample_{len(self._rows)}"))
            label = item.get(self.label_key) if self.label_key else None
            if label is not None:  # a class index, or a one-hot vector
                label = torch.as_tensor(label).reshape(-1)
                label = int(label.argmax() if label.numel() > 1 else label[0])
            extras = {k: _scalar(source.get(k, item.get(k))) for k in self.extra_keys}
            self._rows.append((str(_scalar(sample_id)), probs, label, extras))

    def _completed(self, engine: Engine) -> None:
        rows = _gather(self._rows)
        if _is_rank0() and rows:
            self.write(rows)

    def write(self, rows: list[tuple]) -> None:
        raise NotImplementedError


class ClassProbabilityWriter(_EpochPredictions):
    """Write one CSV row per sample: id, predicted class, probability of every class (and label if known).

    Args:
        output_file: CSV path (its folder is created; the file is replaced atomically).
        class_names: class names in output-channel order.
        id_key: key of the sample id in the batch (e.g. copied from ``"omics"`` by ``CopyItemsd``).
        pred_key: key of the (softmax) probabilities in the engine output.
        label_key: key of the label in the engine output, or ``None`` for inference.
        extra_keys: batch keys written as further columns after the id (e.g. a spot's
            ``barcode``, ``x``, ``y``).
    """

    def __init__(
        self,
        output_file: str | os.PathLike,
        class_names: Sequence[str],
        id_key: str = "sample_id",
        pred_key: str = "pred",
        label_key: str | None = None,
        extra_keys: Sequence[str] = (),
    ) -> None:
        super().__init__(class_names, id_key, pred_key, label_key, extra_keys)
        self.output_file = Path(output_file)

    def write(self, rows: list[tuple]) -> None:
        probs = np.stack([r[1] for r in rows])
        frame = pd.DataFrame(probs, columns=[f"prob_{c}" for c in self.class_names])
        frame.insert(0, "sample_id", [r[0] for r in rows])
        for k, key in enumerate(self.extra_keys, start=1):
            frame.insert(k, key, [r[3][key] for r in rows])
        column = 1 + len(self.extra_keys)
        frame.insert(column, "predicted_class", [self.class_names[k] for k in probs.argmax(axis=1)])
        if any(r[2] is not None for r in rows):
            frame.insert(column + 1, "true_class", [self.class_names[r[2]] if r[2] is not None else "" for r in rows])
        self.output_file.parent.mkdir(parents=True, exist_ok=True)
        _atomic_csv(frame, self.output_file, index=False)


class ClassificationReport(_EpochPredictions):
    """Write per-class metrics, the confusion matrix (CSV + PNG) and a JSON summary of an evaluation.

    Files written into ``output_dir``: ``per_class_metrics.csv`` (precision, recall, F1,
    one-vs-rest AUC, support), ``confusion_matrix.csv``, ``confusion_matrix.png`` and
    ``summary.json`` (accuracy, macro F1, macro AUC, n).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        class_names: Sequence[str],
        id_key: str = "sample_id",
        pred_key: str = "pred",
        label_key: str = "label",
    ) -> None:
        super().__init__(class_names, id_key, pred_key, label_key)
        self.output_dir = Path(output_dir)

    def write(self, rows: list[tuple]) -> None:
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

        labels = np.array([r[2] for r in rows])
        if any(label is None for label in labels):
            raise ValueError("ClassificationReport needs a label for every sample; use ClassProbabilityWriter")
        labels = labels.astype(int)
        probs = np.stack([r[1] for r in rows])
        predicted = probs.argmax(axis=1)
        classes = np.arange(len(self.class_names))
        precision, recall, f1, support = precision_recall_fscore_support(
            labels, predicted, labels=classes, zero_division=0
        )
        auc = []
        for k in classes:
            positives = labels == k
            auc.append(roc_auc_score(positives, probs[:, k]) if 0 < positives.sum() < len(labels) else np.nan)
        per_class = pd.DataFrame(
            {
                "class": self.class_names,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "auc": auc,
                "support": support,
            }
        )
        matrix = confusion_matrix(labels, predicted, labels=classes)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        _atomic_csv(per_class, self.output_dir / "per_class_metrics.csv", index=False)
        _atomic_csv(
            pd.DataFrame(matrix, index=self.class_names, columns=self.class_names),
            self.output_dir / "confusion_matrix.csv",
            index_label="true\\predicted",
        )
        self._plot(matrix)
        summary = {
            "n": len(labels),
            "accuracy": float((predicted == labels).mean()),
            "macro_f1": float(np.mean(f1)),
            "macro_auc": float(np.nanmean(auc)) if not np.all(np.isnan(auc)) else None,
        }
        atomic_write(self.output_dir / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))

    def _plot(self, matrix: np.ndarray) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = len(self.class_names)
        fig, ax = plt.subplots(figsize=(1.2 * n + 2, 1.2 * n + 1.5))
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(n), self.class_names, rotation=45, ha="right")
        ax.set_yticks(range(n), self.class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black",
                )
        fig.tight_layout()
        atomic_write(self.output_dir / "confusion_matrix.png", lambda tmp: fig.savefig(tmp, format="png", dpi=100))
        plt.close(fig)


class SpotOverlayWriter(_EpochPredictions):
    """Draw each slide's predicted spot classes over its thumbnail: ``<output_dir>/overlay_<group>.png``.

    Needs, per spot, the slide path (``slide_key``, e.g. copied from ``image`` before
    the patch is loaded), the level-0 centre (``x_key``, ``y_key``), the slide's microns
    per pixel (``mpp_key``) and a group name (``group_key``: the section).

    Args:
        output_dir: folder of the PNGs.
        class_names: class names in output-channel order (legend).
        spot_um: drawn spot diameter in microns (Visium: 55).
        max_side: thumbnail long side in pixels.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        class_names: Sequence[str],
        id_key: str = "sample_id",
        pred_key: str = "pred",
        slide_key: str = "slide",
        x_key: str = "x",
        y_key: str = "y",
        mpp_key: str = "mpp",
        group_key: str = "group",
        spot_um: float = 55.0,
        max_side: int = 1024,
    ) -> None:
        super().__init__(class_names, id_key, pred_key, None, [slide_key, x_key, y_key, mpp_key, group_key])
        self.output_dir = Path(output_dir)
        self.spot_um = float(spot_um)
        self.max_side = int(max_side)

    def write(self, rows: list[tuple]) -> None:
        from omicsfusion.data.spatial.overlay import write_overlay

        slide_key, x_key, y_key, mpp_key, group_key = self.extra_keys
        groups: dict[tuple[str, str], list[tuple]] = {}
        for row in rows:
            groups.setdefault((str(row[3][group_key]), str(row[3][slide_key])), []).append(row)
        for (group, slide), members in groups.items():
            xy = np.asarray([[r[3][x_key], r[3][y_key]] for r in members], dtype=np.float64)
            predicted = np.stack([r[1] for r in members]).argmax(axis=1)
            write_overlay(
                self.output_dir / f"overlay_{group}.png",
                slide,
                xy,
                predicted,
                self.class_names,
                spot_px=self.spot_um / float(members[0][3][mpp_key]),
                max_side=self.max_side,
                title=group,
            )


class AtomicMetricsSaver(MetricsSaver):
    """MONAI ``MetricsSaver`` whose reports are written into a hidden folder beside them, then renamed in.

    MONAI writes ``metrics.csv`` (and detail reports) straight to their final names, so a
    process killed meanwhile would leave a truncated report. Arguments: MONAI's.
    """

    def __call__(self, engine: Engine) -> None:
        final = Path(self.save_dir)
        final.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".tmp-metrics-", dir=final) as tmp:
            self.save_dir = tmp
            try:
                super().__call__(engine)
            finally:
                self.save_dir = str(final)
            for path in Path(tmp).iterdir():
                os.replace(path, final / path.name)
