#!/usr/bin/env bash
# Spatial bundle on a real data set (run through spatial_dlpfc.sh, spatial_dlpfc_rotations.sh or spatial_her2st.sh):
# image-only, omics-only and fused per split and seed, beside logistic regression and a random forest on the same
# spots, genes and split and a linear probe on frozen ImageNet features of the spots' patches
# (omicsfusion.apps.spatial_summary); one table of mean ± sd over seeds (accuracy, macro-F1, AUC); her2st also
# predicts the unlabelled section A2.
#
#   scripts/real_data/spatial.sh DATASET [--dry-run] [SOURCE_DIR] [RUN_DIR]
#
# DATASET: dlpfc | dlpfc_rotations | her2st (omicsfusion.apps.spatial_recipes.DATASETS: classes, splits, policy).
# SOURCE_DIR: the data set as shared, only read. RUN_DIR: everything written: data/<experiment>/sections.csv,
#   splits/<split>/{datalist.json,spots/}, bundle.json (config merged into every bundle run), splits.csv,
#   report.json (every spot left out, and why), runs/<split>/<model>/{models,eval}/, features/ (the probe's, cached),
#   per_seed.csv, summary.{csv,md};
#   her2st: A2/spots/ and runs/<split>/<model>/A2/{spot_predictions.csv,overlay_A2.png}.
# --dry-run: prepare the splits, print every bundle command, train nothing.
# Settings (environment): PYTHON, SEEDS ("0 1 2"), EPOCHS (the data set's max_epochs in
#   omicsfusion.apps.spatial_recipes.DATASETS: dlpfc 6, her2st 15), BATCH (32), MAX_GENES (2000), PATCH_PX (default: the
#   smallest multiple of 16, at least 32, whose square holds MAX_GENES pixels, 48 for 2000: the layout grid is capped
#   at the patch, and genes beyond its pixels would share pixels),
#   CLASS_WEIGHTS (none | balanced; default none for dlpfc, balanced for her2st), TILES ("4 4": block-split tiles,
#   columns rows), GAP_SPOTS (1), CHECKPOINT (final | best), MODELS ("image omics fused"; also fused_late: image and
#   rna with --fusion late, one head per branch, logits averaged), EXTRA_SOURCE (dlpfc_rotations: the folder of the
#   third section, e.g. dlpfc_151674; spatial_dlpfc_rotations.sh sets it),
#   INFER_MODELS (her2st A2: "fused" when MODELS trains it, else none), A2_SCALE (her2st A2 viewer PNG scale; default A1's 2000/6954),
#   PROBE (1: the linear probe on frozen EfficientNet-Lite0 features of the spots' patches, needs the pretrained
#   extra; 0 leaves it out; macenko adds it on Macenko-normalised patches), BUNDLE_ARGS (further bundle overrides for every training and evaluation, e.g. "--modality_dropout 0.5";
#   use another RUN_DIR per setting, as completed runs are skipped), INFER_ARGS (overrides for the A2 inference, e.g.
#   a network setting of BUNDLE_ARGS: inference.json has no training keys).
# Completed runs (checkpoint_final.pt, test_predictions.csv, spot_predictions.csv present) are skipped: a stopped
# run resumes.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATASET="$1"; shift
DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY_RUN=1; shift; fi
SOURCE="$(realpath "$1")"
RUN="$(realpath -m "$2")"
PYTHON="${PYTHON:-python}"
SEEDS="${SEEDS:-0 1 2}"
BATCH="${BATCH:-32}"
MAX_GENES="${MAX_GENES:-2000}"
TILES="${TILES:-4 4}"
GAP_SPOTS="${GAP_SPOTS:-1}"
CHECKPOINT="${CHECKPOINT:-final}"
MODELS="${MODELS:-image omics fused}"
if [[ " $MODELS " == *" fused "* ]]; then INFER_MODELS="${INFER_MODELS-fused}"; else INFER_MODELS="${INFER_MODELS-}"; fi
B="$REPO/bundles/pathology_spatial_transcriptomics"
declare -A MODALITIES=([image]="['image']" [omics]="['rna']" [fused]="['image','rna']" [fused_late]="['image','rna']")
# per model, bundle overrides beyond its modalities (the bundle's modality_dropout 0.25 applies to both fusions)
declare -A MODEL_ARGS=([fused_late]="--fusion late")
for model in $MODELS $INFER_MODELS; do
    if [[ -z "${MODALITIES[$model]:-}" ]]; then echo "unknown model $model; use ${!MODALITIES[*]}" >&2; exit 2; fi
