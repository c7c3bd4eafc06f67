#!/usr/bin/env bash
# Create (or reuse) the peers' venv for scripts/bench_layout.py: genomap 1.3.6
# and pyDeepInsight 0.2.3 beside torch 2.13.0 (CPU build on a CPU-only machine).
# Usage: bash scripts/bench_layout_setup.sh [VENV]   (default: .venv-bench)
# torch is installed first and pinned: an unpinned torch pulls a multi-GB CUDA
# build. genomap goes in with --no-deps: its declared dependencies drag in
# tensorflow, and the benchmark only calls its numpy/POT layout functions.
# pytorch_grad_cam (imported by pyDeepInsight) is not installed: its torchvision
# dependency does not import beside torch 2.13, so bench_layout.py stubs it.
# Re-running is cheap: nothing is reinstalled unless this script changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$root/.venv-bench}"
py="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "bench_layout_setup: creating $venv with $($py --version)"
  "$py" -m venv "$venv"
fi
stamp="$venv/.bench-layout-installed"
want="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "bench_layout_setup: $venv is up to date"
  exit 0
fi
pip=("$venv/bin/python" -m pip install --quiet)
"${pip[@]}" --upgrade pip
"${pip[@]}" "torch==2.13.0"
"${pip[@]}" numpy scipy pandas scikit-learn pot anndata
"${pip[@]}" --no-deps "genomap==1.3.6"
"${pip[@]}" opencv-python-headless torchcam "pyDeepInsight==0.2.3"
echo "$want" > "$stamp"
echo "bench_layout_setup: peers installed in $venv"
