#!/usr/bin/env bash
# long1k GPU check: everything GPU-side in one command on the lent H200 machine (docs/gpu.md).
#
#   scripts/gpu-check.sh --prepare     HERE (a CPU machine with our Debian -dev libraries):
#                                      fills .gpudeps/ (ignored by git): deps.tar.xz with the
#                                      headers, static libraries and pkg-config files the model
#                                      library needs (cJSON, zlib, OpenBLAS + libgfortran), empty
#                                      pkg-config stubs for the libraries only other modules
#                                      use (utf8proc, yaml, curl), and shared/golden/models.
#   OUT=$OUT scripts/gpu-check.sh      THERE (run tool, carry [".gpudeps"]): configures CMake
#                                      against .gpudeps with nvcc (sm_90 + PTX), builds the CUDA
#                                      tests and benchmarks, runs the tests (kernel checks,
#                                      golden parity + AdamW trajectory), then the benchmarks
#                                      beside their torch peers (bench/gpu_peers.py). One log,
#                                      $OUT/gpu-check.log, ending in a short table. Keeps going
#                                      past a failure; every step has its own timeout; the
#                                      whole run is meant to fit in 8 minutes.
#
# Env: OUT (default /tmp/l1k-gpu-check), GPUDEPS (default .gpudeps), JOBS (default nproc),
# QUICK=1 (attention at T=4096 only, for a first try), PY (default python3).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
GPUDEPS=${GPUDEPS:-$ROOT/.gpudeps}

