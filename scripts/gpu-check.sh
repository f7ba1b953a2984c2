#!/usr/bin/env bash
# long1k GPU check: everything GPU-side in one command on the lent H200 machine (docs/gpu.md).
#
#   scripts/gpu-check.sh --prepare     HERE (a CPU machine with our Debian -dev libraries):
#                                      fills .gpudeps/ (ignored by git): deps.tar.xz with the
#                                      headers, static libraries and pkg-config files the whole
#                                      CLI needs (cJSON, zlib, OpenBLAS + libgfortran, utf8proc,
#                                      libyaml; no libcurl: the device build sets LONG1K_CURL=OFF,
#                                      so only `eval --endpoint` is missing there), and
#                                      shared/golden/models (and shared/bench/
#                                      hf_sft_reference.py, the step benchmark's peer).
#   OUT=$OUT scripts/gpu-check.sh      THERE (run tool, carry [".gpudeps"]): configures CMake
#                                      against .gpudeps with nvcc (sm_90 + PTX), builds the
#                                      `long1k` CLI, the CUDA tests and benchmarks, runs the
#                                      tests (kernel checks, golden parity + AdamW trajectory),
#                                      the CLI on the device (`long1k parity --device cuda` in
#                                      fp32 and bf16 on every golden model; a short `long1k
#                                      train` on cuda and on cpu, loss curves compared), then
#                                      the benchmarks beside their torch peers
#                                      (bench/gpu_peers.py). One log, $OUT/gpu-check.log, ending
#                                      in a short table. Keeps going past a failure; every step
#                                      has its own timeout; the whole run is meant to fit in 8
#                                      minutes.
#   LONG1K_BIN=build/long1k scripts/gpu-check.sh --cli-only
#                                      only the CLI steps, with a long1k already built (here:
#                                      DEVICE=cpu is chosen when nvidia-smi finds no GPU; the
#                                      bf16 steps are then skipped). tests/cuda/test_gpu_check_cli.sh.
#
# Env: OUT (default /tmp/l1k-gpu-check), GPUDEPS (default .gpudeps), JOBS (default nproc),
# QUICK=1 (attention at T=4096 only, for a first try), PY (default python3), DEVICE (cuda | cpu;
# default cuda when nvidia-smi lists a GPU, else cpu), NO_BENCH=1 (skip the benchmarks),
# PARTS="core gen ..." (which parts run; default all: "core" is the tests, CLI and benchmarks
# of this file, the others are scripts/gpu-check.d/<part>.sh).
#
# Parts: scripts/gpu-check.d/<part>.sh is sourced before the build. It appends its CMake
# targets to PART_TARGETS and defines part_<part>(), run after the core steps with $BUILD,
# $BIN (the long1k CLI), $BENCH (benchmark JSON lines: {"bench", "impl", ...}), $SHARED, $PY,
# $QUICK, $NO_BENCH and step() at hand; every command goes through step() with a timeout.
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
  cp /usr/include/zlib.h /usr/include/zconf.h /usr/include/utf8proc.h /usr/include/yaml.h "$d/include/"
  local cblas
  cblas=$(echo '#include <cblas.h>' | cc $(pkg-config --cflags openblas) -E -H - 2>&1 >/dev/null |
          awk '/cblas.h$/ {print $2; exit}')
  cp "$(dirname "$cblas")"/{cblas.h,openblas_config.h} "$d/include/"
  # libraries: static where Debian ships them (debug sections stripped), cJSON as a .so
  cp "$(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.a)" "$d/lib/libopenblas.a"
  cp /usr/lib/x86_64-linux-gnu/{libz.a,libutf8proc.a,libyaml.a} "$d/lib/"
  cp "$(gcc -print-file-name=libgfortran.a)" "$(gcc -print-file-name=libquadmath.a)" "$d/lib/"
  strip --strip-debug "$d"/lib/*.a
  cp -L /usr/lib/x86_64-linux-gnu/libcjson.so.1 "$d/lib/libcjson.so.1"
  cp -L /usr/lib/x86_64-linux-gnu/libcjson.so.1 "$d/lib/libcjson.so"
  # pkg-config files, relative to wherever the tarball is unpacked
  pc() { # name libs cflags
    printf 'prefix=${pcfiledir}/../..\nName: %s\nDescription: packed by scripts/gpu-check.sh --prepare\nVersion: 99\nCflags: %s\nLibs: %s\n' \
      "$1" "$3" "$2" >"$d/lib/pkgconfig/$1.pc"
  }
  pc libcjson '-L${prefix}/lib -lcjson' '-I${prefix}/include'
  pc zlib '-L${prefix}/lib -lz' '-I${prefix}/include'
  pc openblas '-L${prefix}/lib -lopenblas -lgfortran -lquadmath' '-I${prefix}/include'
  pc libutf8proc '-L${prefix}/lib -lutf8proc' '-I${prefix}/include'
  pc yaml-0.1 '-L${prefix}/lib -lyaml' '-I${prefix}/include'
  # no libcurl.pc: libcurl.so.4 pulls ~30 shared libraries (TLS, ssh, ldap, ...); the device
  # build sets LONG1K_CURL=OFF and `long1k eval --endpoint` refuses there with one line
  rm -rf "$GPUDEPS"
  mkdir -p "$GPUDEPS/shared/golden"
  (cd "$tmp" && tar cf - deps | xz -6 -T2 >"$GPUDEPS/deps.tar.xz")
  cp -r "$shared/golden/models" "$GPUDEPS/shared/golden/"
  # the step benchmark's peer (bench/step_peer.py) runs hf_sft_reference.py's own step
  mkdir -p "$GPUDEPS/shared/bench"
  cp "$shared/bench/hf_sft_reference.py" "$GPUDEPS/shared/bench/"
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
NO_BENCH=${NO_BENCH:-0}
CLI_ONLY=0
[ "${1:-}" = "--cli-only" ] && CLI_ONLY=1
if [ -z "${DEVICE:-}" ]; then
  if nvidia-smi -L >/dev/null 2>&1; then DEVICE=cuda; else DEVICE=cpu; fi
fi
mkdir -p "$OUT"
LOG=$OUT/gpu-check.log
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
T_START=$(date +%s)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
sum() { echo "$*" >>"$SUMMARY"; }

# step NAME TIMEOUT CMD...: runs with a timeout, logs, records the outcome; never exits.
# With STEP_OUT=FILE the command's stdout goes to FILE (then into the log).
step() {
  local name=$1 to=$2 rc t0
  shift 2
  t0=$(date +%s)
  echo "=== $name (timeout ${to}s): $*"
  if [ -n "${STEP_OUT:-}" ]; then
    timeout "$to" "$@" >"$STEP_OUT"
    rc=$?
    cat "$STEP_OUT"
  else
    timeout "$to" "$@"
    rc=$?
  fi
  echo "=== $name: rc=$rc in $(($(date +%s) - t0)) s"
  case $rc in
    0) sum "step  $name: ok" ;;
    77) sum "step  $name: skipped (rc=77: no device or no backend, see the log)" ;;
    124) sum "step  $name: TIMED OUT after ${to}s" ;;
    *) sum "step  $name: FAILED (rc=$rc)" ;;
  esac
  return $rc
}

# ---- the CLI on the device
# parity on every golden model: the float32 checkpoint in fp32 (bound 1e-4) and bf16 (2e-2)
# mode, the bf16 checkpoint in fp32 mode (its logits against logits_bf16_checkpoint)
cli_parity() {
  local dir m ck pr ck_pr
  for dir in "$SHARED"/golden/models/*/; do
    m=$(basename "$dir")
    for ck_pr in f32:fp32 f32:bf16 bf16:fp32; do
      ck=${ck_pr%%:*} pr=${ck_pr##*:}
      if [ "$pr" = bf16 ] && [ "$DEVICE" = cpu ]; then
        sum "step  parity-$m-$ck-$pr: skipped (the cpu backend is fp32 only)"
        continue
      fi
      STEP_OUT=$OUT/parity_${m}_${ck}_${pr}.json step "parity-$m-$ck-$pr" 90 \
        "$BIN" parity --model "$dir$ck" --reference "${dir}reference.safetensors" \
        --meta "${dir}reference.json" --device "$DEVICE" --precision "$pr"
    done
  done
}

