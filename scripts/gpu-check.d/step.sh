# scripts/gpu-check.d/step.sh — recomputation, cuBLASLt and the training-step benchmark (issue
# 13 (d)/(e); docs/gpu.md "Recomputation", "cuBLASLt"), sourced by scripts/gpu-check.sh.
# part_step, ~90 s on an H200 (QUICK=1: T = 4096 instead of 16384, ~45 s):
#   step-test-recompute  tests/cuda/test_cuda_recompute.c on the device: with recomputation the
#                        logits, loss and every gradient bit-identical to without (float32,
#                        bf16, bf16 + flash_bf16, LoRA with dropout; golden models and a random
#                        5-layer model, packed rows), the arena smaller by (layers - 1) layer
#                        sets; ~10 s
#   step-test-cublaslt   tests/cuda/test_cuda_cublaslt.c: the bf16 products through cuBLASLt
#                        against float64 (transposes, ragged sizes, BIAS / BGRADB epilogues; an
#                        epilogue this cuBLASLt refuses is printed, and the backend falls back),
#                        qwen2_tiny bf16 with and without cuBLASLt against transformers; ~5 s
#   step-bench           bench/gpu_step_bench.c: one training step of the Qwen2.5-1.5B shape at
#                        T = 16384, bf16, recomputation, flash_bf16 attention: forward+backward
#                        and AdamW ms, tokens/s, MFU over the 8192^3 bf16 rate measured in the
#                        same run, device memory; ~30 s
#   step-peer            bench/step_peer.py: hf_sft_reference.py's own step (transformers, bf16
#                        autocast, sdpa, gradient checkpointing, fused AdamW) at the same T and
#                        its MFU over torch's 8192^3 rate in the same run; ~30 s
PART_TARGETS="$PART_TARGETS cuda_test_cuda_recompute cuda_test_cuda_cublaslt gpu_step_bench"

part_step() {
  local T=16384 steps=2
  [ "$QUICK" = 1 ] && T=4096 steps=3
  if [ "$built" = 1 ] && [ -x "$BUILD/cuda_test_cuda_recompute" ]; then
    step step-test-recompute 120 "$BUILD/cuda_test_cuda_recompute" 2>&1 | tee "$OUT/test_recompute.txt"
    grep -E '^SKIP:|checks, [0-9]+ failed|CHECK failed|arena' "$OUT/test_recompute.txt" | head -12
    step step-test-cublaslt 120 "$BUILD/cuda_test_cuda_cublaslt" 2>&1 | tee "$OUT/test_cublaslt.txt"
    grep -E '^SKIP:|checks, [0-9]+ failed|CHECK failed|refused|cuBLASLt' "$OUT/test_cublaslt.txt" | head -20
  fi
  [ "$NO_BENCH" = 1 ] && return 0
  if [ "$built" = 1 ] && [ -x "$BUILD/gpu_step_bench" ]; then
    step step-bench 180 env GPU_STEP_STEPS=$steps "$BUILD/gpu_step_bench" 1.5b $T | tee -a "$BENCH"
  fi
  step step-peer 150 $PY bench/step_peer.py --steps 3 --warm 1 $T | tee -a "$BENCH"
}
