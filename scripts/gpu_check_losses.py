#!/usr/bin/env python3
"""Tables for scripts/gpu-check.sh (python3 standard library only).

  gpu_check_losses.py TRAIN_DIR DEVICE   the loss curves of the short `long1k train` runs side
                                         by side (TRAIN_DIR/out-{device,cpu}-<prec>/trainer_log.jsonl):
                                         DEVICE fp32 against cpu fp32 (exit 1 unless both ran
                                         8 steps and every loss agrees to 1e-4 relative), and
                                         DEVICE bf16 beside them when it ran.
  gpu_check_losses.py --parity-table OUT one line per OUT/parity_<model>_<ckpt>_<prec>.json.
"""
import glob
import json
import math
import os
import sys

STEPS = 8
BOUND = 1e-4


def curve(d, name):
    p = os.path.join(d, "out-" + name, "trainer_log.jsonl")
    try:
        with open(p) as f:
            return [json.loads(line)["loss"] for line in f if line.strip()]
    except (OSError, ValueError, KeyError) as e:
        print("train-compare: %s: %s" % (p, e))
        return []


def compare(d, dev):
    ref, ours = curve(d, "cpu-fp32"), curve(d, "device-fp32")
    low = curve(d, "device-bf16") if dev != "cpu" else []
    print("step  %-18s %-18s %-10s %s" % (dev + " fp32", "cpu fp32", "rel diff",
                                          dev + " bf16" if low else ""))
    worst = 0.0
    for i in range(max(len(ref), len(ours))):
        a = ours[i] if i < len(ours) else float("nan")
        b = ref[i] if i < len(ref) else float("nan")
        r = abs(a - b) / max(abs(b), 1e-30)
        worst = max(worst, r) if not math.isnan(r) else float("inf")
        print("%4d  %-18.9g %-18.9g %-10.2e %s" % (i + 1, a, b, r,
                                                  "%.6g" % low[i] if i < len(low) else ""))
    ok = len(ref) == len(ours) == STEPS and worst <= BOUND
    print("train-compare: %d/%d steps, max relative difference %s fp32 vs cpu %.3e (bound %g): %s"
          % (len(ours), STEPS, dev, worst, BOUND, "ok" if ok else "FAILED"))
    return 0 if ok else 1


def parity_table(out):
    for p in sorted(glob.glob(os.path.join(out, "parity_*.json"))):
        name = os.path.basename(p)[len("parity_"):-len(".json")]
        try:
            with open(p) as f:
                r = json.load(f)
        except (OSError, ValueError):
            print("  %-22s no JSON (see the log)" % name)
            continue
        cols = ["ok=%s" % r.get("ok"), "tol=%g" % r.get("tolerance", -1)]
        for k in ("logits", "logits_bf16_checkpoint", "grad_worst", "long_logits"):
            v = r.get(k)
            if isinstance(v, dict) and "rel_err" in v:
                cols.append("%s=%.2e%s" % (k, v["rel_err"], "(info)" if v.get("info_only") else ""))
        print("  %-22s %s" % (name, " ".join(cols)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--parity-table":
        sys.exit(parity_table(sys.argv[2]))
    if len(sys.argv) == 3:
        sys.exit(compare(sys.argv[1], sys.argv[2]))
    sys.stderr.write(__doc__)
    sys.exit(2)
