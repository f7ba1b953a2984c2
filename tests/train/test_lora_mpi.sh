#!/usr/bin/env bash
# LoRA (with lora_dropout 0.1: the masks follow the rows, not the ranks) under data
# parallelism: `mpirun -np 2` (ZeRO-1: the adapter's moments sharded) with
# accumulation 2 gives the losses and grad norms of one process with accumulation 4 (relative
# error <= 1e-5), both ranks hold the same adapter, and rank 0 saves a PEFT adapter. Skips (77)
# only when mpirun or the golden model is missing.
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
MODEL=$SHARED/golden/models/qwen2_tiny/f32
command -v mpirun >/dev/null || { echo "SKIP: mpirun not installed"; exit 77; }
[[ -d $MODEL ]] || { echo "SKIP: no golden model at $MODEL"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 24 5 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 5.0e-3
num_train_epochs: 1
per_device_train_batch_size: 1
logging_steps: 1
save_steps: 0
num_threads: 1
bf16: false
tokenized_cache_dir: $T/cache
finetuning_type: lora
lora_rank: 4
lora_target: q_proj,v_proj,up_proj
lora_dropout: 0.1
EOC
LONG1K_TRAIN_DUMP_PARAMS=$T/p1 "$BIN" train "$T/cfg.yaml" -q --output_dir "$T/one" --gradient_accumulation_steps 4 ||
  { echo "FAIL: single process run"; exit 1; }
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" # OpenMPI's own allocations
mpirun -np 2 --oversubscribe --allow-run-as-root --mca btl self,vader -x OMP_NUM_THREADS -x ASAN_OPTIONS \
  -x LONG1K_TRAIN_DUMP_PARAMS="$T/p2" \
  "$BIN" train "$T/cfg.yaml" -q --output_dir "$T/two" --gradient_accumulation_steps 2 --zero_stage 1 \
  >"$T/mpi.log" 2>&1 || { echo "FAIL: mpirun -np 2"; cat "$T/mpi.log"; exit 1; }
python3 - "$T" <<'EOP'
import json, math, os, struct, sys
T = sys.argv[1]
a = [json.loads(l) for l in open(os.path.join(T, "one", "trainer_log.jsonl"))]
b = [json.loads(l) for l in open(os.path.join(T, "two", "trainer_log.jsonl"))]
assert len(a) == len(b) == 6, (len(a), len(b))
for x, y in zip(a, b):
    for k in ("loss", "grad_norm"):
        assert abs(x[k] - y[k]) <= 1e-5 * abs(x[k]), (x["step"], k, x[k], y[k])
r0 = open(os.path.join(T, "p2.rank0"), "rb").read()
assert r0 == open(os.path.join(T, "p2.rank1"), "rb").read(), "ranks hold different adapters"
one = open(os.path.join(T, "p1.rank0"), "rb").read()
# the dump is the trainable space: 2 layers x 3 modules x (A [4, 64] + B [out, 4]), 16-aligned
assert len(one) == len(r0) < 200000, len(one)
n = len(one) // 4
pa, pb = struct.unpack(f"{n}f", one), struct.unpack(f"{n}f", r0)
d = math.sqrt(sum((u - v) ** 2 for u, v in zip(pa, pb)))
assert d <= 1e-5 * math.sqrt(sum(u * u for u in pa)), d
ck = os.path.join(T, "two", "checkpoint-6")
assert os.path.exists(os.path.join(ck, "adapter_model.safetensors")), os.listdir(ck)
assert not os.path.exists(os.path.join(ck, "model.safetensors"))
print("lora mpi: all checks passed")
EOP
