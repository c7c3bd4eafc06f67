#!/usr/bin/env bash
# README command two: install with the test extra into .venv, lint (ruff check + format check), then run the suite.
# Arguments go to pytest. OMICSFUSION_SKIP_LINT=1 skips the lint gate (for a quick local re-run only; CI never sets it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh test
if [ "${OMICSFUSION_SKIP_LINT:-0}" != "1" ]; then
  echo "lint: ruff check and ruff format --check (configured in pyproject.toml)"
  .venv/bin/ruff check .
  .venv/bin/ruff format --check .
fi
exec .venv/bin/python -m pytest -q "$@"
