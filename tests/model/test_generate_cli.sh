#!/usr/bin/env bash
# long1k generate (CLI) on a tiny random Qwen2 model with the shipped tiny tokenizer (750 ids):
# determinism, seeds, batching == one at a time, stop strings, max tokens, chat input, errors.
set -u
BIN=${LONG1K_BIN:?LONG1K_BIN not set}
SRC=${LONG1K_SRC:-$(pwd)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

# --- a tiny random model directory (Python standard library only) ---------------------------
M=$T/model
mkdir -p "$M"
cp "$SRC/data/tokenizers/tiny/tokenizer.json" "$SRC/data/tokenizers/tiny/tokenizer_config.json" "$M/"
python3 - "$M" <<'EOF'
import json, random, struct, sys
d = sys.argv[1]
V, H, I, L, NH, NKV = 750, 32, 64, 2, 4, 2
HD = H // NH
cfg = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": V,
       "hidden_size": H, "intermediate_size": I, "num_hidden_layers": L,
       "num_attention_heads": NH, "num_key_value_heads": NKV, "max_position_embeddings": 512,
       "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
       "hidden_act": "silu", "torch_dtype": "float32", "bos_token_id": 745, "eos_token_id": 745,
       "use_sliding_window": False, "sliding_window": None}
json.dump(cfg, open(d + "/config.json", "w"), indent=1)
json.dump({"bos_token_id": 745, "eos_token_id": [747, 745]}, open(d + "/generation_config.json", "w"))
rnd = random.Random(7)
tensors = [("model.embed_tokens.weight", [V, H], 1.0), ("model.norm.weight", [H], None)]
for l in range(L):
    p = "model.layers.%d." % l
    tensors += [(p + "input_layernorm.weight", [H], None), (p + "post_attention_layernorm.weight", [H], None),
                (p + "self_attn.q_proj.weight", [NH * HD, H], 0.3), (p + "self_attn.q_proj.bias", [NH * HD], 0.1),
                (p + "self_attn.k_proj.weight", [NKV * HD, H], 0.3), (p + "self_attn.k_proj.bias", [NKV * HD], 0.1),
                (p + "self_attn.v_proj.weight", [NKV * HD, H], 0.3), (p + "self_attn.v_proj.bias", [NKV * HD], 0.1),
                (p + "self_attn.o_proj.weight", [H, NH * HD], 0.3), (p + "mlp.gate_proj.weight", [I, H], 0.3),
                (p + "mlp.up_proj.weight", [I, H], 0.3), (p + "mlp.down_proj.weight", [H, I], 0.3)]
