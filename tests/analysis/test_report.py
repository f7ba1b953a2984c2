#!/usr/bin/env python3
"""long1k report: a page from run directories shaped like synth/train/eval/fit outputs, with
missing and broken parts. Checks the page's contents, that it is self-contained, that every
inline SVG is well-formed XML, and renders it in headless Chromium: the DOM loads with the
expected sections, no console/JS errors are logged, and the screenshot is not blank (PNG
decoded here with zlib). Exit 77 only when chromium is not installed."""
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_fixture  # noqa: E402

BIN = os.environ.get("LONG1K_BIN", "build/long1k")
fails = 0
checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print("CHECK failed:", what, file=sys.stderr)


def report(*args):
    p = subprocess.run([BIN, "report", *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = {}
        self.ids = set()
        self.urls = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for k, v in attrs:
            if k == "id":
                self.ids.add(v)
            if k in ("src", "href") and v:
                self.urls.append(v)

    def handle_data(self, data):
        self.text.append(data)


def png_nonwhite(path):
    """Fraction of pixels that are not (near) white, and the number of distinct colours."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format %r" % ((depth, ctype, interlace),)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    nonwhite, colours, i = 0, set(), 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        for x in range(0, stride, bpp):
            r, g, bl = line[x], line[x + 1], line[x + 2]
            if r < 240 or g < 240 or bl < 240:
                nonwhite += 1
                if len(colours) < 5000:
                    colours.add((r >> 3, g >> 3, bl >> 3))
        prev = line
    return nonwhite / float(w * h), len(colours)


tmp = tempfile.mkdtemp(prefix="l1k_report_")
dirs = report_fixture.make(os.path.join(tmp, "runs"))
out = os.path.join(tmp, "report.html")
fitfile = os.path.join(tmp, "extra.fit.jsonl")
with open(fitfile, "w") as f:
    f.write(json.dumps({"group": "gpqa", "a": 38.2, "b": 2.66, "per_decade": 6.1, "r2": 0.997, "points": 4,
                        "data": [{"x": 1000, "y": 56.5}, {"x": 3000, "y": 59.6}, {"x": 6000, "y": 61.1}, {"x": 12000, "y": 63.2}],
                        "ci": {"replicates": 100, "seed": 2, "method": "residual"}}) + "\n")
rc, so, se = report(*dirs, "--out", out, "--title", "Long1K <sweep> & co", "--fit", fitfile, "--bootstrap", "300")
check(rc == 0, "report rc=%d %s" % (rc, se))
check("wrote" in se and "3 training logs" in se and "laws fitted" in se, "summary line: %s" % se.strip().splitlines()[-1:])
if not os.path.exists(out):
    print("no report written; %d checks, %d failed" % (checks, fails), file=sys.stderr)
    sys.exit(1)
page = open(out, encoding="utf-8").read()
p = Collect()
p.feed(page)
text = " ".join(p.text)

# sections and contents
for sid in ("runs", "law", "data", "train", "eval", "notes"):
    check(sid in p.ids, "section #%s" % sid)
check("Long1K &lt;sweep&gt; &amp; co" in page, "title escaped")
check(p.tags.get("svg", 0) >= 3 + 3 * 4 + 1 + 6 + 3, "inline plots: %d" % p.tags.get("svg", 0))
check("math500: accuracy against training length" in text and "aime24: accuracy against training length" in text, "law plots per benchmark")
check("Training loss, all runs" in text, "combined loss plot")
check("Response length: correct vs wrong" in text, "response length plot")
check("length_histogram" in text, "dataset histogram")
check("12000 tokens" in text and "1000 tokens" in text, "training lengths from long1k.json")
check(re.search(r'title="[^"]*len3k/data/long1k\.jsonl\.stats\.json: sets\[0\]\.mean_reasoning_tokens">3000 tokens', page) is not None,
      "training length from the synth stats when long1k.json has none")
check("sets[all].length_histogram" in text and "sets[all].k_histogram" in text, "synth histograms per set")
check(re.search(r"math500</td><td>3</td>", page) is not None, "math500 law over 3 runs")
check("extra.fit.jsonl" in text and "math500.fit.json" in text, "fit outputs listed")
check("qwen2.5-0.5b-len3k" in text, "eval model name")
check("judge pass@1" in text and "97.0%" in text, "judge columns when a summary has a judge")
check("87.50%" in page or "%" in text, "pass@1 in percent")
check("checkpoints" in text, "checkpoint column")
check("last eval loss" in text and re.search(r"<td>0\.7\d{3}</td>", page) is not None, "validation loss from the trainer log")
# what is missing or broken is said plainly
check("empty_run: nothing long1k writes was found" in text, "empty run said")
check(re.search(r"broken_run/eval/summary\.json:1: invalid JSON", text) is not None, "broken summary in the notes")
check("no readable summary.json" in text, "broken eval summary said")
check("1 line of invalid JSON skipped" in text, "torn trainer log line counted")
check("1 earlier line for the same (problem, sample) replaced" in text, "duplicate results counted")
check("Missing:" in text, "missing parts are marked")
check("nan" not in text.lower().replace("nano", ""), "no 'nan' printed anywhere")
check("(saturating: too few points)" in text, "3 points: the 3-parameter form is not compared")
# self-contained: no scripts, no external resources
check("script" not in p.tags, "no <script>")
ext = [u for u in p.urls if not u.startswith("#")]
check(not ext, "no external references: %r" % ext[:5])
check(not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page), "no network URLs")
check("@import" not in page and "url(http" not in page, "no CSS imports")
# every inline SVG parses as XML
svgs = re.findall(r"<svg .*?</svg>", page, re.S)
check(len(svgs) == p.tags.get("svg", 0), "svg count matches")
bad = 0
for s in svgs:
    try:
        ET.fromstring(s)
    except ET.ParseError as e:
        bad += 1
        if bad == 1:
            print("SVG parse error:", e, s[:200], file=sys.stderr)
check(bad == 0, "%d of %d inline SVGs do not parse" % (bad, len(svgs)))
# clip-path ids are unique per distinct plot
ids = re.findall(r'<clipPath id="([^"]+)"', page)
check(len(ids) == len(svgs), "one clipPath per plot")

# --svg-dir: every plot also as a file, each a well-formed SVG
svgdir = os.path.join(tmp, "figs")
rc, so, se = report(*dirs[:3], "-o", os.path.join(tmp, "r2.html"), "-q", "--bootstrap", "50", "--svg-dir", svgdir)
check(rc == 0, "--svg-dir rc=%d %s" % (rc, se))
files = sorted(os.listdir(svgdir)) if os.path.isdir(svgdir) else []
check(len(files) >= 20 and len(set(files)) == len(files), "plots written as files: %d" % len(files))
check(any("len3k-sets-all-.length_histogram" in f for f in files), "dataset figures named by run: %r" % files[:8])
for fn in files:
    try:
        ET.parse(os.path.join(svgdir, fn))
    except ET.ParseError as e:
        check(False, "%s: %s" % (fn, e))

# --- a report with most parts missing: one eval, no training length ---------------------------
only = os.path.join(tmp, "only_eval")
os.makedirs(os.path.join(only, "ev"))
with open(os.path.join(only, "ev", "summary.json"), "w") as f:
    json.dump({"data": "/some/where/amc23.jsonl", "pass@1": 0.4, "problems": 40, "complete": False, "samples_missing": 12}, f)
out2 = os.path.join(tmp, "partial.html")
rc, so, se = report(only, "-o", out2, "-q")
check(rc == 0 and se == "", "partial report rc=%d %s" % (rc, se))
t2 = open(out2, encoding="utf-8").read()
check("no run declares its training length" in t2, "law: says how to declare the training length")
check("no dataset statistics" in t2, "data: said missing")
check("no training log" in t2, "train: said missing")
check("amc23" in t2 and "incomplete (12 samples missing)" in t2, "eval: benchmark name from data path, incomplete said")
check("no results.jsonl" in t2, "eval: missing results said")

# --- real outputs of the sibling commands: long1k synth and long1k fit --------------------------
real = os.path.join(tmp, "real_run")
os.makedirs(os.path.join(real, "data"))
h = subprocess.run([BIN, "synth", "--help"], capture_output=True, text=True)
if h.returncode != 0 and "not part of this build" in h.stderr:
    print("note: long1k synth is not in this build; the real-synth part is left out", file=sys.stderr)
else:
    import random as _r
    rr = _r.Random(3)
    pool = os.path.join(tmp, "pool.jsonl")
    with open(pool, "w") as f:
        for i in range(120):
            a, b = rr.randint(1, 99), rr.randint(1, 99)
            steps = " ".join("Step %d: add the tens, then the units, and check." % j for j in range(rr.randint(5, 40)))
            f.write(json.dumps({"question": "What is %d+%d?" % (a, b), "deepseek_thinking_trajectory": steps,
                                "deepseek_attempt": "The answer is \\boxed{%d}." % (a + b), "solution": str(a + b)}) + "\n")
    sp = subprocess.run([BIN, "synth", "--pool", pool, "--out", os.path.join(real, "data", "long1k.jsonl"), "--samples", "12", "-k", "2"],
                        capture_output=True, text=True, timeout=300)
    check(sp.returncode == 0, "long1k synth rc=%d %s" % (sp.returncode, sp.stderr[-300:]))
pts = os.path.join(tmp, "pts.jsonl")
with open(pts, "w") as f:
    for x, y in zip([1000, 1500, 2000, 3000, 6000, 12000], [85.8, 87.4, 88.9, 90.2, 92.6, 94.1]):
        f.write(json.dumps({"len": x, "acc": y}) + "\n")
fp = subprocess.run([BIN, "fit", "-i", pts, "-x", "len", "-y", "acc", "--bootstrap", "200", "-q", "-o", os.path.join(real, "fit.jsonl")],
                    capture_output=True, text=True, timeout=60)
check(fp.returncode == 0, "long1k fit rc=%d %s" % (fp.returncode, fp.stderr))
out3 = os.path.join(tmp, "real.html")
rc, so, se = report(real, "-o", out3, "-q", "--bootstrap", "100")
check(rc == 0, "report of real outputs rc=%d %s" % (rc, se))
t3 = open(out3, encoding="utf-8").read() if os.path.exists(out3) else ""
if os.path.exists(os.path.join(real, "data", "long1k.jsonl.stats.json")):
    check("sets[all].length_histogram" in t3, "real synth stats: length histogram drawn")
    check(re.search(r'sets\[0\]\.mean_reasoning_tokens">\d+ tokens', t3) is not None, "real synth stats: training length read")
check("fit.jsonl" in t3 and "7.76" in t3, "real fit output listed with its per-decade slope")
check(t3.count("<svg") >= (2 if os.path.exists(os.path.join(real, "data", "long1k.jsonl.stats.json")) else 1), "real outputs plotted")

# --- errors ---------------------------------------------------------------------------------------
rc, so, se = report(os.path.join(tmp, "nope"), "-o", os.path.join(tmp, "x.html"))
check(rc == 2 and "nope: not a directory" in se, "missing run dir: exit 2 (%d %s)" % (rc, se.strip()))
check(not os.path.exists(os.path.join(tmp, "x.html")), "nothing written on error")
rc, so, se = report(*dirs, "-o", os.path.join(tmp, "y.html"), "--strict")
check(rc == 2 and "--strict" in se, "strict: a broken file is an error (%d %s)" % (rc, se.strip()[-200:]))
rc, so, se = report(dirs[0])
check(rc == 2 and "--out" in se, "--out required")
rc, so, se = report("--help")
check(rc == 0 and "long1k.json" in so and "train_length" in so, "--help documents the run layout")

# --- headless Chromium ------------------------------------------------------------------------------
chrome = shutil.which("chromium") or shutil.which("chromium-browser")
if not chrome:
    print("%d checks, %d failed" % (checks, fails), file=sys.stderr)
    if fails:
        sys.exit(1)
    print("SKIP: chromium is not installed (the page checks above ran)", file=sys.stderr)
    sys.exit(77)
prof = tempfile.mkdtemp(prefix="l1k_chrome_")
base = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--user-data-dir=" + prof, "--enable-logging=stderr", "--v=0"]
url = "file://" + os.path.abspath(out)
try:
    d = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    dom = d.stdout
    check(d.returncode == 0, "chromium --dump-dom rc=%d" % d.returncode)
    for sid in ("runs", "law", "data", "train", "eval", "notes"):
        check('id="%s"' % sid in dom, "rendered DOM has #%s" % sid)
    check(dom.count("<svg") == len(svgs), "rendered DOM keeps every plot (%d vs %d)" % (dom.count("<svg"), len(svgs)))
    errs = [l for l in d.stderr.splitlines()
            if re.search(r"CONSOLE|Uncaught|SyntaxError|Failed to load resource|net::ERR_", l)]
    check(not errs, "console / load errors: %r" % errs[:5])
    png = os.path.join(tmp, "shot.png")
    s = subprocess.run(base + ["--screenshot=" + png, "--window-size=1200,2000", url], capture_output=True, text=True, timeout=120)
    check(s.returncode == 0 and os.path.exists(png), "screenshot written (rc %d)" % s.returncode)
    errs = [l for l in s.stderr.splitlines() if re.search(r"CONSOLE|Uncaught|Failed to load resource|net::ERR_", l)]
    check(not errs, "console / load errors during the screenshot: %r" % errs[:5])
    if os.path.exists(png):
        frac, ncol = png_nonwhite(png)
        print("screenshot: %.1f%% non-white pixels, %d colours" % (100 * frac, ncol), file=sys.stderr)
        check(frac > 0.03, "screenshot is not blank: %.2f%% non-white" % (100 * frac))
        check(ncol > 20, "screenshot has colour (plots): %d colours" % ncol)
except subprocess.TimeoutExpired:
    check(False, "chromium timed out")
finally:
    shutil.rmtree(prof, ignore_errors=True)

if fails == 0:
    shutil.rmtree(tmp, ignore_errors=True)
else:
    print("kept", tmp, file=sys.stderr)
print("%d checks, %d failed" % (checks, fails), file=sys.stderr)
sys.exit(1 if fails else 0)
