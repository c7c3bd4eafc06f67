"""``python -m omicsfusion layout fit|score``: fit a layout on a table, score it.

``fit`` writes a layout ``.npz``; ``score`` prints the quality figures of a
layout on a table (``--json``: one JSON object). Errors print one line
naming the file and exit with status 2. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings

import pandas as pd

from omicsfusion.data import OmicsDataError, read_table
from omicsfusion.layout.errors import LayoutError, LayoutWarning
from omicsfusion.layout.grid import parse_grid
from omicsfusion.layout.metrics import METRICS
from omicsfusion.layout.otlayout import METHODS, OTLayout


def _table_frame(path: str, label_column: str | None) -> pd.DataFrame:
    """Samples x features frame of TABLE (the data layer's reader), without the label column."""
    frame = read_table(path, exclude=[label_column] if label_column else ())
    return pd.DataFrame(frame.values, index=frame.ids, columns=frame.features)


def _fit(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)  # the progress lines
    table = _table_frame(args.table, args.label_column)
    grid = "auto" if args.grid == "auto" else parse_grid(args.grid, table.shape[1])
    layout = OTLayout(
        grid=grid,
        method=args.method,
        metric=args.metric,
        random_state=args.seed,
        verbose=True,
        impute=args.impute,
        min_overlap=args.min_overlap,
    )
    try:
        layout.fit(table)
    except LayoutError as error:
        raise LayoutError(f"{args.table}: {error}") from None
    layout.save(args.out)
    print(
        f"wrote {args.out}: {layout.feature_names_.size} features on grid "
        f"{'x'.join(map(str, layout.grid_))} ({layout.method_}, {layout.fit_seconds_:.2f}s)",
        file=sys.stderr,
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    layout = OTLayout.load(args.layout)
    table = _table_frame(args.table, args.label_column)
    if args.min_overlap is not None:
        layout.set_params(min_overlap=args.min_overlap)
    try:
        scores = layout.quality(table)
    except LayoutError as error:
        raise LayoutError(f"{args.table}: {error}") from None
    if args.json:
        print(json.dumps(scores))
    else:
        for key, value in scores.items():
            print(f"{key:12s} {value:.4f}" if isinstance(value, float) else f"{key:12s} {value}")
    return 0


def _run(args: argparse.Namespace) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("always", LayoutWarning)
        warnings.showwarning = lambda message, *rest: print(f"warning: {message}", file=sys.stderr)
        try:
            return args.handler(args)
        except (LayoutError, OmicsDataError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``layout fit`` and ``layout score``."""
    parser = subparsers.add_parser(
        "layout", help="fit and score optimal-transport feature layouts", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="layout_command", required=True)
    fit = commands.add_parser("fit", help="fit a layout on TABLE and save it")
    fit.add_argument("table", help="CSV/TSV/parquet/h5ad, samples as rows, first column = sample id")
    fit.add_argument("--out", required=True, help="layout file to write (.npz)")
    fit.add_argument("--grid", default="auto", help="'auto', HxW or HxWxD")
    fit.add_argument("--method", default="auto", choices=METHODS)
    fit.add_argument(
        "--metric",
        default="correlation",
        choices=METRICS,
        help="feature similarity: r, or r**2 for the abs_ (unsigned) metrics",
    )
    fit.add_argument("--label-column", default=None, help="column to exclude from the features")
    fit.add_argument(
        "--impute",
        default="none",
        choices=("none", "mean", "median"),
        help="empty (NaN/inf) cells: refuse, or fill each feature with its mean / median over the table "
        "(the statistic of OmicsPreprocessor(missing_values=...), which fills before its layouts)",
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--min-overlap", type=float, default=0.5, help="stored for later alignment")
    fit.set_defaults(func=_run, handler=_fit)
    score = commands.add_parser("score", help="quality figures of LAYOUT on TABLE")
    score.add_argument("layout", help="layout file (.npz)")
    score.add_argument("table", help="CSV/TSV/parquet/h5ad, samples as rows, first column = sample id")
    score.add_argument("--label-column", default=None)
    score.add_argument("--min-overlap", type=float, default=None, help="refuse below this feature overlap")
    score.add_argument("--json", action="store_true", help="print one JSON object")
    score.set_defaults(func=_run, handler=_score)