# ------------------------------------------------------------------------------ prepare (here)
prepare() {
  set -e
  local shared=${LONG1K_SHARED:-$ROOT/../shared} tmp
  tmp=$(mktemp -d /tmp/l1k-gpudeps.XXXX)
  local d=$tmp/deps
  mkdir -p "$d/include/cjson" "$d/lib/pkgconfig"
  # headers
  cp /usr/include/cjson/cJSON.h "$d/include/cjson/"
  cp /usr/include/zlib.h /usr/include/zconf.h "$d/include/"
  local cblas
  cblas=$(echo '#include <cblas.h>' | cc $(pkg-config --cflags openblas) -E -H - 2>&1 >/dev/null |
          awk '/cblas.h$/ {print $2; exit}')
  cp "$(dirname "$cblas")"/{cblas.h,openblas_config.h} "$d/include/"
  # libraries: static where Debian ships them (debug sections stripped), cJSON as a .so
  cp "$(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.a)" "$d/lib/libopenblas.a"
  cp /usr/lib/x86_64-linux-gnu/libz.a "$d/lib/"
  cp "$(gcc -print-file-name=libgfortran.a)" "$(gcc -print-file-name=libquadmath.a)" "$d/lib/"
  strip --strip-debug "$d"/lib/*.a
  cp -L /usr/lib/x86_64-linux-gnu/libcjson.so.1 "$d/lib/libcjson.so.1"
  cp -L /usr/lib/x86_64-linux-gnu/libcjson.so.1 "$d/lib/libcjson.so"
  # pkg-config files, relative to wherever the tarball is unpacked
  pc() { # name libs cflags
    printf 'prefix=${pcfiledir}/../..\nName: %s\nDescription: long1k gpu-check stub\nVersion: 99\nCflags: %s\nLibs: %s\n' \
      "$1" "$3" "$2" >"$d/lib/pkgconfig/$1.pc"
  }
  pc libcjson '-L${prefix}/lib -lcjson' '-I${prefix}/include'
  pc zlib '-L${prefix}/lib -lz' '-I${prefix}/include'
  pc openblas '-L${prefix}/lib -lopenblas -lgfortran -lquadmath' '-I${prefix}/include'
  # used only by modules gpu-check does not build (text, train, eval): empty stubs
  pc libutf8proc '' ''
  pc yaml-0.1 '' ''
  pc libcurl '' ''
  rm -rf "$GPUDEPS"
  mkdir -p "$GPUDEPS/shared/golden"
  (cd "$tmp" && tar cf - deps | xz -6 -T2 >"$GPUDEPS/deps.tar.xz")
  cp -r "$shared/golden/models" "$GPUDEPS/shared/golden/"
  chmod -R u+w "$GPUDEPS"
  rm -rf "$tmp"
  du -sh "$GPUDEPS"/*
  echo "prepared $GPUDEPS: run the device side with carry [\".gpudeps\"]"
}

if [ "${1:-}" = "--prepare" ]; then
  prepare
  exit $?
fi

# ------------------------------------------------------------------------------ device side
OUT=${OUT:-/tmp/l1k-gpu-check}
PY=${PY:-python3}
JOBS=${JOBS:-$(nproc)}
QUICK=${QUICK:-0}
mkdir -p "$OUT"
LOG=$OUT/gpu-check.log
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
T_START=$(date +%s)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
sum() { echo "$*" >>"$SUMMARY"; }

# step NAME TIMEOUT CMD...: runs with a timeout, logs, records the outcome; never exits
step() {
  local name=$1 to=$2 rc t0
  shift 2
  t0=$(date +%s)
  echo "=== $name (timeout ${to}s): $*"
  timeout "$to" "$@"
  rc=$?
  echo "=== $name: rc=$rc in $(($(date +%s) - t0)) s"
  case $rc in
    0) sum "step  $name: ok" ;;
    77) sum "step  $name: skipped (rc=77: no device or no backend, see the log)" ;;
    124) sum "step  $name: TIMED OUT after ${to}s" ;;
    *) sum "step  $name: FAILED (rc=$rc)" ;;
  esac
  return $rc
}

echo "long1k gpu-check on $(hostname) at $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -4
nvcc --version 2>&1 | tail -1
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1

DEPS=$(mktemp -d /tmp/l1k-gpudeps.XXXX)
BUILD=$ROOT/build-gpu
have_deps=1
if [ -f "$GPUDEPS/deps.tar.xz" ]; then
  tar xJf "$GPUDEPS/deps.tar.xz" -C "$DEPS" || have_deps=0
else
  echo "no $GPUDEPS/deps.tar.xz: run scripts/gpu-check.sh --prepare on the CPU machine and carry .gpudeps"
  have_deps=0
fi
SHARED=$GPUDEPS/shared
[ -d "$SHARED/golden/models" ] || SHARED=$ROOT/../shared
export LD_LIBRARY_PATH="$DEPS/deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

TARGETS="cuda_test_cuda_kernels cuda_test_cuda_model gpu_attention_bench gpu_lmhead_bench gpu_matmul_bench"
built=0
if [ $have_deps = 1 ]; then
  rm -rf "$BUILD"
  # only our pkg-config files: the device machine has none of these -dev libraries. Warnings
  # are not errors there: its compilers may differ from CI's, which enforces them.
  export PKG_CONFIG_LIBDIR=$DEPS/deps/lib/pkgconfig PKG_CONFIG_PATH=
  step configure 120 \
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLONG1K_WERROR=OFF -DLONG1K_CUDA=ON \
    -DLONG1K_MPI=OFF "-DCMAKE_CUDA_ARCHITECTURES=90-real;90-virtual" -DLONG1K_SHARED_DIR="$SHARED" &&
    step build 240 cmake --build "$BUILD" -j"$JOBS" --target $TARGETS && built=1
  unset PKG_CONFIG_LIBDIR
fi

if [ $built = 1 ]; then
  export LONG1K_SHARED=$SHARED OMP_NUM_THREADS=4
  step test-kernels 120 "$BUILD/cuda_test_cuda_kernels" 2>&1 | tee "$OUT/test_kernels.txt"
  step test-model 150 "$BUILD/cuda_test_cuda_model" 2>&1 | tee "$OUT/test_model.txt"
fi

# benchmarks: ours (if built) and the peer, side by side
BENCH=$OUT/bench.jsonl
: >"$BENCH"
ATT_T="4096 16384 32768"
[ "$QUICK" = 1 ] && ATT_T=4096
if [ $built = 1 ]; then
  step bench-matmul 60 "$BUILD/gpu_matmul_bench" 8192 | tee -a "$BENCH"
  step bench-lmhead 90 "$BUILD/gpu_lmhead_bench" 16384 1536 151936 | tee -a "$BENCH"
  step bench-lmhead-bf16 90 "$BUILD/gpu_lmhead_bench" 16384 1536 151936 bf16 | tee -a "$BENCH"
  step bench-attention 150 "$BUILD/gpu_attention_bench" $ATT_T | tee -a "$BENCH"
fi
step peer-matmul 60 $PY bench/gpu_peers.py matmul 8192 | tee -a "$BENCH"
step peer-lmhead 90 $PY bench/gpu_peers.py lmhead 16384 1536 151936 | tee -a "$BENCH"
step peer-attention 150 $PY bench/gpu_peers.py attention $ATT_T | tee -a "$BENCH"

# ------------------------------------------------------------------------------ final table
echo
echo "==================== long1k gpu-check summary ($(($(date +%s) - T_START)) s)"
cat "$SUMMARY"
if [ $built = 1 ]; then
  echo "--- tests"
  for f in test_kernels test_model; do
    grep -E '^SKIP:|checks, [0-9]+ failed|CHECK failed' "$OUT/$f.txt" 2>/dev/null | head -20 |
      sed "s/^/$f: /"
  done
  echo "--- parity vs transformers' float32 reference (float32 mode 1e-4, trajectory 1e-3; bf16 mode 2e-2)"
  grep -E '^cuda' "$OUT/test_model.txt" 2>/dev/null || echo "(no parity lines)"
fi
echo "--- benchmarks (ours beside the peer)"
$PY - "$BENCH" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def show(r):
    keys = [k for k in ("T", "n", "fw_tflops", "bw_tflops", "fwbw_ms", "device_bytes", "tflops",
                        "mean_loss", "status") if k in r]
    return "  %-10s %-18s %s" % (r["bench"], r["impl"], "  ".join("%s=%s" % (k, r[k]) for k in keys))
for bench in ("matmul", "lmhead_ce", "attention"):
    for r in rows:
        if r.get("bench") == bench:
            print(show(r))
print("  attention in bf16 (tensor-core flash kernels) / train-step MFU with recomputation: "
      "not built yet")
EOF
rm -rf "$DEPS"
echo "log: $LOG"