header, blobs, off = {}, [], 0
for name, shape, std in tensors:
    n = 1
    for s in shape: n *= s
    vals = [1.0] * n if std is None else [rnd.gauss(0.0, std) for _ in range(n)]
    b = struct.pack("<%df" % n, *vals)
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(d + "/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
EOF
[ -f "$M/model.safetensors" ] || { echo "could not write the test model" >&2; exit 1; }

field() { python3 -c 'import json,sys; print(json.dumps([json.loads(l)[sys.argv[1]] for l in open(sys.argv[2])]))' "$1" "$2"; }

# --- help -------------------------------------------------------------------------------
"$BIN" generate --help >"$T/help" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "usage: long1k generate" "$T/help" && grep -q -- "--top-p" "$T/help"' "--help"

# --- --prompt: streams, deterministic, equals the --input result ------------------------------
"$BIN" generate -m "$M" --prompt "The cat sat on" -n 12 --ignore-eos -q >"$T/p1" 2>"$T/err"
rc=$?
check '[ $rc -eq 0 ] && [ -s "$T/p1" ]' "--prompt runs (rc $rc: $(cat "$T/err"))"
"$BIN" generate -m "$M" --prompt "The cat sat on" -n 12 --ignore-eos -q >"$T/p2" 2>/dev/null
check 'cmp -s "$T/p1" "$T/p2"' "greedy --prompt is deterministic"
echo '{"prompt": "The cat sat on", "id": "x"}' >"$T/one.jsonl"
"$BIN" generate -m "$M" -i "$T/one.jsonl" -n 12 --ignore-eos -q >"$T/one.out" 2>"$T/err"
check 'python3 - "$T/one.out" "$T/p1" <<EOF
import json, sys
r = json.loads(open(sys.argv[1]).read())
s = open(sys.argv[2], encoding="utf-8", errors="surrogateescape").read()
assert r["id"] == "x" and r["prompt"] == "The cat sat on", r
assert r["completion_tokens"] == 12 and r["finish_reason"] == "length", r
assert s == r["completion"] + "\n", (s, r["completion"])
EOF' "--prompt stream equals the JSONL completion"

# --- many prompts: batch 3 == batch 1 (greedy and seeded sampling) --------------------------------
cat >"$T/in.jsonl" <<'EOF'
{"id": 1, "prompt": "Once upon a time"}
{"id": 2, "prompt": "1 + 1 ="}

{"id": 3, "messages": [{"role": "user", "content": "Say hi"}]}
{"id": 4, "prompt": "<think>"}
{"id": 5, "prompt": "a b c d e f g h i j k l m n o p"}
{"id": 6, "prompt": "Z"}
EOF
"$BIN" generate -m "$M" -i "$T/in.jsonl" -n 10 -b 3 -q >"$T/b3" 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ] && [ $(wc -l <"$T/b3") -eq 6 ]' "batch 3 gives 6 lines ($(cat "$T/err"))"
"$BIN" generate -m "$M" -i "$T/in.jsonl" -n 10 -b 1 -q -o "$T/b1" 2>/dev/null
check 'cmp -s "$T/b1" "$T/b3"' "greedy: batch 3 == batch 1"
check '[ "$(field id "$T/b3")" = "[1, 2, 3, 4, 5, 6]" ]' "output keeps input order and fields"
check 'python3 -c "
import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert 1 <= r[\"completion_tokens\"] <= 10 and r[\"finish_reason\"] in (\"stop\", \"length\"), r
    assert r[\"prompt_tokens\"] > 0
    assert (r[\"finish_reason\"] == \"length\") == (r[\"completion_tokens\"] == 10), r
" "$T/b3"' "completion_tokens / finish_reason fields"
S="-t 1.0 --top-p 0.9 --top-k 100 --ignore-eos -n 10 -q"
"$BIN" generate -m "$M" -i "$T/in.jsonl" $S --seed 5 -b 4 -o "$T/s5a" 2>/dev/null
"$BIN" generate -m "$M" -i "$T/in.jsonl" $S --seed 5 -b 1 -o "$T/s5b" 2>/dev/null
"$BIN" generate -m "$M" -i "$T/in.jsonl" $S --seed 6 -b 4 -o "$T/s6" 2>/dev/null
check '[ -s "$T/s5a" ] && cmp -s "$T/s5a" "$T/s5b"' "same seed: same text at batch 4 and batch 1"
check '! cmp -s "$T/s5a" "$T/s6"' "different seeds: different text"

# --- stop strings and max tokens -------------------------------------------------------------
full=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["completion"])' "$T/b1")
stop=$(python3 -c 'import sys; s=sys.argv[1]; print(s[len(s)//2:len(s)//2+2])' "$full")
"$BIN" generate -m "$M" -i "$T/in.jsonl" -n 10 -b 2 -q --stop "$stop" --stop "never-there" -o "$T/st" 2>/dev/null
check 'python3 - "$T/st" "$full" "$stop" <<EOF
import json, sys
r = json.loads(open(sys.argv[1]).readline())
full, stop = sys.argv[2], sys.argv[3]
want = full[:full.index(stop)]
assert r["completion"] == want, (r["completion"], want)
assert r["finish_reason"] == "stop" and r["stop"] == stop, r
EOF' "stop string cuts the completion ('$stop' in '$full')"
"$BIN" generate -m "$M" -i "$T/in.jsonl" -n 3 --ignore-eos -q -o "$T/mx" 2>/dev/null
check '[ "$(field completion_tokens "$T/mx")" = "[3, 3, 3, 3, 3, 3]" ] && [ "$(field finish_reason "$T/mx" | tr -d " ")" = "[\"length\",\"length\",\"length\",\"length\",\"length\",\"length\"]" ]' "max-new-tokens 3"

# --- chat: --chat renders the prompt as a user turn == the same as messages ------------------------
echo '{"prompt": "Say hi"}' >"$T/c1.jsonl"
"$BIN" generate -m "$M" -i "$T/c1.jsonl" --chat -n 10 -q -o "$T/c1" 2>"$T/err"
check 'python3 - "$T/c1" "$T/b1" <<EOF
import json, sys
a = json.loads(open(sys.argv[1]).read())
b = [json.loads(l) for l in open(sys.argv[2])][2]
assert a["completion"] == b["completion"] and a["prompt_tokens"] == b["prompt_tokens"], (a, b)
EOF' "--chat prompt == messages record ($(cat "$T/err"))"

# --- errors: exit 2 and a message naming the place ----------------------------------------------
"$BIN" generate --prompt hi >/dev/null 2>"$T/e1"; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--model" "$T/e1"' "missing --model"
"$BIN" generate -m "$M" --prompt hi --top-p 2 >/dev/null 2>"$T/e2"; rc=$?
check '[ $rc -eq 2 ] && grep -q "top-p" "$T/e2"' "bad --top-p"
printf '{"prompt": "ok"}\n{"text": "no prompt"}\n' >"$T/bad.jsonl"
"$BIN" generate -m "$M" -i "$T/bad.jsonl" >/dev/null 2>"$T/e3"; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad.jsonl:2" "$T/e3" && grep -q "prompt" "$T/e3"' "record without prompt: $(cat "$T/e3")"
printf '{"prompt": "ok"}\n{"prompt": \n' >"$T/bad2.jsonl"
"$BIN" generate -m "$M" -i "$T/bad2.jsonl" >/dev/null 2>"$T/e4"; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad2.jsonl:2" "$T/e4"' "invalid JSON: $(cat "$T/e4")"
mkdir -p "$T/notok" && cp "$M/config.json" "$M/model.safetensors" "$T/notok/"
"$BIN" generate -m "$T/notok" --prompt hi >/dev/null 2>"$T/e5"; rc=$?
check '[ $rc -eq 2 ] && grep -q "tokenizer.json" "$T/e5"' "model without tokenizer: $(cat "$T/e5")"
"$BIN" generate -m "$M" --prompt "a b c d e f g" --max-context 3 >/dev/null 2>"$T/e6"; rc=$?
check '[ $rc -eq 2 ] && grep -q "context" "$T/e6"' "prompt longer than the context: $(cat "$T/e6")"
"$BIN" generate -m "$M" --prompt hi --stop "" >/dev/null 2>"$T/e7"; rc=$?
check '[ $rc -eq 2 ]' "empty --stop"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
