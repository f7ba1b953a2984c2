#!/usr/bin/env bash
# Every -o / --out goes through one rule (src/core/io.c l1k_atomic_open): an absent path or a
# regular file is replaced atomically, a symlink is resolved and its target replaced (the link
# kept), a FIFO / character device / /dev/stdout is written directly and stays what it was, a
# directory is refused before the work (exit 2). An output that is the same file as an input is
# refused before the work (exit 2), the input untouched. A directory given as an input file and
# an endless record (/dev/zero) stop with one line, exit 2.
source "$(dirname "$0")/../lib.sh"
QWEN=$SHARED/tokenizers/qwen
[[ -d $QWEN ]] || QWEN=$SRC/data/tokenizers/qwen
printf '{"text": "hello world"}\n{"text": "two"}\n' >"$T/in.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" >"$T/ref.out" 2>"$T/ref.err" || { echo "FAIL: reference run: $(cat "$T/ref.err")"; exit 1; }

# FIFO read by a background cat: written through, still a FIFO
mkfifo "$T/fifo"
timeout 60 cat "$T/fifo" >"$T/fifo.out" &
cpid=$!
timeout 60 "$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o "$T/fifo" 2>"$T/e"; rc=$?
[ -p "$T/fifo" ] || kill $cpid 2>/dev/null; wait $cpid
check '[ $rc -eq 0 ] && [ -p "$T/fifo" ] && cmp -s "$T/fifo.out" "$T/ref.out"' "FIFO: rc $rc, $(cat "$T/e"); still a FIFO: $([ -p "$T/fifo" ] && echo yes || echo no)"
check '! ls "$T" | grep -q "fifo.tmp"' "FIFO: a temp file was left"

# symlink: its target replaced, the link kept
echo old >"$T/target.jsonl"
ln -s target.jsonl "$T/link.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o "$T/link.jsonl" 2>"$T/e"; rc=$?
check '[ $rc -eq 0 ] && [ -L "$T/link.jsonl" ] && cmp -s "$T/target.jsonl" "$T/ref.out"' "symlink: rc $rc $(cat "$T/e"); link kept: $([ -L "$T/link.jsonl" ] && echo yes || echo no)"
# a dangling symlink: the target is created
ln -s new_target.jsonl "$T/dangling.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o "$T/dangling.jsonl" 2>"$T/e"; rc=$?
check '[ $rc -eq 0 ] && [ -L "$T/dangling.jsonl" ] && cmp -s "$T/new_target.jsonl" "$T/ref.out"' "dangling symlink: rc $rc $(cat "$T/e")"

# /dev/stdout: written through to the shell's redirection (a file, and a pipe)
"$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o /dev/stdout >"$T/stdout.out" 2>"$T/e"; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/stdout.out" "$T/ref.out"' "-o /dev/stdout to a file: rc $rc $(cat "$T/e")"
"$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o /dev/stdout 2>"$T/e" | cat >"$T/pipe.out"
check 'cmp -s "$T/pipe.out" "$T/ref.out"' "-o /dev/stdout to a pipe: $(cat "$T/e")"

# a character device: a private one made with mknod (root only), never the real /dev/null
if [[ $(id -u) -eq 0 ]] && mknod "$T/null" c 1 3 2>/dev/null; then
  "$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o "$T/null" 2>"$T/e"; rc=$?
  check '[ $rc -eq 0 ] && [ -c "$T/null" ]' "char device: rc $rc $(cat "$T/e"); still a char device: $([ -c "$T/null" ] && echo yes || echo no)"
  printf '{"gold": "1", "pred": "1"}\n' >"$T/pairs.jsonl"
  "$BIN" grade -p -o "$T/null" "$T/pairs.jsonl" 2>"$T/e"; rc=$?
  check '[ $rc -eq 0 ] && [ -c "$T/null" ]' "grade -o char device: rc $rc $(cat "$T/e")"
