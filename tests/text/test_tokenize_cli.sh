#!/usr/bin/env bash
# long1k tokenize (CLI): ids equal to the Hugging Face goldens (text and chat), input order kept
# across batches and threads, --stats, --decode, --mask, -o, gzip input, and bad input
# (FILE:LINE message, exit 2).
set -u
BIN=${LONG1K_BIN:?LONG1K_BIN not set}
SHARED=${LONG1K_SHARED:-../shared}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
QWEN=$SHARED/tokenizers/qwen
LLAMA=$SHARED/tokenizers/llama3
N=60
[ -n "${LONG1K_SANITIZER:-}" ] && N=20

# --help
"$BIN" tokenize --help >"$T/help" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q -- "--chat-template" "$T/help" && grep -q -- "--stats" "$T/help"' "--help"
"$BIN" help tokenize >/dev/null 2>&1; check '[ $? -eq 0 ]' "long1k help tokenize"

# ids equal to the golden, in order, with 1 and 2 threads (Qwen and Llama-3)
head -n $N "$SHARED/golden/tokenizer/qwen_corpus.jsonl" >"$T/qwen.jsonl"
head -n $N "$SHARED/golden/tokenizer/llama3_corpus.jsonl" >"$T/llama.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/qwen.jsonl" -j 1 >"$T/q1.out" 2>"$T/q1.err"; rc=$?
check '[ $rc -eq 0 ]' "qwen exit code: $(cat "$T/q1.err")"
"$BIN" tokenize -t "$QWEN/tokenizer.json" -i "$T/qwen.jsonl" -j 2 >"$T/q2.out"
check 'cmp -s "$T/q1.out" "$T/q2.out"' "qwen: -j 1 and -j 2 differ"
"$BIN" tokenize -t "$LLAMA" -i "$T/llama.jsonl" --threads 2 >"$T/l.out"
python3 - "$T/qwen.jsonl" "$T/q1.out" "$T/llama.jsonl" "$T/l.out" <<'EOF' || bad "ids differ from the goldens"
import json, sys
for gold, out in [(sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])]:
    g = [json.loads(l)["ids"] for l in open(gold)]
    o = [json.loads(l) for l in open(out)]
    assert all(list(r.keys()) == ["ids"] for r in o), "output records must be {\"ids\": [...]}"
    o = [r["ids"] for r in o]
    assert len(g) == len(o), (len(g), len(o))
    for i, (a, b) in enumerate(zip(g, o)):
        assert a == b, f"{out}: record {i + 1} differs"
EOF

# --stats (numbers from the golden ids); with -o the ids go to the file
"$BIN" tokenize -t "$QWEN" -i "$T/qwen.jsonl" --stats >"$T/stats" 2>&1
"$BIN" tokenize -t "$QWEN" -i "$T/qwen.jsonl" --stats -o "$T/ids.jsonl" >"$T/stats2" 2>&1
check 'cmp -s "$T/ids.jsonl" "$T/q1.out"' "-o with --stats writes the ids"
python3 - "$T/qwen.jsonl" "$T/stats" "$T/stats2" <<'EOF' || bad "--stats: $(cat "$T/stats")"
import json, statistics, sys
n = [len(json.loads(l)["ids"]) for l in open(sys.argv[1])]
for path in sys.argv[2:]:
    kv = {}
    for line in open(path):
        k, v = line.rsplit(None, 1)
        kv[k] = float(v)
    assert kv["documents"] == len(n)
    assert kv["tokens"] == sum(n)
    assert abs(kv["mean"] - sum(n) / len(n)) < 0.006
    assert abs(kv["median"] - statistics.median(n)) < 0.051
    q = statistics.quantiles(n, n=10, method="inclusive")[8]
    assert abs(kv["p90"] - q) < 0.051, (kv["p90"], q)
    assert kv["max"] == max(n)
EOF

# --decode: ids back to text equal to the golden 'decoded'
"$BIN" tokenize -t "$QWEN" -i "$T/q1.out" --decode >"$T/dec.out"; rc=$?
check '[ $rc -eq 0 ]' "--decode exit code"
python3 - "$T/qwen.jsonl" "$T/dec.out" <<'EOF' || bad "--decode text differs"
import json, sys
g = [json.loads(l)["decoded"] for l in open(sys.argv[1])]
o = [json.loads(l)["text"] for l in open(sys.argv[2])]
assert g == o
EOF

