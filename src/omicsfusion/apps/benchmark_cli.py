"""``python -m omicsfusion benchmark``: does the OT image help on my omics table?

Reads one or several omics tables (one per omics type, joined on sample id)
and a label column, runs every model on identical stratified folds and prints
a table of mean ± sd metrics; ``--json`` writes the same as one JSON object.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from omicsfusion.benchmark.errors import BenchmarkError
from omicsfusion.benchmark.inputs import join_inputs
from omicsfusion.benchmark.report import format_table, write_json
from omicsfusion.benchmark.runner import ALL_MODELS, run_benchmark
from omicsfusion.data import OmicsTable
from omicsfusion.data.tables import TABLE_SUFFIXES, read_parquet_frame, table_suffix
from omicsfusion.errors import OmicsfusionError
from omicsfusion.preprocessing.missing import MISSING_VALUES


def _typed_paths(specs: list[str]) -> dict[str, str]:
    """``TYPE=PATH`` or ``PATH`` (type = file name without suffixes) -> {type: path}."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path = spec
            name = Path(spec).name.split(".")[0]
        if name in out:
            raise BenchmarkError(f"omics type {name!r} given twice ({out[name]}, {path}); name them TYPE=PATH")
        out[name] = path
    return out


def _is_anndata_h5(path: str) -> bool:
    """An AnnData file saved with a plain ``.h5`` suffix (as stLearn's test data is)."""
    if not path.lower().endswith(".h5") or not Path(path).is_file():
        return False
    import h5py

    with h5py.File(path, "r") as handle:
        return "obs" in handle and "var" in handle and "X" in handle


def _anndata_h5(path: str) -> object:
    """The path itself, or the AnnData object when an AnnData file has a ``.h5`` suffix.

    The data layer reads ``.h5ad`` by suffix; an in-memory AnnData goes through
    the same reader.
    """
    if _is_anndata_h5(path):
        import anndata

        return anndata.read_h5ad(path)
    return path


def _read_frame(path: str, id_column: str | None) -> pd.DataFrame:
    """A table of sample annotations (csv/tsv/txt/parquet, or an h5ad's obs) indexed by sample id."""
    suffix = table_suffix(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"table not found: {path}")
    if suffix == ".h5ad" or _is_anndata_h5(path):
        import anndata

        obs = anndata.read_h5ad(path, backed="r").obs
        frame = obs.set_index(id_column) if id_column else obs
    elif suffix == ".parquet":
        frame = read_parquet_frame(path)
        if id_column or isinstance(frame.index, pd.RangeIndex):
            frame = frame.set_index(id_column or frame.columns[0])
    elif suffix:
        frame = pd.read_csv(path, sep="," if suffix.startswith(".csv") else "\t", dtype=str)
        frame = frame.set_index(id_column or frame.columns[0])
    else:
        raise BenchmarkError(f"{path}: unsupported table type (use one of {', '.join(TABLE_SUFFIXES)})")
    frame.index = frame.index.astype(str)
    return frame


def _header(path: str) -> list[str]:
    """Column names of a csv/tsv/txt/parquet table without reading its rows (none for AnnData)."""
    suffix = table_suffix(path)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if suffix not in ("", ".h5ad") and Path(path).is_file():
        return list(pd.read_csv(path, sep="," if suffix.startswith(".csv") else "\t", nrows=0).columns)
    return []


def _labels(args: argparse.Namespace, paths: dict[str, str]) -> pd.Series:
    """The label column, from ``--label-table`` or else from the first omics table that has it."""
    sources = [args.label_table] if args.label_table else list(paths.values())
    for source in sources:
        frame = _read_frame(source, args.label_id_column if args.label_table else args.id_column)
        if args.label_column in frame.columns:
            column = frame[args.label_column]
            return column.where(column.notna() & (column.astype(str).str.strip() != ""))
    where = args.label_table or ", ".join(sources)
    raise BenchmarkError(f"label column {args.label_column!r} not found in {where}")


