#!/usr/bin/env bash
# Interpretation of the pan-cancer bundle on real TCGA patients (after pan_cancer_tcga.sh): per class the shares of
# image / mutation / copy number, the gene tables and where each organ's known drivers rank in them, and a region
# map per tile (PNG).
#
#   scripts/real_data/pan_cancer_saliency.sh RUN_DIR [SPLIT] [SECTION]
#
# Explains the recipe's fused_late model of SPLIT (default split0; pretrained EfficientNet-Lite0 on the bag of patches
# of each tile, mutation + cnv, late fusion), training it first with the recipe's arguments when RUN_DIR has none:
# configs/saliency.json on SECTION (default training: what the model learnt, over the 23 training patients; test has
# 10), patch by patch and put back onto each tile (omicsfusion.interpret.BagExplainer), then ranks the drivers of the
# data's README per organ and omics type (scripts/real_data/marker_ranks.py). Settings (environment): PYTHON, EPOCHS
# (10), BATCH (8), CHECKPOINT (final | best), BUNDLE_ARGS (the recipe's further overrides, if it had any). Writes
# RUN_DIR/runs/SPLIT/fused_late/eval/saliency/ (genes.csv, modality_shares.csv/png, regions/*.png: each tile with the
# map over the patches of its bag, layout PNGs, drivers.md).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$(realpath "$1")"; SPLIT="${2:-split0}"; SECTION="${3:-training}"
PYTHON="${PYTHON:-python}"
EPOCHS="${EPOCHS:-10}"
BATCH="${BATCH:-8}"
CHECKPOINT="${CHECKPOINT:-final}"
DRY_RUN=0
B="$REPO/bundles/pan_cancer_classification"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
source "$REPO/scripts/real_data/lib.sh"
read -ra BUNDLE_OVERRIDES <<< "${BUNDLE_ARGS:-}"
# drivers per organ from the data's README; the gene tables hold each gene once per omics type
DRIVERS=(kidney=VHL,PBRM1,SETD2,BAP1 lung=KRAS,EGFR,STK11 colorectal=APC prostate=SPOP,FOXA1
         breast=GATA3,PIK3CA,CDH1 bladder=FGFR3,KDM6A)
row="$(awk -F, -v s="$SPLIT" '$1 == s' "$RUN/splits.csv")"
if [[ -z "$row" ]]; then echo "pan_cancer_saliency.sh: no split '$SPLIT' in $RUN/splits.csv" >&2; exit 2; fi
IFS=, read -r _name seed datalist _rest <<< "$row"
out="$RUN/runs/$SPLIT/fused_late"
# the arguments of pan_cancer_tcga.sh's fused_late model
common=(--bundle_root "$B" --datalist_file "$RUN/$datalist" --ckpt_dir "$out/models" --output_dir "$out/eval"
        --seed "$seed" --modalities "['image','mutation','cnv']" --image_encoder efficientnet_lite0
        --batch_size "$BATCH" --fusion late --modality_dropout 0.25 "${BUNDLE_OVERRIDES[@]}")
train_evaluate "$B" "$out" ",'$RUN/bundle.json'" "${common[@]}"
run "$PYTHON" -m monai.bundle run \
    --config_file "['$B/configs/train.json','$RUN/bundle.json','$B/configs/saliency.json']" "${common[@]}" \
    --checkpoint "$(checkpoint "$out")" --saliency_section "$SECTION" </dev/null
"$PYTHON" "$REPO/scripts/real_data/marker_ranks.py" "$out/eval/saliency" "${DRIVERS[@]}" \
    --out "$out/eval/saliency/drivers.md"
