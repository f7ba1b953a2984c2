#!/usr/bin/env bash
# Checkpoints survive SIGKILL: kill the trainer between checkpoints, inside a checkpoint write
# (after the model files, before the rename) and at random moments; every checkpoint-<N>
# directory that exists is complete, and resuming (resume_from_checkpoint: true) gives the
# uninterrupted run's losses and grad norms bit for bit and the same final weights.
source "$(dirname "$0")/../lib.sh"
MODEL=$SHARED/golden/models/qwen2_tiny/f32
need_model "$MODEL"
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 48 7 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
finetuning_type: full
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
recipe: long1k
learning_rate: 1.0e-3
max_steps: 12
per_device_train_batch_size: 2
gradient_accumulation_steps: 2
save_steps: 3
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
EOC
complete_ckpts() { # every checkpoint-* dir has all its files
  for d in "$1"/checkpoint-*; do
    [[ -e $d ]] || continue
    for f in config.json generation_config.json model.safetensors train_state.bin trainer_state.json trainer_log.jsonl; do
      if [[ ! -s $d/$f && $f != trainer_log.jsonl ]] || [[ ! -e $d/$f ]]; then
        echo "FAIL: $d is missing $f (half-written checkpoint)"; fail=1
      fi
    done
  done
}
same_run() { # $1 $2 output dirs: identical loss / grad_norm per step, identical final weights
  python3 - "$1/trainer_log.jsonl" "$2/trainer_log.jsonl" <<'EOP' || { echo "FAIL: $3: losses differ"; fail=1; }
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 12, (len(a), len(b))
for x, y in zip(a, b):
    assert x["step"] == y["step"] and x["loss"] == y["loss"] and x["grad_norm"] == y["grad_norm"] \
        and x["lr"] == y["lr"] and x["tokens"] == y["tokens"], (x, y)
EOP
  cmp -s "$1/checkpoint-12/model.safetensors" "$2/checkpoint-12/model.safetensors" ||
    { echo "FAIL: $3: final weights differ"; fail=1; }
  cmp -s "$1/checkpoint-12/train_state.bin" "$2/checkpoint-12/train_state.bin" ||
    { echo "FAIL: $3: final optimizer state differs"; fail=1; }
}

"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/ref" || { echo "FAIL: reference run"; exit 1; }

# 1. killed between checkpoints (after step 5; the last checkpoint is 3)
LONG1K_TRAIN_FAULT=kill-after-step:5 "$BIN" train "$T/cfg.yaml" -q --output_dir "$T/a" 2>/dev/null
[[ $? == 137 ]] || { echo "FAIL: fault injection did not kill"; fail=1; }
complete_ckpts "$T/a"
[[ -d $T/a/checkpoint-3 && ! -e $T/a/checkpoint-6 ]] || { echo "FAIL: expected only checkpoint-3"; fail=1; }
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/a" --resume_from_checkpoint true || { echo "FAIL: resume a"; fail=1; }
same_run "$T/ref" "$T/a" "kill between checkpoints"

