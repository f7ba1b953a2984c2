#!/usr/bin/env bash
# long1k built without libcurl (cmake -DLONG1K_CURL=OFF, as scripts/gpu-check.sh builds it on
# the GPU machine): `eval --endpoint` must stop with one line naming the missing library and
# exit 2. Skips (77) in a build with libcurl; tests/eval/test_client_nocurl.c checks the same
# path in every build.
set -u
BIN=${LONG1K_BIN:?}
BUILD=${LONG1K_BUILD:-}
if [[ -n $BUILD ]] && grep -qE '^LONG1K_CURL:STRING=(ON|AUTO)$' "$BUILD/CMakeCache.txt" 2>/dev/null &&
   grep -q '^CURL_FOUND:INTERNAL=1$' "$BUILD/CMakeCache.txt"; then
  echo "SKIP: this long1k is built with libcurl (LONG1K_CURL=ON/AUTO and found)"; exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo '{"id":"a","problem":"1+1?","answer":"2"}' >"$T/d.jsonl"
"$BIN" eval --data "$T/d.jsonl" --endpoint http://127.0.0.1:9/v1 --model-name m --n 1 \
  --retries 0 --timeout 1 --out "$T/out" >"$T/stdout" 2>"$T/err"
rc=$?
want="long1k eval: long1k was built without libcurl: --endpoint is not available; use --model"
if [[ $rc != 2 ]] || [[ $(wc -l <"$T/err") != 1 ]] || [[ $(cat "$T/err") != "$want" ]]; then
  echo "FAIL: eval --endpoint without libcurl: exit $rc (want 2), stderr:"; cat "$T/err"
  exit 1
fi
echo "eval --endpoint without libcurl: one line, exit 2: ok"
