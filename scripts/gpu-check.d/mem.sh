# scripts/gpu-check.d/mem.sh — device memory of the bf16 mode (issue 14, memory;
# src/backend/cuda/hostmaster.h; docs/gpu.md "Memory layout"), sourced by scripts/gpu-check.sh.
# part_mem, ~70 s on an H200 (QUICK=1: ~40 s):
#   test-mem      tests/cuda/test_cuda_hostmaster.c on the device: bf16 + optim_offload without
#                 float32 device parameters (one piece and the pipeline) the same bits as the
#                 offload that keeps them, the device AdamW run printed beside (the GPU's AdamW
#                 kernel may fuse multiply-adds); the inference_only attach's logits the same bits
#                 as the training attach's; float32 parameters absent; the byte counts and the
#                 memory plan's model states printed (checked exactly on the emulation only);
#                 ~10 s
#   bench-mem     bench/gpu_step_bench.c, Qwen2.5-1.5B shape at T = 4096 with recomputation, once
#                 with AdamW on the device and once with GPU_STEP_OFFLOAD=1: device_gib of both
#                 (cudaMemGetInfo after the steps; the plan says 27.8 GB of model states on the
#                 device, 10.2 GB with offload, + activations) and the step time; ~60 s
#                 (QUICK=1: the offload run only). The peer's memory is in
#                 ../shared/bench/hf_sft_reference.h200.json (67 GiB for 1.5B at 32k); 7B is left
#                 out: its host side (16 B/param of master, moments and gradients + the model's
#                 own float32 copy, ~150 GB) exceeds the lent machine's 128 GiB.
PART_TARGETS="$PART_TARGETS cuda_test_cuda_hostmaster gpu_step_bench"

part_mem() {
  if [ "$built" = 1 ] && [ -x "$BUILD/cuda_test_cuda_hostmaster" ]; then
    step test-mem 120 "$BUILD/cuda_test_cuda_hostmaster" 2>&1 | tee "$OUT/test_mem.txt" |
      grep -E '^SKIP:|checks, [0-9]+ failed|CHECK failed|device bytes|inference_only' | head -20
  fi
  [ "$NO_BENCH" = 1 ] && return 0
  if [ "$built" = 1 ] && [ -x "$BUILD/gpu_step_bench" ]; then
    if [ "$QUICK" != 1 ]; then
      GPU_STEP_STEPS=1 step bench-mem-device 150 "$BUILD/gpu_step_bench" 1.5b 4096 | tee -a "$BENCH"
    fi
    GPU_STEP_OFFLOAD=1 GPU_STEP_STEPS=1 step bench-mem-offload 150 "$BUILD/gpu_step_bench" 1.5b 4096 |
      tee -a "$BENCH"
  fi
}
