# scripts/gpu-check.d/lora.sh — LoRA and freeze tuning on the CUDA backend (src/backend/cuda/
# lora.c; docs/gpu.md "LoRA and freeze"), sourced by scripts/gpu-check.sh:
#   test-lora   tests/cuda/test_cuda_lora.c on the device: LoRA / freeze logits, every adapter
#               gradient and a 5-step AdamW trajectory against the CPU backend and the PEFT
#               goldens (float32 mode 1e-4, bf16 mode 2e-2), LoRA dropout masks, and the device
#               memory of LoRA against full fine-tuning (cudaMemGetInfo); ~15 s
#   bench-lora  bench/gpu_lora_bench.c: LoRA rank 16 on every linear module, the Qwen2.5-1.5B
#               shape at T = 4096 and 16384 (QUICK=1: 4096 only), tokens/s and device memory;
#               ~50 s (the float32 attention kernels dominate at 16k)
#   peer-lora   bench/gpu_lora_peer.py: PEFT + transformers, the same shape and settings; ~30 s
# 7B at 16k is left out: the backend keeps float32 activations, and without recomputation (which
# this benchmark does not turn on) its 28 layers at 16k tokens (~150 GB) do not fit an H200.
PART_TARGETS="$PART_TARGETS cuda_test_cuda_lora gpu_lora_bench"

part_lora() {
  local Ts="4096 16384"
  [ "$QUICK" = 1 ] && Ts=4096
  if [ "$built" = 1 ] && [ -x "$BUILD/cuda_test_cuda_lora" ]; then
    step test-lora 120 "$BUILD/cuda_test_cuda_lora" 2>&1 | tee "$OUT/test_lora.txt"
    grep -E '^SKIP:|checks, [0-9]+ failed|CHECK failed|^memory' "$OUT/test_lora.txt" | head -20
  fi
  [ "$NO_BENCH" = 1 ] && return 0
  if [ "$built" = 1 ] && [ -x "$BUILD/gpu_lora_bench" ]; then
    # shellcheck disable=SC2086
    step bench-lora 150 "$BUILD/gpu_lora_bench" 1.5b 16 $Ts | tee -a "$BENCH"
  fi
  # shellcheck disable=SC2086
  step peer-lora 120 $PY bench/gpu_lora_peer.py 1.5b 16 $Ts | tee -a "$BENCH"
}