else
  echo "note: not root (or no mknod): the character-device case is not run"
fi

# -o DIR: refused before the work, exit 2, one line
mkdir "$T/outdir"
"$BIN" tokenize -t "$QWEN" -i "$T/in.jsonl" -o "$T/outdir" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "is a directory" "$T/e"' "-o DIR: rc $rc $(cat "$T/e")"
printf '{"x": 1, "y": 2}\n{"x": 10, "y": 3}\n{"x": 100, "y": 4}\n' >"$T/fit.jsonl"
"$BIN" fit -i "$T/fit.jsonl" -x x -y y -q -o "$T/outdir" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e"' "fit -o DIR: rc $rc $(cat "$T/e")"

# output == input: refused before the work, the input untouched
cp "$T/in.jsonl" "$T/same.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/same.jsonl" -o "$T/same.jsonl" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && cmp -s "$T/same.jsonl" "$T/in.jsonl"' "tokenize -i f -o f: rc $rc $(cat "$T/e")"
ln -s same.jsonl "$T/same_link.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/same.jsonl" -o "$T/same_link.jsonl" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && cmp -s "$T/same.jsonl" "$T/in.jsonl"' "tokenize -o (symlink to the input): rc $rc $(cat "$T/e")"
cp "$T/fit.jsonl" "$T/fit2.jsonl"
"$BIN" fit -i "$T/fit2.jsonl" -x x -y y -q --svg "$T/fit2.jsonl" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && cmp -s "$T/fit2.jsonl" "$T/fit.jsonl"' "fit --svg on its input: rc $rc $(cat "$T/e")"
printf '{"gold": "1", "pred": "1"}\n' >"$T/g.jsonl"
cp "$T/g.jsonl" "$T/g2.jsonl"
"$BIN" grade -p -o "$T/g2.jsonl" "$T/g2.jsonl" 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && cmp -s "$T/g2.jsonl" "$T/g.jsonl"' "grade -o on its input: rc $rc $(cat "$T/e")"

# a directory where a file is expected: exit 2, one line
"$BIN" tokenize -t "$QWEN" -i "$T/outdir" 2>"$T/e" >/dev/null; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e"' "tokenize -i DIR: rc $rc $(cat "$T/e")"
"$BIN" grade -p "$T/outdir" 2>"$T/e" >/dev/null; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e"' "grade DIR: rc $rc $(cat "$T/e")"

# an endless record: stops at the documented cap (256 MiB), exit 2
timeout 120 "$BIN" tokenize -t "$QWEN" -i /dev/zero 2>"$T/e" >/dev/null; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "256 MiB" "$T/e"' "tokenize -i /dev/zero: rc $rc $(head -c 300 "$T/e")"

# trailing text after a config.json's JSON value: refused, naming the file (exit 2)
if [[ -d $SHARED/golden/models/qwen2_tiny/f32 ]]; then
  cp -r "$SHARED/golden/models/qwen2_tiny/f32" "$T/model"
  echo ' trailing' >>"$T/model/config.json"
  "$BIN" generate --model "$T/model" --tokenizer "$QWEN" --prompt hi -n 1 >/dev/null 2>"$T/e"; rc=$?
  check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "config.json:.*text after the JSON value" "$T/e"' "config.json with trailing text: rc $rc, $(cat "$T/e")"
fi

# trailing text after tokenizer.json's JSON value: refused, naming the file (exit 2)
mkdir -p "$T/tok"
cp "$QWEN/tokenizer.json" "$T/tok/tokenizer.json"
printf '\n}\n' >>"$T/tok/tokenizer.json"
"$BIN" tokenize -t "$T/tok" -i "$T/in.jsonl" >/dev/null 2>"$T/e"; rc=$?
check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "tokenizer.json:.*text after the JSON value" "$T/e"' "tokenizer.json with trailing text: rc $rc, $(cat "$T/e")"
finish
