# Shared preamble for the shell tests: `source "$LONG1K_SRC/tests/lib.sh"` (or
# "$(dirname "$0")/../lib.sh") sets BIN, SRC, SHARED, a private temp dir T removed on exit,
# OMP_NUM_THREADS=1, and the counters and checks below. need_model DIR skips (exit 77) when a
# golden model is missing; finish prints the tally and exits 1 on any failure.
set -u
BIN=${LONG1K_BIN:?LONG1K_BIN not set}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
need_model() { [[ -d $1 ]] || { echo "SKIP: no golden model at $1"; exit 77; }; }
# one_line FILE: the file holds exactly one non-empty line (the CLI's error convention)
one_line() { [[ $(grep -c . "$1") -eq 1 ]]; }
finish() {
  echo "$pass checks passed, $fail failed"
  [[ $fail -eq 0 ]]
  exit $?
}
