#!/usr/bin/env bash
# The whole `long1k` CLI on the emulated CUDA device: the CLI's own objects (this build's
# CMakeFiles/long1k.dir) linked with the emulated CUDA backend (tests/cuda/emu/build.sh: the
# backend's real sources on a CPU emulation of the CUDA runtime and cuBLAS) instead of the real
# one, then `scripts/gpu-check.sh --cli-only` with DEVICE=cuda: `long1k parity --device cuda` on
# every golden model (float32 mode within 1e-4 of transformers, bf16 mode within 2e-2) and a short
# `long1k train --device cuda` in fp32 and bf16 beside the same run on the cpu (losses compared),
# and both again with gradient_checkpointing: true (the same losses and grad norms, bit for bit);
# then LoRA / freeze training on cuda against the cpu, and a killed + resumed cuda LoRA run
# (tests/cuda/emu_train_adapters.sh); the memory plan and optim_offload (emu_train_plan.sh);
# data parallelism through the backend's NCCL code with a fake NCCL over MPI (emu_train_nccl.sh);
# then `long1k generate` and `eval --model` with --device cuda against --device cpu
# (tests/cuda/emu_generate.sh).
# What the GPU machine runs, through the same command lines, on every CI machine. Skips with one
# line without g++ or x86-64.
set -u
SRC=${LONG1K_SRC:-$PWD}
B=${LONG1K_BUILD:?LONG1K_BUILD (the CMake build folder) is required}
SHARED=${LONG1K_SHARED:-$SRC/../shared}
cd "$SRC"
command -v g++ >/dev/null || { echo "SKIP: no g++ to build the CUDA emulation"; exit 77; }
[ "$(uname -m)" = x86_64 ] || { echo "SKIP: the CUDA emulation's fibers are x86-64 only"; exit 77; }
[ -d "$SHARED/golden/models" ] || { echo "SKIP: no golden models under $SHARED"; exit 77; }
CLI=$B/CMakeFiles/long1k.dir
[ -f "$CLI/linkLibs.rsp" ] && [ -f "$CLI/src/cli/main.c.o" ] || { echo "SKIP: the long1k CLI is not built in $B"; exit 77; }
W=${LONG1K_EMU_WORK:-$(mktemp -d /tmp/l1k-cuda-emu-cli.XXXX)}
[ -n "${LONG1K_EMU_WORK:-}" ] || trap 'rm -rf "$W"' EXIT
. tests/cuda/emu/build.sh
# the CLI's libraries as CMake links them, less the real CUDA runtime and cuBLAS
CLILIBS=$(python3 - "$CLI/linkLibs.rsp" "$B" <<'PY'
import os, re, shlex, sys
out = []
for t in shlex.split(open(sys.argv[1]).read()):
    if re.search(r"cuda|cublas|culibos", t):
        continue
    if re.fullmatch(r"liblong1k_\w+\.a", t):
        t = os.path.join(sys.argv[2], t)
    out.append(shlex.quote(t))
print(" ".join(out))
PY
) || exit 1
eval "g++ -o \"$W/long1k\" $CLI/src/cli/*.o $COMMON $CLILIBS $LIBS"
set +e
OUT=$W/check DEVICE=cuda NO_BENCH=1 LONG1K_SHARED=$SHARED LONG1K_BIN=$W/long1k \
  LONG1K_CUDA_EMULATED=1 OMP_NUM_THREADS=2 bash scripts/gpu-check.sh --cli-only >"$W/stdout" 2>&1
