"""Benchmark omicsfusion's layout against genomap and pyDeepInsight on the same matrices.

Every method fits the same samples x features matrix in its own subprocess
(wall-clock limit ``--timeout``, address-space cap ``--mem-cap-gb``) that
reports its fit seconds, its peak resident memory and the pixel every feature
landed on. The parent then scores every layout with omicsfusion's own scoring
code (a peer's assignment becomes an ``OTLayout`` whose ``quality`` is called),
so collisions, Spearman and kNN-10 mean the same thing for every row. Peers
run with ``--peer-python`` (default: this interpreter); one whose package is
missing is reported "not installed".

Run (from the repository root; the peers live in the venv made by
``scripts/bench_layout_setup.sh``)::

    PYTHONPATH=src python scripts/bench_layout.py --peer-python .venv-bench/bin/python
    PYTHONPATH=src python scripts/bench_layout.py --quick --json bench.json
    PYTHONPATH=src python scripts/bench_layout.py --sizes "" --table rna.csv --label-column label

The module imports only the standard library and numpy at top level, because
the worker side (``--worker``) runs inside the peers' interpreter, where
omicsfusion is not installed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

SIZES = (500, 1500, 5000, 20000)
QUICK_SIZES = (500, 1500)
OURS = "omicsfusion"
# Peers in the order they run: the slow one last, so a size's fast rows come first.
PEERS = ("pyDeepInsight-lsa", "genomap")
BIN_ROW = "pyDeepInsight-bin"
TIMEOUT_EXIT = "timeout"


# --------------------------------------------------------------------------- worker side


def _peak_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stub_pytorch_grad_cam() -> None:
    """Register an inert ``pytorch_grad_cam`` so pyDeepInsight imports.

    pyDeepInsight 0.2.3 imports pytorch_grad_cam at import time only for its
    CAM feature selector, which the layout never touches; the real package needs
    torchvision, which does not import beside torch 2.13. The stub names the
    classes pyDeepInsight reads at import time and fails loudly if called.
    """

    def unavailable(*args: object, **kwargs: object) -> None:
        raise RuntimeError("pytorch_grad_cam is stubbed by bench_layout.py; CAM is not benchmarked")

    root = types.ModuleType("pytorch_grad_cam")
    utils = types.ModuleType("pytorch_grad_cam.utils")
    targets = types.ModuleType("pytorch_grad_cam.utils.model_targets")
    for name in (
        "GradCAM",
        "AblationCAM",
        "XGradCAM",
        "GradCAMPlusPlus",
        "ScoreCAM",
        "LayerCAM",
        "EigenCAM",
        "EigenGradCAM",
        "FullGrad",
    ):
        setattr(root, name, unavailable)
    targets.ClassifierOutputTarget = unavailable
    root.utils, utils.model_targets = utils, targets
    sys.modules.update({m.__name__: m for m in (root, utils, targets)})


def _one_per_pixel(pixel: np.ndarray, n_pixels: int) -> dict[str, np.ndarray]:
    """COO arrays of ``A`` for a hard assignment: a pixel holds the mean of its features."""
    counts = np.bincount(pixel, minlength=n_pixels)
    return {"row": pixel.astype(np.int64), "col": np.arange(pixel.size, dtype=np.int64), "data": 1.0 / counts[pixel]}


def _fit_omicsfusion(X: np.ndarray, grid: tuple[int, int], method: str) -> tuple[float, dict]:
    """omicsfusion's ``OTLayout``; the fitted layout travels back as its ``to_arrays()``."""
    from omicsfusion.layout import OTLayout

    layout = OTLayout(grid=grid, method=method, random_state=0)
    start = time.perf_counter()
    layout.fit(X)
    seconds = time.perf_counter() - start
    if layout.feature_names_.size != X.shape[1]:
        raise RuntimeError(f"layout kept {layout.feature_names_.size} of {X.shape[1]} features")
    return seconds, layout.to_arrays()


