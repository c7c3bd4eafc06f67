"""Decathlon-style datalists: ``{"training": [...], "validation": [...], "test": [...]}``.

Each row is ``{"image": path, "omics": sample_id, "label": int}``, the shape
MONAI bundles expect. :func:`build_datalist` makes one from a table of
samples with a stratified, seeded split, so the same seed always gives the
same split and every class is represented in every section it can be.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsfusion.data.errors import DatalistPathError, OmicsDataError
from omicsfusion.data.folders import FolderIndex

__all__ = ["SECTIONS", "build_datalist", "grouped_split", "load_datalist", "stratified_split", "write_datalist"]

SECTIONS = ("training", "validation", "test")
_ROW_KEYS = ("image", "omics", "label")


def stratified_split(labels: Sequence[Any], fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """Split positions ``0..n-1`` into len(fractions)+1 parts, per class, seeded.

    Each class is shuffled with its own draw from ``seed`` and cut by
    ``fractions`` (rounded, but at least one sample per part when the class
    has more samples than parts); the remainder is the first part (training).

    Returns:
        one sorted index array per part: [rest, fractions[0], fractions[1], ...].
    """
    if sum(fractions) >= 1 or any(f < 0 for f in fractions):
        raise OmicsDataError(f"split fractions {list(fractions)} must be >= 0 and sum below 1")
    labels = np.asarray([str(lbl) for lbl in labels])
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        start = 0
        for k, frac in enumerate(fractions, start=1):
            take = round(frac * members.size)
            if frac > 0 and take == 0 and members.size > len(fractions):
                take = 1
            parts[k].extend(members[start : start + take].tolist())
            start += take
        parts[0].extend(members[start:].tolist())
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def grouped_split(groups: Sequence[Any], fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """Split positions ``0..n-1`` by GROUP (e.g. tissue section), seeded: a group never straddles two parts.

    Groups are shuffled and whole groups are given to each part in turn:
    ``round(fraction * n_groups)`` groups, at least one where the fraction is
    positive; the remaining groups form the first part (training). Needed when
    samples of one group leak into each other (spots of one section).

    Raises:
        OmicsDataError: too few groups for one per non-empty part plus training.
    """
    if sum(fractions) >= 1 or any(f < 0 for f in fractions):
        raise OmicsDataError(f"split fractions {list(fractions)} must be >= 0 and sum below 1")
    groups = np.asarray([str(g) for g in groups])
    names = np.random.default_rng(seed).permutation(np.unique(groups))
    needed = 1 + sum(1 for f in fractions if f > 0)
    if names.size < needed:
        raise OmicsDataError(
            f"a split by group into {needed} parts needs >= {needed} groups; got {names.size} ({names.tolist()})"
        )
    parts: list[list[str]] = [[] for _ in range(len(fractions) + 1)]
    start = 0
    for k, frac in enumerate(fractions, start=1):
        take = max(round(frac * names.size), 1) if frac > 0 else 0
        take = min(take, names.size - start - 1)
        parts[k] = names[start : start + take].tolist()
        start += take
    parts[0] = names[start:].tolist()
    return [np.flatnonzero(np.isin(groups, p)) for p in parts]


def build_datalist(
    samples: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    image_key: str = "image",
    omics_key: str = "omics",
    label_key: str = "label",
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 0,
    group_key: str | None = None,
    extra_keys: Sequence[str] = (),
    split_key: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Datalist from a table with one row per sample, split stratified by label (or by group).

    Args:
        samples: rows with an image path, a sample id and an integer label
            (column names given by the ``*_key`` arguments).
        val_fraction: share of each class in ``validation``.
        test_fraction: share of each class in ``test`` (section omitted when 0).
        seed: split seed; equal seeds give equal datalists.
        group_key: column of the split unit (e.g. tissue section): whole groups go to one
            section (:func:`grouped_split`) instead of a per-sample stratified split.
        extra_keys: further columns copied into every row (e.g. spot ``x``, ``y``).
        split_key: column naming each row's section (``training`` / ``validation`` / ``test``): a split
            decided beforehand (e.g. per tissue section) instead of a drawn one.

    Raises:
        OmicsDataError: a column is missing, a label is not an integer, or a
            sample id repeats (a sample must never sit in two sections).
    """
    df = pd.DataFrame(list(samples)) if not isinstance(samples, pd.DataFrame) else samples
    for col in (
        image_key,
        omics_key,
        label_key,
        *([group_key] if group_key else []),
        *([split_key] if split_key else []),
        *extra_keys,
    ):
        if col not in df.columns:
            raise OmicsDataError(f"datalist table lacks column {col!r}; it has {list(df.columns)}")
    ids = df[omics_key].astype(str)
    if ids.duplicated().any():
        raise OmicsDataError(f"sample id(s) repeated in the datalist table: {ids[ids.duplicated()].tolist()[:5]}")
    labels = pd.to_numeric(df[label_key], errors="coerce")
    if labels.isna().any() or (labels != labels.round()).any():
        raise OmicsDataError(f"labels must be integers; bad values {df[label_key][labels.isna()].tolist()[:5]}")
    rows = [
        {"image": str(img), "omics": sid, "label": int(lbl)}
        for img, sid, lbl in zip(df[image_key], ids, labels.astype(int), strict=True)
    ]
    for key in extra_keys:
        for row, value in zip(rows, df[key].tolist(), strict=True):
            row[key] = value.item() if isinstance(value, np.generic) else value
    if split_key:
        given = df[split_key].astype(str).to_numpy()
        unknown = sorted(set(given) - set(SECTIONS))
        if unknown:
            raise OmicsDataError(f"column {split_key!r} holds {unknown}; use {list(SECTIONS)}")
        train, val, test = (np.flatnonzero(given == s) for s in SECTIONS)
    elif group_key:
        train, val, test = grouped_split(df[group_key].tolist(), [val_fraction, test_fraction], seed)
    else:
        train, val, test = stratified_split(labels.astype(int).tolist(), [val_fraction, test_fraction], seed)
    out = {"training": [rows[i] for i in train], "validation": [rows[i] for i in val]}
    if (test.size > 0) if split_key else test_fraction > 0:
        out["test"] = [rows[i] for i in test]
    return out


