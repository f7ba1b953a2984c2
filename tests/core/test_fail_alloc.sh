#!/usr/bin/env bash
# Allocation-failure mode (as SQLite's tests): LONG1K_FAIL_ALLOC=N makes the Nth allocation
# through long1k's helpers (include/long1k/error.h) fail. Representative commands (tokenize,
# grade, synth, a one-step train, eval from a file) run with N = 1, 2, 3, ... until the command
# succeeds; every failing run must exit 1 with one line on stderr and leave no half-written
# output (no output file, no temp file, no partial checkpoint); under the ASan build
# (LONG1K_SANITIZER=1) LeakSanitizer also reports any leak on those paths (exit != 1 -> fail).
source "$(dirname "$0")/../lib.sh"
QWEN=$SRC/data/tokenizers/qwen
MODEL=$SHARED/golden/models/qwen2_tiny/f32
MAXN=${LONG1K_FAIL_ALLOC_MAX:-4000}
[[ -n ${LONG1K_SANITIZER:-} ]] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1"

# sweep NAME CLEAN CMD...: runs CMD with N = 1.. until exit 0; CLEAN (a shell snippet) must
# succeed after every failed run (nothing half-written) and is run before the next try
sweep() {
  local name=$1 clean=$2 n rc
  shift 2
  for ((n = 1; n <= MAXN; n++)); do
    LONG1K_FAIL_ALLOC=$n "$@" >"$T/out" 2>"$T/err"; rc=$?
    [[ $rc -eq 0 ]] && break
    if [[ $rc -ne 1 ]] || ! one_line "$T/err"; then
      bad "$name: allocation $n failed -> exit $rc, stderr: $(head -c 600 "$T/err")"
      return
    fi
    if ! eval "$clean"; then
      bad "$name: allocation $n failed and left a half-written output ($(ls "$T/w" 2>&1 | tr '\n' ' '))"
      return
    fi
  done
  if [[ $rc -ne 0 ]]; then bad "$name: still failing at N=$MAXN"; return; fi
  echo "$name: $((n - 1)) allocation failures handled; succeeded at N=$n"
  ok
}
empty_w() { [[ -z $(ls -A "$T/w") ]]; }

mkdir -p "$T/w"
printf '{"text": "hello world"}\n{"text": "the second line"}\n' >"$T/in.jsonl"
sweep tokenize 'empty_w' "$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o "$T/w/ids.jsonl"
rm -rf "$T/w" && mkdir -p "$T/w"

printf '{"gold": "1/2", "pred": "0.5"}\n{"gold": "x^2", "pred": "x*x"}\n' >"$T/pairs.jsonl"
sweep grade 'empty_w' "$BIN" grade -p -q -o "$T/w/graded.jsonl" "$T/pairs.jsonl"
rm -rf "$T/w" && mkdir -p "$T/w"

python3 "$SRC/bench/synth_gen_pool.py" --schema openthoughts --out "$T/pool.jsonl" --n 8 \
  --reason-words 30 --seed 1 || exit 1
sweep synth 'empty_w' "$BIN" synth --pool "$T/pool.jsonl" --samples 2 --no-decontaminate --quiet \
  --tokenizer "$QWEN" --out "$T/w/s.jsonl"
rm -rf "$T/w" && mkdir -p "$T/w"

if [[ -d $MODEL ]]; then
  python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 4 2 || exit 1
  cat >"$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
finetuning_type: full
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
max_steps: 1
per_device_train_batch_size: 2
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/w/cache
output_dir: $T/w/run
bf16: false
EOC
  # a failed run may leave its lock file and log, never a checkpoint or a temp
  no_ckpt='[[ -z $(ls -d "$T"/w/run/checkpoint-* "$T"/w/run/.tmp-* "$T"/w/cache/*.tmp.* 2>/dev/null) ]] && rm -rf "$T/w/run"'
  sweep train "$no_ckpt" "$BIN" train "$T/cfg.yaml" -q
  rm -rf "$T/w" && mkdir -p "$T/w"
else
  echo "note: no golden model at $MODEL: the train sweep is not run"
fi

"$BIN" init --preset qwen2.5-0.5b-instruct --out "$T/m" --layers 1 --hidden-size 32 \
  --intermediate-size 64 --heads 2 --kv-heads 1 --vocab-size 750 --eos-token-id 747 --dtype f32 \
  --tokenizer "$SRC/data/tokenizers/tiny" >/dev/null 2>&1 || { echo "FAIL: init"; exit 1; }
printf '{"problem": "1+1?", "answer": "2"}\n' >"$T/d.jsonl"
# eval appends results as it goes (resumable by design): a failed run leaves no summary
no_summary='[[ ! -e $T/w/o/summary.json ]] && [[ -z $(ls "$T"/w/o/*.tmp.* 2>/dev/null) ]] && rm -rf "$T/w/o"'
sweep eval "$no_summary" "$BIN" eval --model "$T/m" --data "$T/d.jsonl" --out "$T/w/o" --max-tokens 2 --n 1 --quiet
finish