# chat templates: the golden conversations, with their options
python3 - "$SHARED/golden/chat/chat_templates.jsonl" "$T" <<'EOF'
import json, sys, os
groups = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    key = (r["template"], r["add_generation_prompt"], r["enable_thinking"])
    groups.setdefault(key, []).append(r)
for (tmpl, agp, think), rs in groups.items():
    name = f"{tmpl}_{int(agp)}_{'x' if think is None else int(think)}"
    with open(os.path.join(sys.argv[2], f"chat_{name}.jsonl"), "w") as f:
        for r in rs:
            f.write(json.dumps({"conversation": r["messages"], "ids": r["ids"]}) + "\n")
EOF
for f in "$T"/chat_*.jsonl; do
  name=$(basename "$f" .jsonl)
  IFS=_ read -r _ tmpl agp think <<<"$name"
  args=(-t "$QWEN" -i "$f" --field conversation -c "$tmpl")
  [ "$agp" = 1 ] && args+=(--add-generation-prompt)
  [ "$think" = 0 ] && args+=(--enable-thinking false)
  "$BIN" tokenize "${args[@]}" >"$T/$name.out" 2>"$T/$name.err"; rc=$?
  check '[ $rc -eq 0 ]' "chat $name: exit $rc $(cat "$T/$name.err")"
  python3 - "$f" "$T/$name.out" <<'EOF' || bad "chat $name: ids differ"
import json, sys
g = [json.loads(l)["ids"] for l in open(sys.argv[1])]
o = [json.loads(l)["ids"] for l in open(sys.argv[2])]
assert g == o
EOF
done
# -c auto: ../shared/tokenizers/qwen ships the Qwen3 template
"$BIN" tokenize -t "$QWEN" -c auto -i "$T/chat_qwen3_0_x.jsonl" -f conversation >"$T/auto.out"
check 'cmp -s "$T/auto.out" "$T/chat_qwen3_0_x.out"' "-c auto (qwen3)"
# --mask: one 0/1 per id, the masked ids end with <|im_end|> (151645)
"$BIN" tokenize -t "$QWEN" -c qwen2.5 -i "$T/chat_qwen2.5_0_x.jsonl" -f conversation --mask >"$T/mask.out"
python3 - "$T/mask.out" <<'EOF' || bad "--mask"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows and all(len(r["ids"]) == len(r["mask"]) for r in rows)
assert all(set(r["mask"]) <= {0, 1} for r in rows)
for r in rows:
    ids, m = r["ids"], r["mask"]
    masked = [i for i, x in zip(ids, m) if x]
    n_asst = ids.count(151644)  # every turn opens with <|im_start|>
    if any(m):
        assert masked[-1] == 151645
    assert ids[0] == 151644 and m[0] == 0
EOF

# streaming across batches: 5000 records (several batches), order kept, -j 2 == -j 1, gzip
python3 - "$T/qwen.jsonl" "$T/many.jsonl" <<'EOF'
import json, sys
docs = [json.loads(l)["decoded"] for l in open(sys.argv[1])]  # already NFC: decode gives it back
with open(sys.argv[2], "w") as f:
    for i in range(5000):
        f.write(json.dumps({"id": i, "text": f"record {i}: " + docs[i % len(docs)][: (i * 37) % 300]}) + "\n")
EOF
"$BIN" tokenize -t "$QWEN" -i "$T/many.jsonl" -j 1 >"$T/many1.out"
"$BIN" tokenize -t "$QWEN" -i "$T/many.jsonl" -j 2 >"$T/many2.out"
gzip -c "$T/many.jsonl" >"$T/many.jsonl.gz"
"$BIN" tokenize -t "$QWEN" -i "$T/many.jsonl.gz" -j 2 >"$T/manygz.out"
check '[ $(wc -l <"$T/many1.out") -eq 5000 ] && cmp -s "$T/many1.out" "$T/many2.out"' "5000 records, -j 1 vs -j 2"
check 'cmp -s "$T/many1.out" "$T/manygz.out"' "gzip input"
"$BIN" tokenize -t "$QWEN" -i "$T/many1.out" --decode -j 2 >"$T/manydec.out"
python3 - "$T/many.jsonl" "$T/manydec.out" <<'EOF' || bad "5000 records: decode(ids) != text (order?)"
import json, sys
a = [json.loads(l)["text"] for l in open(sys.argv[1])]
b = [json.loads(l)["text"] for l in open(sys.argv[2])]
assert a == b
EOF
# stdin
"$BIN" tokenize -t "$QWEN" -i - <"$T/qwen.jsonl" >"$T/stdin.out"
check 'cmp -s "$T/stdin.out" "$T/q1.out"' "stdin input"

