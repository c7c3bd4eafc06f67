#!/usr/bin/env bash
# Pan-cancer bundle on real TCGA patients (shared/data/tcga_he_monuseg: one H&E tile, mutation and copy-number
# calls per patient): per repeated stratified patient-level split, image only (from scratch and with the pretrained
# encoder), omics only (mutation, cnv, both) and fused (pretrained image + both omics), beside logistic regression and
# a random forest on the same patients, split and omics, and a linear probe on frozen ImageNet features of the tiles;
# one table of mean ± sd over the splits (accuracy, macro-F1, AUC) with the class sizes.
#
#   scripts/real_data/pan_cancer_tcga.sh [--dry-run] [SOURCE_DIR] [RUN_DIR]
#
# SOURCE_DIR: the cohort as shared, only read (default: ../shared/data/tcga_he_monuseg next to the repository).
# RUN_DIR: everything written (default runs/pan_cancer_tcga): splits/<split>/datalist.json, bundle.json (config
#   merged into every bundle run), splits.csv (patients per class in each part), report.json (classes dropped,
#   patients left out, and why), runs/<split>/<model>/{models,eval}/, features/ (cached tile features),
#   per_split.csv, summary.{csv,md}.
# --dry-run: prepare the splits, print every bundle command, train nothing and score nothing.
# Settings (environment): PYTHON, LABEL (organ | study), SPLITS (5), TEST_FRACTION (0.3), VAL_FRACTION (0.15),
#   MIN_CLASS (3), SEED (0: split k draws, and its runs train, with seed SEED + k), EPOCHS (10), BATCH (8),
#   CHECKPOINT (final | best), MODELS ("image_scratch image_pretrained mutation cnv omics fused fused_late";
#   "" for the baselines alone), BASELINES ("logreg random_forest"), PROBE_GRID (4: the linear probe's cells per
#   tile side), BUNDLE_ARGS (further bundle overrides for every training and evaluation, e.g. "--bag_patches 0
#   --image_size [224,224]" for one resized tile per patient; use another RUN_DIR per setting, as completed runs
#   are skipped). Each patient's tile is a bag of its 8 darkest (most tissue) of 16 patches of 250 px, resized to
#   128 px (bundle.json).
# Completed runs (checkpoint_final.pt, test_predictions.csv present) are skipped: a stopped run resumes.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY_RUN=1; shift; fi
SOURCE="$(realpath "${1:-$REPO/../shared/data/tcga_he_monuseg}")"
RUN="$(realpath -m "${2:-$REPO/runs/pan_cancer_tcga}")"
PYTHON="${PYTHON:-python}"
EPOCHS="${EPOCHS:-10}"
BATCH="${BATCH:-8}"
CHECKPOINT="${CHECKPOINT:-final}"
MODELS="${MODELS-image_scratch image_pretrained mutation cnv omics fused fused_late}"
BASELINES="${BASELINES:-logreg random_forest}"
B="$REPO/bundles/pan_cancer_classification"
# model -> the bundle's modalities and image encoder
declare -A MODALITIES=([image_scratch]="['image']" [image_pretrained]="['image']" [mutation]="['mutation']"
                       [cnv]="['cnv']" [omics]="['mutation','cnv']" [fused]="['image','mutation','cnv']"
                       [fused_late]="['image','mutation','cnv']")
declare -A ENCODER=([image_scratch]=scratch [image_pretrained]=efficientnet_lite0 [mutation]=scratch [cnv]=scratch
                    [omics]=scratch [fused]=efficientnet_lite0 [fused_late]=efficientnet_lite0)
# fused: stem features concatenated before one head; fused_late (the bundle's default since 0.4.9): one head per
# stem, logits averaged, modality dropout makes each head predict alone (MidFusion). Omics-only runs read no image,
# so no bag of patches either.
declare -A MODEL_ARGS=([fused]="--fusion concat --modality_dropout 0.0"
                       [fused_late]="--fusion late --modality_dropout 0.25"
                       [mutation]="--bag_patches 0" [cnv]="--bag_patches 0" [omics]="--bag_patches 0")

export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
source "$REPO/scripts/real_data/lib.sh"
read -ra BUNDLE_OVERRIDES <<< "${BUNDLE_ARGS:-}"
SECONDS=0
"$PYTHON" -m omicsfusion.apps.pan_cancer_recipes "$SOURCE" "$RUN" --label "${LABEL:-organ}" --splits "${SPLITS:-5}" \
    --test-fraction "${TEST_FRACTION:-0.3}" --val-fraction "${VAL_FRACTION:-0.15}" --min-class "${MIN_CLASS:-3}" \
    --seed "${SEED:-0}"

while IFS=, read -r name seed datalist _rest; do
    for model in $MODELS; do
        if [[ -z "${MODALITIES[$model]:-}" ]]; then echo "unknown model $model; use ${!MODALITIES[*]}" >&2; exit 2; fi
        out="$RUN/runs/$name/$model"
        read -ra model_args <<< "${MODEL_ARGS[$model]:-}"
        common=(--bundle_root "$B" --datalist_file "$RUN/$datalist" --ckpt_dir "$out/models" --output_dir "$out/eval"
                --seed "$seed" --modalities "${MODALITIES[$model]}" --image_encoder "${ENCODER[$model]}"
                --batch_size "$BATCH" "${model_args[@]}" "${BUNDLE_OVERRIDES[@]}")
        train_evaluate "$B" "$out" ",'$RUN/bundle.json'" "${common[@]}"
    done
done < <(tail -n +2 "$RUN/splits.csv")

if [[ $DRY_RUN == 1 ]]; then echo "dry run: $RUN prepared, nothing trained (${SECONDS} s)"; exit 0; fi
# shellcheck disable=SC2086  # MODELS and BASELINES are lists
"$PYTHON" -m omicsfusion.apps.pan_cancer_summary "$RUN" --models $MODELS --baselines $BASELINES \
    --grid "${PROBE_GRID:-4}"
echo "summary: $RUN/summary.md (${SECONDS} s)"