rc=$?
fail=0
[ $rc -eq 0 ] || { echo "FAIL: gpu-check --cli-only on the emulated device: exit $rc"; fail=1; }
n_models=$(ls -d "$SHARED"/golden/models/*/ | wc -l)
n_ok=$(grep -cE '^step  parity-.*: ok$' "$W/check/summary.txt")
[ "$n_ok" -eq $((3 * n_models)) ] || { echo "FAIL: $n_ok parity steps ok, want $((3 * n_models))"; fail=1; }
for f in "$W"/check/parity_*.json; do
  grep -q '"ok":true' "$f" || { echo "FAIL: $(basename "$f"): not ok"; fail=1; }
done
grep -q '^step  train-compare: ok$' "$W/check/summary.txt" || { echo "FAIL: train cuda vs cpu"; fail=1; }
grep -qE '^step  train-device-cuda-bf16: ok$' "$W/check/summary.txt" || { echo "FAIL: train bf16"; fail=1; }
# gradient_checkpointing: true on cuda, fp32 and bf16: the same losses and grad norms as without
for pr in fp32 bf16; do
  grep -qE "^step  train-device-rc-cuda-$pr: ok$" "$W/check/summary.txt" &&
    grep -q "^train-recompute: cuda $pr, 8 steps with gradient_checkpointing: losses and grad norms identical" "$W/stdout" ||
    { echo "FAIL: train $pr with gradient_checkpointing"; fail=1; }
done
grep '^train-recompute:' "$W/stdout"
[ $fail -eq 0 ] || tail -40 "$W/stdout"
sed -n '/summary/,$p' "$W/stdout"
echo "--- long1k train, LoRA / freeze (emulated device)"
LONG1K_CUDA_EMULATED=1 bash tests/cuda/emu_train_adapters.sh "$W/long1k" "${LONG1K_BIN:-$B/long1k}" ||
  { echo "FAIL: LoRA / freeze training on the emulated device"; fail=1; }
echo "--- long1k train: memory plan, optim_offload (emulated device)"
LONG1K_CUDA_EMULATED=1 bash tests/cuda/emu_train_plan.sh "$W/long1k" "${LONG1K_BIN:-$B/long1k}" ||
  { echo "FAIL: memory plan / optim_offload on the emulated device"; fail=1; }
echo "--- long1k train over NCCL's code path (fake NCCL over MPI, emulated device)"
LONG1K_CUDA_EMULATED=1 bash tests/cuda/emu_train_nccl.sh "$W/long1k" "$W"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || { echo "FAIL: NCCL path on the emulated device"; fail=1; }
echo "--- long1k generate / eval --model with --device cuda (emulated device)"
LONG1K_CUDA_EMULATED=1 bash tests/cuda/emu_generate.sh "$W/long1k" "${LONG1K_BIN:-$B/long1k}" ||
  { echo "FAIL: generation on the emulated device"; fail=1; }
echo "--- long1k train --device cuda: MFU against the device's peak by its name (emulated device)"
M=$SHARED/golden/models/qwen2_tiny/f32
python3 tests/train/make_tokenized.py "$W/mfu.jsonl" 8 3 &&
  printf 'model_name_or_path: %s\ndataset: %s\nformatting: tokenized\ncutoff_len: 64\nmax_steps: 2\nlogging_steps: 1\nsave_steps: 0\nnum_threads: 1\ntokenized_cache_dir: %s\noutput_dir: %s\ndevice: cuda\nprecision: bf16\n' \
    "$M" "$W/mfu.jsonl" "$W/mfu-cache" "$W/mfu-out" >"$W/mfu.yaml" &&
  env -u LONG1K_PEAK_TFLOPS LONG1K_CUDA_EMULATED=1 LONG1K_EMU_DEVICE_NAME="NVIDIA H200" \
    "$W/long1k" train "$W/mfu.yaml" >/dev/null 2>"$W/mfu.err" &&
  grep -q "MFU against 989 TFLOP/s per device (H200 SXM: NVIDIA H200, bf16 dense)" "$W/mfu.err" &&
  grep -q '"mfu"' "$W/mfu-out/trainer_log.jsonl" && echo "ok   MFU line and log: $(grep -o 'MFU against.*' "$W/mfu.err")" ||
  { echo "FAIL: MFU by device name: $(tail -3 "$W/mfu.err")"; fail=1; }
exit $fail
