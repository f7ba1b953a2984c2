#!/usr/bin/env bash
# The CUDA backend's real sources on the CPU: src/backend/cuda/{kernels.cu, backend_cuda.c,
# cuda_model.c} compiled against the emulated CUDA runtime / cuBLAS / device language of
# tests/cuda/emu (kernels.cu as C++, its <<<grid, block>>> launches rewritten into emu_launch),
# linked with tests/cuda/test_cuda_kernels.c and test_cuda_model.c, and run: every kernel
# against its CPU reference, the golden models' parity, the AdamW trajectory and the bf16 mode
# go through the backend's own code paths. This checks indexing, tiling, barriers and the
# backend's host logic on every machine; it says nothing about GPU speed or nvcc's code.
# Needs g++ (x86-64); skips with one line without it. LONG1K_EMU_FULL=1 also runs the model
# test's 300-token sequence and greedy decoding (slow under emulation: ~1 min).
set -u
SRC=${LONG1K_SRC:-$PWD}
B=${LONG1K_BUILD:?LONG1K_BUILD (the CMake build folder) is required}
cd "$SRC"
command -v g++ >/dev/null || { echo "SKIP: no g++ to build the CUDA emulation"; exit 77; }
[ "$(uname -m)" = x86_64 ] || { echo "SKIP: the CUDA emulation's fibers are x86-64 only"; exit 77; }
for lib in liblong1k_model.a liblong1k_core.a; do
  [ -f "$B/$lib" ] || { echo "SKIP: $B/$lib not built"; exit 77; }
done
W=${LONG1K_EMU_WORK:-$(mktemp -d /tmp/l1k-cuda-emu.XXXX)}
[ -n "${LONG1K_EMU_WORK:-}" ] || trap 'rm -rf "$W"' EXIT
. tests/cuda/emu/build.sh
# every tests/cuda/test_cuda_*.c is its own program, linked with the emulated backend
TESTS=
for f in tests/cuda/test_cuda_*.c; do
  t=$(basename "$f" .c)
  # LONG1K_EMU_ONLY=test_cuda_lora: build and run that program alone (while working on it)
  [ -z "${LONG1K_EMU_ONLY:-}" ] || [ "$t" = "$LONG1K_EMU_ONLY" ] || continue
  cc $CF -c "$f" -o "$W/$t.o"
  # (the training library first: test_cuda_hostmaster compares the memory plan's bytes)
  g++ -o "$W/$t" "$W/$t.o" $COMMON "$B/liblong1k_train.a" $LIBS
  TESTS="$TESTS $t"
done
set +e
export LONG1K_CUDA_EMULATED=1
fails=0
for t in $TESTS; do
  echo "--- $t (emulated device)"
  "$W/$t"
  rc=$?
  echo "$t rc=$rc"
  [ $rc -eq 0 ] || fails=$((fails + 1))
done
# the golden models' bf16 parity again with the tensor-core flash attention (not the default yet)
if [ -z "${LONG1K_EMU_ONLY:-}" ] && [ -x "$W/test_cuda_model" ]; then
  echo "--- test_cuda_model with LONG1K_ATTN=flash_bf16 (emulated device)"
  LONG1K_ATTN=flash_bf16 "$W/test_cuda_model"
  rc=$?
  echo "test_cuda_model (flash_bf16) rc=$rc"
  [ $rc -eq 0 ] || fails=$((fails + 1))
fi
# the LoRA benchmark's own code (bench/gpu_lora_bench.c) at a tiny shape: one JSON line
if [ -z "${LONG1K_EMU_ONLY:-}" ]; then
  echo "--- gpu_lora_bench tiny (emulated device)"
  cc $CF -c bench/gpu_lora_bench.c -o "$W/gpu_lora_bench.o" &&
    g++ -o "$W/gpu_lora_bench" "$W/gpu_lora_bench.o" $COMMON $LIBS &&
    "$W/gpu_lora_bench" tiny 4 16 | tee "$W/lora_bench.jsonl" &&
    python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); assert r["tokens_per_s"] > 0 and r["trainable"] > 0, r' "$W/lora_bench.jsonl"
  rc=$?
  echo "gpu_lora_bench rc=$rc"
  [ $rc -eq 0 ] || fails=$((fails + 1))
fi
# the decode benchmark's own code (bench/gpu_decode_bench.c) at a tiny shape: its JSON lines
if [ -z "${LONG1K_EMU_ONLY:-}" ] || [ "$LONG1K_EMU_ONLY" = test_cuda_gen ]; then
  echo "--- gpu_decode_bench tiny (emulated device)"
  cc $CF -c bench/gpu_decode_bench.c -o "$W/gpu_decode_bench.o" &&
    g++ -o "$W/gpu_decode_bench" "$W/gpu_decode_bench.o" $COMMON $LIBS &&
    "$W/gpu_decode_bench" tiny 24 8 3 10 6 | tee "$W/decode_bench.jsonl" &&
    python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert len(r) == 5 and all(x.get("tokens_per_s", x.get("tb_per_s", x.get("us_live", 0))) > 0 for x in r), r; e, g = r[1], r[2]; assert e["graph"] == 0 and g["graph"] == 1 and g["launches_per_token"] == 3 and g["kernels_per_token"] == e["kernels_per_token"] and r[3]["us_capacity"] > 0 and r[4]["graph_steps"] > 0, r' "$W/decode_bench.jsonl"
  rc=$?
  echo "gpu_decode_bench rc=$rc"
  [ $rc -eq 0 ] || fails=$((fails + 1))
fi
# the step benchmark's own code (bench/gpu_step_bench.c: bf16, recomputation, flash_bf16) at a
# tiny shape: its JSON lines
if [ -z "${LONG1K_EMU_ONLY:-}" ] || [ "$LONG1K_EMU_ONLY" = gpu_step_bench ]; then
  echo "--- gpu_step_bench tiny (emulated device)"
  cc $CF -c bench/gpu_step_bench.c -o "$W/gpu_step_bench.o" &&
    g++ -o "$W/gpu_step_bench" "$W/gpu_step_bench.o" $COMMON $LIBS &&
    GPU_STEP_MATMUL_N=64 GPU_STEP_STEPS=1 "$W/gpu_step_bench" tiny 24 | tee "$W/step_bench.jsonl" &&
    python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert r[0]["bench"] == "step-matmul" and r[0]["tflops"] > 0, r[0]
s = r[1]
assert s["bench"] == "step-tiny-T24" and s["tokens_per_s"] > 0 and 0 < s["mfu_fwd_bwd"] and s["attn"] == "flash_bf16", s
assert s["arena_gib"] > 0 and s["device_gib"] >= s["arena_gib"] and s["loss"] > 0, s' "$W/step_bench.jsonl"
  rc=$?
  echo "gpu_step_bench rc=$rc"
  [ $rc -eq 0 ] || fails=$((fails + 1))
fi
[ $fails -eq 0 ]
