#!/usr/bin/env bash
# long1k train: config and data errors name the file, line and key (exit 2); skipped and
# dropped samples are counted; the tokenized cache is reused and invalidated; eval loss, the
# log and the loss plot are written; a non-finite loss stops the run and keeps the last good
# checkpoint.
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
MODEL=$SHARED/golden/models/qwen2_tiny/f32
[[ -d $MODEL ]] || { echo "SKIP: no golden model at $MODEL"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
fail=0
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 24 3 || exit 1
base() {
  cat <<EOC
model_name_or_path: $MODEL
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
recipe: long1k
learning_rate: 1.0e-3
max_steps: 4
per_device_train_batch_size: 2
gradient_accumulation_steps: 2
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
output_dir: $T/out
EOC
}
# expect CODE PATTERN -- args...: runs long1k train, checks exit code and stderr
expect() {
  local code=$1 pat=$2
  shift 3
  "$BIN" train "$@" >"$T/stdout" 2>"$T/err"
  local rc=$?
  if [[ $rc != "$code" ]] || ! grep -qE -- "$pat" "$T/err"; then
    echo "FAIL: train $* -> exit $rc (want $code), stderr:"; sed 's/^/    /' "$T/err"
    echo "    (wanted /$pat/)"; fail=1
  fi
}

base >"$T/c.yaml"; echo "learning_rat: 1e-5" >>"$T/c.yaml"
expect 2 "c.yaml:14: unknown key 'learning_rat'" -- "$T/c.yaml"
base >"$T/c.yaml"; echo "learning_rate: fast" >>"$T/c.yaml"
expect 2 "c.yaml:14: learning_rate: expected a number, got 'fast'" -- "$T/c.yaml"
base >"$T/c.yaml"; echo "lr_scheduler_type: cosine_with_restarts" >>"$T/c.yaml"
expect 2 "lr_scheduler_type: 'cosine_with_restarts' is not one of" -- "$T/c.yaml"
base >"$T/c.yaml"; echo "finetuning_type: oft" >>"$T/c.yaml"
expect 2 "finetuning_type: 'oft' is not one of full.lora.freeze" -- "$T/c.yaml"
base >"$T/c.yaml"; printf 'finetuning_type: lora\nlora_dropout: 1\n' >>"$T/c.yaml"
expect 2 "lora_dropout: 1 .expected 0 <= p < 1." -- "$T/c.yaml"
base >"$T/c.yaml"; printf 'finetuning_type: lora\nlora_target: q_proj,qkv\n' >>"$T/c.yaml"
expect 2 "lora_target: unknown module 'qkv'" -- "$T/c.yaml"
base >"$T/c.yaml"; printf 'neat_packing: [1, 2]\n' >>"$T/c.yaml"
expect 2 "c.yaml:14: neat_packing: expected a scalar" -- "$T/c.yaml"
printf 'a: "open\n' >"$T/bad.yaml"
expect 2 "bad.yaml:[0-9]+: invalid YAML" -- "$T/bad.yaml"
base >"$T/c.yaml"
expect 2 "per_device_train_batch_size: 0 is out of range" -- "$T/c.yaml" --per_device_train_batch_size 0
expect 2 "unknown key 'no_such_key'" -- "$T/c.yaml" --no-such-key 1
expect 2 "model_name_or_path: '$T/nope' is not a directory" -- "$T/c.yaml" --model_name_or_path "$T/nope"
expect 2 "cannot open" -- "$T/c.yaml" --dataset "$T/missing.jsonl"
# LLaMA-Factory dataset names need dataset_dir/dataset_info.json; interleaved mixing is refused
expect 2 "dataset: 'identity' is not a file, and there is no $T/nodir/dataset_info.json" -- "$T/c.yaml" \
  --dataset identity --dataset_dir "$T/nodir"
expect 2 "mix_strategy: 'interleave_under' is not supported" -- "$T/c.yaml" --mix_strategy interleave_under
expect 2 "recipe: 'paper' is not a recipe \(known: long1k\)" -- "$T/c.yaml" --recipe paper
"$BIN" train --help | grep -q "gradient_accumulation_steps" || { echo "FAIL: --help"; fail=1; }
"$BIN" train "$T/c.yaml" --print-config --warmup_steps 3 | grep -q "^warmup_steps: 3$" || { echo "FAIL: --print-config"; fail=1; }

# malformed records: file:line, or skipped and counted
cp "$T/data.jsonl" "$T/bad.jsonl"
sed -i '3s/.*/{"input_ids": [1, 2, 3/' "$T/bad.jsonl"
sed -i '5s/.*/{"input_ids": [1, 2, 3], "labels": [1, 7, 3]}/' "$T/bad.jsonl"
expect 2 "bad.jsonl:3: invalid JSON" -- "$T/c.yaml" --dataset "$T/bad.jsonl"
sed -i '3d' "$T/bad.jsonl"
expect 2 "bad.jsonl:4: labels\[1\]: expected -100 or input_ids\[1\]" -- "$T/c.yaml" --dataset "$T/bad.jsonl"
echo '{"text": "no known fields"}' >>"$T/bad.jsonl"
expect 0 "malformed skipped 2" -- "$T/c.yaml" --dataset "$T/bad.jsonl" --skip-bad-records --output_dir "$T/o1"
# empty dataset, a cutoff that drops everything, truncation
: >"$T/empty.jsonl"
expect 2 "empty.jsonl: no records" -- "$T/c.yaml" --dataset "$T/empty.jsonl"
expect 2 "all 24 samples are longer than cutoff_len=8" -- "$T/c.yaml" --cutoff_len 8
expect 0 "truncated [1-9][0-9]*" -- "$T/c.yaml" --cutoff_len 30 --overlength truncate --output_dir "$T/o2"
expect 0 "dropped [1-9][0-9]* longer than cutoff_len=30" -- "$T/c.yaml" --cutoff_len 30 --output_dir "$T/o3"

# the tokenized cache: reused, and rebuilt when the data changes
expect 0 "tokens;" -- "$T/c.yaml" --output_dir "$T/o4"
expect 0 "tokens \(cached\)" -- "$T/c.yaml" --output_dir "$T/o4b"
echo '{"input_ids": [5, 6, 7, 8], "labels": [-100, 6, 7, 8]}' >>"$T/data.jsonl"
expect 0 "25 records -> 25 samples, [0-9]+ tokens;" -- "$T/c.yaml" --output_dir "$T/o5"
ls "$T/cache"/ds-*.bin >/dev/null || { echo "FAIL: no cache file"; fail=1; }

# eval loss on a val split, packing, log and plot
expect 0 "eval loss [0-9.]+ on" -- "$T/c.yaml" --output_dir "$T/o6" --val_size 0.2 --neat_packing true --eval_steps 2
python3 - "$T/o6" "$SRC/tests/train/data/trainer_state_transformers.json" <<'EOP' || { echo "FAIL: log / plot"; fail=1; }
import json, os, sys, xml.dom.minidom
d = sys.argv[1]
recs = [json.loads(l) for l in open(os.path.join(d, "trainer_log.jsonl"))]
train = [r for r in recs if "loss" in r]
ev = [r for r in recs if "eval_loss" in r]
assert [r["step"] for r in train] == [1, 2, 3, 4], recs
for r in train:
    for k in ("step", "epoch", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed"):
        assert k in r, (k, r)
assert [r["step"] for r in ev] == [2, 4], ev
xml.dom.minidom.parse(os.path.join(d, "training_loss.svg"))
# trainer_state.json's eval entries carry transformers' keys (eval_loss, epoch, step)
st = json.load(open(os.path.join(d, "checkpoint-4", "trainer_state.json")))
ref = json.load(open(sys.argv[2]))
ref_eval = [r for r in ref["log_history"] if "eval_loss" in r][0]
sev = [r for r in st["log_history"] if "eval_loss" in r]
assert [r["step"] for r in sev] == [2, 4] and all(set(r) <= set(ref_eval) for r in sev), sev
EOP

# a non-finite loss stops the run with a message and keeps the last good checkpoint
# (diverging for real: lr 1000 with weight decay 1 multiplies the weights by -999 per step; under
# the sanitizers the NaN is injected at step 5 instead, because the model's exp of a NaN logit
# is undefined behaviour that UBSan stops on: src/backend/cpu/forward.c exp_fast)
if [[ -n ${LONG1K_SANITIZER:-} ]]; then export LONG1K_TRAIN_FAULT=nan-at-step:5; fi
expect 1 "is not finite; stopped without updating \(last good checkpoint: .*checkpoint-[0-9]+\)" -- \
  "$T/c.yaml" --output_dir "$T/o7" --learning_rate 1000 --weight_decay 1 --max_steps 60 --save_steps 2 --warmup_steps 1 --max_grad_norm 0
unset LONG1K_TRAIN_FAULT
last=$(grep -o 'last good checkpoint: [^)]*' "$T/err" | sed 's/.*: //')
[[ -f $last/model.safetensors && -f $last/train_state.bin ]] || { echo "FAIL: last good checkpoint '$last' missing"; fail=1; }
n=$(grep -o 'step [0-9]*: loss' "$T/err" | grep -o '[0-9]*')
[[ ! -e $T/o7/checkpoint-$n ]] || { echo "FAIL: a checkpoint of the failed step was written"; fail=1; }
[[ $fail == 0 ]] && echo "train cli: all checks passed"
exit $fail
