#!/usr/bin/env bash
# Create (or reuse) .venv and install omicsfusion with the given extras.
# torch is pinned to 2.13.0: on a CPU-only machine pip then takes the CPU build
# instead of pulling a multi-GB CUDA build; on a CUDA machine the same pin gives
# the regular CUDA wheel. Re-running is cheap: nothing is reinstalled unless
# pyproject.toml or the extras changed.
set -euo pipefail
extras="${1:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then py="$candidate"; break; fi
  done
fi
[ -n "$py" ] || { echo "setup_env: no python3 found on PATH" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "setup_env: creating .venv with $($py --version)"
  "$py" -m venv .venv
fi
stamp=".venv/.omicsfusion-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1) extras=[$extras]"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
spec="."
[ -n "$extras" ] && spec=".[$extras]"
.venv/bin/python -m pip install --quiet -e "$spec"
echo "$want" > "$stamp"
