#!/usr/bin/env bash
# LLaMA-Factory's own full-SFT example YAMLs (tests/train/data/llamafactory/examples/train_full,
# byte-identical to upstream: checked by git blob id) run unchanged except model_name_or_path,
# output_dir and max_steps (given on the command line), from LLaMA-Factory's layout with its
# data/dataset_info.json and excerpts of identity.json and alpaca_en_demo.json: on a tiny random
# model with the real tokenizer, `dataset: identity,alpaca_en_demo` loads both JSON array files
# (8 + 16 records), the keys without effect warn once each, 3 steps train and checkpoint-3 holds
# a bf16 model.safetensors and a trainer_state.json.
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
LF=$SRC/tests/train/data/llamafactory
[[ -d $SHARED/tokenizers/llama3 && -d $SHARED/tokenizers/qwen ]] || { echo "SKIP: no shared tokenizers"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 XDG_CACHE_HOME=$T/cache
fail=0

# unchanged from upstream (git blob ids recorded in SOURCE.md)
python3 - "$LF" <<'EOP' || { echo "FAIL: example files differ from upstream"; fail=1; }
import hashlib, os, sys
want = {"examples/train_full/llama3_full_sft.yaml": "fb7066a733efcc43ecc3bf162ca1879df6397044",
        "examples/train_full/qwen3_full_sft_autotp.yaml": "2726203f71f8437982c92487a26d6255fed33ff7",
        "examples/train_full/qwen3_full_sft.yaml": "adb7a1dfeb98bc1e4c6462a8ee857c3c63e00e48",
        "data/dataset_info.json": "4d105699026995d1455f6ecb44e2702bef97a7c3"}
for p, h in want.items():
    b = open(os.path.join(sys.argv[1], p), "rb").read()
    got = hashlib.sha1(b"blob %d\0" % len(b) + b).hexdigest()
    assert got == h, (p, got, h)
EOP

tiny() { # preset tokenizer out
  "$BIN" init --preset "$1" --layers 1 --hidden-size 16 --intermediate-size 32 --heads 2 \
    --kv-heads 1 --head-dim 8 --dtype f32 --seed 1 --tokenizer "$2" --out "$3" >/dev/null ||
    { echo "FAIL: init $1"; fail=1; }
}
tiny llama-3.2-1b "$SHARED/tokenizers/llama3" "$T/llama"
tiny qwen3-0.6b "$SHARED/tokenizers/qwen" "$T/qwen3"

# run YAML MODEL: trains 3 steps from LLaMA-Factory's layout (dataset_dir: data)
run() {
  local y=$1 model=$2 out=$T/out-${1%.yaml}
  (cd "$LF" && "$BIN" train "examples/train_full/$y" --model_name_or_path "$model" \
    --output_dir "$out" --max_steps 3) >"$T/stdout" 2>"$T/err"
  echo $? >"$T/rc"
}

check_trained() { # yaml
  local y=$1 out=$T/out-${1%.yaml} ok=1
  [[ $(cat "$T/rc") == 0 ]] || ok=0
  grep -q "dataset: 24 records -> 24 samples" "$T/err" || ok=0
  [[ $(grep -c "deepspeed: ignored; long1k shards with its own ZeRO" "$T/err") == 1 ]] || ok=0
  grep -q "preprocessing_num_workers: ignored" "$T/err" || ok=0
  grep -q "bf16: true only saves checkpoints in bfloat16" "$T/err" || ok=0
  grep -q "done: 3 steps" "$T/err" || ok=0
  python3 - "$out/checkpoint-3" <<'EOP' || ok=0
import json, os, struct, sys
d = sys.argv[1]
st = json.load(open(os.path.join(d, "trainer_state.json")))
assert st["global_step"] == 3 and st["max_steps"] == 3 and st["save_steps"] == 500, st
with open(os.path.join(d, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    hdr = json.loads(f.read(n))
assert all(v["dtype"] == "BF16" for k, v in hdr.items() if k != "__metadata__"), "not bf16"
assert os.path.exists(os.path.join(d, "tokenizer.json"))
EOP
  [[ $ok == 1 ]] || { echo "FAIL: $y"; sed 's/^/    /' "$T/err"; fail=1; }
}

run llama3_full_sft.yaml "$T/llama"
check_trained llama3_full_sft.yaml
run qwen3_full_sft_autotp.yaml "$T/qwen3"
check_trained qwen3_full_sft_autotp.yaml
# template qwen3_nothink (LLaMA-Factory's name, Qwen3's template with thinking off)
run qwen3_full_sft.yaml "$T/qwen3"
check_trained qwen3_full_sft.yaml
[[ $fail == 0 ]] && echo "LLaMA-Factory examples: all checks passed"
exit $fail
