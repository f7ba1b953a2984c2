#!/usr/bin/env bash
# --device on every command that runs the model (parity, train, generate, eval --model):
# in a build without the CUDA backend, --device cuda stops with exit 2 and ONE line naming the
# option and why; an unknown device or --precision bf16 on the cpu backend too; --device cpu
# runs (parity passes on a golden model); --help of each command documents --device.
set -u
BIN=${LONG1K_BIN:?}
SHARED=${LONG1K_SHARED:-../shared}
G=$SHARED/golden/models/qwen2_tiny
[[ -d $G/f32 ]] || { echo "SKIP: no golden model at $G"; exit 77; }
T=$(mktemp -d /tmp/l1k_device.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0

# expect NAME EXIT_CODE EXACT_LINE -- command: stderr is that one line (a usage error may add
# the "(see 'long1k CMD --help')" hint below it)
expect() {
  local name=$1 code=$2 want=$3
  shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  err=$(printf '%s\n' "$err" | grep -v "^(see 'long1k [a-z]* --help')$")
  if [[ $rc -eq $code && $err == "$want" ]]; then echo "ok   $name: $err"
  else echo "FAIL $name: exit $rc (want $code), stderr: [$err] (want [$want])"; fail=1; fi
}

NOCUDA="long1k was built without the CUDA backend (no nvcc at build time)"
msg=$("$BIN" parity --model "$G/f32" --reference "$G/reference.safetensors" --device cuda 2>&1 >/dev/null)
if [[ $msg == *"built without the CUDA backend"* ]]; then
  expect "parity --device cuda" 2 "long1k parity: --device cuda: $NOCUDA" -- \
    "$BIN" parity --model "$G/f32" --reference "$G/reference.safetensors" --device cuda
  expect "generate --device cuda" 2 "long1k generate: --device cuda: $NOCUDA" -- \
    "$BIN" generate --model "$G/f32" --prompt hi --device cuda
  expect "eval --model --device cuda" 2 "long1k eval: --device cuda: $NOCUDA" -- \
    "$BIN" eval --benchmark math500 --model "$G/f32" --device cuda --out "$T/ev"
  printf '{"input_ids": [1, 2, 3, 4, 5, 6], "labels": [-100, -100, 3, 4, 5, 6]}\n' > "$T/d.jsonl"
  cat > "$T/c.yaml" <<EOC
model_name_or_path: $G/f32
finetuning_type: full
dataset: $T/d.jsonl
formatting: tokenized
output_dir: $T/out
max_steps: 1
tokenized_cache_dir: $T/cache
EOC
  expect "train --device cuda" 2 "long1k train: device cuda: $NOCUDA" -- \
    "$BIN" train "$T/c.yaml" -q --device cuda
  printf 'device: cuda\n' >> "$T/c.yaml"
  expect "train YAML device: cuda" 2 "long1k train: device cuda: $NOCUDA" -- \
    "$BIN" train "$T/c.yaml" -q
  "$BIN" train "$T/c.yaml" -q --device cpu --output_dir "$T/out_cpu" >/dev/null 2>"$T/err" ||
    { echo "FAIL train --device cpu: $(cat "$T/err")"; fail=1; }
  "$BIN" train "$T/c.yaml" -q --device auto --output_dir "$T/out_auto" >/dev/null 2>"$T/err" ||
    { echo "FAIL train --device auto: $(cat "$T/err")"; fail=1; }
  expect "train precision bf16 on cpu" 2 \
    "long1k train: precision bf16: the cpu backend computes in float32 only (use precision: fp32, or --device cuda)" -- \
    "$BIN" train "$T/c.yaml" -q --device cpu --precision bf16 --output_dir "$T/out_bf16"
  # (the wording of a bad enum value is train config's: only one line naming it is checked)
  err=$("$BIN" train "$T/c.yaml" -q --device gpu 2>&1 >/dev/null); rc=$?
  [[ $rc -eq 2 && $(printf '%s\n' "$err" | wc -l) -eq 1 && $err == *device*gpu* ]] ||
    { echo "FAIL train --device gpu: exit $rc, [$err]"; fail=1; }
else
  echo "note: this build has the CUDA backend ($msg); the no-CUDA refusals are not checked"
fi
expect "parity --device gpu" 2 "long1k parity: --device gpu: unknown device (expected cpu, cuda or auto)" -- \
  "$BIN" parity --model "$G/f32" --reference "$G/reference.safetensors" --device gpu
expect "generate --device gpu" 2 "long1k generate: --device gpu: unknown device (expected cpu, cuda or auto)" -- \
  "$BIN" generate --model "$G/f32" --prompt hi --device gpu
expect "parity --precision bf16 on cpu" 2 \
  "long1k parity: precision bf16: the cpu backend computes in float32 only (use precision: fp32, or --device cuda)" -- \
  "$BIN" parity --model "$G/f32" --reference "$G/reference.safetensors" --device cpu --precision bf16
expect "parity --precision half" 2 "long1k parity: --precision half: expected fp32 or bf16" -- \
  "$BIN" parity --model "$G/f32" --reference "$G/reference.safetensors" --precision half
expect "eval --device without --model" 2 "long1k eval: --device applies to a local --model only" -- \
  "$BIN" eval --benchmark math500 --endpoint http://127.0.0.1:9 --model-name x --device cpu --out "$T/ev2"
# --device cpu runs
out=$("$BIN" parity --model "$G/f32" --reference "$G/reference.safetensors" --device cpu 2>"$T/err")
[[ $? -eq 0 && $out == *'"ok":true'* ]] || { echo "FAIL parity --device cpu: $(cat "$T/err")"; fail=1; }
SRC=${LONG1K_SRC:-.}
"$BIN" init --preset qwen2.5-0.5b-instruct --layers 1 --hidden-size 32 --intermediate-size 64 \
  --heads 4 --kv-heads 2 --vocab-size 750 --dtype f32 --tokenizer "$SRC/data/tokenizers/tiny" \
  --out "$T/gm" >/dev/null 2>&1 || { echo "FAIL: long1k init"; fail=1; }
for d in cpu auto; do
  out=$("$BIN" generate --model "$T/gm" --prompt hi --max-new-tokens 3 --device $d -q 2>"$T/err")
  [[ $? -eq 0 && -n $out ]] || { echo "FAIL generate --device $d: $(cat "$T/err")"; fail=1; }
done
# documented in --help
for c in parity generate eval train; do
  "$BIN" $c --help | grep -q -- "device" || { echo "FAIL: long1k $c --help does not mention --device"; fail=1; }
done
[[ $fail == 0 ]] && echo "device cli: all checks passed"
exit $fail
