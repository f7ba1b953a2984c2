#!/usr/bin/env python3
"""Compares the `zero` part's runs of scripts/gpu-check.d/zero.sh (standard library only).

Usage: gpu_check_zero.py DIR REF OTHER BOUND
Reads DIR/REF/trainer_log.jsonl and DIR/OTHER/trainer_log.jsonl (every step's loss and grad
norm) and the saved weights (checkpoint-*/model.safetensors, raw bytes as float32 or bf16);
prints one JSON line {"check", "steps", "worst_rel", "bitwise", "ok"} and exits 1 when the worst
relative difference exceeds BOUND."""
import glob, json, os, struct, sys

d, ref, other, bound = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])


def log(name):
    with open(os.path.join(d, name, "trainer_log.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip() and "loss" in l]


def weights(name):
    files = sorted(glob.glob(os.path.join(d, name, "checkpoint-*", "model.safetensors")))
    return open(files[-1], "rb").read() if files else b""


a, b = log(ref), log(other)
worst = 0.0
for x, y in zip(a, b):
    for k in ("loss", "grad_norm"):
        worst = max(worst, abs(x[k] - y[k]) / max(abs(x[k]), 1e-30))
wa, wb = weights(ref), weights(other)
bitwise = bool(wa) and wa == wb and all(x["loss"] == y["loss"] for x, y in zip(a, b))
ok = len(a) == len(b) and len(a) > 0 and worst <= bound and bool(wa) and len(wa) == len(wb)
print(json.dumps({"check": f"{other} vs {ref}", "steps": len(a), "worst_rel": worst,
                  "bitwise": bitwise, "bound": bound, "ok": ok}))
sys.exit(0 if ok else 1)
