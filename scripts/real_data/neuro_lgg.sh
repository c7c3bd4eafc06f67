#!/usr/bin/env bash
# TCGA-LGG IDH status with the neuro bundle: MRI-only, omics-only and fused, beside logistic regression
# and a random forest on the same molecular features and splits; mean ± sd over seeds in one table.
#
#   scripts/real_data/neuro_lgg.sh [--dry-run] [SOURCE_DIR] [RUN_DIR]
#
# SOURCE_DIR: kaggle_3m as published (<case>/<case>_<k>.tif beside data.csv; or the case folders in images/),
#   read only; default ../shared/data/lgg_kaggle3m_idh next to the repository. The IDH table
#   (patient,idh) is SOURCE_DIR/mutations.csv unless MUTATIONS names another file.
# RUN_DIR: everything written (default runs/neuro_lgg): omics/clusters.csv, samples.csv, splits/,
#   report.json, runs/<split>/<model>/{models,eval}/, features/ (the probe's, cached), per_seed.csv,
#   summary.{csv,md}: the bundle runs beside logistic regression and a random forest on the molecular table and
#   on frozen EfficientNet-Lite0 features of the MRI slices, mean over a patient's slices (`logreg:slice_features`,
#   the linear probe).
# --dry-run: prepare the splits, print every bundle command, train nothing.
# Settings (environment): PYTHON, SCHEME (loo | repeated), SEEDS ("0 1 2"), EPOCHS, BATCH, PIXDIM,
#   SPATIAL_SIZE, SPACING (stated voxel size of the slices: the files carry none), CHECKPOINT
#   (final | best: best-validation selection is noise on a handful of patients), MODELS ("mri omics fused";
#   also mri_slices: MRI only through the pretrained EfficientNet-Lite0 slice by slice, pooled over slices),
#   PROBE (1: the linear probe, needs the pretrained extra; 0 leaves it out), SALIENCY (1: also run saliency.json with each split's fused model on its test patients; writes
#   saliency_shares.md, the modality shares pooled per class, and per split markers.md, the rank of the
#   MethylationCluster categories in each class's feature table; and region_masks.{md,csv}, the IG region
#   maps scored against the data set's tumour masks: pointing game, chance, map mass in the tumour).
# Completed runs (checkpoint_final.pt, test_predictions.csv present) are skipped, so a stopped run resumes.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY_RUN=1; shift; fi
SOURCE="$(realpath "${1:-$REPO/../shared/data/lgg_kaggle3m_idh}")"
RUN="$(realpath -m "${2:-$REPO/runs/neuro_lgg}")"
PYTHON="${PYTHON:-python}"
SCHEME="${SCHEME:-loo}"            # 8 patients: leave-one-out; the cohort of 110: repeated
SEEDS="${SEEDS:-0 1 2}"
# 4-6 training patients: batches of 2 for 20 epochs are 40-60 optimizer steps (batches of 4 for 10 epochs were
# 10-20, and left the omics-only model undecided on a test patient)
EPOCHS="${EPOCHS:-20}"
BATCH="${BATCH:-2}"
SPACING="${SPACING:-[1.0, 1.0, 1.0]}"   # nominal: in-plane about 1 mm, slice spacing unknown
PIXDIM="${PIXDIM:-[4.0, 4.0, 1.0]}"     # 256 x 256 -> 64 x 64 in-plane, slices kept
SPATIAL_SIZE="${SPATIAL_SIZE:-[64, 64, 32]}"  # 20-25 slices padded to 32; raise for longer stacks
CHECKPOINT="${CHECKPOINT:-final}"
MODELS="${MODELS:-mri omics fused}"
SALIENCY="${SALIENCY:-0}"
# the clusters that separate IDH status in the 8 shared patients (MethylationCluster 4: wild-type, 5: mutant)
CLUSTER_MARKERS=(wildtype=MethylationCluster=4 mutant=MethylationCluster=5)
B="$REPO/bundles/neuro_mri_molecular"
CLASSES="['wildtype','mutant']"
declare -A MODALITIES=([mri]="['image']" [mri_slices]="['image']" [omics]="['clusters']" [fused]="['image','clusters']")
# mri_slices: the other image branch, the pretrained 2-D encoder slice by slice, pooled over slices (2.5-D)
declare -A MODEL_ARGS=([mri_slices]="--image_encoder efficientnet_lite0")