# 2. killed inside the checkpoint-6 write (model files written, state not yet), and
# 3. killed after every file of checkpoint-9 but before the rename
for f in kill-in-checkpoint:6 kill-before-rename:9; do
  o=$T/b-${f%%:*}
  LONG1K_TRAIN_FAULT=$f "$BIN" train "$T/cfg.yaml" -q --output_dir "$o" 2>/dev/null
  [[ $? == 137 ]] || { echo "FAIL: $f did not kill"; fail=1; }
  n=${f##*:}
  [[ ! -e $o/checkpoint-$n ]] || { echo "FAIL: $f left checkpoint-$n"; fail=1; }
  ls -a "$o" | grep -q '^\.tmp-checkpoint-' || { echo "FAIL: $f: expected the unfinished temp dir"; fail=1; }
  complete_ckpts "$o"
  "$BIN" train "$T/cfg.yaml" -q --output_dir "$o" --resume_from_checkpoint true || { echo "FAIL: resume $f"; fail=1; }
  ls -a "$o" | grep -q '^\.tmp-checkpoint-' && { echo "FAIL: $f: temp dir not cleaned"; fail=1; }
  same_run "$T/ref" "$o" "$f"
done

# 4. SIGKILL at random moments, resuming each time until the run completes
o=$T/c
seed=${RANDOM}
for round in 1 2 3 4 5 6 7 8; do
  if ls -d "$o"/checkpoint-* >/dev/null 2>&1; then r=true; else r=false; fi
  "$BIN" train "$T/cfg.yaml" -q --output_dir "$o" --resume_from_checkpoint $r --overwrite_output_dir true &
  pid=$!
  sleep "0.$(( (seed + round * 37) % 5 ))$(( round % 10 ))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  complete_ckpts "$o"
  [[ -d $o/checkpoint-12 ]] && break
done
if [[ ! -d $o/checkpoint-12 ]]; then
  # on a slow or busy machine every kill may land before the first checkpoint is complete
  if ls -d "$o"/checkpoint-* >/dev/null 2>&1; then r=true; else r=false; fi
  "$BIN" train "$T/cfg.yaml" -q --output_dir "$o" --resume_from_checkpoint $r --overwrite_output_dir true ||
    { echo "FAIL: final resume"; fail=1; }
fi
complete_ckpts "$o"
same_run "$T/ref" "$o" "random kills"

# save_total_limit keeps the newest N
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/lim" --save_total_limit 2 || fail=1
[[ "$(cd "$T/lim" && ls -d checkpoint-* | sort -t- -k2 -n | tr '\n' ' ')" == "checkpoint-9 checkpoint-12 " ]] ||
  { echo "FAIL: save_total_limit 2 kept: $(ls "$T/lim")"; fail=1; }
# HF model dir + trainer state in each checkpoint
# trainer_state.json has the fields of transformers' TrainerState (TrainerState.load_from_json
# is cls(**json)), with the JSON types and log_history keys of a checkpoint transformers' Trainer
# wrote (tests/train/data/trainer_state_transformers.json, tests/train/make_trainer_state_golden.py)
python3 - "$T/lim/checkpoint-12" "$SRC/tests/train/data/trainer_state_transformers.json" <<'EOP' || { echo "FAIL: checkpoint contents"; fail=1; }
import json, os, sys
d = sys.argv[1]
st = json.load(open(os.path.join(d, "trainer_state.json")))
ref = json.load(open(sys.argv[2]))
ref.pop("_made_by")
assert st["global_step"] == 12 and len(st["log_history"]) == 12, st
assert sorted(st) == sorted(ref), (sorted(st), sorted(ref))
num = (int, float)
for k, v in ref.items():
    ok = isinstance(st[k], num) if isinstance(v, num) and not isinstance(v, bool) else type(st[k]) is type(v)
    assert ok, (k, st[k], v)
assert st["max_steps"] == 12 and st["logging_steps"] == 1 and st["save_steps"] == 3, st
assert st["train_batch_size"] == 2 and st["stateful_callbacks"]["TrainerControl"]["args"]["should_save"]
train_keys = sorted(ref["log_history"][0])
for i, r in enumerate(st["log_history"]):
    assert sorted(r) == train_keys, (sorted(r), train_keys)
    assert r["step"] == i + 1 and all(isinstance(r[k], num) for k in r), r
cfg = json.load(open(os.path.join(d, "config.json")))
assert cfg["model_type"] == "qwen2"
EOP
# resuming from an explicit path works too, and a missing checkpoint is a clear error
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/lim" --resume_from_checkpoint "$T/nope" 2>"$T/err"
[[ $? == 2 ]] && grep -q "resume_from_checkpoint" "$T/err" || { echo "FAIL: bad resume path: $(cat "$T/err")"; fail=1; }
# an output_dir with checkpoints is not silently overwritten
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/lim" 2>"$T/err"
[[ $? == 2 ]] && grep -q "already has checkpoint-12" "$T/err" || { echo "FAIL: existing output_dir: $(cat "$T/err")"; fail=1; }
[[ $fail == 0 ]] && echo "resume: all checks passed"
exit $fail
