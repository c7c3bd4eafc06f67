# Shared by the real-data recipes (source it): print-then-run and the resumable train + evaluate step.
# Uses DRY_RUN (1: print only), PYTHON, EPOCHS and CHECKPOINT (final | best) of the calling script.

run() {  # print, then run unless --dry-run
    printf '%q ' "$@"; echo
    if [[ $DRY_RUN == 0 ]]; then "$@"; fi
}

# train_evaluate BUNDLE OUT EXTRA ARGS...: train with configs/train.json (skipped when
# OUT/models/checkpoint_final.pt exists), then evaluate the test section with train.json + evaluate.json
# (skipped when OUT/eval/test_predictions.csv exists). EXTRA: further config files merged after train.json,
# as a list tail (",'a.json'") or ""; ARGS: the bundle overrides (--ckpt_dir OUT/models --output_dir OUT/eval ...).
train_evaluate() {
    local bundle=$1 out=$2 extra=$3
    shift 3
    if [[ ! -f "$out/models/checkpoint_final.pt" ]]; then
        run "$PYTHON" -m monai.bundle run --config_file "['$bundle/configs/train.json'$extra]" "$@" \
            --max_epochs "$EPOCHS" </dev/null
    fi
    if [[ ! -f "$out/eval/test_predictions.csv" ]]; then
        run "$PYTHON" -m monai.bundle run \
            --config_file "['$bundle/configs/train.json'$extra,'$bundle/configs/evaluate.json']" "$@" \
            --checkpoint "$(checkpoint "$out")" </dev/null
    fi
}

checkpoint() {  # checkpoint OUT: the weights CHECKPOINT selects
    if [[ $CHECKPOINT == best ]]; then echo "$1/models/model.pt"; else echo "$1/models/checkpoint_final.pt"; fi
}

default_patch_px() {  # default_patch_px MAX_GENES: the smallest multiple of 16 (at least 32) whose square holds MAX_GENES
    "$PYTHON" -c "import math, sys; print(max(32, 16 * math.ceil(math.sqrt(int(sys.argv[1])) / 16)))" "$1"
}
