#!/usr/bin/env python3
"""Peer for the grading benchmark: Math-Verify (pip `math-verify`) on the same {"gold", "pred"}
JSONL that `long1k grade --pairs` reads. One thread; times only parse + verify (not JSON
loading). Prints one JSON line: n, seconds, grades_per_s, and agreement with a reference
field (--ref equal|label) when the lines carry one.

    python3 bench/grade_mathverify.py FILE.jsonl [--limit N] [--ref FIELD] [--wrap-gold | --wrap-bare-gold]

--wrap-bare-gold wraps a gold in $...$ only when it has no $ and no \boxed (the grader's own
test set, tests/eval/data/, holds bare LaTeX golds such as MATH500's; Math-Verify's default
`parse` only reads LaTeX inside math delimiters).
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--limit", type=int, default=0, help="grade only the first N lines")
    ap.add_argument("--ref", default="", help="field with the expected verdict")
    ap.add_argument("--wrap-gold", action="store_true", help="parse the gold as $gold$ (bare LaTeX golds)")
    ap.add_argument("--wrap-bare-gold", action="store_true", help="$gold$ when the gold has no $ and no \\boxed")
    a = ap.parse_args()
    from math_verify import parse, verify  # imported here so --help works without it

    rows = []
    with open(a.file, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if a.limit and len(rows) >= a.limit:
                break

    def text(v):
        return "" if v is None else (v if isinstance(v, str) else json.dumps(v))

    agree = 0
    t0 = time.perf_counter()
    for r in rows:
        g, p = text(r.get("gold")), text(r.get("pred"))
        try:
            bare = "$" not in g and "\\boxed" not in g
            gp = parse(f"${g}$" if a.wrap_gold or (a.wrap_bare_gold and bare) else g)
            pp = parse(p)
            ok = bool(verify(gp, pp))
        except Exception:
            ok = False
        if a.ref and a.ref in r:
            agree += ok == bool(r[a.ref])
    dt = time.perf_counter() - t0
    out = {"n": len(rows), "seconds": round(dt, 3), "grades_per_s": round(len(rows) / dt, 1) if dt > 0 else None}
    if a.ref:
        out["agreement"] = round(agree / len(rows), 4) if rows else None
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
