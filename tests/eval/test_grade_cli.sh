#!/usr/bin/env bash
# long1k grade (CLI): --pairs and benchmark-results modes, numbers and null, multiple choice,
# -o (atomic), the summary, and bad input (file:line, exit 2).
set -u
BIN=${LONG1K_BIN:?LONG1K_BIN not set}
SHARED=${LONG1K_SHARED:-../shared}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

# --help
"$BIN" grade --help >"$T/help" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q -- "--pairs" "$T/help" && grep -q -- "--gold-field" "$T/help"' "--help"

# --pairs: equal added to each line, in order, other fields kept
cat >"$T/pairs.jsonl" <<'EOF'
{"id": 1, "gold": "1/2", "pred": "0.5"}
{"id": 2, "gold": "\\frac{1}{3}", "pred": "The answer is $\\boxed{\\frac13}$."}
{"id": 3, "gold": "2", "pred": "3"}

{"id": 4, "gold": 5, "pred": 5.0}
{"id": 5, "gold": "x", "pred": null}
{"id": 6, "gold": "C", "pred": "I think the correct answer is C"}
EOF
"$BIN" grade --pairs "$T/pairs.jsonl" >"$T/pairs.out" 2>"$T/pairs.err"; rc=$?
check '[ $rc -eq 0 ]' "pairs exit code"
check '[ $(wc -l <"$T/pairs.out") -eq 6 ]' "pairs: 6 lines out"
python3 - "$T/pairs.out" <<'EOF' || bad "pairs verdicts"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6], rows
assert [r["equal"] for r in rows] == [True, True, False, True, False, True], [r["equal"] for r in rows]
assert rows[0]["gold"] == "1/2" and rows[0]["pred"] == "0.5"
EOF
check 'grep -q "graded 6 lines: 4 equal (accuracy 66.67%)" "$T/pairs.err"' "pairs summary: $(cat "$T/pairs.err")"
check 'grep -q "1 blank line skipped" "$T/pairs.err"' "blank line counted"

# default mode: extracted + correct; custom fields; multiple choice
cat >"$T/res.jsonl" <<'EOF'
{"answer": "\\frac{639}{40}", "response": "<think>maybe \\boxed{2}</think>so $\\boxed{15\\frac{39}{40}}$ inches"}
{"answer": "B", "response": "Hence the answer is (B)."}
{"answer": "10", "response": "I could not solve it."}
EOF
"$BIN" grade --choices 4 "$T/res.jsonl" >"$T/res.out" 2>"$T/res.err"; rc=$?
check '[ $rc -eq 0 ]' "results exit code"
python3 - "$T/res.out" <<'EOF' || bad "results fields"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0]["extracted"] == "15\\frac{39}{40}" and rows[0]["correct"] is True, rows[0]
assert rows[1]["extracted"] == "B" and rows[1]["correct"] is True, rows[1]
assert rows[2]["extracted"] is None and rows[2]["correct"] is False, rows[2]
EOF
check 'grep -q "graded 3 lines: 2 correct (accuracy 66.67%), 1 without an extractable answer" "$T/res.err"' "results summary: $(cat "$T/res.err")"

sed 's/"answer"/"ref"/; s/"response"/"out"/' "$T/res.jsonl" >"$T/res2.jsonl"
"$BIN" grade -c 4 --gold-field ref --response-field out -o "$T/res2.out" "$T/res2.jsonl" 2>/dev/null; rc=$?
check '[ $rc -eq 0 ] && [ $(grep -c "\"correct\":true" "$T/res2.out") -eq 2 ]' "custom fields and -o"

# stdin, --out-field
printf '{"gold":"x = 2","pred":"2"}\n' | "$BIN" grade --pairs --out-field ours -q >"$T/stdin.out" 2>"$T/stdin.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "\"ours\":true" "$T/stdin.out" && [ ! -s "$T/stdin.err" ]' "stdin, --out-field, -q"

# an existing verdict field is replaced (not duplicated); CRLF and trailing spaces are fine
printf '{"gold":"2","pred":"3","equal":true}\r\n{"gold":"2","pred":"2"}   \r\n' >"$T/crlf.jsonl"
"$BIN" grade --pairs -q "$T/crlf.jsonl" >"$T/crlf.out" 2>&1; rc=$?
python3 - "$T/crlf.out" <<'EOF' || bad "replaced field / CRLF"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["equal"] for r in rows] == [False, True], rows
assert all(list(r).count("equal") == 1 for r in rows)
EOF
check '[ $rc -eq 0 ]' "CRLF exit code"

# bad input: invalid JSON, not an object, missing field, wrong type, unknown option
printf '{"gold":"1","pred":"1"}\n{"gold": oops}\n' >"$T/bad1.jsonl"
"$BIN" grade --pairs "$T/bad1.jsonl" >/dev/null 2>"$T/bad1.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad1.jsonl:2:" "$T/bad1.err"' "invalid JSON -> file:line, exit 2: $(cat "$T/bad1.err")"
printf '{"gold":"1","pred":"1"} x\n' >"$T/bad5.jsonl"
"$BIN" grade --pairs "$T/bad5.jsonl" >/dev/null 2>"$T/bad5.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad5.jsonl:1: invalid JSON: unexpected text after the value" "$T/bad5.err"' "trailing text"
printf '[1,2]\n' >"$T/bad2.jsonl"
"$BIN" grade --pairs "$T/bad2.jsonl" >/dev/null 2>"$T/bad2.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad2.jsonl:1: expected a JSON object" "$T/bad2.err"' "not an object"
printf '{"gold":"1","pred":"1"}\n\n{"gold":"1"}\n' >"$T/bad3.jsonl"
"$BIN" grade --pairs "$T/bad3.jsonl" >/dev/null 2>"$T/bad3.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad3.jsonl:3: field .pred.: expected a string or number (missing)" "$T/bad3.err"' "missing field: $(cat "$T/bad3.err")"
printf '{"answer":[1],"response":"1"}\n' >"$T/bad4.jsonl"
"$BIN" grade "$T/bad4.jsonl" >/dev/null 2>"$T/bad4.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "bad4.jsonl:1: field .answer.: expected a string or number" "$T/bad4.err"' "wrong type"
"$BIN" grade --bogus "$T/res.jsonl" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "unknown option"
"$BIN" grade "$T/missing.jsonl" >/dev/null 2>"$T/miss.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "missing.jsonl" "$T/miss.err"' "missing file"
# -o is atomic: nothing written on bad input
"$BIN" grade --pairs -o "$T/never.jsonl" "$T/bad1.jsonl" >/dev/null 2>&1; rc=$?
check '[ ! -e "$T/never.jsonl" ]' "-o leaves no partial file"

# the dev cases through the CLI
DEV="$SHARED/eval/grader_cases.dev.jsonl"
if [ -f "$DEV" ]; then
  "$BIN" grade --pairs --out-field ours "$DEV" >"$T/dev.out" 2>"$T/dev.err"; rc=$?
  check '[ $rc -eq 0 ] && [ $(wc -l <"$T/dev.out") -eq 249 ]' "dev cases through the CLI"
  python3 - "$T/dev.out" <<'EOF' || bad "dev agreement through the CLI"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
agree = sum(r["ours"] == r["equal"] for r in rows)
print(f"CLI agreement {agree}/{len(rows)}", file=sys.stderr)
assert agree / len(rows) >= 0.97
EOF
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