# train_yaml DEVICE PRECISION NAME [RECOMPUTE]: a short run on qwen2_tiny (vocab 512, so
# pre-tokenized data: the shared qwen tokenizer's ids do not fit it), one loss per step in
# trainer_log.jsonl; RECOMPUTE=true: gradient_checkpointing (per-layer recomputation)
train_yaml() {
  cat <<EOC
model_name_or_path: $SHARED/golden/models/qwen2_tiny/f32
finetuning_type: full
dataset: $OUT/train/data.jsonl
formatting: tokenized
cutoff_len: 64
recipe: long1k
learning_rate: 1.0e-3
max_steps: 8
per_device_train_batch_size: 2
gradient_accumulation_steps: 2
logging_steps: 1
num_threads: 4
device: $1
precision: $2
tokenized_cache_dir: $OUT/train/cache-$3
output_dir: $OUT/train/out-$3
gradient_checkpointing: ${4:-false}
EOC
}

# the device run (float32, then bf16 where the device has it) and the same run on the cpu;
# on a machine without a GPU (DEVICE=cpu) the "device" run is a second cpu run. A device also
# runs both with gradient_checkpointing (role device-rc): the same loss curve, bit for bit.
cli_train() {
  local runs="device:$DEVICE:fp32 cpu:cpu:fp32" r role dev pr
  [ "$DEVICE" = cpu ] || runs="$runs device:$DEVICE:bf16 device-rc:$DEVICE:fp32 device-rc:$DEVICE:bf16"
  mkdir -p "$OUT/train"
  $PY "$ROOT/tests/train/make_tokenized.py" "$OUT/train/data.jsonl" 32 3 48 500 ||
    { sum "step  train-data: FAILED (tests/train/make_tokenized.py)"; return; }
  for r in $runs; do
    IFS=: read -r role dev pr <<<"$r"
    train_yaml "$dev" "$pr" "$role-$pr" "$([ "$role" = device-rc ] && echo true)" >"$OUT/train/$role-$pr.yaml"
    rm -rf "$OUT/train/out-$role-$pr" "$OUT/train/cache-$role-$pr"
    step "train-$role-$dev-$pr" 120 "$BIN" train "$OUT/train/$role-$pr.yaml"
  done
  step train-compare 30 $PY "$ROOT/scripts/gpu_check_losses.py" "$OUT/train" "$DEVICE"
}