done

export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
source "$REPO/scripts/real_data/lib.sh"
PATCH_PX="${PATCH_PX:-$(default_patch_px "$MAX_GENES")}"
read -ra BUNDLE_OVERRIDES <<< "${BUNDLE_ARGS:-}"
read -ra INFER_OVERRIDES <<< "${INFER_ARGS:-}"
SECONDS=0
seed_args=()
for s in $SEEDS; do seed_args+=("$s"); done
# shellcheck disable=SC2086  # TILES is two numbers
"$PYTHON" -m omicsfusion.apps.spatial_recipes "$DATASET" "$SOURCE" "$RUN" --seeds "${seed_args[@]}" \
    --max-genes "$MAX_GENES" --tiles $TILES --gap-spots "$GAP_SPOTS" ${CLASS_WEIGHTS:+--class-weights "$CLASS_WEIGHTS"} \
    ${A2_SCALE:+--a2-scale "$A2_SCALE"} ${EXTRA_SOURCE:+--extra-source "$EXTRA_SOURCE"}
bundle_key() {  # bundle_key KEY: a value of the recipe's bundle.json (the data set's settings in DATASETS)
    "$PYTHON" -c "import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(*v if isinstance(v, list) else [v], sep='\n')" \
        "$RUN/bundle.json" "$1"
}
EPOCHS="${EPOCHS:-$(bundle_key max_epochs)}"

while IFS=, read -r name seed _experiment dataset spots datalist _rest; do
    for model in $MODELS; do
        out="$RUN/runs/$name/$model"
        read -ra model_args <<< "${MODEL_ARGS[$model]:-}"
        common=(--bundle_root "$B" --dataset_dir "$RUN/$dataset" --spots_dir "$RUN/$spots"
                --datalist_file "$RUN/$datalist" --ckpt_dir "$out/models" --output_dir "$out/eval" --seed "$seed"
                --modalities "${MODALITIES[$model]}" --batch_size "$BATCH" --patch_px "$PATCH_PX" "${model_args[@]}"
                "${BUNDLE_OVERRIDES[@]}")
        train_evaluate "$B" "$out" ",'$RUN/bundle.json'" "${common[@]}"
    done
    if [[ -d "$RUN/A2/spots" ]]; then  # her2st: the unlabelled section, predicted spot by spot and drawn
        for model in $INFER_MODELS; do
            out="$RUN/runs/$name/$model"
            read -ra model_args <<< "${MODEL_ARGS[$model]:-}"
            if [[ ! -f "$out/A2/spot_predictions.csv" ]]; then
                run "$PYTHON" -m monai.bundle run --config_file "['$B/configs/inference.json','$RUN/bundle.json']" \
                    --bundle_root "$B" --ckpt_dir "$out/models" --checkpoint "$(checkpoint "$out")" \
                    --output_dir "$out/A2" --modalities "${MODALITIES[$model]}" --patch_px "$PATCH_PX" \
                    --input_data "{'_target_': 'omicsfusion.data.spatial.spot_rows', 'spots_dir': '$RUN/A2/spots'}" \
                    --omics_tables "{'rna': '$RUN/A2/spots/omics/rna.parquet'}" "${model_args[@]}" \
                    "${INFER_OVERRIDES[@]}" </dev/null
            fi
        done
    fi
done < <(tail -n +2 "$RUN/splits.csv")

if [[ $DRY_RUN == 1 ]]; then echo "dry run: $RUN prepared, nothing trained (${SECONDS} s)"; exit 0; fi
probe_args=()
if [[ "${PROBE:-1}" == 0 ]]; then probe_args=(--no-probe); elif [[ "${PROBE:-1}" == macenko ]]; then probe_args=(--probe-macenko); fi
# shellcheck disable=SC2086  # MODELS is a list
"$PYTHON" -m omicsfusion.apps.spatial_summary "$RUN" --models $MODELS "${probe_args[@]}"
echo "summary: $RUN/summary.md (${SECONDS} s)"
