#!/usr/bin/env bash
# Tokenizer throughput: long1k vs Hugging Face tokenizers (pip, Rust) in the same run, on the
# shared golden corpora (Qwen and Llama-3 tokenizers), one thread and all threads.
#
#   bench/tokenizer_bench.sh [BUILD_DIR] [REPEAT]      (needs: pip install tokenizers)
#
# Three numbers per row:
#   lib  long1k's library (bench/tokenizer_bench.c): l1k_tokenizer_encode over the texts,
#        loaded in memory, like HF's encode_batch below;
#   cli  `long1k tokenize --stats` end to end after loading the tokenizer: reading the JSONL,
#        parsing JSON, encoding, formatting the ids (the corpus file concatenated REPEAT times);
#   HF   tokenizers' Tokenizer.encode_batch(texts, add_special_tokens=False), threads set with
#        RAYON_NUM_THREADS.
# MB/s is bytes of text per wall-clock second; "cpu MB/s" divides by the CPU seconds used
# (all threads), which stays meaningful when the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPEAT=${2:-3}
SHARED=${LONG1K_SHARED:-../shared}
NPROC=$(nproc)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 -c "import tokenizers" 2>/dev/null || { echo "needs: pip install tokenizers" >&2; exit 2; }
[ -x "$BUILD/long1k" ] || { echo "build first: cmake --build $BUILD (missing $BUILD/long1k)" >&2; exit 2; }
cc -O2 -march=x86-64-v2 -Iinclude bench/tokenizer_bench.c -o "$T/tokenizer_bench" \
  "$BUILD/liblong1k_text.a" "$BUILD/liblong1k_core.a" -lcjson -lutf8proc -lz -lm -lpthread
HFV=$(python3 -c "import tokenizers; print(tokenizers.__version__)")
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "HF tokenizers $HFV; corpus repeated $REPEAT times"
printf "%-8s %-7s %-5s %10s %10s %10s %10s %10s %8s\n" tokenizer threads what "MB/s" "cpu MB/s" "HF MB/s" "HF cpuMB/s" "x HF" "x HF cpu"
for name in qwen llama3; do
  corpus=$SHARED/golden/tokenizer/${name}_corpus.jsonl
  # text-only records (the goldens also carry ids and decoded text), REPEAT times
  python3 -c 'import json,sys
texts=[json.dumps({"text": json.loads(l)["text"]}, ensure_ascii=False) for l in open(sys.argv[1], encoding="utf-8")]
sys.stdout.write("\n".join(texts * int(sys.argv[2])) + "\n")' "$corpus" "$REPEAT" >"$T/cat.jsonl"
  for th in 1 "$NPROC"; do
    ours=$("$T/tokenizer_bench" "$SHARED/tokenizers/$name" "$corpus" "$th" "$REPEAT")
    hf=$(RAYON_NUM_THREADS=$th python3 bench/tokenizer_bench_hf.py "$SHARED/tokenizers/$name/tokenizer.json" "$corpus" "$REPEAT")
    "$BUILD/long1k" tokenize -t "$SHARED/tokenizers/$name" -i "$T/cat.jsonl" -j "$th" --stats >"$T/stats"
    cli_secs=$(sed -n 's/^seconds *//p' "$T/stats")
    cli_s=$(sed -n 's/^cpu seconds *//p' "$T/stats")
    cli_bytes=$(sed -n 's/^input bytes *//p' "$T/stats")
    ot=$(echo "$ours" | field tokens); ht=$(echo "$hf" | field tokens)
    [ "$ot" = "$ht" ] || echo "WARNING: token counts differ: long1k $ot, HF $ht" >&2
    om=$(echo "$ours" | field MBps); oc=$(echo "$ours" | field cpu_MBps)
    hm=$(echo "$hf" | field MBps); hc=$(echo "$hf" | field cpu_MBps)
    cm=$(python3 -c "print(f'{$cli_bytes/$cli_secs/1e6:.2f}')")
    cc_=$(python3 -c "print(f'{$cli_bytes/($cli_s)/1e6:.2f}')")
    printf "%-8s %-7s %-5s %10s %10s %10s %10s %10s %8s\n" "$name" "$th" lib "$om" "$oc" "$hm" "$hc" \
      "$(python3 -c "print(f'{$om/$hm:.1f}')")" "$(python3 -c "print(f'{$oc/$hc:.1f}')")"
    printf "%-8s %-7s %-5s %10s %10s %10s %10s %10s %8s\n" "$name" "$th" cli "$cm" "$cc_" "$hm" "$hc" \
      "$(python3 -c "print(f'{$cm/$hm:.1f}')")" "$(python3 -c "print(f'{$cc_/$hc:.1f}')")"
  done
done