def _datalist_json(datalist: Mapping[str, list[Mapping[str, Any]]]) -> str:
    """The datalist as JSON text, one row per line: readable, and each row goes through json's C encoder
    (``indent`` would send every value through its pure-Python one, 16 s for 250,000 rows)."""
    sections = [
        f"{json.dumps(name)}: [" + ",".join("\n  " + json.dumps(row) for row in rows) + ("\n ]" if rows else "]")
        for name, rows in datalist.items()
    ]
    return "{" + ",".join("\n " + section for section in sections) + "\n}\n"


def write_datalist(datalist: Mapping[str, list[Mapping[str, Any]]], path: str | os.PathLike) -> Path:
    """Write the datalist as JSON atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(_datalist_json(datalist))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _inside(root: Path) -> Callable[[str], bool]:
    """Whether a path resolves (symlinks followed) inside ``root``; one ``realpath`` per folder (FolderIndex)."""
    real_root = os.path.realpath(root)
    folders = FolderIndex()

    def check(path: str) -> bool:
        real = folders.realpath(path)
        return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)

    return check


def _as_list(value: str | list[str]) -> list[str]:
    """A row's path entry as a list: a sample may hold several images (e.g. tiles of one slide)."""
    return value if isinstance(value, list) else [value]


def _resolve(base: Path, value: str | Sequence[str]) -> str | list[str]:
    """A path, or each of a list of paths, against ``base``."""
    return str(base / value) if isinstance(value, (str, os.PathLike)) else [str(base / v) for v in value]


def load_datalist(
    path: str | os.PathLike,
    section: str = "training",
    base_dir: str | os.PathLike | None = None,
    image_keys: Sequence[str] = ("image",),
    root: str | os.PathLike | None = None,
    allow_outside: bool = False,
) -> list[dict[str, Any]]:
    """Rows of one section; relative image paths (a path or a list of them) are resolved against ``base_dir``.

    ``base_dir`` defaults to the datalist's own folder (MONAI's convention).
    ``image_keys`` names every key holding a path (e.g. further MRI sequences
    ``["image", "flair"]``); keys other than ``"image"`` may be absent from a row.
    Every path must resolve, symlinks followed, inside ``root`` (default
    ``base_dir``): a datalist from elsewhere must not make a bundle read files
    outside its dataset through ``..``, an absolute path or a symlink, unless
    ``allow_outside`` says so.

    Raises:
        OmicsDataError: unknown section or a row without image/omics/label.
        DatalistPathError: a path resolves outside ``root`` (and ``allow_outside`` is false).
    """
    path = Path(path)
    with path.open() as f:
        content = json.load(f)
    if section not in content:
        raise OmicsDataError(f"{path}: no section {section!r}; it has {list(content)}")
    base = Path(base_dir) if base_dir is not None else path.parent
    inside = _inside(Path(root) if root is not None else base)
    rows = []
    for i, row in enumerate(content[section]):
        missing = [k for k in _ROW_KEYS if k not in row]
        if missing:
            raise OmicsDataError(f"{path}: {section}[{i}] lacks {missing}")
        paths = {k: _resolve(base, row[k]) for k in dict.fromkeys(("image", *image_keys)) if k in row}
        escaping = [(k, p) for k, v in paths.items() for p in _as_list(v) if not allow_outside and not inside(p)]
        if escaping:
            key, value = escaping[0]
            raise DatalistPathError(
                f"{path}: {section}[{i}] (sample {row['omics']!r}) {key} {row[key]!r} resolves to "
                f"{os.path.realpath(value)}, outside {os.path.realpath(root if root is not None else base)}; "
                "keep the data inside dataset_dir, or allow it explicitly (allow_outside=True, bundle config "
                "--allow_outside_dataset true)"
            )
        rows.append({**row, **paths, "omics": str(row["omics"])})
    return rows