def _fit_genomap(X: np.ndarray, grid: tuple[int, int]) -> tuple[float, dict]:
    """genomap 1.3.6's ``construct_genomap`` up to its coupling ``T`` (no image loop).

    Same calls and settings as the package (KL loss, epsilon=0 i.e. exact EMD
    steps, 1,000 iterations, its radial mesh distance). With epsilon=0 and
    uniform square marginals ``T`` is a permutation; genomap fills the first
    ``n_features`` pixels of its column-major (order="F") grid.
    """
    from genomap.genomap import createInteractionMatrix, createMeshDistance
    from genomap.genomapOPT import create_space_distributions, gromov_wasserstein_adjusted_norm

    rows, cols = grid
    n_features = X.shape[1]
    if n_features > rows * cols:
        raise RuntimeError(f"genomap needs pixels >= features ({rows * cols} < {n_features})")
    start = time.perf_counter()
    dist = createMeshDistance(rows, cols)
    interact = createInteractionMatrix(X, metric="correlation")
    p, q = create_space_distributions(n_features, n_features)
    T = gromov_wasserstein_adjusted_norm(
        np.zeros((n_features, n_features)),
        interact,
        dist[:n_features, :n_features],
        p,
        q,
        loss_fun="kl_loss",
        epsilon=0,
        max_iter=1000,
    )
    seconds = time.perf_counter() - start
    slot = np.asarray(T).argmax(axis=1)  # genomap pixel k sits at row k % rows, col k // rows
    return seconds, _one_per_pixel((slot % rows) * cols + slot // rows, rows * cols)


def _fit_deepinsight(X: np.ndarray, grid: tuple[int, int]) -> tuple[float, dict]:
    """pyDeepInsight 0.2.3 ``ImageTransformer``: t-SNE (its default, cosine) + ``lsa``.

    Features are z-scored first so the cosine metric of its t-SNE equals the
    correlation metric every layout is scored on. The default ``bin``
    discretisation of the same t-SNE embedding is returned alongside (prefix
    ``bin_``) to count its collisions.
    """
    _stub_pytorch_grad_cam()
    from pyDeepInsight import ImageTransformer
    from sklearn.manifold import TSNE

    rows, cols = grid
    if rows != cols:
        raise RuntimeError("pyDeepInsight 0.2.3 indexes pixel centres correctly only on square grids")
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    transformer = ImageTransformer(
        feature_extractor=TSNE(n_components=2, metric="cosine", random_state=0), discretization="lsa", pixels=grid
    )
    start = time.perf_counter()
    transformer.fit(Z)
    seconds = time.perf_counter() - start
    coords = np.asarray(transformer.coords())
    binned = ImageTransformer.coordinate_binning(transformer._xrot, transformer.pixels)
    arrays = _one_per_pixel(coords[:, 0] * cols + coords[:, 1], rows * cols)
    arrays.update({f"bin_{k}": v for k, v in _one_per_pixel(binned[:, 0] * cols + binned[:, 1], rows * cols).items()})
    return seconds, arrays


def run_worker(args: argparse.Namespace) -> int:
    """Fit one method on ``args.data`` and write the result npz (``args.out``)."""
    grid = (args.grid[0], args.grid[1])
    name = args.worker
    try:
        if name == "genomap":
            import genomap.genomap  # noqa: F401 (the import is the check)
        elif name == "pyDeepInsight-lsa":
            _stub_pytorch_grad_cam()
            import pyDeepInsight  # noqa: F401 (the import is the check)
    except ImportError as err:
        Path(args.out).with_suffix(".json").write_text(json.dumps({"status": "not installed", "detail": str(err)}))
        return 3
    X = np.load(args.data, allow_pickle=False)
    base_mb, cpu_start = _peak_mb(), _cpu_seconds()
    if name == "genomap":
        seconds, arrays = _fit_genomap(X, grid)
    elif name == "pyDeepInsight-lsa":
        seconds, arrays = _fit_deepinsight(X, grid)
    else:
        seconds, arrays = _fit_omicsfusion(X, grid, name.split(":", 1)[1])
    np.savez(args.out, **arrays)
    Path(args.out).with_suffix(".json").write_text(
        json.dumps(
            {
                "status": "ok",
                "fit_seconds": seconds,
                "cpu_seconds": _cpu_seconds() - cpu_start,
                "peak_mb": _peak_mb(),
                "base_mb": base_mb,
            }
        )
    )
    return 0


# --------------------------------------------------------------------------- parent side


def _cap_memory(cap_gb: float):
    """preexec hook: an address-space cap turns a runaway allocation into MemoryError."""
    limit = int(cap_gb * 1024**3)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def run_method(
    python: str, name: str, data: Path, grid: tuple[int, int], workdir: Path, timeout: float, cap_gb: float
) -> dict:
    """Run one worker subprocess; return its status, timings and COO arrays."""
    out = workdir / f"{name.replace(':', '_')}.npz"
    for stale in (out, out.with_suffix(".json")):
        stale.unlink(missing_ok=True)
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--data",
        str(data),
        "--grid",
        str(grid[0]),
        str(grid[1]),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_cap_memory(cap_gb),
        start_new_session=True,
    )
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return {"status": TIMEOUT_EXIT, "detail": f"timeout >{timeout:.0f} s"}
    meta_path = out.with_suffix(".json")
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta["status"] == "ok":
            with np.load(out, allow_pickle=False) as arrays:
                meta["arrays"] = {k: arrays[k] for k in arrays.files}
        return meta
    tail = log.strip().splitlines()[-1] if log.strip() else f"exit code {proc.returncode}"
    status = "out of memory" if "MemoryError" in log or proc.returncode in (-9, 137) else "failed"
    if status == "out of memory":
        tail = f"out of memory (cap {cap_gb:g} GB)"
    return {"status": status, "detail": tail}


