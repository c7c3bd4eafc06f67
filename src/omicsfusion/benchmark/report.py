"""Human-readable table and atomic JSON output of a benchmark result."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

from omicsfusion.benchmark.runner import BenchmarkResult

_COLUMNS = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("weighted_f1", "weighted-F1"),
    ("auc", "AUC"),
    ("fit_s", "fit s"),
)


def format_cell(mean: float | None, sd: float | None, digits: int) -> str:
    """One table cell: ``mean ± sd`` with ``digits`` decimals, ``mean`` alone without ``sd``, ``n/a`` for NaN."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def format_table(result: BenchmarkResult) -> str:
    """A Markdown table (mean ± sd per metric, one row per model) plus the layouts used and skips."""
    auc_name = "AUC" if len(result.meta.get("classes", {})) == 2 else "AUC (macro OvR)"
    header = ["model"] + [auc_name if key == "auc" else name for key, name in _COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, s in result.summary.items():
        cells = [format_cell(s[k], s[f"{k}_sd"], 1 if k == "fit_s" else 3) for k, _ in _COLUMNS]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    meta = result.meta
    seeds = meta["seeds"]
    spread = f"sd over {len(seeds)} seeds" if len(seeds) > 1 else "sd over folds"
    lines.append("")
    lines.append(
        f"{meta['n_samples']} samples, features {meta['n_features']}, classes {meta['classes']}; "
        f"{meta['split']}, seeds {seeds} (mean ± {spread}), {meta['total_s']:.0f} s in all"
    )
    if result.paired:
        lines += ["", "| paired difference (same seeds and splits) | accuracy | macro-F1 | AUC |", "|---|---|---|---|"]
        for name, d in result.paired.items():
            label = f"{name} (best baseline)" if d["best_baseline"] else name
            cells = [format_cell(d[k], d[f"{k}_sd"], 3) for k in ("accuracy", "macro_f1", "auc")]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    for model, s in result.summary.items():
        if "layout" in s:
            grid = "x".join(map(str, s["grid"]))
            lines.append(f"- {model}: {s['layout']}, grid {grid}, {s['epochs_mean']:.1f} epochs on average")
    if meta.get("fit_samples") is not None:
        lines.append(
            f"- normalisers, layouts and tabular models fitted on at most {meta['fit_samples']} training samples "
            "per split (a seeded subsample); the CNNs trained on all"
        )
    for model, reason in meta.get("skipped", {}).items():
        lines.append(f"- {model}: skipped, {reason}")
    for note in meta.get("notes", []):
        lines.append(f"- note: {note}")
    lines += _fill_lines(meta.get("missing_values"))
    return "\n".join(lines)


def _fill_lines(fills: dict | None) -> list[str]:
    """One line per table with empty cells: how many, and what the folds filled and dropped on average;
    one more when the models saw the missing indicator."""
    lines = []
    for table, counts in ((fills or {}).get("tables") or {}).items():
        if not counts["empty_cells"]:
            continue
        folds = [f["tables"][table] for f in fills["folds"]]
        filled = sum(f["cells_filled"] for f in folds) / max(len(folds), 1)
        dropped = sum(f["features_dropped"] for f in folds) / max(len(folds), 1)
        lines.append(
            f"- empty cells, table {table!r}: {counts['empty_cells']} of {counts['cells']} in "
            f"{counts['features_affected']} feature(s) and {counts['samples_affected']} sample(s) "
            f"(most: {counts['most_affected_features']}); {fills['missing_values']}: {filled:.0f} training cells "
            f"filled and {dropped:.0f} feature(s) dropped per fold on average"
        )
    if (fills or {}).get("missing_indicator"):
        lines.append(
            "- missing indicator: the CNNs read a mask channel per omics type, the tabular models mask columns"
        )
    return lines


def _clean(value: object) -> object:
    """NaN -> None so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_json(result: BenchmarkResult, path: str | os.PathLike) -> Path:
    """Write ``result.to_json_dict()`` atomically (temp file in the same folder, then replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(_clean(result.to_json_dict()), handle, indent=2, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
