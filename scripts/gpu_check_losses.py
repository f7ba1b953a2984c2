#!/usr/bin/env python3
"""Tables for scripts/gpu-check.sh (python3 standard library only).

  gpu_check_losses.py TRAIN_DIR DEVICE   the loss curves of the short `long1k train` runs side
                                         by side (TRAIN_DIR/out-{device,cpu}-<prec>/trainer_log.jsonl):
                                         DEVICE fp32 against cpu fp32 (exit 1 unless both ran
                                         8 steps and every loss agrees to 1e-4 relative), and
                                         DEVICE bf16 beside them when it ran; runs with
                                         gradient_checkpointing (out-device-rc-<prec>) must
                                         give the same losses and gradient norms as without,
                                         to the last printed digit.
  gpu_check_losses.py --parity-table OUT one line per OUT/parity_<model>_<ckpt>_<prec>.json.
"""
import glob
import json
import math
import os
import sys

STEPS = 8
BOUND = 1e-4


def curve(d, name, key="loss"):
    p = os.path.join(d, "out-" + name, "trainer_log.jsonl")
    try:
        with open(p) as f:
            return [json.loads(line)[key] for line in f if line.strip()]
    except (OSError, ValueError, KeyError) as e:
        print("train-compare: %s: %s" % (p, e))
        return []


def same_with_recompute(d, dev):
    """0 when every out-device-rc-<prec> run logged what out-device-<prec> logged."""
    bad = 0
    for prec in ("fp32", "bf16"):
        if not os.path.isdir(os.path.join(d, "out-device-rc-" + prec)):
            continue
        a = [curve(d, "device-" + prec, k) for k in ("loss", "grad_norm")]
        b = [curve(d, "device-rc-" + prec, k) for k in ("loss", "grad_norm")]
        ok = len(a[0]) == STEPS and a == b
        print("train-recompute: %s %s, %d steps with gradient_checkpointing: losses and grad "
              "norms %s" % (dev, prec, len(b[0]), "identical" if ok else "DIFFER: FAILED"))
        if not ok:
            print("  without: %s\n  with:    %s" % (a, b))
        bad += 0 if ok else 1
    return bad


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
    rc_bad = same_with_recompute(d, dev)
    print("train-compare: %d/%d steps, max relative difference %s fp32 vs cpu %.3e (bound %g): %s"
          % (len(ours), STEPS, dev, worst, BOUND, "ok" if ok and not rc_bad else "FAILED"))
    return 0 if ok and not rc_bad else 1


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
