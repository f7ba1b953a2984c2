#!/usr/bin/env bash
# long1k CPU benchmarks vs their peers on a bigger machine (the lent device machine's CPUs,
# 16 cores), in one run: tokenizer (thread scaling), one training step, decode.
#
#   bench/device_cpu_bench.sh              (env: OUT, DEVBENCH, PY, QUICK=1, THREADS, BUDGET, BUILD)
#
# The device machine has python3 with torch, transformers and tokenizers, but none of our
# Debian libraries and no network, so the long1k side runs as prebuilt binaries linked
# statically against OpenBLAS, libgomp, libgfortran, utf8proc and zlib (only libcjson.so.1 is
# carried, see LD_LIBRARY_PATH). Prepare them here with `bench/device_cpu_bench.sh --prepare`
# (writes DEVBENCH=.devbench: bin.tar.xz, lib/, corpus/, tokenizers/), then on the device:
#
#   OUT=$OUT bench/device_cpu_bench.sh      (with carry: .devbench/{bin.tar.xz,lib,corpus,tokenizers})
#
# Peers are exactly the ones in the other bench scripts, imported from them (not copied):
#   tokenizer  bench/tokenizer_bench_hf.py (HF tokenizers encode_batch, RAYON_NUM_THREADS=n)
#              vs bench/tokenizer_bench.c (l1k_tokenizer_encode, n pthreads);
#   train step model_train_step.PEER (transformers + torch, sdpa) vs bench/model_train_step.c,
#              same model dir made by `long1k init` with the shape of bench/model_train_step.py;
#   decode     generate_bench.py --peer torch vs bench/generate_bench.c, model made by
#              generate_bench.make_model (transformers, seed 0, bf16 on disk, f32 compute).
# Each measurement has its own timeout, so one failure does not lose the others. Results go to
# $OUT/{env,tokenizer,train,generate}.txt; the full trace to $OUT/log.txt.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
DEVBENCH=${DEVBENCH:-$ROOT/.devbench}

