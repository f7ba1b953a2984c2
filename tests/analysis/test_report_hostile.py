#!/usr/bin/env python3
"""long1k report and long1k fit on odd and hostile files: random JSON of every shape where the
report expects stats, summaries, results, trainer logs and fit outputs (seeded, so failures
reproduce). The report must never crash, must always write a page (exit 0), must mention every
unreadable file under Notes, and must stay free of 'nan'; fit must answer 0 or 2, never crash."""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

BIN = os.environ.get("LONG1K_BIN", "build/long1k")
ROUNDS = 12 if os.environ.get("LONG1K_SANITIZER") else 30
fails = checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print("CHECK failed:", what, file=sys.stderr)


def rand_scalar(r):
    return r.choice([None, True, False, 0, -1, 1e308, -1e-308, 3.5, 2 ** 53, "", "x" * r.randint(0, 300),
                     "<b>&amp;\"'</b>", "\u00e9\u4e2d\U0001F600", "1e999", r.random() * 1e4])


def rand_json(r, depth=0):
    k = r.random()
    if depth > 4 or k < 0.4:
        return rand_scalar(r)
    if k < 0.7:
        return [rand_json(r, depth + 1) for _ in range(r.randint(0, 12))]
    keys = ["edges", "counts", "hist", "length_histogram", "k_histogram", "sets", "name", "from", "to", "count",
            "lo", "hi", "bins", "measured", "mean_reasoning_tokens", "pass@1", "pass@k", "maj@k", "data", "1", "2",
            "1000", "-5", "problems", "samples", "complete", "step", "loss", "lr", "a", "b", "x", "y", "n", "ci"]
    return {r.choice(keys) + ("" if r.random() < 0.8 else str(r.randint(0, 9))): rand_json(r, depth + 1)
            for _ in range(r.randint(0, 10))}


def hist_like(r):
    n = r.randint(0, 8)
    shape = r.randint(0, 3)
    if shape == 0:
        return {"edges": [r.choice([0, -1, 5, 1e300, r.random()]) for _ in range(n + r.choice([0, 1, 2]))],
                "counts": [r.choice([0, -3, 7, 1e300]) for _ in range(n)]}
    if shape == 1:
        lo = r.randint(-10, 1000)
        out = []
        for _ in range(n):
            w = r.choice([0, 1, 50, -5])
            out.append({"from": lo, "to": lo + w, "count": r.randint(-2, 100)})
            lo = lo + w + r.choice([0, 1, 1, 2])
        return out
    if shape == 2:
        return {str(r.choice([1, 2, 3, 1000, -4, 0.5])): r.randint(0, 9) for _ in range(n)}
    return rand_json(r)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write(text)


