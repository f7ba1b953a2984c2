#!/usr/bin/env bash
# scripts/gpu-check.sh --cli-only with this build's long1k on the cpu (the steps the GPU machine
# runs with --device cuda): every golden model's parity run must pass and say its bound (1e-4
# in fp32), the short train run must log 8 losses and match a second run, and the final table
# must list them. A broken step, a parity failure or a missing loss makes this fail.
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
[[ -d $SHARED/golden/models ]] || { echo "SKIP: no golden models under $SHARED"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
OUT=$T DEVICE=cpu NO_BENCH=1 LONG1K_SHARED=$SHARED LONG1K_BIN=$BIN OMP_NUM_THREADS=1 \
  bash "$SRC/scripts/gpu-check.sh" --cli-only >"$T/stdout" 2>&1
rc=$?
if [[ $rc != 0 ]]; then echo "FAIL: gpu-check --cli-only exit $rc"; tail -30 "$T/stdout"; fail=1; fi
n_models=$(ls -d "$SHARED"/golden/models/*/ | wc -l)
n_ok=$(grep -cE '^step  parity-.*-(f32|bf16)-fp32: ok$' "$T/summary.txt")
if [[ $n_ok != $((2 * n_models)) ]]; then
  echo "FAIL: $n_ok parity steps ok, want $((2 * n_models))"; cat "$T/summary.txt"; fail=1
fi
for f in "$T"/parity_*_fp32.json; do
  grep -q '"tolerance":0.0001,"precision":"fp32"' "$f" || { echo "FAIL: $f: no fp32 bound"; fail=1; }
  grep -q '"ok":true' "$f" || { echo "FAIL: $f: not ok"; fail=1; }
done
grep -q '^step  parity-qwen2_tiny-f32-bf16: skipped (the cpu backend is fp32 only)$' "$T/summary.txt" ||
  { echo "FAIL: the bf16 step on cpu is not reported as skipped"; fail=1; }
for r in device cpu; do
  n=$(wc -l <"$T/train/out-$r-fp32/trainer_log.jsonl" 2>/dev/null || echo 0)
  [[ $n == 8 ]] || { echo "FAIL: train $r: $n logged steps, want 8"; fail=1; }
done
grep -qE '^train-compare: 8/8 steps, max relative difference cpu fp32 vs cpu 0\.000e\+00 \(bound 0\.0001\): ok$' \
  "$T/stdout" || { echo "FAIL: no train comparison line"; grep train-compare "$T/stdout"; fail=1; }
grep -qE '^  qwen3_tiny_f32_fp32 +ok=True tol=0.0001 logits=' "$T/stdout" ||
  { echo "FAIL: the parity table lacks qwen3_tiny"; fail=1; }
# the comparison must fail when the curves differ
sed -i '3s/"loss": [0-9.]*/"loss": 1.5/' "$T/train/out-device-fp32/trainer_log.jsonl"
if python3 "$SRC/scripts/gpu_check_losses.py" "$T/train" cpu >"$T/cmp" 2>&1; then
  echo "FAIL: train-compare accepted a changed loss"; cat "$T/cmp"; fail=1
fi
[[ $fail == 0 ]] && echo "gpu-check --cli-only: ok"
exit $fail