def _ids(path: str) -> list[str]:
    """Sample ids, one per line (a csv's first column also works); blank lines ignored."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"id list not found: {path}")
    lines = [line.split(",")[0].strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def _normalization(text: str) -> str | dict[str, str]:
    """``zscore`` (every type) or ``mutation=binary,cnv=ordinal,rna=zscore`` (per type)."""
    if "=" not in text:
        return text
    pairs = [part.partition("=") for part in text.split(",") if part.strip()]
    if any(not sep or not name.strip() for name, sep, _ in pairs):
        raise BenchmarkError(f"--normalization takes METHOD or TYPE=METHOD,TYPE=METHOD, got {text!r}")
    return {name.strip(): method.strip() for name, _, method in pairs}


def _seeds(text: str) -> list[int]:
    """``0,1,2`` or ``0-4`` -> seeds."""
    try:
        if "-" in text.strip().lstrip("-"):
            first, last = text.split("-", 1)
            return list(range(int(first), int(last) + 1))
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BenchmarkError(f"--seeds takes a list like 0,1,2 or a range like 0-4, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand; bad input prints one ``error:`` line and returns 2."""
    try:
        if (args.train_ids is None) != (args.test_ids is None):
            raise BenchmarkError("--train-ids and --test-ids go together")
        paths = _typed_paths(args.tables)
        # a label column inside an omics table is never a feature
        exclude = {t: [args.label_column] for t, p in paths.items() if args.label_column in _header(p)}
        table = OmicsTable({t: _anndata_h5(p) for t, p in paths.items()}, id_column=args.id_column, exclude=exclude)
        frames = {t: table.frame(t) for t in table.types}
        split = (_ids(args.train_ids), _ids(args.test_ids)) if args.train_ids else None
        data = join_inputs(
            frames,
            _labels(args, paths),
            max_missing_labels=args.max_missing_labels,
            drop_classes_below=(2 if split else args.folds) if args.drop_small_classes else 0,
            missing_types=args.missing_types,
            missing_values=args.missing_values,
        )
        models = args.models.split(",") if args.models else None
        layout_params = {"method": args.layout_method, "grid": args.grid, "metric": args.metric}
        normalization = _normalization(args.normalization)
        if isinstance(normalization, dict) and set(normalization) != set(table.types):
            raise BenchmarkError(f"--normalization names types {sorted(normalization)}; the tables are {table.types}")
        cnn_params = {
            "max_epochs": args.max_epochs,
            "patience": args.patience,
            "n_members": args.members,
            "batch_size": args.batch_size,
            "width": args.cnn_width,
            "pixel_dropout": args.pixel_dropout,
            "smoothing": args.smoothing,
        }
        if args.channel_dropout is not None:
            cnn_params["channel_dropout"] = args.channel_dropout
        result = run_benchmark(
            data,
            folds=args.folds,
            seeds=_seeds(args.seeds),
            split=split,
            models=models,
            normalization=normalization,
            min_samples_per_feature=args.min_count,
            layout_params=layout_params,
            cnn_params=cnn_params,
            threads=args.threads,
            progress=not args.no_progress,
            missing_values=args.missing_values,
            fill_value=args.missing_fill_value,
            max_missing_fraction=args.max_missing_fraction,
            fit_samples=args.fit_samples or None,
            missing_indicator=args.missing_indicator,
        )
    except (OmicsfusionError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(result))
    if args.json:
        print(f"wrote {write_json(result, args.json)}", file=sys.stderr)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``benchmark`` with the ``python -m omicsfusion`` parser."""
    parser = subparsers.add_parser(
        "benchmark",
        help="compare the OT-image CNN with a random layout, peer layouts and tabular models",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "tables",
        nargs="+",
        metavar="TABLE",
        help=f"omics table(s), samples as rows: PATH or TYPE=PATH ({', '.join(TABLE_SUFFIXES)})",
    )
    parser.add_argument("--label-column", required=True, help="label column (in --label-table, else in a TABLE)")
    parser.add_argument(
        "--label-table", help="separate labels table (csv/tsv/parquet/h5ad obs), ids in its first column"
    )
    parser.add_argument("--label-id-column", help="sample-id column of --label-table (default: first column)")
    parser.add_argument("--id-column", help="sample-id column of the omics tables (default: first column / obs_names)")
    parser.add_argument("--folds", type=int, default=5, help="stratified outer folds")
    parser.add_argument(
        "--seeds",
        default="0,1,2",
        help="seeds (0,1,2 or 0-4): each draws its own folds, layouts and models; mean ± sd over seeds",
    )
    parser.add_argument("--train-ids", help="file of training sample ids (one per line): a predefined split")
    parser.add_argument("--test-ids", help="file of test sample ids (one per line)")
    parser.add_argument("--models", help=f"comma-separated subset of: {','.join(ALL_MODELS)}")
    parser.add_argument(
        "--normalization",
        default="zscore",
        help="per-feature normalisation fitted per training fold: zscore, log1p, log1p_zscore, none, binary "
        "(0/1 mutation calls), ordinal (copy-number calls -2..2) or auto (binary/ordinal/zscore from the "
        "training values, reported); or per type: mutation=binary,cnv=ordinal,rna=zscore",
    )
    parser.add_argument(
        "--min-count",
        type=int,
        help="image models: leave out features non-zero (e.g. mutated) in fewer training samples (reported)",
    )
    parser.add_argument(
        "--metric",
        default="correlation",
        help="OTLayout metric: correlation, spearman, abs_correlation, abs_spearman or cosine (Ochiai on 0/1 calls)",
    )
    parser.add_argument("--layout-method", default="auto", help="OTLayout method of the OT-CNN")
    parser.add_argument("--grid", default="auto", help="layout grid: auto, HxW")
    parser.add_argument("--max-epochs", type=int, default=60, help="CNN epoch cap")
    parser.add_argument("--patience", type=int, default=8, help="CNN early-stopping patience (epochs)")
    parser.add_argument("--batch-size", type=int, default=64, help="CNN mini-batch size")
    parser.add_argument(
        "--fit-samples",
        type=int,
        default=20_000,
        help="fit normalisers, layouts and tabular models on at most this many training samples per split "
        "(a seeded subsample; 0: all); the CNNs train on all",
    )
    parser.add_argument("--members", type=int, default=1, help="CNNs averaged per model (an ensemble over seeds)")
    parser.add_argument("--cnn-width", type=int, default=16, help="CNN first-stage channels (the second has twice)")
    parser.add_argument(
        "--pixel-dropout", type=float, default=0.0, help="per training sample, probability of zeroing each pixel"
    )
    parser.add_argument(
        "--smoothing",
        type=float,
        default=0.0,
        help="append a Gaussian-smoothed copy of each channel (sigma in pixels; 0: none)",
    )
    parser.add_argument(
        "--channel-dropout",
        type=float,
        help="probability of masking each omics channel of a training sample "
        "(default 0.3 when some samples lack a type, else 0)",
    )
    parser.add_argument(
        "--missing-types",
        choices=("drop", "mask"),
        default="drop",
        help="a sample absent from some tables: drop it, or mask the types it lacks",
    )
    parser.add_argument(
        "--missing-values",
        choices=MISSING_VALUES,
        default="raise",
        help="empty (NaN/inf) cells: refuse them, or fill each feature from the training samples of each fold "
        "(median, mean, or --missing-fill-value), for every model alike",
    )
    parser.add_argument("--missing-fill-value", type=float, default=0.0, help="the fill of --missing-values constant")
    parser.add_argument(
        "--missing-indicator",
        action="store_true",
        help="every model also sees where cells were empty (or a type absent): a mask channel per omics type "
        "through each CNN's layout, mask columns for the tabular models",
    )
    parser.add_argument(
        "--max-missing-fraction",
        type=float,
        default=0.5,
        help="drop (and count) features empty in more than this share of a fold's training samples",
    )
    parser.add_argument(
        "--max-missing-labels",
        type=float,
        default=0.2,
        help="largest share of samples without a label that is dropped rather than refused",
    )
    parser.add_argument(
        "--drop-small-classes",
        action="store_true",
        help="drop classes with fewer samples than folds instead of refusing",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch, random forest)")
    parser.add_argument("--json", help="write the results as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)
    return parser
