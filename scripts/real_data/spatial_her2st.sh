#!/usr/bin/env bash
# her2st A1 with the spatial bundle: one section block split into training / validation / test (4 x 4 tiles, a gap
# of GAP_SPOTS spots between splits, every class in training), balanced class weights by default (82 % of the spots
# are invasive cancer); 'immune infiltrate' (2 spots) and 'undetermined' (5) left out with a count; A2 (unlabelled)
# predicted with the fused models, spot table and overlay PNG.
#
#   scripts/real_data/spatial_her2st.sh [--dry-run] [SOURCE_DIR] [RUN_DIR]
#
# SOURCE_DIR default ../shared/data/her2st_A1 next to the repository; RUN_DIR default runs/spatial_her2st.
# Files written and settings (environment): see scripts/real_data/spatial.sh.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DRY=()
if [[ "${1:-}" == "--dry-run" ]]; then DRY=(--dry-run); shift; fi
exec "$REPO/scripts/real_data/spatial.sh" her2st "${DRY[@]}" "${1:-$REPO/../shared/data/her2st_A1}" \
    "${2:-$REPO/runs/spatial_her2st}"
