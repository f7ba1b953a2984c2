# long1k — the emulated CUDA backend's objects, shared by tests/cuda/test_cuda_emulated.sh and
# test_cuda_emulated_cli.sh (sourced, not run). Needs SRC (cwd), B (the CMake build folder) and
# W (a work folder); sets CF (C flags for code using the emulation), COMMON (the objects: the
# emulation, every src/backend/cuda/*.cu with its launches rewritten, every
# src/backend/cuda/*.c) and LIBS (what they and the model library link with).
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
