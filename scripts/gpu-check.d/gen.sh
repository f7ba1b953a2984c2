# scripts/gpu-check.d/gen.sh — generation on the CUDA backend (issue 15; src/backend/cuda/
# gen_decode.c, gen_kernels.cu; docs/gpu.md "Generation"), sourced by scripts/gpu-check.sh.
# part_gen, about 95 s on an H200 with QUICK=1 (the default of a first try):
#   gen-ptxas   nvcc -Xptxas -v of gen_kernels.cu alone (sm_90): registers, spills, shared memory
#   test-gen    tests/cuda/test_cuda_gen.c on the GPU: the paged decode attention against the CPU
#               engine (ragged lengths, block / split boundaries, GQA, f32 and bf16 caches), then
#               the golden models: float32 greedy tokens identical to the CPU engine and to
#               transformers, bf16 mode's 16 golden tokens, sampling batch 1 == batch 3 (cuBLAS
#               may pick another kernel per batch size on a GPU: this run tells), a small pool
#               that makes prompts wait; ~20 s
#   test-graph  tests/cuda/test_cuda_graph.c on the GPU: stream capture records and replays as the
#               emulation says (copies read memory at launch, kernels and cuBLAS keep capture-time
#               arguments) and CUDA refuses what the emulation refuses (legacy stream, syncs,
#               pageable copies, cudaMalloc in global mode): a difference fails here; ~2 s
#   (test-gen also checks graph decode == eager decode bit for bit, logits and tokens, and the
#               device argmax == the host's, on the golden models: what cuBLAS does inside a
#               capture on a real GPU)
#   gen-cli     `long1k generate --device cuda --precision fp32` on qwen2_tiny against --device cpu
#               (JSONL byte-identical; the emulated CI runs the same on every golden model), with
#               decode graphs (the default) and with LONG1K_GEN_GRAPH=0; ~8 s
#   bench-gen   bench/gpu_decode_bench.c, bf16, Qwen2.5-1.5B shape: the copy rate, decode at batch
#               1 (1k prompt; QUICK=1: 256 new tokens, else 1k) with its fraction of the bandwidth
#               limit, eager steps and CUDA-graph steps side by side (launches per token of each:
#               host-issued and device kernels), one layer's decode attention with the live /
#               bucket / 32k-capacity grid (the cost of idle blocks), throughput at batch 128 (512-token prompts; QUICK=1: 128 new tokens, else
#               4k; then the 0.5B shape when not QUICK), each batch run followed by its last
#               prompt alone at batch 1 (batch invariance: tokens in common); ~25 s QUICK
#   bench-gen-fixed64  the batch run with LONG1K_GEN_FIXED_ROWS=64 (products in fixed blocks of
#               64 rows: one cuBLAS shape whatever the batch); ~15 s
#   peer-gen    bench/gpu_decode_peer.py, transformers' generate, the same shapes; ~35 s QUICK
PART_TARGETS="$PART_TARGETS cuda_test_cuda_gen cuda_test_cuda_graph gpu_decode_bench"

part_gen() {
  if [ "$built" != 1 ]; then
    sum "step  gen: skipped (the build failed)"
    return
  fi
  step gen-ptxas 90 bash -c 'nvcc -std=c++17 -arch=sm_90 -Isrc -Iinclude -Xptxas -v -c \
    src/backend/cuda/gen_kernels.cu -o /tmp/l1k-gen-ptxas.o 2>&1 | grep -E "Function properties|registers|spill" | head -20'
  if [ -x "$BUILD/cuda_test_cuda_gen" ]; then
    step test-gen 120 "$BUILD/cuda_test_cuda_gen" 2>&1 | tee "$OUT/test_gen.txt"
    grep -E '^SKIP:|checks, [0-9]+ failed|CHECK failed|identical|agree|pool|sampling' "$OUT/test_gen.txt" | head -40
  fi
  if [ -x "$BUILD/cuda_test_cuda_graph" ]; then
    step test-graph 60 "$BUILD/cuda_test_cuda_graph" 2>&1 | tee "$OUT/test_graph.txt"
  fi
  local bin=$BIN M=$SHARED/golden/models/qwen2_tiny/f32
  if [ -x "$bin" ] && [ -d "$M" ]; then
    printf '{"prompt":"abc"}\n{"prompt":"1 2 3 4"}\n{"prompt":"q: 7*8?"}\n{"prompt":"1 2 3 4"}\n' >"$OUT/gen_in.jsonl"
    step gen-cli 60 bash -c "'$bin' generate --model '$M' --tokenizer data/tokenizers/tiny --input '$OUT/gen_in.jsonl' \
      --max-new-tokens 32 --ignore-eos -q --batch 3 --device cpu -o '$OUT/gen_cpu.jsonl' &&
      '$bin' generate --model '$M' --tokenizer data/tokenizers/tiny --input '$OUT/gen_in.jsonl' \
      --max-new-tokens 32 --ignore-eos -q --batch 3 --device cuda --precision fp32 -o '$OUT/gen_cuda.jsonl' &&
      cmp '$OUT/gen_cpu.jsonl' '$OUT/gen_cuda.jsonl' && echo 'generate --device cuda: JSONL identical to cpu' &&
      LONG1K_GEN_GRAPH=0 '$bin' generate --model '$M' --tokenizer data/tokenizers/tiny --input '$OUT/gen_in.jsonl' \
      --max-new-tokens 32 --ignore-eos -q --batch 3 --device cuda --precision fp32 -o '$OUT/gen_cuda_eager.jsonl' &&
      cmp '$OUT/gen_cpu.jsonl' '$OUT/gen_cuda_eager.jsonl' && echo 'generate --device cuda, LONG1K_GEN_GRAPH=0: JSONL identical to cpu'"
  fi
  [ "$NO_BENCH" = 1 ] && return 0
  local args="1.5b 1024 1024 128 512 4096"
  [ "$QUICK" = 1 ] && args="1.5b 1024 256 128 512 128"
  if [ -x "$BUILD/gpu_decode_bench" ]; then
    # shellcheck disable=SC2086
    step bench-gen 240 "$BUILD/gpu_decode_bench" $args | tee -a "$BENCH"
    # the same batch run with the products in fixed blocks of 64 rows (one cuBLAS shape): its
    # speed and whether it makes batch 1 and batch 128 agree where the default does not
    step bench-gen-fixed64 120 env LONG1K_GEN_FIXED_ROWS=64 "$BUILD/gpu_decode_bench" 1.5b 1024 16 128 512 128 |
      sed 's/"impl":"long1k-bf16"/"impl":"long1k-bf16-fixed64"/' | tee -a "$BENCH"
    [ "$QUICK" = 1 ] || step bench-gen-0.5b 200 "$BUILD/gpu_decode_bench" 0.5b 1024 1024 128 512 4096 | tee -a "$BENCH"
  fi
  # shellcheck disable=SC2086
  step peer-gen 300 $PY bench/gpu_decode_peer.py $args | tee -a "$BENCH"
  [ "$QUICK" = 1 ] || step peer-gen-0.5b 300 $PY bench/gpu_decode_peer.py 0.5b 1024 1024 128 512 4096 | tee -a "$BENCH"
}
