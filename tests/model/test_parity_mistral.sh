#!/usr/bin/env bash
# The mistral architecture against transformers: tests/model/data/mistral_tiny (a tiny random
# MistralForCausalLM with an explicit head_dim and grouped-query attention, made by
# tests/model/gen_mistral_tiny.py) through `long1k parity`: logits, loss, every gradient and the
# 300-token logits within 1e-4 relative error of transformers (float64), identical 16-token
# greedy ids. A config with a real sliding window is refused with exit 2 naming the field.
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
dir=$SRC/tests/model/data/mistral_tiny
fail=0
out=$("$BIN" parity --model "$dir/f32" --reference "$dir/reference.safetensors" --meta "$dir/reference.json")
rc=$?
verdict=$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = [k for k in ["logits", "loss", "long_logits"] if not d[k]["pass"] or d[k]["rel_err"] > 1e-4]
bad += [n for n, e in d["grads"].items() if e > 1e-4]
if not d["greedy"]["match"]: bad.append("greedy")
if len(d["grads"]) != 21: bad.append("expected 21 gradients, got %d" % len(d["grads"]))
if d["model_type"] != "mistral" or d["family"] != "mistral": bad.append("model_type")
print("ok" if d["ok"] is True and not bad else "FAIL " + " ".join(bad))
')
if [ $rc -ne 0 ] || [ "$verdict" != "ok" ]; then
  echo "FAIL mistral_tiny/f32: exit $rc, $verdict"
  printf '%s\n' "$out" | head -c 2000
  fail=1
else
  echo "ok   mistral_tiny/f32"
fi
# a real sliding window: refused, one line naming config.json and the field, exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$dir/f32/model.safetensors" "$tmp/"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1])); c["sliding_window"] = 16
json.dump(c, open(sys.argv[2], "w"))' "$dir/f32/config.json" "$tmp/config.json"
err=$("$BIN" parity --model "$tmp" --reference "$dir/reference.safetensors" 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 2 ] || ! printf '%s' "$err" | grep -q "config.json.*sliding_window"; then
  echo "FAIL: sliding_window 16 gave exit $rc: $err"; fail=1
else
  echo "ok   sliding window refused: $err"
fi
exit $fail
