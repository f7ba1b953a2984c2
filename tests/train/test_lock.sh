#!/usr/bin/env bash
# One train run per output_dir: a second run on the same output_dir is refused while the first
# runs (exit 2, one line naming the holder's pid) and nothing of the first is touched; after the
# holder is killed with SIGKILL the lock is free and the run resumes.
source "$(dirname "$0")/../lib.sh"
MODEL=$SHARED/golden/models/qwen2_tiny/f32
need_model "$MODEL"
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 16 3 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
finetuning_type: full
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 1.0e-3
max_steps: 1000000
per_device_train_batch_size: 2
save_steps: 2
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
EOC
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/out" >/dev/null 2>"$T/first.err" &
first=$!
# wait until it holds the lock and has a checkpoint, then freeze it
for _ in $(seq 600); do
  [[ -d $T/out/checkpoint-2 ]] && grep -q "^$first\$" "$T/out/.long1k.lock" 2>/dev/null && break
  sleep 0.1
done
kill -STOP $first
check 'grep -q "^$first\$" "$T/out/.long1k.lock"' "the lock file does not hold the first run's pid"
ls "$T/out" >"$T/ls.before"
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/out" --resume_from_checkpoint true --max_steps 4 >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "pid $first" "$T/e"' "second train on a busy output_dir: rc $rc, $(cat "$T/e")"
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/out" --overwrite_output_dir true --max_steps 4 >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && ls "$T/out" | cmp -s - "$T/ls.before"' "overwrite_output_dir on a busy output_dir: rc $rc, $(cat "$T/e")"
kill -KILL $first
wait $first 2>/dev/null
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/out" --resume_from_checkpoint true --max_steps 1000002 >/dev/null 2>"$T/e" &
second=$!
sleep 1
kill -KILL $second 2>/dev/null; wait $second 2>/dev/null
check '! grep -q "in use" "$T/e"' "after SIGKILL of the holder the lock is still taken: $(cat "$T/e")"
finish