r = random.Random(int(os.environ.get("LONG1K_HOSTILE_SEED", "20251126")))
tmp = tempfile.mkdtemp(prefix="l1k_hostile_")
for rnd in range(ROUNDS):
    dirs = []
    for k in range(r.randint(1, 3)):
        d = os.path.join(tmp, "r%d" % rnd, "run%d" % k)
        os.makedirs(d, exist_ok=True)
        dirs.append(d)
        if r.random() < 0.7:
            meta = r.choice([{"name": rand_scalar(r), "train_length": r.choice([1000, 0, -5, "3k", None, 1e308, 2000 * (k + 1)])},
                             rand_json(r), "garbage{", []])
            write(os.path.join(d, "long1k.json"), meta if isinstance(meta, str) else json.dumps(meta))
        if r.random() < 0.7:
            st = rand_json(r) if r.random() < 0.3 else {
                "samples": rand_scalar(r), "length_histogram": hist_like(r), "k_histogram": hist_like(r),
                "sets": [{"name": r.choice(["all", "1000", 5, None]), "measured": r.choice(["reasoning_tokens", "response_tokens", 3]),
                          "mean_reasoning_tokens": r.choice([1500, -1, None, "x"]), "length_histogram": hist_like(r)}
                         for _ in range(r.randint(0, 3))]}
            write(os.path.join(d, "data", "x.stats.json"), json.dumps(st) if r.random() < 0.9 else json.dumps(st)[:20])
        if r.random() < 0.7:
            lines = []
            for s in range(r.randint(0, 60)):
                rec = r.choice([{"step": s, "loss": r.choice([1.0 / (s + 1), None, "nan", -1, 1e308]), "lr": r.choice([1e-5, 0, None])},
                                rand_json(r), [1, 2], "oops"])
                lines.append(rec if isinstance(rec, str) else json.dumps(rec))
            write(os.path.join(d, "train", "trainer_log.jsonl"), "\n".join(lines) + r.choice(["", "\n", "\n{\"step\": 9, \"lo"]))
            if r.random() < 0.5:
                os.makedirs(os.path.join(d, "train", "checkpoint-%d" % r.randint(1, 99)), exist_ok=True)
        for b in range(r.randint(0, 2)):
            e = os.path.join(d, "eval", "b%d" % b)
            os.makedirs(e, exist_ok=True)
            if r.random() < 0.8:
                summ = rand_json(r) if r.random() < 0.3 else {
                    "data": r.choice(["math500", "/p/aime24.jsonl", 7, None, ""]), "pass@1": r.choice([0.5, 1.5, -0.2, None, 55.0]),
                    "problems": r.choice([40, 0, -1, None]), "pass@k": hist_like(r), "maj@k": rand_json(r),
                    "complete": r.choice([True, False, None]), "samples_missing": r.choice([0, 3, None])}
                write(os.path.join(e, "summary.json"), json.dumps(summ) if r.random() < 0.9 else "{")
            if r.random() < 0.7:
                lines = []
                for i in range(r.randint(0, 80)):
                    rec = {"problem_index": r.choice([i, i // 2, None, -1, "a"]), "sample_index": r.choice([0, 1, None]),
                           "tokens": r.choice([r.randint(0, 70000), None, -5, 1e300, "many"]),
                           "correct": r.choice([True, False, None, 1, "yes"]), "finish_reason": r.choice(["stop", "length", None, 3])}
                    lines.append(json.dumps(rec) if r.random() < 0.95 else "{bad")
                write(os.path.join(e, "results.jsonl"), "\n".join(lines))
        if r.random() < 0.4:
            fit = rand_json(r) if r.random() < 0.4 else {"a": r.choice([1.0, None]), "b": r.choice([2.0, "x"]),
                                                          "data": [{"x": r.choice([1000, 0, -1, None]), "y": r.random(), "n": r.choice([10, 0, None])}
                                                                   for _ in range(r.randint(0, 5))],
                                                          "ci": {"replicates": r.choice([10, -1, 1e12, None]), "seed": r.choice([1, -3, None])}}
            write(os.path.join(d, "fit.jsonl"), json.dumps(fit) + "\n" + r.choice(["", "[1,2]\n", "{\"a\":1,\"b\":2}\n", "{"]))
    out = os.path.join(tmp, "r%d.html" % rnd)
    p = subprocess.run([BIN, "report", *dirs, "-o", out, "--bootstrap", r.choice(["0", "50"])], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "round %d: report rc=%d %s" % (rnd, p.returncode, p.stderr[-500:]))
    check("Sanitizer" not in p.stderr and "runtime error" not in p.stderr, "round %d: sanitizer: %s" % (rnd, p.stderr[-800:]))
    if os.path.exists(out):
        page = open(out, encoding="utf-8").read()
        check(page.rstrip().endswith("</html>"), "round %d: page complete" % rnd)
        body = re.sub(r"<[^>]+>", " ", page)
        check(not re.search(r"\bnan\b|\binf\b", body, re.I), "round %d: no nan/inf in the text: %s" % (
            rnd, re.findall(r".{40}\b(?:nan|inf)\b.{20}", body, re.I)[:2]))
        nwarn = len(re.findall(r"^warning: report:", p.stderr, re.M))
        check(page.count("<li><code>") == nwarn, "round %d: every warning is listed under Notes (%d vs %d)" % (
            rnd, page.count("<li><code>"), nwarn))
    # the same files as input to fit: never a crash
    for d in dirs:
        for root, _, files in os.walk(d):
            for fn in files:
                if fn.endswith(".jsonl"):
                    q = subprocess.run([BIN, "fit", "-i", os.path.join(root, fn), "-x", r.choice(["step", "tokens", "x", "problem_index"]),
                                        "-y", r.choice(["loss", "lr", "y", "tokens"]), "--bootstrap", "20", "-q"],
                                       capture_output=True, text=True, timeout=60)
                    check(q.returncode in (0, 2), "fit on %s: rc=%d %s" % (fn, q.returncode, q.stderr[-300:]))
                    check("Sanitizer" not in q.stderr and "runtime error" not in q.stderr, "fit sanitizer: %s" % q.stderr[-600:])
                    if q.returncode == 2:
                        check(fn in q.stderr or "--" in q.stderr, "fit error names the file: %s" % q.stderr.strip()[:200])

print("%d checks, %d failed" % (checks, fails), file=sys.stderr)
if not fails:
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
else:
    print("kept", tmp, file=sys.stderr)
sys.exit(1 if fails else 0)
