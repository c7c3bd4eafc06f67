#!/usr/bin/env bash
# DLPFC Visium 151674 / 151675 / 151676 (one donor) with the spatial bundle, every rotation: train on two whole
# sections, test on the third, a section neither trained nor validated on (its own staining, cutting and placement).
# Validation: a block of each training section (val_fraction 0.1, gap GAP_SPOTS spots), for monitoring only: the
# recipe scores the FINAL checkpoint (CHECKPOINT=final); CHECKPOINT=best would select on a training-section block.
#
#   scripts/real_data/spatial_dlpfc_rotations.sh [--dry-run] [SOURCE_DIR] [RUN_DIR]
#
# SOURCE_DIR default ../shared/data/dlpfc_151675_151676 next to the repository; EXTRA_SOURCE (environment) the
# folder of the third section, default ../shared/data/dlpfc_151674; RUN_DIR default runs/spatial_dlpfc_rotations.
# Files written and settings (environment): see scripts/real_data/spatial.sh.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DRY=()
if [[ "${1:-}" == "--dry-run" ]]; then DRY=(--dry-run); shift; fi
EXTRA_SOURCE="${EXTRA_SOURCE:-$REPO/../shared/data/dlpfc_151674}" exec "$REPO/scripts/real_data/spatial.sh" \
    dlpfc_rotations "${DRY[@]}" "${1:-$REPO/../shared/data/dlpfc_151675_151676}" \
    "${2:-$REPO/runs/spatial_dlpfc_rotations}"
