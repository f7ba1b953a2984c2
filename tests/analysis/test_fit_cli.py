#!/usr/bin/env python3
"""long1k fit end to end: the paper's MATH500 read-offs give ~7.7 points per decade (checked
against a least-squares solution computed here), groups, weights, predictions, the SVG parses,
and bad input stops with FILE:LINE, the field, and exit code 2."""
import json
import math
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

BIN = os.environ.get("LONG1K_BIN", "build/long1k")
fails = 0
checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print("CHECK failed:", what, file=sys.stderr)


def run(*args, stdin=None):
    p = subprocess.run([BIN, "fit", *args], capture_output=True, text=True, input=stdin, timeout=60)
    return p.returncode, p.stdout, p.stderr


def ref_ls(xs, ys, ws=None):
    """Weighted least squares of y on ln x via centred sums (a different route from the C test)."""
    ws = ws or [1.0] * len(xs)
    L = [math.log(x) for x in xs]
    W = sum(ws)
    lbar = sum(w * l for w, l in zip(ws, L)) / W
    ybar = sum(w * y for w, y in zip(ws, ys)) / W
    b = sum(w * (l - lbar) * (y - ybar) for w, l, y in zip(ws, L, ys)) / sum(w * (l - lbar) ** 2 for w, l in zip(ws, L))
    return ybar - b * lbar, b


tmp = tempfile.mkdtemp(prefix="l1k_fit_")
X = [1000, 1500, 2000, 3000, 6000, 12000]
Y = [85.8, 87.4, 88.9, 90.2, 92.6, 94.1]
pts = os.path.join(tmp, "math500.jsonl")
with open(pts, "w") as f:
    for x, y in zip(X, Y):
        f.write(json.dumps({"run": {"train_tokens": x}, "pass@1": y, "bench": "math500", "n": 500}) + "\n")
    # a second group: GPQA-Diamond read-offs (56.5% -> 63.2%)
    for x, y in zip([1000, 3000, 6000, 12000], [56.5, 59.6, 61.1, 63.2]):
        f.write(json.dumps({"run": {"train_tokens": x}, "pass@1": y, "bench": "gpqa", "n": 198}) + "\n")

# --- the paper's points, one group, unweighted ---------------------------------------------
only = os.path.join(tmp, "only.jsonl")
with open(only, "w") as f:
    for x, y in zip(X, Y):
        f.write(json.dumps({"x": x, "y": y}) + "\n")
svg = os.path.join(tmp, "fit.svg")
rc, out, err = run("--input", only, "--x", "x", "--y", "y", "--predict", "4000", "--target", "93",
                   "--bootstrap", "400", "--seed", "3", "--svg", svg)
check(rc == 0, "fit rc=%d err=%s" % (rc, err))
lines = [l for l in out.splitlines() if l.strip()]
check(len(lines) == 1, "one JSON line without --by")
r = json.loads(lines[0])
a_ref, b_ref = ref_ls(X, Y)
check(abs(r["b"] - b_ref) < 1e-7, "b %r vs reference %r" % (r["b"], b_ref))
check(abs(r["a"] - a_ref) < 1e-6, "a %r vs reference %r" % (r["a"], a_ref))
check(abs(r["per_decade"] - 7.7) < 0.1, "per decade %r ~ 7.7" % r["per_decade"])
check(abs(r["per_decade"] - b_ref * math.log(10)) < 1e-7, "per decade = b ln 10")
check(abs(r["per_doubling"] - b_ref * math.log(2)) < 1e-7, "per doubling = b ln 2")
check(r["ci"]["b"][0] < r["b"] < r["ci"]["b"][1], "b inside its CI")
check(r["ci"]["replicates_ok"] == 400 and r["ci"]["seed"] == 3, "bootstrap settings echoed")
check(abs(r["predict"][0]["y"] - (a_ref + b_ref * math.log(4000))) < 1e-6, "prediction at 4000")
check(abs(r["target"][0]["x"] - math.exp((93 - a_ref) / b_ref)) < 1e-3 * r["target"][0]["x"], "x for target 93")
check({m["name"] for m in r["models"]} == {"log", "power", "saturating"}, "three models")
best = [m for m in r["models"] if m["name"] == r["best_model"]][0]
check(best["delta_aic"] == 0, "best model has delta AIC 0")
check("per decade" in err and "model comparison" in err, "table on stderr")
check(len(r["data"]) == 6, "points echoed")
# same seed, same answer
rc2, out2, _ = run("--input", only, "--x", "x", "--y", "y", "--bootstrap", "400", "--seed", "3", "-q")
check(json.loads(out2)["ci"] == r["ci"], "seeded bootstrap is reproducible")

# the SVG is well-formed XML with the parts a reader needs
try:
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    check(root.tag == ns + "svg", "svg root")
    texts = [t.text or "" for t in root.iter(ns + "text")]
    check(any("log scale" in t for t in texts), "log axis label")
    check(any(t == "1k" for t in texts) and any(t == "10k" for t in texts), "nice log ticks 1k..10k: %r" % texts)
    check(any("95% band" in t for t in texts), "band in the legend")
    check(len(list(root.iter(ns + "polyline"))) >= 1, "fit line drawn")
except ET.ParseError as e:
    check(False, "SVG parse error: %s" % e)

# --- groups, dotted fields, binomial weights ------------------------------------------------
out_json = os.path.join(tmp, "fit.json")
rc, out, err = run("-i", pts, "-x", "run.train_tokens", "-y", "pass@1", "-n", "n", "--by", "bench",
                   "--bootstrap", "200", "-o", out_json, "-q")
