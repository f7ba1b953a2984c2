#!/usr/bin/env bash
# Resuming at a step that is not a multiple of logging_steps logs the uninterrupted run's mean
# loss: the partial logging window (losses, steps, tokens since the last record) is carried in
# train_state.bin.
source "$(dirname "$0")/../lib.sh"
MODEL=$SHARED/golden/models/qwen2_tiny/f32
need_model "$MODEL"
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 24 9 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
finetuning_type: full
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 1.0e-3
max_steps: 8
per_device_train_batch_size: 2
save_steps: 3
logging_steps: 4
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
EOC
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/ref" 2>"$T/e" || { echo "FAIL: reference run: $(cat "$T/e")"; exit 1; }
# killed after step 4 (the record of step 4 written); the last checkpoint is step 3, one step
# into the second window
LONG1K_TRAIN_FAULT=kill-after-step:5 "$BIN" train "$T/cfg.yaml" -q --output_dir "$T/run" 2>/dev/null
check '[ -d "$T/run/checkpoint-3" ] && [ ! -d "$T/run/checkpoint-6" ]' "the killed run has checkpoint-3 only"
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/run" --resume_from_checkpoint true 2>"$T/e"; rc=$?
check '[ $rc -eq 0 ]' "resume: rc $rc, $(cat "$T/e")"
python3 - "$T/ref/trainer_log.jsonl" "$T/run/trainer_log.jsonl" <<'EOP' || bad "logged losses differ after the resume"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
b = [json.loads(l) for l in open(sys.argv[2]) if '"loss"' in l]
assert [x["step"] for x in a] == [4, 8] and [x["step"] for x in b] == [4, 8], (a, b)
for x, y in zip(a, b):
    assert x["loss"] == y["loss"] and x["tokens"] == y["tokens"], (x, y)
EOP
check 'cmp -s "$T/ref/checkpoint-8/model.safetensors" "$T/run/checkpoint-8/model.safetensors"' "final weights differ"
finish
