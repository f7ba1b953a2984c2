#!/usr/bin/env bash
# long1k parity on every golden model (f32 and bf16 checkpoints) must report "ok": true and
# exit 0: logits, loss, every gradient and the 300-token logits within 1e-4 relative error of
# transformers (float64), identical 16-token greedy ids; bf16: logits_bf16_checkpoint.
set -u
BIN=${LONG1K_BIN:?}
SHARED=${LONG1K_SHARED:-../shared}
fail=0
for m in qwen2_tiny qwen3_tiny llama_tiny; do
  for d in f32 bf16; do
    dir=$SHARED/golden/models/$m
    out=$("$BIN" parity --model "$dir/$d" --reference "$dir/reference.safetensors" --meta "$dir/reference.json")
    rc=$?
    verdict=$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
need = ["logits_bf16_checkpoint"] if sys.argv[1] == "bf16" else ["logits", "loss", "long_logits"]
bad = [k for k in need if not d[k]["pass"] or d[k]["rel_err"] > 1e-4]
if sys.argv[1] == "f32":
    bad += [n for n, e in d["grads"].items() if e > 1e-4]
    if not d["greedy"]["match"]: bad.append("greedy")
    if len(d["grads"]) < 20: bad.append("too few gradients compared")
print("ok" if d["ok"] is True and not bad else "FAIL " + " ".join(bad))
' "$d")
    if [ $rc -ne 0 ] || [ "$verdict" != "ok" ]; then
      echo "FAIL $m/$d: exit $rc, $verdict"
      printf '%s\n' "$out" | head -c 2000
      fail=1
    else
      echo "ok   $m/$d"
    fi
  done
done
# a mismatching reference must fail with exit 1 and "ok": false (the check can fail)
dir=$SHARED/golden/models
out=$("$BIN" parity --model "$dir/qwen2_tiny/f32" --reference "$dir/qwen3_tiny/reference.safetensors" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then echo "FAIL: parity accepted another model's reference"; fail=1; fi
exit $fail
