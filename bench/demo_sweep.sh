#!/usr/bin/env bash
# Trains and evaluates tiny demo models for several settings at once (one thread each), to
# choose `long1k demo`'s defaults: what a 2-core laptop can teach a model from scratch in a
# few minutes. Results and the settings tried are in docs/demo.md.
#
#   bench/demo_sweep.sh CONFIGS OUTDIR
#
# CONFIGS: one run per line, "name set layers hidden inter heads kv_heads lr steps [init] [rope]"
# (set: a JSONL training set made by `long1k demo`/`long1k synth`; init: initializer_range,
# default 1/sqrt(hidden); rope: rope_theta, default 10000). Environment: LONG1K (command that
# runs long1k; default build/long1k), DATA (default data/), HELD (held-out JSONL, required),
# JOBS (runs at once; default: the number of CPUs), MNT (max new tokens, default 256),
# BATCH (rows of 2048 tokens per step, default 2).
set -u
CONFIGS=${1:?configs file} OUTDIR=${2:?output dir}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LONG1K=${LONG1K:-$ROOT/build/long1k}
DATA=${DATA:-$ROOT/data}
HELD=${HELD:?held-out JSONL}
JOBS=${JOBS:-$(nproc)}
MNT=${MNT:-256}
BATCH=${BATCH:-2}
TOK=$DATA/tokenizers/tiny
mkdir -p "$OUTDIR"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# vocabulary size and special ids of the tiny tokenizer
read -r V EOS BOS < <(python3 - "$TOK/tokenizer.json" <<'EOP'
import json, sys
t = json.load(open(sys.argv[1]))
ids = dict(t["model"]["vocab"]); ids.update({a["content"]: a["id"] for a in t["added_tokens"]})
print(max(ids.values()) + 1, ids["<|im_end|>"], ids["<|endoftext|>"])
EOP
)

one() {
  local name=$1 set=$2 L=$3 H=$4 I=$5 NH=$6 KV=$7 LR=$8 ST=$9 INIT=${10:-} ROPE=${11:-10000}
  [[ -n $INIT ]] || INIT=$(python3 -c "print(round(1/$H**0.5, 4))")
  local d=$OUTDIR/$name
  rm -rf "$d"; mkdir -p "$d"
  $LONG1K init --preset qwen2.5-0.5b-instruct --out "$d/base" --seed 1 --dtype f32 --tokenizer "$TOK" \
    --layers "$L" --hidden-size "$H" --intermediate-size "$I" --heads "$NH" --kv-heads "$KV" \
    --vocab-size "$V" --max-position-embeddings 4096 --eos-token-id "$EOS" --bos-token-id "$BOS" \
    --rope-theta "$ROPE" --initializer-range "$INIT" >"$d/init.log" 2>&1 || { echo "$name init failed"; return; }
  cat >"$d/train.yaml" <<Y
model_name_or_path: $d/base
finetuning_type: full
dataset: $set
template: qwen2.5
cutoff_len: 2048
overlength: truncate
learning_rate: $LR
max_steps: $ST
per_device_train_batch_size: $BATCH
gradient_accumulation_steps: 1
lr_scheduler_type: cosine
warmup_ratio: 0.05
weight_decay: 0.0001
adam_beta1: 0.9
adam_beta2: 0.95
max_grad_norm: 1.0
bf16: false
seed: 1
neat_packing: true
output_dir: $d/out
logging_steps: 10
save_steps: 0
save_total_limit: 1
tokenized_cache_dir: $d/cache
Y
  local t0=$SECONDS
  $LONG1K train "$d/train.yaml" >"$d/train.log" 2>&1 || { echo "$name train failed"; tail -3 "$d/train.log"; return; }
  local t1=$SECONDS
  printf '%s\n' '{"user": "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{}."}' >"$d/prompt.json"
  $LONG1K eval --data "$HELD" --model "$d/out/checkpoint-$ST" --out "$d/eval" --prompt-template "$d/prompt.json" \
    --temperature 0 --max-tokens "$MNT" --n 1 --quiet >"$d/eval.log" 2>&1 || { echo "$name eval failed"; tail -3 "$d/eval.log"; return; }
  python3 - "$d" "$name" "$((t1 - t0))" "$((SECONDS - t1))" "$*" <<'EOP' | tee "$d/result.txt"
import json, sys
d, name, ts, es, args = sys.argv[1:]
log = [json.loads(l) for l in open(d + "/out/trainer_log.jsonl")]
s = json.load(open(d + "/eval/summary.json"))
print("%-14s acc %5.1f%%  loss %.4f  train %4ss  eval %3ss  tok/s %6.0f  | %s" % (
    name, 100 * s["pass@1"], log[-1]["loss"], ts, es, log[-1]["tokens_per_s"], args))
EOP
}

while read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  # shellcheck disable=SC2086
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
  one $line &
done <"$CONFIGS"
wait
echo "--- all results ---"
cat "$OUTDIR"/*/result.txt 2>/dev/null | sort
