#!/usr/bin/env bash
# README command one: install into .venv, then run the main demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh
exec .venv/bin/python scripts/demo.py "$@"