check(rc == 0 and out == "", "grouped fit to --out: rc=%d %s" % (rc, err))
groups = [json.loads(l) for l in open(out_json) if l.strip()]
check([g["group"] for g in groups] == ["math500", "gpqa"], "groups in order of appearance")
g = groups[0]
check(g["weighted"] and g["y_scale"] == 100 and g["ci"]["method"] == "binomial", "weighted, percent, binomial bootstrap")
ws = []
for y in Y:
    p = y / 100
    ws.append(500 / (1e4 * p * (1 - p)))
a_w, b_w = ref_ls(X, Y, ws)
check(abs(g["b"] - b_w) < 1e-7, "weighted b %r vs reference %r" % (g["b"], b_w))
check(groups[1]["points"] == 4, "gpqa has 4 points")

# fractions work the same
frac = os.path.join(tmp, "frac.jsonl")
with open(frac, "w") as f:
    for x, y in zip(X, Y):
        f.write(json.dumps({"x": x, "y": y / 100, "n": 500}) + "\n")
rc, out, err = run("-i", frac, "-x", "x", "-y", "y", "-n", "n", "--bootstrap", "0", "-q")
check(rc == 0, "fractions rc=%d %s" % (rc, err))
gf = json.loads(out)
check(gf["y_scale"] == 1 and abs(gf["b"] * 100 - b_w) < 1e-7, "fractions: same law / 100")
check(gf["ci"]["b"] == [None, None], "no bootstrap: CI is null")


# --- bad input: FILE:LINE, the field, exit 2 --------------------------------------------------
def bad(content, args, *needles):
    path = os.path.join(tmp, "bad.jsonl")
    with open(path, "w") as f:
        f.write(content)
    rc, out, err = run("-i", path, *args)
    check(rc == 2, "exit 2 for %r (got %d, %s)" % (content[:40], rc, err.strip()))
    for n in needles:
        check(n.replace("FILE", path) in err, "message %r has %r" % (err.strip(), n.replace("FILE", path)))
    check(out == "", "nothing on stdout for bad input")
    check("Sanitizer" not in err, "no sanitizer report")


xy = ["-x", "x", "-y", "y", "--bootstrap", "10", "-q"]
bad('{"x": 1000, "y": 1}\n{"x": 1000, "y": 2}\n', xy, "FILE", "distinct x")
bad('{"x": 1000, "y": 1}\n', xy, "distinct x")
bad("", xy, "no points")
bad('{"x": 1000, "y": 1}\n{"x": 0, "y": 2}\n', xy, "FILE:2", "'x'", "x > 0")
bad('{"x": 1000, "y": 1}\n{"x": -5, "y": 2}\n', xy, "FILE:2", "x > 0")
bad('{"x": 1000, "y": 1}\n\n{"y": 2}\n', xy, "FILE:3", "missing field 'x'")
bad('{"x": 1000, "y": 1}\n{"x": 2000, "y": NaN}\n', xy, "FILE:2")
bad('{"x": 1000, "y": 1}\n{"x": 2000, "y": "NaN"}\n', xy, "FILE:2", "field 'y'", "expected a number")
bad('{"x": 1000, "y": 1}\n{"x": 2000, "y": null}\n', xy, "FILE:2", "field 'y'", "got null")
bad('{"x": 1000, "y": 1}\n{"x": 2000, "y": 1e999}\n', xy, "FILE:2", "finite")
bad('{"x": 1000, "y": 1}\n[1, 2]\n', xy, "FILE:2", "JSON object")
bad('{"x": 1000, "y": 1}\n{"x": 2000, "y": 2, \n', xy, "FILE:2")
bad('{"x": 1000, "y": 50, "n": 10}\n{"x": 2000, "y": 120, "n": 10}\n', xy + ["-n", "n"], "FILE:2", "proportion")
bad('{"x": 1000, "y": 0.5, "n": 10}\n{"x": 2000, "y": 0.6, "n": 0}\n', xy + ["-n", "n"], "FILE:2", "'n'", ">= 1")
bad('{"x": 1000, "y": 1, "g": "a"}\n{"x": 2000, "y": 2, "g": "a"}\n{"x": 3000, "y": 2, "g": "b"}\n',
    xy + ["--by", "g"], "group g='b'", "distinct x")
bad('{"x": 1000, "y": 1, "g": [1]}\n', xy + ["--by", "g"], "FILE:1", "group by")

# option errors
for args in (["-x", "x", "-y", "y"], ["-i", only, "-x", "x"], ["-i", only, "-x", "x", "-y", "y", "--bootstrap", "-1"],
             ["-i", only, "-x", "x", "-y", "y", "--predict", "0"], ["-i", only, "-x", "x", "-y", "y", "--level", "2"],
             ["-i", only, "-x", "x", "-y", "y", "--bogus"], ["-i", only, "-x", "x", "-y", "y", "--boot-method", "binomial"],
             ["-i", os.path.join(tmp, "missing.jsonl"), "-x", "x", "-y", "y"]):
    rc, out, err = run(*args)
    check(rc == 2 and err.strip(), "usage error exit 2 for %r: %d %s" % (args, rc, err.strip()))
rc, out, err = run("--help")
check(rc == 0 and "--predict" in out and "--target" in out and "--by" in out, "--help on stdout")

print("%d checks, %d failed" % (checks, fails), file=sys.stderr)
sys.exit(1 if fails else 0)