# the CLI lines of the final table: one per parity run, then the train comparison
cli_table() {
  echo "--- long1k parity --device $DEVICE (fp32 bound 1e-4, bf16 bound 2e-2)"
  $PY "$ROOT/scripts/gpu_check_losses.py" --parity-table "$OUT"
  echo "--- long1k train (device $DEVICE vs cpu, float32)"
  grep -E '^train-compare:' "$LOG" | tail -1
}

if [ $CLI_ONLY = 1 ]; then
  BIN=${LONG1K_BIN:?--cli-only needs LONG1K_BIN (a built long1k)}
  SHARED=${LONG1K_SHARED:-$ROOT/../shared}
  echo "long1k gpu-check --cli-only: $BIN on $DEVICE, golden models from $SHARED"
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
  cli_parity
  cli_train
  echo
  echo "==================== long1k gpu-check --cli-only summary ($(($(date +%s) - T_START)) s)"
  cat "$SUMMARY"
  cli_table
  ! grep -qE 'FAILED|TIMED OUT' "$SUMMARY"
  exit $?
fi

echo "long1k gpu-check on $(hostname) at $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -4
nvcc --version 2>&1 | tail -1
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1

DEPS=$(mktemp -d /tmp/l1k-gpudeps.XXXX)
BUILD=${BUILD:-$ROOT/build-gpu}
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

