#!/usr/bin/env bash
# A shortened `long1k demo` end to end: every stage runs and leaves its artifacts.
set -uo pipefail
BIN=${LONG1K_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
args=(--quick --out "$T/d")
if [[ "${LONG1K_SANITIZER:-0}" == 1 ]]; then
  args+=(--sets 1,2 --samples 12 --steps 2 --heldout 4)   # same stages, less work under ASan
fi
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$BIN" demo "${args[@]}" 2>"$T/log" || { echo "FAIL: demo exited $?"; tail -30 "$T/log"; exit 1; }
d=$T/d
for f in pool.jsonl heldout.jsonl base/config.json base/model.safetensors base/tokenizer.json \
         points.jsonl fit.json report.html summary.json base_eval/summary.json; do
  [[ -s $d/$f ]] || { echo "FAIL: missing $f"; fail=1; }
done
ks=$(python3 -c "import json;print(' '.join(str(r['k']) for r in json.load(open('$d/summary.json'))['runs']))")
[[ -n $ks ]] || { echo "FAIL: summary.json has no runs"; fail=1; }
for k in $ks; do
  for f in sets/k$k.jsonl sets/k$k.jsonl.stats.json runs/k$k/train.yaml runs/k$k/out/trainer_log.jsonl \
           runs/k$k/out/training_loss.svg runs/k$k/eval/results.jsonl runs/k$k/eval/summary.json runs/k$k/long1k.json; do
    [[ -s $d/$f ]] || { echo "FAIL: missing $f"; fail=1; }
  done
  ls -d "$d"/runs/k$k/out/checkpoint-* >/dev/null 2>&1 || { echo "FAIL: no checkpoint for k=$k"; fail=1; }
done
python3 - "$d" <<'EOP' || fail=1
import json, os, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "summary.json")))
runs = s["runs"]
assert len(runs) >= 2, runs
held = sum(1 for l in open(os.path.join(d, "heldout.jsonl")) if l.strip())
assert held == s["heldout"], (held, s["heldout"])
# training lengths grow with k (joining problems makes longer reasoning)
lens = [r["train_length"] for r in runs]
assert all(a < b for a, b in zip(lens, lens[1:])), lens
for r in runs:
    k = r["k"]
    # every sample of set k joins k problems, except the single-problem share (--mix-single,
    # default 0.25 of the k > 1 sets)
    recs = [json.loads(line) for line in open(os.path.join(d, "sets", f"k{k}.jsonl"))]
    for rec in recs:
        m = rec["meta"]
        assert m["k"] == k or (k > 1 and m["k"] == 1 and m.get("single")), m
        assert rec["messages"][-1]["role"] == "assistant"
    singles = sum(1 for rec in recs if rec["meta"]["k"] != k)
    assert singles == (round(0.25 * len(recs)) if k > 1 else 0), (k, singles, len(recs))
    # eval graded every held-out problem, and summary accuracy matches the results
    res = [json.loads(l) for l in open(os.path.join(d, "runs", f"k{k}", "eval", "results.jsonl"))]
    assert len(res) == held, (len(res), held)
    acc = sum(1 for x in res if x["correct"]) / held
    assert abs(acc - r["accuracy"]) < 1e-6, (acc, r)
    log = [json.loads(l) for l in open(os.path.join(d, "runs", f"k{k}", "out", "trainer_log.jsonl"))]
    assert log and log[-1]["step"] == s["steps"], log[-1]
    assert all(x["loss"] == x["loss"] for x in log)  # no NaN
fit = json.load(open(os.path.join(d, "fit.json")))
assert "b" in fit, fit
html = open(os.path.join(d, "report.html")).read()
assert "<svg" in html and "</html>" in html
# the runs table: one row per run, each with its set's statistics; no row for the sets folder
import re
for r in runs:
    k = r["k"]
    assert os.path.getsize(os.path.join(d, "runs", f"k{k}", "dataset.stats.json")) > 0
    row = re.search(r"<tr><td>k%d</td><td class=\"t\"><code>[^<]*</code></td><td[^>]*>[^<]*</td><td>([^<]*)</td>" % k, html)
    assert row and row.group(1) == "yes", (k, row and row.group(1))
assert not re.search(r"<tr><td>sets</td>", html), "the sets folder is listed as a run"
print("demo artifacts ok:", [(r["k"], round(r["train_length"]), r["accuracy"]) for r in runs])
EOP
grep -q "long1k demo summary" "$T/log" || { echo "FAIL: no summary table printed"; fail=1; }
exit $fail
