# scripts/gpu-check.d/zero.sh — data parallelism over NCCL, optim_offload and the memory plan
# of `long1k train --device cuda` (src/backend/cuda/nccl.c, offload.c; docs/gpu.md "Many GPUs"),
# sourced by scripts/gpu-check.sh. part_zero, ~40 s on an H200 (tiny golden llama, 4 steps
# each, deterministic float32 mode unless named):
#   zero-ref        the run without NCCL (the reference), whose log must hold the memory plan line
#   zero-nccl       the same run as ONE rank through NCCL (LONG1K_DP=nccl, zero_stage 2: the
#                   reduce-scatter, shard norm and all-gather code with the real libnccl.so.2,
#                   found through torch's nvidia-nccl package or ldconfig; mpirun -np 1 when
#                   this build has MPI): within 1e-6 of zero-ref (bitwise expected: with one
#                   rank every collective is a copy)
#   zero-offload    optim_offload: true (AdamW on the CPU): within 1e-6 of zero-ref (the GPU's
#                   AdamW kernel may fuse multiply-adds; the emulated test is bit for bit)
#   zero-offload-bf16  the same in bf16 mode, within 1e-5
#   zero-plan-small the memory plan refusing a too large run with the largest T (exit 2, one
#                   line): 64 x 16M tokens of the tiny model need ~17 TB
# Several GPUs: none lent yet; the several-rank logic runs on the CPU path and on the emulated
# device with a fake NCCL (tests/train/test_zero2.sh, tests/cuda/emu_train_nccl.sh).
PART_TARGETS="$PART_TARGETS"

part_zero() {
  if [ "$built" != 1 ]; then
    sum "step  zero: skipped (the build failed)"
    return
  fi
  local Z=$OUT/zero model=$SHARED/golden/models/llama_tiny/f32 lib=""
  rm -rf "$Z"
  mkdir -p "$Z"
  lib=$($PY -c 'import nvidia.nccl, os; d = os.path.dirname(nvidia.nccl.__file__ or list(nvidia.nccl.__path__)[0]); print(os.path.join(d, "lib", "libnccl.so.2"))' 2>/dev/null)
  [ -f "$lib" ] || lib=$(ldconfig -p 2>/dev/null | awk '/libnccl.so.2 / {print $NF; exit}')
  echo "zero: libnccl.so.2 = ${lib:-not found}"
  $PY tests/train/make_tokenized.py "$Z/data.jsonl" 24 7 || return
  cat >"$Z/cfg.yaml" <<EOC
model_name_or_path: $model
dataset: $Z/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 5.0e-3
max_steps: 4
per_device_train_batch_size: 2
gradient_accumulation_steps: 2
save_steps: 0
logging_steps: 1
tokenized_cache_dir: $Z/cache
bf16: false
precision: fp32
deterministic: true
device: cuda
finetuning_type: full
max_grad_norm: 0.5
EOC
  step zero-ref 120 "$BIN" train "$Z/cfg.yaml" --output_dir "$Z/ref" 2>&1 | tee "$Z/ref.log" | tail -5
  grep -m1 "memory plan:" "$Z/ref.log" || sum "step  zero-plan-line: FAILED (no memory plan line)"
  local launch=()
  command -v mpirun >/dev/null && ldd "$BIN" | grep -q libmpi && launch=(mpirun -np 1 --allow-run-as-root -x LONG1K_DP -x LONG1K_NCCL_LIB)
  if [ -n "$lib" ]; then
    LONG1K_DP=nccl LONG1K_NCCL_LIB=$lib step zero-nccl 120 "${launch[@]}" "$BIN" train "$Z/cfg.yaml" \
      --output_dir "$Z/nccl" --zero_stage 2 2>&1 | tee "$Z/nccl.log" | grep -E "NCCL|error" | head -5
    step zero-nccl-compare 30 $PY scripts/gpu_check_zero.py "$Z" ref nccl 1e-6 | tee -a "$Z/compare.jsonl"
  else
    sum "step  zero-nccl: skipped (no libnccl.so.2 found)"
  fi
  step zero-offload 120 "$BIN" train "$Z/cfg.yaml" --output_dir "$Z/offload" --optim_offload true 2>&1 | tail -3
  step zero-offload-compare 30 $PY scripts/gpu_check_zero.py "$Z" ref offload 1e-6 | tee -a "$Z/compare.jsonl"
  step zero-ref-bf16 120 "$BIN" train "$Z/cfg.yaml" --output_dir "$Z/ref16" --precision bf16 2>&1 | tail -2
  step zero-offload-bf16 120 "$BIN" train "$Z/cfg.yaml" --output_dir "$Z/off16" --precision bf16 --optim_offload true 2>&1 | tail -2
  step zero-offload-bf16-compare 30 $PY scripts/gpu_check_zero.py "$Z" ref16 off16 1e-5 | tee -a "$Z/compare.jsonl"
  # a run that cannot fit: one line naming the largest T, exit 2, before any CUDA allocation fails
  "$BIN" train "$Z/cfg.yaml" -q --output_dir "$Z/big" --cutoff_len 16777216 --per_device_train_batch_size 64 \
    >/dev/null 2>"$Z/big.err"
  local rc=$?
  cat "$Z/big.err"
  if [ $rc = 2 ] && grep -q "the largest T that fits is" "$Z/big.err"; then sum "step  zero-plan-small: ok"
  else sum "step  zero-plan-small: FAILED (exit $rc)"; fi
}