def as_layout(arrays: dict, grid: tuple[int, int], n_features: int, method: str, prefix: str = ""):
    """An ``OTLayout`` for a worker's result, so every row is scored by ``OTLayout.quality``.

    omicsfusion workers send ``to_arrays()``; a peer sends the COO arrays of
    its feature -> pixel assignment (``prefix`` picks one of several), which
    become a layout whose pixel holds the mean of the features assigned to it.
    """
    import scipy.sparse as sp

    from omicsfusion.layout import OTLayout
    from omicsfusion.layout.io import FORMAT_VERSION, seal

    if "format_version" in arrays:
        return OTLayout.from_arrays(arrays, source=method)
    matrix = sp.csr_matrix(
        (arrays[prefix + "data"], (arrays[prefix + "row"], arrays[prefix + "col"])),
        shape=(grid[0] * grid[1], n_features),
    )
    return OTLayout.from_arrays(
        seal(
            {
                "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
                "grid": np.asarray(grid, dtype=np.int64),
                "feature_names": np.asarray([f"f{j}" for j in range(n_features)]),
                "matrix_data": matrix.data.astype(np.float64),
                "matrix_indices": matrix.indices.astype(np.int64),
                "matrix_indptr": matrix.indptr.astype(np.int64),
                "n_features_in": np.asarray(n_features, dtype=np.int64),
                "fit_seconds": np.asarray(0.0),
                "method": np.asarray(method),
                "params": np.asarray(json.dumps({"grid": list(grid), "random_state": 0})),
                "impute_values": np.zeros(0),
            }
        ),
        source=method,
    )


def score_result(X: np.ndarray, grid: tuple[int, int], arrays: dict, method: str, prefix: str = "") -> dict:
    """Collisions, Spearman and kNN-10 of one fitted layout, by ``OTLayout.quality``."""
    scores = as_layout(arrays, grid, X.shape[1], method, prefix).quality(X)
    return {key: scores[key] for key in ("collisions", "spearman", "knn10")}


def square_grid(n_features: int) -> tuple[int, int]:
    """Square grid with pixels >= features (pyDeepInsight 0.2.3 needs square grids)."""
    side = math.ceil(math.sqrt(n_features))
    return side, side


def load_table(path: str, label_column: str | None) -> tuple[np.ndarray, list[str]]:
    """Samples x features CSV (first column = sample id); constant features dropped."""
    import pandas as pd

    table = pd.read_csv(path, index_col=0)
    if label_column is not None:
        if label_column not in table.columns:
            raise SystemExit(f"{path}: no label column {label_column!r}")
        table = table.drop(columns=[label_column])
    bad = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if bad:
        raise SystemExit(f"{path}: non-numeric feature columns {bad[:5]} (pass --label-column?)")
    values = table.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise SystemExit(f"{path}: NaN or inf values; impute them first")
    keep = values.std(axis=0) > 0
    if not keep.all():
        print(f"{path}: dropped {int((~keep).sum())} constant features so every method sees the same matrix")
    return values[:, keep], [str(c) for c in table.columns[keep]]


def our_methods(n_features: int, args: argparse.Namespace) -> list[str]:
    """omicsfusion rows for a size: the default method, plus gw/emd where feasible."""
    names = [f"{OURS}:{args.method}"]
    if n_features <= args.gw_max:
        names.append(f"{OURS}:gw")
    if n_features <= args.emd_max:
        names.append(f"{OURS}:emd")
    return names