if [ "${1:-}" = "--prepare" ]; then
  # Build the static binaries here (Release build dir BUILD, default build-dev).
  set -e
  BUILD=${BUILD:-build-dev}
  SHARED=${LONG1K_SHARED:-../shared}
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLONG1K_WERROR=ON >/dev/null
  cmake --build "$BUILD" -j2 --target long1k_core long1k_text long1k_model >/dev/null
  mkdir -p "$DEVBENCH/bin" "$DEVBENCH/lib" "$DEVBENCH/corpus" "$DEVBENCH/tokenizers"
  gomp=$(cc -print-file-name=libgomp.a)
  # -u: pull in openblas_get_corename, which l1k_backend_init reaches through a weak reference
  # (a static link would otherwise leave it out, and the SkylakeX/Haswell core choice with it)
  SL="-Wl,-u,openblas_get_corename -Wl,-Bstatic -lopenblas -lgfortran -lquadmath -lutf8proc -lz $gomp -Wl,-Bdynamic -lcjson -lm -lpthread -ldl -static-libgcc"
  CF="-O2 -march=x86-64-v2 -Iinclude -Isrc -fopenmp"
  B=$BUILD
  cc $CF bench/tokenizer_bench.c -o "$DEVBENCH/bin/tokenizer_bench" $B/liblong1k_text.a $B/liblong1k_core.a $SL
  cc $CF bench/model_train_step.c -o "$DEVBENCH/bin/model_train_step" $B/liblong1k_model.a $B/liblong1k_core.a $SL
  cc $CF bench/generate_bench.c -o "$DEVBENCH/bin/generate_bench" $B/liblong1k_model.a $B/liblong1k_core.a $SL
  # a long1k CLI holding only init and tokenize (the full CLI also needs curl, MPI, yaml)
  cc $CF -DLONG1K_VERSION='"device"' src/cli/main.c src/cli/cmd_init.c src/cli/cmd_tokenize.c \
    -o "$DEVBENCH/bin/long1k" $B/liblong1k_model.a $B/liblong1k_text.a $B/liblong1k_core.a $SL
  strip "$DEVBENCH"/bin/*
  (cd "$DEVBENCH" && tar cf - bin | xz -6 -T2 >bin.tar.xz)
  cp -L "$(cc -print-file-name=libcjson.so.1)" "$DEVBENCH/lib/" 2>/dev/null ||
    cp -L /usr/lib/x86_64-linux-gnu/libcjson.so.1 "$DEVBENCH/lib/"
  cp "$SHARED"/golden/tokenizer/{qwen,llama3}_corpus.jsonl "$DEVBENCH/corpus/"
  cp -r "$SHARED"/tokenizers/qwen "$SHARED"/tokenizers/llama3 "$DEVBENCH/tokenizers/"
  du -sh "$DEVBENCH"/*
  exit 0
fi

OUT=${OUT:-/tmp/l1k-devbench-out}
PY=${PY:-python3}
QUICK=${QUICK:-0}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
set -x
export LD_LIBRARY_PATH="$DEVBENCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CUDA_VISIBLE_DEVICES=""          # a CPU measurement: keep torch off the GPU
export LONG1K_DATA="$ROOT/data"
unset OMP_WAIT_POLICY
WORK=$(mktemp -d /tmp/l1k-devbench.XXXX)
BIN=$DEVBENCH/bin
if [ ! -x "$BIN/tokenizer_bench" ]; then
  tar xJf "$DEVBENCH/bin.tar.xz" -C "$WORK" && BIN=$WORK/bin
fi
NP=$(nproc)
if [ "$QUICK" = 1 ]; then
  THREADS=${THREADS:-"1 2"}; TR_OURS=1; TR_HF=1; TOK_TO=60; CORPUS_LINES=300
  SEQ=128; TSTEPS=1; TRAIN_THREADS="$NP"; TRAIN_TO=300
  PLEN=16; NEW1=8; NEW16=4; GREP=1; GEN_TO=200
else
  THREADS=${THREADS:-"1 2 4 8 16"}; TR_OURS=5; TR_HF=2; TOK_TO=60; CORPUS_LINES=0
  SEQ=1024; TSTEPS=3; TRAIN_THREADS="16 1"; TRAIN_TO=90
  PLEN=128; NEW1=64; NEW16=32; GREP=3; GEN_TO=60
fi
# Whole-run budget (seconds since start): each part has a deadline, and each measurement's
# timeout is min(its cap, time left to its part's deadline); one with under 5 s left is skipped.
BUDGET=${BUDGET:-300}
# TOK_END / TRAIN_END set to 0 skip those parts (e.g. a decode-only run: TOK_END=0 TRAIN_END=0)
TOK_END=${TOK_END:-$((BUDGET * 27 / 100))}; TRAIN_END=${TRAIN_END:-$((BUDGET * 67 / 100))}; GEN_END=$((BUDGET - 5))
SECONDS=0
tmo() { local t=$(( $2 - SECONDS )); [ "$t" -gt "$1" ] && t=$1; [ "$t" -lt 5 ] && t=0; echo "$t"; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
# run a command under a timeout, print its stdout and its peak RSS (children's ru_maxrss) last
rss() {
  local to=$1; shift
  timeout -k 5 "$to" "$PY" -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:])
print("peak_rss_mb=%.0f" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
sys.exit(r.returncode)' "$@"
}

# ---- 0. the machine ------------------------------------------------------------------------
{
  set +x
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $NP"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  lscpu 2>/dev/null | grep -Ei '^(Architecture|CPU\(s\)|Thread|Core|Socket|NUMA node\(s\)|L2|L3|Model:|CPU family|Stepping|Vendor|Hypervisor)'
  echo "vector flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|avx2|fma|avx512[a-z_0-9]*|amx[a-z_0-9]*)$' | xargs)"
  echo "loadavg at start: $(cat /proc/loadavg)"
  free -g | head -2
  cat /sys/fs/cgroup/cpu.max 2>/dev/null | sed 's/^/cgroup cpu.max: /'
  uname -a
  "$PY" -c 'import sys, torch, transformers, tokenizers
print("python", sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)
print(torch.__config__.parallel_info())'
  echo "long1k binaries: $BIN ($(ls "$BIN" | xargs))"
  set -x
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# ---- 1. tokenizer: thread scaling ------------------------------------------------------------
{
  set +x
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "long1k: bench/tokenizer_bench.c (lib, corpus in memory, repeat $TR_OURS); HF: bench/tokenizer_bench_hf.py (encode_batch, RAYON_NUM_THREADS, repeat $TR_HF)"
  printf "%-8s %7s %10s %10s %10s %10s %8s %8s %10s %10s\n" tokenizer threads "l1k MB/s" "l1k cpuMB/s" "HF MB/s" "HF cpuMB/s" "x HF" "x HFcpu" "l1k tokens" "HF tokens"
} >"$OUT/tokenizer.txt"
for name in qwen llama3; do
  corpus=$DEVBENCH/corpus/${name}_corpus.jsonl
  if [ "$CORPUS_LINES" != 0 ]; then head -n "$CORPUS_LINES" "$corpus" >"$WORK/$name.jsonl"; corpus=$WORK/$name.jsonl; fi
  tokdir=$DEVBENCH/tokenizers/$name
  for th in $THREADS; do
    t=$(tmo "$TOK_TO" "$TOK_END"); [ "$t" = 0 ] && { echo "$name $th: skipped, tokenizer budget spent" >>"$OUT/tokenizer.txt"; continue; }
    ours=$(timeout -k 5 "$t" "$BIN/tokenizer_bench" "$tokdir" "$corpus" "$th" "$TR_OURS")
    t=$(tmo "$TOK_TO" "$TOK_END"); [ "$t" = 0 ] && t=5
    hf=$(RAYON_NUM_THREADS=$th timeout -k 5 "$t" "$PY" bench/tokenizer_bench_hf.py "$tokdir/tokenizer.json" "$corpus" "$TR_HF")
    echo "raw $name $th long1k: $ours" >>"$OUT/tokenizer.raw"
    echo "raw $name $th HF: $hf" >>"$OUT/tokenizer.raw"
    "$PY" - "$name" "$th" "$ours" "$hf" "$TR_OURS" "$TR_HF" >>"$OUT/tokenizer.txt" <<'EOF'
import sys
name, th, ours, hf, ro, rh = sys.argv[1:]
kv = lambda s: dict(x.split("=", 1) for x in s.split() if "=" in x)
o, h = kv(ours), kv(hf)
g = lambda d, k: float(d[k]) if k in d else float("nan")
om, oc, hm, hc = g(o, "MBps"), g(o, "cpu_MBps"), g(h, "MBps"), g(h, "cpu_MBps")
ot = int(o.get("tokens", -1)) // int(ro) if "tokens" in o else -1
ht = int(h.get("tokens", -1)) // int(rh) if "tokens" in h else -1
print("%-8s %7s %10.2f %10.2f %10.2f %10.2f %8.1f %8.1f %10d %10d%s" % (
    name, th, om, oc, hm, hc, om / hm if hm else float("nan"), oc / hc if hc else float("nan"),
    ot, ht, "" if ot == ht else "  TOKEN COUNTS DIFFER"))
EOF
  done
done
cat "$OUT/tokenizer.txt" "$OUT/tokenizer.raw"

# ---- 2. one training step ----------------------------------------------------------------------
{
  set +x
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "model: long1k init --preset qwen2.5-0.5b-instruct --layers 8 --hidden-size 256 --intermediate-size 1408 --heads 4 --kv-heads 2 --dtype f32 --seed 1 (as bench/model_train_step.py); seq $SEQ, batch 1, $TSTEPS timed steps after 1 warm-up"
  echo "| threads | implementation | s/step (wall) | CPU s/step | tokens/s | peak RSS MB | loss | grad norm |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$OUT/train.txt"
TM=$WORK/train_model
timeout -k 5 60 "$BIN/long1k" init --preset qwen2.5-0.5b-instruct --layers 8 --hidden-size 256 \
  --intermediate-size 1408 --heads 4 --kv-heads 2 --dtype f32 --seed 1 --out "$TM"
"$PY" -c 'import sys; sys.path.insert(0, "bench"); import model_train_step as m; open(sys.argv[1], "w").write(m.PEER)' "$WORK/train_peer.py"
for th in $TRAIN_THREADS; do
  export OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th
  t=$(tmo "$TRAIN_TO" "$TRAIN_END"); [ "$t" = 0 ] && { echo "| $th | skipped: train budget spent | | | | | | |" >>"$OUT/train.txt"; continue; }
  o=$(OPENBLAS_VERBOSE=2 rss "$t" "$BIN/model_train_step" "$TM" "$SEQ" "$TSTEPS" 2>&1)
  echo "long1k $th threads, OpenBLAS core (first: its own pick, second: after l1k_backend_init): $(echo "$o" | grep '^Core:' | xargs)" >>"$OUT/train.txt"
  t=$(tmo "$TRAIN_TO" "$TRAIN_END"); [ "$t" = 0 ] && t=5
  p=$(rss "$t" "$PY" "$WORK/train_peer.py" "$TM" "$SEQ" "$TSTEPS" "$th" sdpa)
  "$PY" - "$th" "$o" "$p" >>"$OUT/train.txt" <<'EOF'
import json, sys
th = sys.argv[1]
def parse(s):
    js = [l for l in s.splitlines() if l.startswith("{")]
    r = json.loads(js[-1]) if js else {}
    for l in s.splitlines():
        if l.startswith("peak_rss_mb="): r["rss"] = float(l.split("=")[1])
    return r
o, p = parse(sys.argv[2]), parse(sys.argv[3])
for name, r in (("long1k", o), ("transformers + torch %s (sdpa)" % p.get("torch", "?"), p)):
    if "step_s" in r:
        print("| %s | %s | %.3f | %.3f | %.0f | %.0f | %.5f | %.5f |" % (th, name, r["step_s"], r["cpu_s"], r["tokens_per_s"], r.get("rss", float("nan")), r["loss"], r["grad_norm"]))
    else:
        print("| %s | %s | failed or timed out | | | | | |" % (th, name))
if "step_s" in o and "step_s" in p:
    print("| %s | speedup (wall) %.2fx, CPU %.2fx less, memory %.2fx less | | | | | | |" % (
        th, p["step_s"] / o["step_s"], p["cpu_s"] / o["cpu_s"], p.get("rss", 1) / o.get("rss", 1)))
EOF
done
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS
cat "$OUT/train.txt"

# ---- 3. prefill + decode -------------------------------------------------------------------------
GT=${GEN_THREADS:-$NP}
{
  set +x
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "model: generate_bench.make_model (Qwen2.5 shape, 12 layers, hidden 256, vocab 151936, bf16 on disk, f32 compute); $GT threads, prompt $PLEN, best of $GREP"
  echo "| batch | new tokens | engine | prefill tok/s | decode tok/s | peak RSS MB | last token |"
  echo "|---|---|---|---|---|---|---|"
} >"$OUT/generate.txt"
GM=$WORK/gen_model
timeout -k 5 60 "$PY" -c 'import sys; sys.path.insert(0, "bench"); import generate_bench as g; g.make_model(sys.argv[1])' "$GM"
export OMP_NUM_THREADS=$GT OPENBLAS_NUM_THREADS=$GT MKL_NUM_THREADS=$GT
for bn in "1 $NEW1" "16 $NEW16"; do
  set -- $bn
  t=$(tmo "$GEN_TO" "$GEN_END"); [ "$t" = 0 ] && { echo "| $1 | $2 | skipped: budget spent | | | | |" >>"$OUT/generate.txt"; continue; }
  o=$(timeout -k 5 "$t" "$BIN/generate_bench" "$GM" "$PLEN" "$2" "$1" "$GREP")
  t=$(tmo "$GEN_TO" "$GEN_END"); [ "$t" = 0 ] && t=5
  # long1k-f32w: without the bf16 weight copies (LONG1K_GEN_F32=1), as in generate_bench.py
  f=$(LONG1K_GEN_F32=1 timeout -k 5 "$t" "$BIN/generate_bench" "$GM" "$PLEN" "$2" "$1" "$GREP")
  t=$(tmo "$GEN_TO" "$GEN_END"); [ "$t" = 0 ] && t=5
  p=$(timeout -k 5 "$t" "$PY" bench/generate_bench.py --peer torch --model "$GM" --threads "$GT" \
      --prompt-len "$PLEN" --new-tokens "$2" --repeats "$GREP" --batch "$1")
  "$PY" - "$1" "$2" "$o" "$p" "$f" >>"$OUT/generate.txt" <<'EOF'
import json, sys
b, n = sys.argv[1], sys.argv[2]
def parse(s):
    js = [l for l in s.splitlines() if l.startswith("{")]
    return json.loads(js[-1]) if js else {}
o, p, f = parse(sys.argv[3]), parse(sys.argv[4]), parse(sys.argv[5])
for name, r in (("long1k", o), ("long1k-f32w", f), (p.get("impl", "torch"), p)):
    if "decode_tok_s" in r:
        print("| %s | %s | %s | %.1f | %.1f | %.0f | %s |" % (b, n, name, r["prefill_tok_s"], r["decode_tok_s"], r["peak_rss_mb"], r["last_token"]))
    else:
        print("| %s | %s | %s | failed or timed out | | | |" % (b, n, name))
if "decode_tok_s" in o and "decode_tok_s" in p:
    print("| %s | %s | long1k vs torch | %.2fx | %.2fx | | |" % (b, n, o["prefill_tok_s"] / p["prefill_tok_s"], o["decode_tok_s"] / p["decode_tok_s"]))
EOF
done
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS
cat "$OUT/generate.txt"
echo "loadavg at end: $(cat /proc/loadavg)  date: $(date -u +%H:%M:%S)" | tee -a "$OUT/env.txt"
rm -rf "$WORK"
