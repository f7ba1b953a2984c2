#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job on the
# built-in default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if build/long1k help | grep -qE '^  demo '; then
  exec build/long1k demo "$@"
else
  # Until the demo lands: a tokenizer summary of the shipped sample.
  exec build/long1k tokenize --tokenizer data/tokenizers/qwen/tokenizer.json \
       --input data/samples/sample.jsonl --stats
fi
