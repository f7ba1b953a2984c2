#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job on the
# built-in default (`long1k demo`: the whole Long1K loop on a toy task, about 9 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/long1k demo "$@"
