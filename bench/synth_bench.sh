#!/usr/bin/env bash
# Benchmark for `long1k synth` (docs/bench/synth.md): a generated 114k-record pool of about
# 1 GB (OpenThoughts-114k schema), 1,000 samples of 2 problems with a length target,
# decontaminated against MATH500; timed next to the Python + HF tokenizers peer
# (bench/synth_peer.py) on the same pool, same machine, same run.
#
#   bench/synth_bench.sh [LONG1K_BIN]     env: BENCH_DIR (pool cache, default /tmp/long1k-synth-bench),
#                                         N (records, 114000), TARGET (MIN:MAX, 3500:4500), PEER=0 skips
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${LONG1K_BIN:-build/long1k}}
DIR=${BENCH_DIR:-/tmp/long1k-synth-bench}
N=${N:-114000}
TARGET=${TARGET:-3500:4500}
mkdir -p "$DIR"
POOL="$DIR/pool_${N}.jsonl"
if [ ! -s "$POOL" ]; then
  echo "generating $N records -> $POOL"
  python3 bench/synth_gen_pool.py --schema openthoughts --n "$N" --reason-words 1250 --spread 0.6 \
    --seed 7 --dups 200 --near-dups 200 --contaminate data/benchmarks/math500.jsonl:100 --out "$POOL"
fi
SIZE=$(stat -c %s "$POOL")
echo "pool: $POOL, $N records, $((SIZE / 1000000)) MB; $(nproc) cores"
cat "$POOL" > /dev/null   # warm the page cache for both runs alike
TIMEFMT="%e s wall, %M KB max RSS"
/usr/bin/time -f "$TIMEFMT" -o "$DIR/ours.time" "$BIN" synth --pool "$POOL" --samples 1000 -k 2 \
  --target-tokens "$TARGET" --decontaminate data/benchmarks/math500.jsonl --seed 1 \
  --out "$DIR/ours.jsonl" --no-progress > "$DIR/ours.log"
cat "$DIR/ours.log"
OURS=$(cat "$DIR/ours.time")
RUN_PEER=${PEER:-1}
PEER="skipped"
if [ "$RUN_PEER" != "0" ] && python3 -c "import tokenizers" 2>/dev/null; then
  /usr/bin/time -f "$TIMEFMT" -o "$DIR/peer.time" python3 bench/synth_peer.py --pool "$POOL" \
    --eval data/benchmarks/math500.jsonl --tokenizer data/tokenizers/qwen/tokenizer.json \
    --samples 1000 -k 2 --target "$TARGET" --seed 1 --out "$DIR/peer.jsonl" > "$DIR/peer.log"
  PEER="$(cat "$DIR/peer.time") ($(cat "$DIR/peer.log"))"
fi
echo
echo "| job | long1k synth | peer (Python json + HF tokenizers $(python3 -c 'import tokenizers; print(tokenizers.__version__)' 2>/dev/null || echo '-')) |"
echo "| --- | --- | --- |"
echo "| $N records, $((SIZE / 1000000)) MB, 1000 samples k=2 target $TARGET, decontam MATH500 | $OURS | $PEER |"
