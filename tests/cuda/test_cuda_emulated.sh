#!/usr/bin/env bash
# The CUDA backend's real sources on the CPU: src/backend/cuda/{kernels.cu, backend_cuda.c,
# cuda_model.c} compiled against the emulated CUDA runtime / cuBLAS / device language of
# tests/cuda/emu (kernels.cu as C++, its <<<grid, block>>> launches rewritten into emu_launch),
# linked with tests/cuda/test_cuda_kernels.c and test_cuda_model.c, and run: every kernel
# against its CPU reference, the golden models' parity, the AdamW trajectory and the bf16 mode
# go through the backend's own code paths. This checks indexing, tiling, barriers and the
# backend's host logic on every machine; it says nothing about GPU speed or nvcc's code.
# Needs g++ (x86-64); skips with one line without it. LONG1K_EMU_FULL=1 also runs the model
# test's 300-token sequence and greedy decoding (slow under emulation: ~1 min).
set -u
SRC=${LONG1K_SRC:-$PWD}
B=${LONG1K_BUILD:?LONG1K_BUILD (the CMake build folder) is required}
cd "$SRC"
command -v g++ >/dev/null || { echo "SKIP: no g++ to build the CUDA emulation"; exit 77; }
[ "$(uname -m)" = x86_64 ] || { echo "SKIP: the CUDA emulation's fibers are x86-64 only"; exit 77; }
for lib in liblong1k_model.a liblong1k_core.a; do
  [ -f "$B/$lib" ] || { echo "SKIP: $B/$lib not built"; exit 77; }
done
W=${LONG1K_EMU_WORK:-$(mktemp -d /tmp/l1k-cuda-emu.XXXX)}
[ -n "${LONG1K_EMU_WORK:-}" ] || trap 'rm -rf "$W"' EXIT
EMU=tests/cuda/emu
# every src/backend/cuda/*.cu, its launches rewritten (a file with kernels but no launch of its
# own is fine; a <<< left over is not)
for cu in src/backend/cuda/*.cu; do
  python3 - "$cu" "$W/$(basename "$cu" .cu)_emu.cc" <<'PY' || exit 1
import re, sys
src = open(sys.argv[1]).read()
out, n = re.subn(r"(\w+)<<<(.*?)>>>\((.*?)\);",
                 lambda m: "emu_launch(emu_make_cfg(%s), [=]() { %s(%s); });"
                 % (m.group(2), m.group(1), m.group(3)), src, flags=re.S)
if "<<<" in out:
    sys.exit("%s: could not rewrite its kernel launches (%d rewritten)" % (sys.argv[1], n))
open(sys.argv[2], "w").write('#line 1 "%s"\n' % sys.argv[1] + out)
PY
done
CXXF="-std=c++17 -O2 -g -fno-strict-aliasing -Wall -Wno-unused-function -I$EMU -Isrc -Iinclude"
CF="-std=gnu11 -O2 -g -Wall -Wno-unused-parameter -Wno-format-truncation -DLONG1K_HAVE_CUDA=1 -I$EMU -Isrc -Iinclude -Itests -fopenmp"
set -e
COMMON="$W/emu.o"
g++ $CXXF -c $EMU/emu.cc -o "$W/emu.o"
for cc_ in "$W"/*_emu.cc; do
  o="${cc_%.cc}.o"
  g++ $CXXF -c "$cc_" -o "$o"
  COMMON="$COMMON $o"
done
for f in src/backend/cuda/*.c; do
  o="$W/src_$(basename "$f" .c).o"
  cc $CF -c "$f" -o "$o"
  COMMON="$COMMON $o"
done
LIBS="$B/liblong1k_model.a $B/liblong1k_core.a $(pkg-config --libs openblas libcjson zlib) -fopenmp -lm"
# a sanitizer build's libraries need the sanitizer runtimes at link time (the emulation itself
# is built without them: its fibers switch stacks behind ASan's back)
if grep -q '^LONG1K_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null; then
  LIBS="$LIBS -fsanitize=address,undefined"
fi
# every tests/cuda/test_cuda_*.c is its own program, linked with the emulated backend
TESTS=
for f in tests/cuda/test_cuda_*.c; do
  t=$(basename "$f" .c)
  cc $CF -c "$f" -o "$W/$t.o"
  g++ -o "$W/$t" "$W/$t.o" $COMMON $LIBS
  TESTS="$TESTS $t"
done
set +e
export LONG1K_CUDA_EMULATED=1
fails=0
for t in $TESTS; do
  echo "--- $t (emulated device)"
  "$W/$t"
  rc=$?
  echo "$t rc=$rc"
  [ $rc -eq 0 ] || fails=$((fails + 1))
done
[ $fails -eq 0 ]
