#!/usr/bin/env bash
# `long1k tokenize` with a vocabulary that has no symbol for some input: the bytes are dropped
# as Hugging Face tokenizers drops them, and the run says so ONCE, with the count, on stderr
# (not a line per record); ids are still written and the exit code is 0. Two tokenizers: the
# SentencePiece-style one of tests/text/data/tokenizer_sp.json without byte_fallback and
# unk_token, and Qwen's byte-level one without SmolLM2's 21 missing byte symbols (as
# tests/text/gen_tokenizer_missing.py builds it). A complete vocabulary says nothing.
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
mkdir -p "$tmp/sp" "$tmp/miss"
python3 - "$SRC" "$SHARED" "$tmp" <<'PY'
import json, sys
src, shared, tmp = sys.argv[1:4]
j = json.load(open(src + "/tests/text/data/tokenizer_sp.json", encoding="utf-8"))
j["model"]["byte_fallback"] = False
j["model"]["unk_token"] = None
json.dump(j, open(tmp + "/sp/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
MISSING = [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, 0xF5, 0xF6, 0xF7, 0xF8,
           0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF]
bs = list(range(33, 127)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
alpha = {b: chr(c) for b, c in zip(bs, cs)}
gone = {alpha[b]: "<unused_byte_%02X>" % b for b in MISSING}
q = json.load(open(shared + "/tokenizers/qwen/tokenizer.json", encoding="utf-8"))
q["model"]["vocab"] = {gone.get(k, k): v for k, v in q["model"]["vocab"].items()}
def keep(m):
    a, b = m.split(" ", 1) if isinstance(m, str) else m
    return a not in gone and b not in gone
q["model"]["merges"] = [m for m in q["model"]["merges"] if keep(m)]
json.dump(q, open(tmp + "/miss/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
with open(tmp + "/in.jsonl", "w", encoding="utf-8") as f:
    for t in ["a\u4e2db", "x\u0004y\u0006", "\u4e2d\u4e2d \u0013", "plain"]:
        f.write(json.dumps({"text": t}) + "\n")
PY
check() { # name tokenizer-dir expected-count expected-extra
  out=$("$BIN" tokenize -t "$2" -i "$tmp/in.jsonl" -j 1 2>"$tmp/err")
  rc=$?
  lines=$(printf '%s\n' "$out" | grep -c '"ids"')
  nerr=$(grep -c . "$tmp/err")
  if [ $rc -ne 0 ] || [ "$lines" -ne 4 ] || [ "$nerr" -ne 1 ] ||
     ! grep -q "dropped $3 input byte(s) that have no token in $2$4" "$tmp/err"; then
    echo "FAIL $1: exit $rc, $lines records, stderr:"; cat "$tmp/err"; fail=1
  else
    echo "ok   $1: $(cat "$tmp/err")"
  fi
}
# sp: 中 (3 bytes) x3 dropped = 9; the control characters have no token either: \x04 \x06 \x13 = 3
check "sentencepiece without byte_fallback" "$tmp/sp" 12 ", as Hugging Face"
# byte level without 0x04 0x06 0x13: 3 bytes
check "byte level without 21 byte symbols" "$tmp/miss" 3 " (its vocabulary lacks 21 of the 256 byte symbols)"
# a complete vocabulary: nothing dropped, nothing said
"$BIN" tokenize -t "$SHARED/tokenizers/qwen" -i "$tmp/in.jsonl" -j 2 >/dev/null 2>"$tmp/err"
if [ $? -ne 0 ] || grep -q dropped "$tmp/err"; then echo "FAIL complete vocabulary:"; cat "$tmp/err"; fail=1; fi
exit $fail