def bench_matrix(
    label: str, X: np.ndarray, args: argparse.Namespace, workdir: Path, gave_up: dict[str, int]
) -> list[dict]:
    """Fit and score every method on one matrix; return one row per method."""
    grid = square_grid(X.shape[1])
    data = workdir / f"{label}.npy"
    np.save(data, np.ascontiguousarray(X, dtype=np.float64))
    rows = []
    for name in our_methods(X.shape[1], args) + list(PEERS):
        python = sys.executable if name.startswith(OURS) else args.peer_python
        row = {
            "matrix": label,
            "method": name,
            "features": X.shape[1],
            "samples": X.shape[0],
            "grid": f"{grid[0]}x{grid[1]}",
        }
        if name in gave_up and not args.no_skip:
            result = {"status": "skipped", "detail": f"timeout >{args.timeout:.0f} s at {gave_up[name]:,} features"}
        else:
            print(
                f"[{time.strftime('%H:%M:%S')}] {label}: {name} on {X.shape[0]} x {X.shape[1]}, grid {row['grid']}",
                flush=True,
            )
            result = run_method(python, name, data, grid, workdir, args.timeout, args.mem_cap_gb)
        if result["status"] == TIMEOUT_EXIT:
            gave_up.setdefault(name, X.shape[1])
        arrays = result.pop("arrays", None)
        row.update(result)
        if arrays is not None:
            row.update(score_result(X, grid, arrays, name))
        rows.append(row)
        if arrays is not None and "bin_row" in arrays:
            binned = {
                "matrix": label,
                "method": BIN_ROW,
                "features": X.shape[1],
                "samples": X.shape[0],
                "grid": row["grid"],
                "status": "ok",
                "detail": "same t-SNE fit, default 'bin' pixels",
            }
            binned.update(score_result(X, grid, arrays, BIN_ROW, prefix="bin_"))
            rows.append(binned)
    data.unlink()
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def add_ratios(rows: list[dict], reference: str) -> None:
    """For each peer row: omicsfusion (reference method) speed-up and quality ratios."""
    for row in rows:
        ours = next((r for r in rows if r["matrix"] == row["matrix"] and r["method"] == reference), None)
        if ours is None or row["method"].startswith(OURS) or ours.get("status") != "ok":
            continue
        if row.get("fit_seconds") is not None:
            row["speedup"] = f"{row['fit_seconds'] / ours['fit_seconds']:.1f}x"
        elif row["status"] in (TIMEOUT_EXIT, "skipped"):
            row["speedup"] = f">{float(row['detail'].split('>')[1].split()[0]) / ours['fit_seconds']:.0f}x"
        for key in ("spearman", "knn10"):
            if key in row:
                row[f"{key}_ratio"] = f"{ours[key] / row[key]:.2f}" if row[key] > 0.01 else f"n/a (peer {row[key]:.3f})"


