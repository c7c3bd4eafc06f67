#!/usr/bin/env bash
# DLPFC Visium 151675 -> 151676 and 151676 -> 151675 with the spatial bundle: train on one section with a held-out
# validation block of it (block split, a gap of GAP_SPOTS spots), test on the other; seven classes Layer1-6, WM.
#
#   scripts/real_data/spatial_dlpfc.sh [--dry-run] [SOURCE_DIR] [RUN_DIR]
#
# SOURCE_DIR default ../shared/data/dlpfc_151675_151676 next to the repository; RUN_DIR default runs/spatial_dlpfc.
# Files written and settings (environment): see scripts/real_data/spatial.sh.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DRY=()
if [[ "${1:-}" == "--dry-run" ]]; then DRY=(--dry-run); shift; fi
exec "$REPO/scripts/real_data/spatial.sh" dlpfc "${DRY[@]}" "${1:-$REPO/../shared/data/dlpfc_151675_151676}" \
    "${2:-$REPO/runs/spatial_dlpfc}"
