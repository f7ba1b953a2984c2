#!/usr/bin/env bash
# eval's output directory (issue 18): a second eval on the same --out is refused while the first
# holds it (exit 2, the holder's pid named) and runs once it is gone; results.jsonl whose run.json
# is gone is refused (the model and settings that made it are unknown); a results line whose
# problem_index is outside the data is refused by line; summary.json has every key once.
source "$(dirname "$0")/../lib.sh"
"$BIN" init --preset qwen2.5-0.5b-instruct --out "$T/m" --layers 1 --hidden-size 32 \
  --intermediate-size 64 --heads 2 --kv-heads 1 --vocab-size 750 --eos-token-id 747 --dtype f32 \
  --tokenizer "$SRC/data/tokenizers/tiny" >/dev/null 2>"$T/e" || { echo "FAIL: init: $(cat "$T/e")"; exit 1; }
printf '{"problem": "1+1?", "answer": "2"}\n{"problem": "2+2?", "answer": "4"}\n{"problem": "3+3?", "answer": "6"}\n' >"$T/d.jsonl"
ev() { "$BIN" eval --model "$T/m" --data "$T/d.jsonl" --max-tokens 4 --n 1 --quiet "$@"; }

# a lock held by another process (pid 4242 in the file): refused, named
mkdir -p "$T/o1"
echo 4242 >"$T/o1/.long1k.lock"
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(60)' \
  "$T/o1/.long1k.lock" "$T/held" >/dev/null 2>&1 &
hold=$!
for _ in $(seq 100); do [[ -e $T/held ]] && break; sleep 0.1; done
ev --out "$T/o1" >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "pid 4242" "$T/e"' "second eval on a locked --out: rc $rc, $(cat "$T/e")"
check '[ ! -e "$T/o1/results.jsonl" ]' "the refused eval wrote results"
kill $hold 2>/dev/null; wait $hold 2>/dev/null
ev --out "$T/o1" >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 0 ] && [ $(wc -l <"$T/o1/results.jsonl") -eq 3 ]' "eval after the holder is gone: rc $rc, $(cat "$T/e")"
check 'grep -q "^$$\$" "$T/o1/.long1k.lock" || ! grep -q 4242 "$T/o1/.long1k.lock"' "the lock file does not hold the new pid"

# summary.json: every key once
python3 - "$T/o1/summary.json" <<'EOP' || bad "summary.json repeats a key"
import json, sys
def once(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
    return dict(pairs)
json.load(open(sys.argv[1]), object_pairs_hook=once)
EOP

# results.jsonl without run.json: refused before anything is appended
cp -r "$T/o1" "$T/o2" && rm "$T/o2/run.json"
cp "$T/o2/results.jsonl" "$T/r.before"
ev --out "$T/o2" --temperature 0.7 >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "run.json" "$T/e" && cmp -s "$T/o2/results.jsonl" "$T/r.before"' "results without run.json: rc $rc, $(cat "$T/e")"

# a foreign line (problem_index beyond the data): refused, naming the line
cp -r "$T/o1" "$T/o3"
head -1 "$T/o3/results.jsonl" | sed 's/"problem_index": *0/"problem_index":99/' >>"$T/o3/results.jsonl"
grep -q '"problem_index":99' "$T/o3/results.jsonl" || bad "test setup: no foreign line made"
ev --out "$T/o3" >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "results.jsonl:4" "$T/e"' "foreign results line: rc $rc, $(cat "$T/e")"
ev --out "$T/o3" --limit 2 >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ]' "foreign results line with --limit: rc $rc, $(cat "$T/e")"
finish
