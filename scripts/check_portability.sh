#!/usr/bin/env bash
# Runs the tests under what varies between machines, on one machine: the BLAS thread count
# (another summation order) and other CPUs' kernels (OpenBLAS's kernel for an AVX2-only CPU such as
# an AMD EPYC Zen 2/3, and for an older AVX one; numpy's AVX-512 loops switched off with them).
# A test that compares floats bit for bit across machines fails under one of them.
#   bash scripts/check_portability.sh                    # the fast tier (-m "not slow"), ~2 min per setting
#   bash scripts/check_portability.sh -m "not heavy"     # the default tier, ~8 min per setting
# Arguments go to pytest. Prints one line per setting and exits non-zero when any setting failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh test || exit 1
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-m "not slow")
# numpy's dispatched targets above AVX2 on this CPU (none on an AVX2 machine)
above_avx2="$(.venv/bin/python -c "
from numpy._core._multiarray_umath import __cpu_dispatch__ as d, __cpu_features__ as f
print(' '.join(t for t in d if t not in ('X86_V2', 'X86_V3') and f.get(t, False)))")"
settings=(
  "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"
  "OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2"
  "OPENBLAS_CORETYPE=Zen NPY_DISABLE_CPU_FEATURES=${above_avx2// /,}"
  "OPENBLAS_CORETYPE=Sandybridge NPY_DISABLE_CPU_FEATURES=${above_avx2// /,}"
)
status=0
for setting in "${settings[@]}"; do
  log="$(mktemp)"
  # NPY_DISABLE_CPU_FEATURES takes a space- or comma-separated list; commas keep it one word here
  if env $setting .venv/bin/python -m pytest -q -p no:cacheprovider "${args[@]}" >"$log" 2>&1; then
    result="passed"
  else
    result="FAILED"; status=1
  fi
  echo "$result | $setting | $(grep -E '^[0-9]+ (passed|failed)|^(FAILED|ERROR) ' "$log" | tail -6 | tr '\n' ' ')"
  rm -f "$log"
done
exit $status
