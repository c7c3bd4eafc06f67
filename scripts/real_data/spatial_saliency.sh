#!/usr/bin/env bash
# Saliency of a trained real-data spatial run (after spatial_dlpfc.sh / spatial_her2st.sh): configs/saliency.json on
# the split's test spots with its fused model, then the rank of the data set's known markers in each class's gene table.
#
#   scripts/real_data/spatial_saliency.sh DATASET RUN_DIR SPLIT [MAX_SPOTS]
#
# DATASET: dlpfc | her2st (chooses the markers below). SPLIT: a name of RUN_DIR/splits.csv (e.g.
# 151675_to_151676_seed0). MAX_SPOTS (default 700): test spots explained, in datalist order.
# Writes RUN_DIR/runs/SPLIT/fused/saliency/ (genes.csv, modality_shares.csv/png, regions/*.png, layout PNGs) and
# markers.md there. Settings (environment): PYTHON, MAX_GENES (2000) and PATCH_PX (default from MAX_GENES), as the
# training recipe had them, CHECKPOINT (final | best).
# Markers: dlpfc from the data set's README (spatialLIBD layer markers; its tables key genes by Ensembl id); her2st: ERBB2 and GRB7 (the 17q12 HER2
# amplicon) for invasive cancer, COL1A1 / COL1A2 (fibroblast collagen) for connective tissue, ADIPOQ / PLIN1
# (adipocytes) for adipose tissue.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATASET="$1"; RUN="$(realpath "$2")"; SPLIT="$3"; MAX_SPOTS="${4:-700}"
PYTHON="${PYTHON:-python}"
MAX_GENES="${MAX_GENES:-2000}"
CHECKPOINT="${CHECKPOINT:-final}"
DRY_RUN=0
B="$REPO/bundles/pathology_spatial_transcriptomics"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
source "$REPO/scripts/real_data/lib.sh"
PATCH_PX="${PATCH_PX:-$(default_patch_px "$MAX_GENES")}"
case "$DATASET" in
    dlpfc) MARKERS=(WM=MOBP:ENSG00000168314,PLP1:ENSG00000123560,MBP:ENSG00000197971 Layer5=PCP4:ENSG00000183036
                    Layer6=KRT17:ENSG00000128422 Layer2=HPCAL1:ENSG00000115756 Layer1=RELN:ENSG00000189056) ;;
    her2st) MARKERS=("invasive cancer=ERBB2,GRB7" "connective tissue=COL1A1,COL1A2" "adipose tissue=ADIPOQ,PLIN1") ;;
    *) echo "spatial_saliency.sh: DATASET must be dlpfc or her2st, got '$DATASET'" >&2; exit 2 ;;
esac
row="$(awk -F, -v s="$SPLIT" '$1 == s' "$RUN/splits.csv")"
if [[ -z "$row" ]]; then echo "spatial_saliency.sh: no split '$SPLIT' in $RUN/splits.csv" >&2; exit 2; fi
IFS=, read -r _name seed _experiment dataset spots datalist _rest <<< "$row"
out="$RUN/runs/$SPLIT/fused"
if [[ ! -f "$out/models/checkpoint_final.pt" ]]; then echo "spatial_saliency.sh: $out is not trained" >&2; exit 2; fi
run "$PYTHON" -m monai.bundle run --config_file "['$B/configs/train.json','$RUN/bundle.json','$B/configs/saliency.json']" \
    --bundle_root "$B" --dataset_dir "$RUN/$dataset" --spots_dir "$RUN/$spots" --datalist_file "$RUN/$datalist" \
    --ckpt_dir "$out/models" --output_dir "$out" --seed "$seed" --modalities "['image','rna']" --patch_px "$PATCH_PX" \
    --checkpoint "$(checkpoint "$out")" --saliency_section test --saliency#runner#max_samples "$MAX_SPOTS" </dev/null
"$PYTHON" "$REPO/scripts/real_data/marker_ranks.py" "$out/saliency" "${MARKERS[@]}" --out "$out/saliency/markers.md"