export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
SECONDS=0
seed_args=()
for s in $SEEDS; do seed_args+=("$s"); done
"$PYTHON" -m omicsfusion.apps.lgg "$SOURCE" "$RUN" --scheme "$SCHEME" --seeds "${seed_args[@]}" \
    ${MUTATIONS:+--mutations "$MUTATIONS"}

source "$REPO/scripts/real_data/lib.sh"

bundle_args() {  # bundle_args OUT SEED DATALIST MODEL: the overrides of one bundle run, into the array ARGS
    ARGS=(--bundle_root "$B" --dataset_dir "$SOURCE" --phantom None --seed "$2"
          --datalist_file "$RUN/$3" --ckpt_dir "$1/models" --output_dir "$1/eval"
          --class_names "$CLASSES" --omics_tables "{'clusters': '$RUN/omics/clusters.csv'}"
          --modalities "${MODALITIES[$4]}" --sequence_channels 3
          --image_reader "{'_target_': 'omicsfusion.transforms.SliceFolderReader', 'spacing': $SPACING}"
          --pixdim "$PIXDIM" --spatial_size "$SPATIAL_SIZE" --batch_size "$BATCH")
    local extra
    read -ra extra <<< "${MODEL_ARGS[$4]:-}"
    ARGS+=("${extra[@]}")
}

for model in $MODELS; do
    if [[ -z "${MODALITIES[$model]:-}" ]]; then echo "unknown model $model; use ${!MODALITIES[*]}" >&2; exit 2; fi
done
while IFS=, read -r name seed _fold datalist _rest; do
    for model in $MODELS; do
        out="$RUN/runs/$name/$model"
        bundle_args "$out" "$seed" "$datalist" "$model"
        train_evaluate "$B" "$out" "" "${ARGS[@]}"
    done
done < <(tail -n +2 "$RUN/splits.csv")

if [[ $DRY_RUN == 1 ]]; then echo "dry run: $RUN prepared, nothing trained (${SECONDS} s)"; exit 0; fi
probe=()
if [[ "${PROBE:-1}" == 1 ]]; then  # the linear probe: frozen EfficientNet-Lite0 features, mean over each patient's slices
    features="$RUN/features/slices_efficientnet_lite0_px224.csv"
    "$PYTHON" -m omicsfusion.apps.probe_features slices "$RUN/samples.csv" "$SOURCE" "$features"
    probe=(--tables "slice_features=$features")
fi
# shellcheck disable=SC2086  # MODELS is a list
"$PYTHON" -m omicsfusion.apps.bundle_runs "$RUN" --table "$RUN/omics/clusters.csv" --class-names wildtype mutant \
    --models $MODELS "${probe[@]}"
echo "summary: $RUN/summary.md (${SECONDS} s)"

if [[ $SALIENCY == 1 ]]; then  # saliency.json on every split's test patients with its fused model, then one table
    dirs=()
    while IFS=, read -r name seed _fold datalist _rest; do
        out="$RUN/runs/$name/fused"
        bundle_args "$out" "$seed" "$datalist" fused
        if [[ ! -f "$out/eval/saliency/samples.csv" ]]; then
            run "$PYTHON" -m monai.bundle run --config_file "['$B/configs/train.json','$B/configs/saliency.json']" \
                "${ARGS[@]}" --checkpoint "$(checkpoint "$out")" --saliency_section test </dev/null
        fi
        "$PYTHON" "$REPO/scripts/real_data/marker_ranks.py" "$out/eval/saliency" "${CLUSTER_MARKERS[@]}" \
            --out "$out/eval/saliency/markers.md" >/dev/null
        dirs+=("$out/eval/saliency")
    done < <(tail -n +2 "$RUN/splits.csv")
    "$PYTHON" "$REPO/scripts/real_data/saliency_shares.py" "${dirs[@]}" --out "$RUN/saliency_shares.md"
    spacing=$(tr -d '[],' <<<"$SPACING")
    "$PYTHON" "$REPO/scripts/real_data/region_masks.py" "${dirs[@]}" --source "$SOURCE" --samples "$RUN/samples.csv" \
        --spacing $spacing --out "$RUN/region_masks.md"
    echo "saliency: $RUN/{saliency_shares,region_masks}.md, runs/<split>/fused/eval/saliency/{markers.md,regions/*.nii.gz}"
fi
