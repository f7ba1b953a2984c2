# scripts/gpu-check.d/cudnn.sh — cuDNN's fused attention for the bf16 mode (src/backend/cuda/
# attn_cudnn.c; docs/gpu.md "Attention: own kernels or cuDNN"), sourced by scripts/gpu-check.sh.
#
# Before the build: finds the nvidia-cudnn wheel torch uses (libcudnn.so.9 under python's
# nvidia/ packages), puts its lib/ on LD_LIBRARY_PATH (attn_cudnn.c dlopens libcudnn.so.9) and
# its include/ in CUDNN_INCLUDE_DIR (CMake's find_path for cudnn.h; the toolkit's is used when
# the wheel has none). part_cudnn, about 60 s on an H200 (QUICK=1: attention at T=4096 only):
#   cudnn-test        tests/cuda/test_cuda_cudnn.c: every graph descriptor finalized, then
#                     cuDNN vs the own float32 kernels (ragged documents, GQA, head_dim
#                     32/64/128) at 2e-2; a refused graph prints the failing descriptor step
#                     with cuDNN's own error string
#   cudnn-model-bf16  the golden models' bf16 parity (tests/cuda/test_cuda_model.c) with
#                     LONG1K_ATTN=cudnn; fails if the backend fell back to the own kernels
#   cudnn-parity-*    `long1k parity --device cuda --precision bf16` per golden model, the same
#   cudnn-bench       bench/gpu_attention_cudnn_bench.c at $ATT_T and 16384x4 (a 16k row of 4
#                     documents: the ragged path) (bf16, causal, 28/4 heads,
#                     head_dim 128) beside torch's sdpa through its cuDNN backend (cudnn-peer)
#                     and, when the core part is not run, torch's flash sdpa and the own
#                     float32 kernels at T=4096
PART_TARGETS="$PART_TARGETS cuda_test_cuda_cudnn gpu_attention_cudnn_bench"

CUDNN_WHEEL=$(${PY:-python3} - <<'PYEOF' 2>/dev/null
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
for r in roots:
    libs = sorted(glob.glob(os.path.join(r, "**", "libcudnn.so.9"), recursive=True))
    if libs:
        print(os.path.dirname(os.path.dirname(libs[0])))
        break
PYEOF
)
if [ -n "$CUDNN_WHEEL" ]; then
  export LD_LIBRARY_PATH="$CUDNN_WHEEL/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [ -f "$CUDNN_WHEEL/include/cudnn.h" ] && export CUDNN_INCLUDE_DIR="$CUDNN_WHEEL/include"
fi

# cudnn_strict CMD...: runs CMD; fails (rc 3) when the backend printed that it fell back to the
# own attention kernels, so a cuDNN problem cannot pass as a parity success
cudnn_strict() {
  timeout 150 bash -c 'out=$(LONG1K_ATTN=cudnn "$@" 2>&1); rc=$?; echo "$out"
    if grep -q "cuDNN attention unavailable" <<<"$out"; then
      echo "FAILED: cuDNN attention fell back to the own kernels (the line above says why)"; exit 3
    fi; exit $rc' _ "$@"
}

part_cudnn() {
  echo "cuDNN wheel: ${CUDNN_WHEEL:-none found under the nvidia packages of python}; cudnn.h from:" \
    "${CUDNN_INCLUDE_DIR:-the CUDA toolkit}"
  ls "${CUDNN_WHEEL:-/nonexistent}/lib" 2>&1 | head -12
  $PY -c 'import torch; print("torch cudnn", torch.backends.cudnn.version())' 2>&1 | tail -1
  grep -E '^LONG1K_CUDNN_INCLUDE' "$BUILD/CMakeCache.txt" 2>&1 | head -1
  if [ "$built" != 1 ]; then
    sum "step  cudnn: skipped (the build failed)"
    return
  fi
  # cuDNN logs its own reasons (warnings and errors) for anything it refuses
  CUDNN_LOGLEVEL_DBG=2 CUDNN_LOGDEST_DBG=stderr \
    step cudnn-test 120 "$BUILD/cuda_test_cuda_cudnn" 2>&1 | tee "$OUT/test_cudnn.txt"
  step cudnn-model-bf16 150 cudnn_strict "$BUILD/cuda_test_cuda_model" 2>&1 | tee "$OUT/test_model_cudnn.txt"
  local dir m
  for dir in "$SHARED"/golden/models/*/; do
    m=$(basename "$dir")
    STEP_OUT=$OUT/parity_${m}_f32_bf16_cudnn.json step "cudnn-parity-$m" 60 cudnn_strict \
      "$BIN" parity --model "${dir}f32" --reference "${dir}reference.safetensors" \
      --meta "${dir}reference.json" --device cuda --precision bf16
  done
  [ "$NO_BENCH" = 1 ] && return
  # the same shapes, then one 16k row packed with 4 documents of 4k (the ragged path)
  step cudnn-bench 120 "$BUILD/gpu_attention_cudnn_bench" $ATT_T 16384x4 | tee -a "$BENCH"
  step cudnn-peer 150 $PY bench/gpu_peers.py attention_cudnn $ATT_T | tee -a "$BENCH"
  if ! part_on core; then
    step cudnn-peer-flash 150 $PY bench/gpu_peers.py attention $ATT_T | tee -a "$BENCH"
    step cudnn-own-f32 60 "$BUILD/gpu_attention_bench" 4096 | tee -a "$BENCH"
  fi
}