# bad input: FILE:LINE, exit 2, nothing after the bad record. These use a small byte-level
# tokenizer made here (the 256 byte tokens, three merges, Qwen's normalizer, regex and first
# added tokens), which loads in no time.
python3 - "$QWEN/tokenizer.json" "$T/small" <<'EOF'
import json, os, sys
q = json.load(open(sys.argv[1], encoding="utf-8"))
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
vocab = {chr(c): i for i, c in enumerate(cs)}
merges = [["t", "h"], ["th", "e"], ["\u0120", "the"]]
for a, b in merges:
    vocab[a + b] = len(vocab)
added = [dict(t, id=len(vocab) + i) for i, t in enumerate(q["added_tokens"][:3])]
tok = {"version": "1.0", "added_tokens": added, "normalizer": q["normalizer"],
       "pre_tokenizer": q["pre_tokenizer"], "post_processor": None, "decoder": q["decoder"],
       "model": {"type": "BPE", "vocab": vocab, "merges": merges}}
os.makedirs(sys.argv[2], exist_ok=True)
json.dump(tok, open(os.path.join(sys.argv[2], "tokenizer.json"), "w"))
EOF
SMALL=$T/small
# "the" -> th+e; " theme" -> Ġthe m e (ids: bytes in GPT-2 order, then th=256, the=257, Ġthe=258)
echo '{"text": "the theme<|im_end|>"}' >"$T/small.jsonl"
"$BIN" tokenize -t "$SMALL" -i "$T/small.jsonl" >"$T/small.out" 2>"$T/small.err"
check 'grep -qF "{\"ids\":[257,258,76,68,261]}" "$T/small.out"' "small tokenizer: $(cat "$T/small.out" "$T/small.err")"
expect_bad() { # file, message regex, description, extra args...
  local f=$1 re=$2 what=$3
  shift 3
  "$BIN" tokenize -t "$SMALL" -i "$f" "$@" >"$T/bad.out" 2>"$T/bad.err"; local rc=$?

  if [ $rc -eq 2 ] && grep -Eq -- "$re" "$T/bad.err"; then ok; else
    bad "$what: exit $rc, stderr: $(cat "$T/bad.err")"; fi
}
printf '{"text": "a"}\n{"text": "b"}\n{"text": "c"\n{"text": "d"}\n' >"$T/b1.jsonl"
expect_bad "$T/b1.jsonl" "b1.jsonl:3: invalid JSON" "invalid JSON"
check '[ $(wc -l <"$T/bad.out") -eq 2 ]' "records before the bad one are written, none after"
printf '{"text": "a"}\n{"txt": "b"}\n' >"$T/b2.jsonl"
expect_bad "$T/b2.jsonl" "b2.jsonl:2: missing field 'text'" "missing field"
printf '\n{"text": 5}\n' >"$T/b3.jsonl"
expect_bad "$T/b3.jsonl" "b3.jsonl:2: field 'text': expected a string" "wrong type"
printf '[1, 2]\n' >"$T/b4.jsonl"
expect_bad "$T/b4.jsonl" "b4.jsonl:1: expected a JSON object" "not an object"
printf '{"text": "a\\u0000b"}\n' >"$T/b5.jsonl"
expect_bad "$T/b5.jsonl" "b5.jsonl:1: .*NUL" "NUL in text"
printf '{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"role": "user"}]}\n' >"$T/b6.jsonl"
expect_bad "$T/b6.jsonl" "b6.jsonl:2: field 'messages'\\[0\\]: field 'content'" "chat: missing content" -c qwen3
printf '{"messages": [{"role": "narrator", "content": "hi"}]}\n' >"$T/b7.jsonl"
expect_bad "$T/b7.jsonl" "b7.jsonl:1: .*narrator" "chat: unknown role" -c qwen2.5
printf '{"ids": [1, 2, 99999999]}\n' >"$T/b8.jsonl"
expect_bad "$T/b8.jsonl" "b8.jsonl:1: .*99999999.*not in the vocabulary" "decode: bad id" --decode
printf '{"ids": [1, "x"]}\n' >"$T/b9.jsonl"
expect_bad "$T/b9.jsonl" "b9.jsonl:1: field 'ids'\\[1\\]" "decode: not an integer" --decode
# a bad record in a later batch: everything before it is written
cp "$T/many.jsonl" "$T/late.jsonl"
echo '{"text": oops}' >>"$T/late.jsonl"
expect_bad "$T/late.jsonl" "late.jsonl:5001: invalid JSON" "bad record after 5000" -j 2
check '[ $(wc -l <"$T/bad.out") -eq 5000 ]' "5000 records written before the bad one"
expect_bad "$T/b1.jsonl" "unknown chat template 'nosuch'.*qwen2.5.*qwen3.*llama3.*mistral" "unknown template" -c nosuch
expect_bad "$T/nonexistent.jsonl" "nonexistent.jsonl" "missing input file"
expect_bad "$T/b1.jsonl" "threads" "bad --threads" -j 0
mkdir -p "$T/unk"
echo '{"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}' >"$T/unk/tokenizer_config.json"
cp "$QWEN/tokenizer.json" "$T/unk/"
printf '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n' >"$T/c1.jsonl"
"$BIN" tokenize -c auto -t "$T/unk" -i "$T/c1.jsonl" >"$T/unk.out" 2>"$T/unk.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"ids\": *\[6023, *16032\]" "$T/unk.out"' "auto: any template is rendered: $(cat "$T/unk.out" "$T/unk.err")"
expect_bad "$T/b1.jsonl" "no chat template" "auto: no config" -c auto -t "$T"
# a named template other than the model's own: used, with one warning line saying so
"$BIN" tokenize -c qwen -t "$QWEN" -i "$T/c1.jsonl" >"$T/named.out" 2>"$T/named.err"; rc=$?
check '[ $rc -eq 0 ] && [ $(grep -c "chat template .qwen2.5. .*is used, not the model.s own template in .*tokenizer_config.json" "$T/named.err") -eq 1 ]' "named template differing from the model's: one warning: $(cat "$T/named.err")"
"$BIN" tokenize -c qwen3 -t "$QWEN" -i "$T/c1.jsonl" >/dev/null 2>"$T/same.err"; rc=$?
check '[ $rc -eq 0 ] && ! grep -q "is used, not" "$T/same.err"' "named template equal to the model's: no warning"
printf '{%% for m in messages %%}<{{ m.role }}>{{ m.content }}{%% endfor %%}' >"$T/own.jinja"
"$BIN" tokenize -c "$T/own.jinja" -t "$QWEN" --mask -i "$T/c1.jsonl" >"$T/file.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"mask\"" "$T/file.out"' "a .jinja file as the template: $(cat "$T/file.out")"
"$BIN" tokenize >/dev/null 2>"$T/noinput.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--input" "$T/noinput.err"' "no --input: exit 2"
"$BIN" tokenize -t "$T" -i "$T/b1.jsonl" >/dev/null 2>"$T/notok.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "no tokenizer.json" "$T/notok.err"' "tokenizer dir without tokenizer.json"
# empty input and blank lines
: >"$T/empty.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/empty.jsonl" >"$T/empty.out"; rc=$?
check '[ $rc -eq 0 ] && [ ! -s "$T/empty.out" ]' "empty input"
printf '{"text": "a"}\n\n  \n{"text": "b"}\n' >"$T/blank.jsonl"
"$BIN" tokenize -t "$QWEN" -i "$T/blank.jsonl" >"$T/blank.out" 2>"$T/blank.err"
check '[ $(wc -l <"$T/blank.out") -eq 2 ] && grep -q "2 blank line" "$T/blank.err"' "blank lines skipped and counted: $(cat "$T/blank.err")"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
