#!/usr/bin/env bash
# README command two: install with the test extra into .venv, then run the suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh test
exec .venv/bin/python -m pytest -q "$@"
