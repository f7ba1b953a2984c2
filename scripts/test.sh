#!/usr/bin/env bash
# The README's second command: install what is missing, build, run the whole test suite, then
# build and run it again under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900)
if [[ "${LONG1K_SKIP_SANITIZE:-0}" != 1 ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLONG1K_SANITIZE=ON -DLONG1K_WERROR=ON \
        -DCMAKE_C_FLAGS="-O1" >/dev/null
  cmake --build build-asan -j"$(nproc)"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
     LONG1K_SANITIZER=1 ctest --output-on-failure -j"$(nproc)" --timeout 1800)
fi
