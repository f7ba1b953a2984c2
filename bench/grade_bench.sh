#!/usr/bin/env bash
# Grading throughput (docs/bench/grade.md): `long1k grade --pairs` (one thread) next to
# Math-Verify (pip math-verify, the peer, bench/grade_mathverify.py) on the same inputs in the
# same run: the 249 dev cases (../shared/eval/grader_cases.dev.jsonl), the grader's own test set
# (tests/eval/data/grader_cases.{dev,heldout}.jsonl) and 10,000 generated long
# responses (bench/grade_gen.py). Math-Verify grades 10-40 answers/s, so by default it runs on
# the first MV_LIMIT (500) generated lines; MV_LIMIT=0 runs it on all of them.
#
#   bench/grade_bench.sh [LONG1K_BIN]    env: PY (python with math_verify), N (10000),
#                                        MV_LIMIT (500), BENCH_DIR (/tmp/long1k-grade-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${LONG1K_BIN:-build/long1k}}
PY=${PY:-python3}
N=${N:-10000}
MV_LIMIT=${MV_LIMIT:-500}
DIR=${BENCH_DIR:-/tmp/long1k-grade-bench}
SHARED=${LONG1K_SHARED:-../shared}
mkdir -p "$DIR"
DEV="$SHARED/eval/grader_cases.dev.jsonl"
GEN="$DIR/gen_${N}.jsonl"
[ -s "$GEN" ] || python3 bench/grade_gen.py --n "$N" --seed 1 --out "$GEN"
echo "machine: $(nproc) cores, $(uname -m); inputs: $DEV (249), $GEN ($N, $(($(stat -c %s "$GEN") / 1000000)) MB)"

ours() { # file ref-field -> "grades/s (grading only) | wall s end-to-end | agreement"
  local f=$1 ref=$2 out="$DIR/ours.$(basename "$1")"
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" grade --pairs --timing --out-field ours "$f" >"$out" 2>"$DIR/ours.err"
  t1=$(date +%s.%N)
  local rate
  rate=$(sed -n 's/.*, \([0-9]*\) grades\/s.*/\1/p' "$DIR/ours.err")
  local agree
  agree=$(python3 -c "
import json,sys
rows=[json.loads(l) for l in open('$out')]
print(f\"{sum(r['ours']==r['$ref'] for r in rows)/len(rows):.4f}\")")
  local wall
  wall=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  echo "$rate|$wall|$agree"
}

IFS='|' read -r o_dev_rate o_dev_wall o_dev_agree <<<"$(ours "$DEV" equal)"
IFS='|' read -r o_gen_rate o_gen_wall o_gen_agree <<<"$(ours "$GEN" label)"
OWN_DEV=tests/eval/data/grader_cases.dev.jsonl
OWN_HELD=tests/eval/data/grader_cases.heldout.jsonl
IFS='|' read -r o_od_rate o_od_wall o_od_agree <<<"$(ours "$OWN_DEV" equal)"
IFS='|' read -r o_oh_rate o_oh_wall o_oh_agree <<<"$(ours "$OWN_HELD" equal)"
echo "long1k dev:  $o_dev_rate grades/s (grading only), ${o_dev_wall} s wall, agreement $o_dev_agree"
echo "long1k own dev ($OWN_DEV):  $o_od_rate grades/s (grading only), agreement $o_od_agree"
echo "long1k own held-out ($OWN_HELD):  $o_oh_rate grades/s (grading only), agreement $o_oh_agree"
echo "long1k gen:  $o_gen_rate grades/s (grading only), ${o_gen_wall} s wall for $N (incl. JSON I/O, $(python3 -c "print(round($N/$o_gen_wall))") lines/s), agreement with labels $o_gen_agree"

if "$PY" -c "import math_verify" 2>/dev/null; then
  MVV=$("$PY" -c "import importlib.metadata as m; print(m.version('math-verify'))")
  mv_dev=$("$PY" bench/grade_mathverify.py "$DEV" --ref equal 2>/dev/null | tail -1)
  mv_gen=$("$PY" bench/grade_mathverify.py "$GEN" --ref label --wrap-gold --limit "$MV_LIMIT" 2>/dev/null | tail -1)
  echo "math-verify $MVV dev: $mv_dev"
  for part in "$OWN_DEV" "$OWN_HELD"; do
    echo "math-verify $MVV $part: $("$PY" bench/grade_mathverify.py "$part" --ref equal 2>/dev/null | tail -1)" \
      "(bare golds in \$...\$: $("$PY" bench/grade_mathverify.py "$part" --ref equal --wrap-bare-gold 2>/dev/null | tail -1))"
  done
  echo "math-verify $MVV gen: $mv_gen"
else
  echo "math-verify: not installed for $PY (pip install math-verify); peer skipped"
fi
