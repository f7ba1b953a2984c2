#!/usr/bin/env bash
# Checkpoints resume on a different number of ranks, for ZeRO-1 and ZeRO-2: a run on N
# processes is killed (SIGKILL) after step 6 with checkpoint-4 on disk and resumed on M
# processes (2->1, 1->3, 3->2), keeping 6 rows per optimizer step (accumulation 6 / 3 / 2), so
# the data order is the same. Checkpoints always hold every moment (gathered from the shards);
# the resuming ranks cut out their own shard. Bar: the continued run's losses, grad norms and
# final parameters within 1e-5 relative of the uninterrupted N-process run (sums over another
# number of ranks associate differently, as test_mpi.sh's 2-rank vs 1-process bar); steps 1-4
# come from the checkpoint's log and must be equal bit for bit. A resume that changes the
# rows per step is refused with one line (exit 2). Skips (77) only when mpirun is missing.
source "$(dirname "$0")/../lib.sh"
MODEL=$SHARED/golden/models/qwen3_tiny/f32
command -v mpirun >/dev/null || { echo "SKIP: mpirun not installed"; exit 77; }
need_model "$MODEL"
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 30 11 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
finetuning_type: full
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
recipe: long1k
learning_rate: 1.0e-3
num_train_epochs: 2
per_device_train_batch_size: 1
logging_steps: 1
save_steps: 4
num_threads: 1
bf16: false
max_grad_norm: 0.5
tokenized_cache_dir: $T/cache
EOC
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
export LONG1K_ZERO2_BUCKET=1000
run() { # run NP DIR ZERO [extra args]: NP processes, 6 rows per step
  local np=$1 dir=$2 z=$3
  shift 3
  local acc=$((6 / np))
  local cmd=("$BIN" train "$T/cfg.yaml" -q --output_dir "$T/$dir" --gradient_accumulation_steps $acc --zero_stage "$z" "$@")
  if [[ $np == 1 ]]; then
    LONG1K_TRAIN_DUMP_PARAMS=$T/p.$dir "${cmd[@]}"
  else
    mpirun -np "$np" --oversubscribe --allow-run-as-root --mca btl self,vader -x OMP_NUM_THREADS \
      -x ASAN_OPTIONS -x LONG1K_ZERO2_BUCKET -x LONG1K_TRAIN_FAULT -x LONG1K_TRAIN_DUMP_PARAMS="$T/p.$dir" \
      "${cmd[@]}"
  fi
}
for z in 1 2; do
  for nm in "2 1" "1 3" "3 2"; do
    read -r N M <<<"$nm"
    ref=ref.$z.$N res=res.$z.$N.$M
    [[ -d $T/$ref ]] || run "$N" "$ref" $z >"$T/$ref.log" 2>&1 || { bad "uninterrupted np $N zero $z"; cat "$T/$ref.log"; continue; }
    LONG1K_TRAIN_FAULT=kill-after-step:6 run "$N" "$res" $z >/dev/null 2>&1
    [[ -d $T/$res/checkpoint-4 && ! -d $T/$res/checkpoint-8 ]] || { bad "kill np $N zero $z: $(ls "$T/$res")"; continue; }
    run "$M" "$res" $z --resume_from_checkpoint true >"$T/$res.log" 2>&1 || { bad "resume $N->$M zero $z"; cat "$T/$res.log"; continue; }
    python3 - "$T" "$ref" "$res" "$N" "$M" <<'EOP' && ok || bad "resume $N->$M zero $z"
import json, os, struct, sys, math
T, ref, res, N, M = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def log(d): return [json.loads(l) for l in open(os.path.join(T, d, "trainer_log.jsonl"))]
def params(name, np):
    b = [open(os.path.join(T, f"p.{name}.rank{r}"), "rb").read() for r in range(np)]
    assert all(x == b[0] for x in b), f"{name}: ranks hold different parameters"
    return struct.unpack(f"{len(b[0]) // 4}f", b[0])
a, b = log(ref), log(res)
assert len(a) == len(b) == 10, (len(a), len(b))
w = 0.0
for x, y in zip(a, b):
    assert x["step"] == y["step"] and x["tokens"] == y["tokens"] and x["lr"] == y["lr"], (x, y)
    for k in ("loss", "grad_norm"):
        if x["step"] <= 4: assert x[k] == y[k], ("checkpointed history changed", x, y)
        w = max(w, abs(x[k] - y[k]) / abs(x[k]))
pa, pb = params(ref, N), params(res, M)
p = math.sqrt(sum((u - v) ** 2 for u, v in zip(pa, pb))) / math.sqrt(sum(u * u for u in pa))
print(f"resume {N}->{M} ({ref[4]}): worst loss/grad-norm rel err {w:.2e}, params rel err {p:.2e}")
assert w <= 1e-5 and p <= 1e-5
EOP
  done
done
# another number of rows per step: refused with one line, exit 2
cp -r "$T/res.1.2.1" "$T/bad"
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/bad" --gradient_accumulation_steps 4 --zero_stage 1 \
  --resume_from_checkpoint "$T/bad/checkpoint-4" >/dev/null 2>"$T/bad.err"
rc=$?
check '[[ $rc == 2 ]] && one_line "$T/bad.err" && grep -q "product stays 6" "$T/bad.err"' "rows per step change: rc $rc: $(cat "$T/bad.err")"
finish