def render(rows: list[dict]) -> str:
    """Markdown table of every row."""
    head = (
        "| matrix | method | features | samples | grid | fit s | CPU s | peak MB | collisions | Spearman | kNN-10 "
        "| our speed-up | Spearman ratio | kNN-10 ratio | note |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        note = r.get("detail", "")
        if r["status"] not in ("ok", TIMEOUT_EXIT, "skipped"):
            note = f"{r['status']}: {note}"
        lines.append(
            f"| {r['matrix']} | {r['method']} | {r['features']:,} | {r['samples']:,} | {r['grid']} "
            f"| {_fmt(r.get('fit_seconds'), '.1f')} | {_fmt(r.get('cpu_seconds'), '.1f')} "
            f"| {_fmt(r.get('peak_mb'), '.0f')} "
            f"| {_fmt(r.get('collisions'), ',')} | {_fmt(r.get('spearman'), '.3f')} | {_fmt(r.get('knn10'), '.3f')} "
            f"| {r.get('speedup', '')} | {r.get('spearman_ratio', '')} | {r.get('knn10_ratio', '')} | {note} |"
        )
    return "\n".join(lines)


def check_targets(rows: list[dict], reference: str) -> list[str]:
    """The issue's targets, each as a 'met'/'MISSED' line with the numbers."""
    lines = []
    for matrix in dict.fromkeys(r["matrix"] for r in rows):
        ours = next((r for r in rows if r["matrix"] == matrix and r["method"] == reference), None)
        if ours is None or ours["status"] != "ok":
            lines.append(f"MISSED {matrix}: {reference} did not finish ({ours and ours.get('detail')})")
            continue
        peers = [r for r in rows if r["matrix"] == matrix and r["method"] in PEERS and r["status"] == "ok"]
        binned = next((r for r in rows if r["matrix"] == matrix and r["method"] == BIN_ROW), None)
        for key, title in (("spearman", "Spearman"), ("knn10", "kNN-10")):
            if peers:
                best = max(peers, key=lambda r: r[key])
                verdict = "met" if ours[key] >= best[key] else "MISSED"
                lines.append(
                    f"{verdict} {matrix}: {title} {ours[key]:.3f} vs best peer {best['method']} {best[key]:.3f}"
                )
            if binned is not None:
                lines.append(
                    f"info {matrix}: {title} {ours[key]:.3f} vs {BIN_ROW} {binned[key]:.3f} "
                    f"({binned['collisions']:,} of {binned['features']:,} features on shared pixels)"
                )
        n_pixels = math.prod(int(s) for s in ours["grid"].split("x"))
        if n_pixels >= ours["features"]:
            verdict = "met" if ours["collisions"] == 0 else "MISSED"
            lines.append(
                f"{verdict} {matrix}: {ours['collisions']} collisions with {n_pixels:,} pixels >= "
                f"{ours['features']:,} features"
            )
        if 1000 <= ours["features"] <= 2000:
            for peer, factor in (("genomap", 10.0), ("pyDeepInsight-lsa", 2.0)):
                other = next((r for r in rows if r["matrix"] == matrix and r["method"] == peer), None)
                if other is None or other["status"] in ("not installed", "failed"):
                    lines.append(f"n/a {matrix}: speed vs {peer} ({other and other['status']})")
                    continue
                bound = other.get("fit_seconds")
                if bound is None:  # timed out: the speed-up is at least this
                    bound = float(other["detail"].split(">")[1].split()[0])
                verdict = "met" if bound / ours["fit_seconds"] >= factor else "MISSED"
                lines.append(
                    f"{verdict} {matrix}: {bound / ours['fit_seconds']:.1f}x faster than {peer} "
                    f"(target >= {factor:g}x; {ours['fit_seconds']:.1f} s vs "
                    f"{_fmt(other.get('fit_seconds'), '.1f') + ' s' if other.get('fit_seconds') else other['detail']})"
                )
        if ours["features"] >= 20000:
            verdict = "met" if ours["fit_seconds"] < 60 else "MISSED"
            lines.append(
                f"{verdict} {matrix}: fit {ours['fit_seconds']:.1f} s wall (target < 60 s; "
                f"{ours['cpu_seconds']:.1f} CPU s)"
            )
            verdict = "met" if ours["peak_mb"] < 4096 else "MISSED"
            lines.append(f"{verdict} {matrix}: peak {ours['peak_mb']:.0f} MB (target < 4096 MB)")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(v) for v in s.split(",") if v.strip()],
        default=list(SIZES),
        help="comma-separated feature counts of generated tables (default 500,1500,5000,20000; '' for --table only)",
    )
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} only")
    parser.add_argument("--samples", type=int, default=1000, help="samples of each generated table (default 1000)")
    parser.add_argument(
        "--table", action="append", default=[], help="CSV, samples as rows, first column id (repeatable)"
    )
    parser.add_argument("--label-column", help="column of --table to exclude")
    parser.add_argument("--method", default="auto", help="omicsfusion's default method (default auto)")
    parser.add_argument("--gw-max", type=int, default=1500, help="largest size that also runs method='gw'")
    parser.add_argument("--emd-max", type=int, default=5000, help="largest size that also runs method='emd'")
    parser.add_argument("--peer-python", default=sys.executable, help="interpreter that has genomap/pyDeepInsight")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per fit (default 600)")
    parser.add_argument("--mem-cap-gb", type=float, default=8.0, help="address-space cap per fit in GB (default 8)")
    parser.add_argument("--no-skip", action="store_true", help="rerun a method at larger sizes after it timed out")
    parser.add_argument("--json", help="write every row (and the target verdicts) to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--grid", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    from omicsfusion.phantoms import modular_table

    sizes = list(QUICK_SIZES) if args.quick else args.sizes
    reference = f"{OURS}:{args.method}"
    rows: list[dict] = []
    gave_up: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench_layout_") as tmp:
        for n_features in sizes:
            table = modular_table(n_samples=args.samples, n_features=n_features, seed=0)
            rows += bench_matrix(f"modular-{n_features}", table.to_numpy(), args, Path(tmp), gave_up)
        for path in args.table:
            X, _ = load_table(path, args.label_column)
            rows += bench_matrix(Path(path).name, X, args, Path(tmp), {})
    add_ratios(rows, reference)
    verdicts = check_targets(rows, reference)
    print()
    print(render(rows))
    print()
    print(f"our speed-up = peer fit s / {reference} fit s; quality ratios = {reference} figure / peer figure.")
    print("fit s: wall clock of the fit call; CPU s: user+sys of the worker from data loaded to result written;")
    print("peak MB: peak RSS of the whole worker process (interpreter, imports and data included).")
    print("\n".join(verdicts))
    if args.json:
        payload = json.dumps({"rows": rows, "targets": verdicts}, indent=2, default=str)
        target = Path(args.json)
        tmp_path = target.with_name(target.name + ".tmp")
        tmp_path.write_text(payload)
        os.replace(tmp_path, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
