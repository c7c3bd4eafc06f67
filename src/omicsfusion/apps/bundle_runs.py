"""Real-data recipe table: bundle runs on shared splits beside tabular baselines on the same splits.

A run folder (e.g. written by :func:`omicsfusion.apps.lgg.prepare_lgg` or
:mod:`omicsfusion.apps.spatial_recipes`) holds ``splits.csv`` (one row per split:
``name``, ``seed``, ``datalist``, optionally ``table``: that split's feature table,
and ``experiment``: splits scored apart, e.g. the two directions of a
train-on-one-section, test-on-the-other design); the recipe trains each bundle
ablation per split and evaluates it on the split's test section.
:func:`summarize_runs` fits logistic regression and a random forest on the same
features and training samples, pools each seed's test predictions (every split
of a seed and experiment), scores them, and reports mean ± sd over the seeds.
With ``tables`` (name -> feature files) each baseline is also fitted on each named table
(e.g. ``logreg:mutation``, ``logreg:cnv``, ``logreg:tile_features``: a linear probe), beside the
unsuffixed baselines on ``table_file`` or the splits' own tables when there are any.
Empty cells are filled with the feature's median over the training samples.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from omicsfusion.benchmark.baselines import make_tabular
from omicsfusion.benchmark.errors import BenchmarkError
from omicsfusion.benchmark.evaluate import aggregate, fold_metrics
from omicsfusion.benchmark.report import format_cell
from omicsfusion.data.errors import MissingSampleError, OmicsDataError
from omicsfusion.data.tables import read_parquet_frame
from omicsfusion.fileio import atomic_write

__all__ = [
    "REPORTED",
    "baseline_predictions",
    "read_feature_set",
    "read_features",
    "summarize_runs",
    "summary_parser",
]

#: metrics of the recipe table (names of :func:`~omicsfusion.benchmark.evaluate.fold_metrics`)
REPORTED = ("accuracy", "macro_f1", "auc")
PREDICTIONS = "runs/{split}/{model}/eval/test_predictions.csv"


def _rows(table: pd.DataFrame, section: list[dict], source: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ids = [str(r["omics"]) for r in section]
    absent = [i for i in ids if i not in table.index]
    if absent:
        raise MissingSampleError(f"{source}: {len(absent)} sample(s) absent from the feature table: {absent[:5]}")
    return table.loc[ids].to_numpy(np.float64), np.array([int(r["label"]) for r in section]), ids


def baseline_predictions(
    table: pd.DataFrame,
    datalist: str | os.PathLike,
    class_names: Sequence[str],
    seed: int,
    models: Sequence[str] = ("logreg", "random_forest"),
) -> dict[str, pd.DataFrame]:
    """Test-section class probabilities of each tabular model fitted on the datalist's training section.

    Empty cells (NaN) of both sections are filled with the feature's median over the training section.
    Returns model -> frame ``sample_id, prob_<class>..., true_class`` (the bundle's prediction format).
    """
    content = json.loads(Path(datalist).read_text())
    absent = [s for s in ("training", "test") if not content.get(s)]
    if absent:
        raise BenchmarkError(f"{datalist}: no {' and no '.join(absent)} samples to fit and score the baselines on")
    x_train, y_train, _ = _rows(table, content["training"], f"{datalist}[training]")
    x_test, y_test, ids = _rows(table, content["test"], f"{datalist}[test]")
    out = {}
    for name in models:
        model = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True), make_tabular(name, seed, threads=1)
        ).fit(x_train, y_train)
        proba = np.zeros((len(ids), len(class_names)))
        proba[:, model.classes_] = model.predict_proba(x_test)
        frame = pd.DataFrame(proba, columns=[f"prob_{c}" for c in class_names])
        frame.insert(0, "sample_id", ids)
        frame["true_class"] = [class_names[k] for k in y_test]
        out[name] = frame
    return out


def _predictions(source: Path, test_ids: Sequence[str]) -> pd.DataFrame:
    """A bundle's prediction file, refused unless it holds exactly the test samples the baselines are scored on."""
    frame = pd.read_csv(source, dtype={"sample_id": str})
    if "sample_id" not in frame.columns:
        raise BenchmarkError(f"{source}: no 'sample_id' column; it has {list(frame.columns)}")
    given, wanted = set(frame["sample_id"]), set(test_ids)
    if given != wanted or len(frame) != len(given):
        missing, extra = sorted(wanted - given), sorted(given - wanted)
        raise BenchmarkError(
            f"{source}: {len(frame)} prediction rows for the {len(wanted)} test samples of its "
            f"datalist ({len(missing)} missing, e.g. {missing[:3]}; {len(extra)} not in the test "
            f"section, e.g. {extra[:3]}; {len(frame) - len(given)} repeated); models and baselines "
            "must be scored on the same samples"
        )
    return frame


def _scores(frames: list[pd.DataFrame], class_names: Sequence[str], source: str) -> dict[str, float]:
    pooled = pd.concat(frames, ignore_index=True)
    unknown = sorted(set(pooled["true_class"]) - set(class_names))
    if unknown:
        raise OmicsDataError(f"{source}: true classes {unknown} are not among {list(class_names)}")
    y_true = pooled["true_class"].map({c: k for k, c in enumerate(class_names)}).to_numpy()
    proba = pooled[[f"prob_{c}" for c in class_names]].to_numpy(np.float64)
    return {**fold_metrics(y_true, proba, float("nan")), "n_test": len(pooled)}


def read_features(path: str | os.PathLike) -> pd.DataFrame:
    """The baselines' feature table (index = sample id, float64 columns) from CSV (first column the id) or
    parquet, read as written (the omics tables of :mod:`omicsfusion.data.tables` are float32)."""
    path = Path(path)
    if path.suffix == ".parquet":
        table = read_parquet_frame(path)
        table.index = table.index.astype(str)
        return table.astype(np.float64)
    table = pd.read_csv(path, dtype=str)
    return table.set_index(table.columns[0]).astype(np.float64)


def read_feature_set(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One table of the samples of every file in ``paths`` (:func:`read_features`), columns ``<file stem>:<name>``
    when there are several; a sample absent from one file is left out (and then named by the caller)."""
    frames = [read_features(p) for p in paths]
    if len(frames) == 1:
        return frames[0]
    joined = pd.concat(frames, axis=1, join="inner", keys=[Path(p).stem for p in paths])
    joined.columns = [f"{stem}:{name}" for stem, name in joined.columns]
    return joined


def summarize_runs(
    run_dir: str | os.PathLike,
    table_file: str | os.PathLike | None,
    class_names: Sequence[str],
    models: Sequence[str] = ("mri", "omics", "fused"),
    baselines: Sequence[str] = ("logreg", "random_forest"),
    predictions: str = PREDICTIONS,
    *,
    tables: Mapping[str, Sequence[str | os.PathLike]] | None = None,
    per_seed_file: str = "per_seed.csv",
    note: str = "",
) -> pd.DataFrame:
    """Score every model per seed and write ``per_seed.csv``, ``summary.csv`` and ``summary.md`` into ``run_dir``.

    Args:
        run_dir: folder with ``splits.csv``; datalists, tables and prediction files are relative to it.
        table_file: feature table (index = sample id) the baselines read; ``None``: each split's
            ``table`` column of ``splits.csv``.
        class_names: label order.
        models: bundle runs, found at ``predictions`` (``{split}`` and ``{model}`` filled in).
        baselines: tabular models of :func:`~omicsfusion.benchmark.baselines.make_tabular`.
        tables: name -> feature files (joined by :func:`read_feature_set`): each baseline is also fitted
            on each, reported as ``<baseline>:<name>`` (after the unsuffixed ones on ``table_file`` or the
            splits' ``table`` column, when given).
        per_seed_file: the name of the per-seed scores (e.g. ``per_split.csv`` when each split has its seed).
        note: text written under the table of ``summary.md`` (e.g. the class sizes).

    Raises:
        FileNotFoundError: a model's predictions for a split are missing (file named).
        BenchmarkError: a model's predictions are not of exactly the split's test samples, or a datalist
            has no training or test samples.
        OmicsDataError: no ``table_file``, no ``tables`` and no ``table`` column in ``splits.csv``.
    """
    run = Path(run_dir)
    splits = pd.read_csv(run / "splits.csv", dtype={"name": str, "experiment": str})
    if not tables and table_file is None and "table" not in splits.columns:
        raise OmicsDataError(f"{run / 'splits.csv'}: no 'table' column, so the baselines need a table_file")
    if "experiment" not in splits.columns:
        splits["experiment"] = ""
    # name suffix of the baselines -> their feature table (None: the split's own)
    shared: dict[str, pd.DataFrame | None] = {}
    if table_file is not None or "table" in splits.columns:
        shared[""] = None if table_file is None else read_features(table_file)
    shared.update({f":{name}": read_feature_set(paths) for name, paths in (tables or {}).items()})
    fitters, baselines = baselines, [f"{b}{suffix}" for suffix in shared for b in baselines]
    per_seed = []
    for (experiment, seed), group in splits.groupby(["experiment", "seed"], sort=True):
        frames: dict[str, list[pd.DataFrame]] = {m: [] for m in (*models, *baselines)}
        for split in group.itertuples():
            test_ids = [str(r["omics"]) for r in json.loads((run / split.datalist).read_text()).get("test", [])]
            for model in models:
                path = run / predictions.format(split=split.name, model=model)
                if not path.is_file():
                    raise FileNotFoundError(f"no predictions of {model!r} for split {split.name}: {path}")
                frames[model].append(_predictions(path, test_ids))
            for suffix, table in shared.items():
                table = table if table is not None else read_features(run / split.table)
                fitted = baseline_predictions(table, run / split.datalist, class_names, int(seed), fitters)
                for model, frame in fitted.items():
                    frames[model + suffix].append(frame)
        for model, items in frames.items():
            per_seed.append(
                {
                    "experiment": experiment,
                    "model": model,
                    "seed": int(seed),
                    "n_splits": len(group),
                    **_scores(items, class_names, " ".join(filter(None, (model, experiment, f"seed {seed}")))),
                }
            )
    results = pd.DataFrame(per_seed)
    summary = []
    for experiment in sorted(set(results["experiment"])):
        for model in (*models, *baselines):
            chosen = results[(results["model"] == model) & (results["experiment"] == experiment)]
            stats = aggregate(chosen.to_dict("records"))
            summary.append(
                {
                    "experiment": experiment,
                    "model": model,
                    "n_seeds": stats["n_folds"],
                    **{k: stats[k] for m in REPORTED for k in (m, f"{m}_sd")},
                }
            )
    summary = pd.DataFrame(summary)
    if not summary["experiment"].astype(bool).any():  # a single, unnamed experiment: the table as before
        summary, results = summary.drop(columns="experiment"), results.drop(columns="experiment")
    # fit times are not measured here (the bundle runs log theirs)
    atomic_write(run / per_seed_file, lambda p: results.drop(columns="fit_s").to_csv(p, index=False))
    atomic_write(run / "summary.csv", lambda p: summary.to_csv(p, index=False))
    text = format_summary(summary, results) + (f"\n{note}\n" if note else "")
    atomic_write(run / "summary.md", lambda p: p.write_text(text))
    return summary


def format_summary(summary: pd.DataFrame, per_seed: pd.DataFrame) -> str:
    """Markdown table: mean ± sd over seeds of each reported metric, one row per model (and experiment)."""
    named = "experiment" in summary.columns
    lines = [
        ("| experiment " if named else "") + "| model | accuracy | macro-F1 | AUC | seeds |",
        ("|---" if named else "") + "|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        sds = [getattr(row, f"{m}_sd") for m in REPORTED]
        cells = [
            format_cell(getattr(row, m), sd if pd.notna(sd) else None, 3) for m, sd in zip(REPORTED, sds, strict=True)
        ]
        lines.append(
            (f"| {row.experiment} " if named else "") + f"| {row.model} | " + " | ".join(cells) + f" | {row.n_seeds} |"
        )
    splits = "/".join(map(str, sorted(set(per_seed["n_splits"]))))
    n_test = "/".join(map(str, sorted(set(per_seed["n_test"]))))
    lines += [
        "",
        f"Each seed's test predictions ({n_test} from {splits} split(s)) are pooled and scored; mean ± sd over seeds.",
    ]
    return "\n".join(lines) + "\n"


def summary_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """What every recipe table takes: ``RUN_DIR``, ``--models``, ``--baselines`` and the probe's ``--encoder``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("run_dir")
    parser.add_argument("--models", nargs="*", default=[], help="bundle runs (runs/<split>/<model>/eval)")
    parser.add_argument("--baselines", nargs="+", default=["logreg", "random_forest"])
    parser.add_argument("--encoder", default="efficientnet_lite0", help="the linear probe's frozen encoder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m omicsfusion.apps.bundle_runs RUN_DIR --table T --class-names A B``."""
    parser = argparse.ArgumentParser(
        prog="python -m omicsfusion.apps.bundle_runs", description=summarize_runs.__doc__.splitlines()[0]
    )
    parser.add_argument("run_dir")
    parser.add_argument("--table", help="feature table the baselines read (default: each split's 'table' column)")
    parser.add_argument("--class-names", nargs="+", required=True)
    parser.add_argument("--models", nargs="*", default=["mri", "omics", "fused"])
    parser.add_argument("--baselines", nargs="+", default=["logreg", "random_forest"])
    parser.add_argument(
        "--tables",
        nargs="*",
        default=[],
        metavar="NAME=FILE[,FILE]",
        help="further feature sets, each baseline also fitted on each (e.g. a linear probe's image features)",
    )
    args = parser.parse_args(argv)
    tables = {}
    for item in args.tables:
        name, sep, files = item.partition("=")
        if not sep or not name or not files:
            parser.error(f"--tables takes NAME=FILE[,FILE], got {item!r}")
        tables[name] = files.split(",")
    summarize_runs(args.run_dir, args.table, args.class_names, args.models, args.baselines, tables=tables)
    print((Path(args.run_dir) / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
