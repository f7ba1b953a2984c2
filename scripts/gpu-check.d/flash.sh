# scripts/gpu-check.d/flash.sh — the own tensor-core flash attention (src/backend/cuda/
# flash_bf16.cu; docs/gpu.md "Attention: flash_bf16"), sourced by scripts/gpu-check.sh.
# part_flash, well under 90 s on an H200 (QUICK=1: the benchmark at T=4096 only):
#   flash-ptxas       nvcc -Xptxas -v of flash_bf16.cu alone (sm_90): the registers, spills and
#                     shared memory of every kernel, into the log
#   flash-test        tests/cuda/test_cuda_flash.c on the GPU: flash_bf16 against the float32
#                     kernels (ragged documents, GQA 7:1 / 2:1 / 1:1, head_dim 16/32/64/128),
#                     the backward's bits twice
#   flash-check       bench/gpu_attention_bench.c --check 4096: the same comparison at the
#                     benchmark's shape (28 / 4 heads, head_dim 128, 5 documents in the row)
#   flash-model-bf16  the golden models' bf16 parity (tests/cuda/test_cuda_model.c) with
#                     LONG1K_ATTN=flash_bf16 (forced: the default stays the float32 kernels until this run decides)
#   flash-bench       flash_bf16 forward / backward TFLOP/s at T = 4k, 16k, 32k (28 / 4 heads,
#                     head_dim 128, causal) into $BENCH, beside the core part's long1k-f32 and
#                     torch sdpa rows; flash-bench-fw128: the forward's 128-row blocks
#                     (LONG1K_FLASH_FW_ROWS=128) at 4k and 16k; when the core part is not run,
#                     the float32 kernels at T=4096 and the peer (torch sdpa,
#                     bench/gpu_peers.py) run here too
# (cuda_test_cuda_model and gpu_attention_bench are core targets, built whatever PARTS says)
PART_TARGETS="$PART_TARGETS cuda_test_cuda_flash"

part_flash() {
  if [ "$built" != 1 ]; then
    sum "step  flash: skipped (the build failed)"
    return
  fi
  local T="4096 16384 32768"
  [ "$QUICK" = 1 ] && T=4096
  step flash-ptxas 90 bash -c 'nvcc -std=c++17 -arch=sm_90 -Isrc -Iinclude -Xptxas -v -c \
    src/backend/cuda/flash_bf16.cu -o /tmp/l1k-flash-ptxas.o 2>&1 |
    grep -E "Compiling entry|registers|spill|smem" | sed "s/^ptxas info *: //"; exit ${PIPESTATUS[0]}'
  step flash-test 60 "$BUILD/cuda_test_cuda_flash" 2>&1 | tee "$OUT/test_flash.txt"
  step flash-check 60 "$BUILD/gpu_attention_bench" --check 4096 | tee -a "$BENCH"
  LONG1K_ATTN=flash_bf16 step flash-model-bf16 150 "$BUILD/cuda_test_cuda_model" 2>&1 |
    tee "$OUT/test_model_flash.txt" | grep -E '^cuda-bf16|checks|CHECK failed|SKIP'
  [ "$NO_BENCH" = 1 ] && return
  step flash-bench 90 "$BUILD/gpu_attention_bench" --impl flash_bf16 $T | tee -a "$BENCH"
  # the forward's other block size at head_dim 128 (128 query rows, 32 per warp: half the
  # shared-memory reads per product, but ptxas spills 96 bytes), to choose by measurement
  LONG1K_FLASH_FW_ROWS=128 step flash-bench-fw128 60 "$BUILD/gpu_attention_bench" \
    --impl flash_bf16 ${T% *} | tee -a "$BENCH"
  if ! part_on core; then
    step flash-bench-f32 60 "$BUILD/gpu_attention_bench" --impl f32 4096 | tee -a "$BENCH"
    step flash-peer 120 $PY bench/gpu_peers.py attention $T | tee -a "$BENCH"
  fi
}