# the CUDA tests and benchmarks, and the whole CLI (libcurl off: `eval --endpoint` refuses
# there). Without nvcc (trying the script on a CPU machine) the CUDA targets are left out.
TARGETS="long1k cuda_test_cuda_kernels cuda_test_cuda_model"
PARTS=${PARTS:-all}
part_on() { [ "$PARTS" = all ] || [[ " $PARTS " == *" $1 "* ]]; }
PART_TARGETS=
PART_NAMES=
for f in "$ROOT"/scripts/gpu-check.d/*.sh; do
  [ -f "$f" ] || continue
  p=$(basename "$f" .sh)
  part_on "$p" || continue
  . "$f"
  PART_NAMES="$PART_NAMES $p"
done
CUDA_OPTS=(-DLONG1K_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=90-real;90-virtual")
if command -v nvcc >/dev/null 2>&1; then
  TARGETS="$TARGETS gpu_attention_bench gpu_lmhead_bench gpu_matmul_bench$PART_TARGETS"
else
  echo "no nvcc: building without the CUDA backend"
  CUDA_OPTS=(-DLONG1K_CUDA=OFF)
fi
built=0
if [ $have_deps = 1 ]; then
  rm -rf "$BUILD"
  # only our pkg-config files: the device machine has none of these -dev libraries. Warnings
  # are not errors there: its compilers may differ from CI's, which enforces them.
  export PKG_CONFIG_LIBDIR=$DEPS/deps/lib/pkgconfig PKG_CONFIG_PATH=
  step configure 120 \
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLONG1K_WERROR=OFF "${CUDA_OPTS[@]}" \
    -DLONG1K_MPI=OFF -DLONG1K_CURL=OFF -DLONG1K_SHARED_DIR="$SHARED" &&
    step build 300 cmake --build "$BUILD" -j"$JOBS" --target $TARGETS && built=1
  unset PKG_CONFIG_LIBDIR PKG_CONFIG_PATH
fi

BIN=$BUILD/long1k
export LONG1K_SHARED=$SHARED OMP_NUM_THREADS=4
if [ $built = 1 ] && part_on core; then
  step test-kernels 120 "$BUILD/cuda_test_cuda_kernels" 2>&1 | tee "$OUT/test_kernels.txt"
  step test-model 150 "$BUILD/cuda_test_cuda_model" 2>&1 | tee "$OUT/test_model.txt"
  cli_parity
  cli_train
fi

# benchmarks: ours (if built) and the peer, side by side
BENCH=$OUT/bench.jsonl
: >"$BENCH"
ATT_T="4096 16384 32768"
[ "$QUICK" = 1 ] && ATT_T=4096
if part_on core && [ $built = 1 ] && [ "$NO_BENCH" != 1 ] && [ -x "$BUILD/gpu_matmul_bench" ]; then
  step bench-matmul 60 "$BUILD/gpu_matmul_bench" 8192 | tee -a "$BENCH"
  step bench-lmhead 90 "$BUILD/gpu_lmhead_bench" 16384 1536 151936 | tee -a "$BENCH"
  step bench-lmhead-bf16 90 "$BUILD/gpu_lmhead_bench" 16384 1536 151936 bf16 | tee -a "$BENCH"
  step bench-attention 150 "$BUILD/gpu_attention_bench" $ATT_T | tee -a "$BENCH"
fi
if part_on core && [ "$NO_BENCH" != 1 ]; then
  step peer-matmul 60 $PY bench/gpu_peers.py matmul 8192 | tee -a "$BENCH"
  step peer-lmhead 90 $PY bench/gpu_peers.py lmhead 16384 1536 151936 | tee -a "$BENCH"
  step peer-attention 150 $PY bench/gpu_peers.py attention $ATT_T | tee -a "$BENCH"
fi

# the parts of scripts/gpu-check.d, in name order
for p in $PART_NAMES; do
  echo "=== part $p"
  "part_$p"
done

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
  cli_table
fi
echo "--- benchmarks (ours beside the peer)"
$PY - "$BENCH" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def show(r):
    keys = [k for k in r if k not in ("bench", "impl")]
    return "  %-10s %-18s %s" % (r["bench"], r["impl"], "  ".join("%s=%s" % (k, r[k]) for k in keys))
order = []
for r in rows:
    if r.get("bench") and r["bench"] not in order:
        order.append(r["bench"])
for bench in order:
    for r in rows:
        if r.get("bench") == bench:
            print(show(r))
EOF
rm -rf "$DEPS"
echo "log: $LOG"
