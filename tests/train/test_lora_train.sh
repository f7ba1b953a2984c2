#!/usr/bin/env bash
# finetuning_type lora / freeze through `long1k train`, on the golden llama (untied) model:
#  - a LoRA run writes checkpoints as PEFT adapters (adapter_model.safetensors with PEFT's
#    tensor names, adapter_config.json; no model.safetensors) and trains the adapter (every
#    lora_B leaves its zero init);
#  - killed after step 5 and resumed, it gives the uninterrupted run's losses, grad norms,
#    adapter and optimizer state bit for bit;
#  - stacking: adapter_name_or_path + create_new_adapter merges the first adapter and trains a
#    new one; without create_new_adapter the adapter is trained further;
#  - long1k merge writes base + scale B A; generate --adapter equals generate on the merged dir;
#  - freeze: only the last layer changes, saved as a full model;
#  - bad settings are refused with one line (exit 2).
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
MODEL=$SHARED/golden/models/llama_tiny/f32
[[ -d $MODEL ]] || { echo "SKIP: no golden model at $MODEL"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 32 7 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 5.0e-3
max_steps: 8
per_device_train_batch_size: 2
gradient_accumulation_steps: 2
save_steps: 3
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
finetuning_type: lora
lora_rank: 4
lora_target: all
EOC
fail=0
py() { python3 - "$@"; }

"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/ref" || { echo "FAIL: lora run"; exit 1; }
C=$T/ref/checkpoint-8
for f in adapter_model.safetensors adapter_config.json train_state.bin trainer_state.json; do
  [[ -s $C/$f ]] || { echo "FAIL: $C lacks $f"; fail=1; }
done
[[ -e $C/model.safetensors ]] && { echo "FAIL: a LoRA checkpoint holds the full model"; fail=1; }
py "$C" "$T/ref/trainer_log.jsonl" <<'EOP' || { echo "FAIL: adapter content"; fail=1; }
import json, struct, sys
d = sys.argv[1]
raw = open(d + "/adapter_model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
names = sorted(k for k in hdr if k != "__metadata__")
# 2 layers x 7 modules x (A, B)
assert len(names) == 28, names
assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in names
assert hdr["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"]["shape"] == [64, 4]
assert hdr["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]["shape"] == [4, 160]
assert all(hdr[k]["dtype"] == "F32" for k in names)
cfg = json.load(open(d + "/adapter_config.json"))
assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8, cfg
assert sorted(cfg["target_modules"]) == sorted(["q_proj", "k_proj", "v_proj", "o_proj",
                                                "gate_proj", "up_proj", "down_proj"])
# trained: every lora_B moved away from its zero init
for k in names:
    if k.endswith("lora_B.weight"):
        a, b = hdr[k]["data_offsets"]
        assert any(raw[8 + n + a:8 + n + b]), k
EOP

# resume after kill: bit-exact
LONG1K_TRAIN_FAULT=kill-after-step:5 "$BIN" train "$T/cfg.yaml" -q --output_dir "$T/a" 2>/dev/null
[[ $? == 137 ]] || { echo "FAIL: fault injection did not kill"; fail=1; }
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/a" --resume_from_checkpoint true ||
  { echo "FAIL: resume"; fail=1; }
py "$T/ref/trainer_log.jsonl" "$T/a/trainer_log.jsonl" <<'EOP' || { echo "FAIL: resumed losses differ"; fail=1; }
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 8
for x, y in zip(a, b):
    assert x["loss"] == y["loss"] and x["grad_norm"] == y["grad_norm"], (x, y)
EOP
for f in adapter_model.safetensors train_state.bin; do
  cmp -s "$C/$f" "$T/a/checkpoint-8/$f" || { echo "FAIL: resumed $f differs"; fail=1; }
done
# the same with lora_dropout: the masks come from (seed, step, row), so a resumed run draws the
# same ones; and dropout changes the run
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/dref" --lora_dropout 0.1 || { echo "FAIL: dropout run"; fail=1; }
LONG1K_TRAIN_FAULT=kill-after-step:5 "$BIN" train "$T/cfg.yaml" -q --output_dir "$T/d" --lora_dropout 0.1 2>/dev/null
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/d" --lora_dropout 0.1 --resume_from_checkpoint true ||
  { echo "FAIL: dropout resume"; fail=1; }
cmp -s "$T/dref/checkpoint-8/train_state.bin" "$T/d/checkpoint-8/train_state.bin" ||
  { echo "FAIL: dropout: resumed state differs"; fail=1; }
cmp -s "$T/dref/checkpoint-8/adapter_model.safetensors" "$C/adapter_model.safetensors" &&
  { echo "FAIL: lora_dropout 0.1 changed nothing"; fail=1; }
grep -q '"lora_dropout": 0.1,' "$T/dref/checkpoint-8/adapter_config.json" ||
  { echo "FAIL: adapter_config.json lacks lora_dropout 0.1"; fail=1; }

# merge: W + scale B A, a model directory with the tokenizer files of the base
"$BIN" merge --base "$MODEL" --adapter "$C" --out "$T/merged" || { echo "FAIL: merge"; fail=1; }
for f in config.json model.safetensors; do
  [[ -s $T/merged/$f ]] || { echo "FAIL: merged lacks $f"; fail=1; }
done
"$BIN" merge --base "$MODEL" --adapter "$T/nope" --out "$T/m2" 2>"$T/err"
[[ $? == 2 ]] && grep -q "adapter_config.json" "$T/err" || { echo "FAIL: merge of a missing adapter"; cat "$T/err"; fail=1; }

# generate --adapter (merged in memory) == generate on the merged directory; != the base
TK=$SRC/data/tokenizers/tiny/tokenizer.json
gen() { "$BIN" generate --tokenizer "$TK" --prompt "abc 12" -n 16 --ignore-eos -q -o "$@" 2>/dev/null; }
gen "$T/g_base.jsonl" --model "$MODEL" && gen "$T/g_ad.jsonl" --model "$MODEL" --adapter "$C" &&
  gen "$T/g_mg.jsonl" --model "$T/merged" || { echo "FAIL: generate runs"; fail=1; }
cmp -s "$T/g_ad.jsonl" "$T/g_mg.jsonl" || { echo "FAIL: generate --adapter != merged"; fail=1; }
cmp -s "$T/g_ad.jsonl" "$T/g_base.jsonl" && { echo "FAIL: the adapter changes nothing"; fail=1; }
"$BIN" generate --model "$MODEL" --adapter "$T/nope" --tokenizer "$TK" --prompt x 2>"$T/err"
[[ $? == 2 ]] && grep -q -- "--adapter" "$T/err" || { echo "FAIL: generate bad adapter"; cat "$T/err"; fail=1; }

# eval --model --adapter == eval --model merged
printf '{"problem":"abc 12","answer":"3"}\n{"problem":"1 2","answer":"4"}\n' >"$T/ev.jsonl"
ev() { "$BIN" eval --data "$T/ev.jsonl" --tokenizer "$TK" --completions --max-tokens 8 \
  --prompt-template plain -q "$@" >/dev/null 2>&1; }
ev --model "$MODEL" --adapter "$C" --out "$T/ev_ad" && ev --model "$T/merged" --out "$T/ev_mg" ||
  { echo "FAIL: eval runs"; fail=1; }
py "$T/ev_ad/results.jsonl" "$T/ev_mg/results.jsonl" <<'EOP' || { echo "FAIL: eval --adapter != merged"; fail=1; }
import json, sys
a, b = ([json.loads(l)["response"] for l in open(p)] for p in sys.argv[1:3])
assert len(a) == 2 and a == b, (a, b)
EOP

# stacking: merge the trained adapter and train a new one; continue the adapter
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/stack" --max_steps 2 --save_steps 0 \
  --adapter_name_or_path "$C" --create_new_adapter true || { echo "FAIL: stacked run"; fail=1; }
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/cont" --max_steps 2 --save_steps 0 \
  --adapter_name_or_path "$C" || { echo "FAIL: continued run"; fail=1; }
py "$T/ref/trainer_log.jsonl" "$T/stack/trainer_log.jsonl" "$T/cont/trainer_log.jsonl" <<'EOP' || { echo "FAIL: stacking"; fail=1; }
import json, sys
ref, st, co = ([json.loads(l) for l in open(p)] for p in sys.argv[1:4])
# both start from the trained adapter's function: step 1 loss far below the fresh run's step 1
assert st[0]["loss"] < ref[0]["loss"] - 0.05 and co[0]["loss"] < ref[0]["loss"] - 0.05, (ref[0], st[0], co[0])
# a new adapter starts with B = 0 and Kaiming A: the same function as the merged one, so the
# stacked run's first loss equals the continued run's first loss up to merge rounding
assert abs(st[0]["loss"] - co[0]["loss"]) < 1e-4, (st[0], co[0])
EOP

# freeze: the last layer only
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/fr" --finetuning_type freeze \
  --freeze_trainable_layers 1 --max_steps 3 --save_steps 0 || { echo "FAIL: freeze run"; fail=1; }
py "$MODEL/model.safetensors" "$T/fr/checkpoint-3/model.safetensors" <<'EOP' || { echo "FAIL: freeze"; fail=1; }
import json, struct, sys
def load(p):
    raw = open(p, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    return {k: raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in h.items() if k != "__metadata__"}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys()
changed = sorted(k for k in a if a[k] != b[k])
assert changed and all(k.startswith("model.layers.1.") for k in changed), changed
assert len(changed) == len([k for k in a if k.startswith("model.layers.1.")]), changed
EOP

# refused settings
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/x" --lora_target q_proj,lm_head 2>"$T/err"
[[ $? == 2 ]] && grep -q "lora_target: unknown module 'lm_head'" "$T/err" || { echo "FAIL: lora_target lm_head"; cat "$T/err"; fail=1; }
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/x" --adapter_name_or_path "$T/nope" 2>"$T/err"
[[ $? == 2 ]] && grep -q "adapter_name_or_path" "$T/err" || { echo "FAIL: missing adapter"; cat "$T/err"; fail=1; }
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/x" --finetuning_type freeze --freeze_extra_modules norms 2>"$T/err"
[[ $? == 2 ]] && grep -q "freeze_extra_modules: unknown module 'norms'" "$T/err" || { echo "FAIL: freeze_extra_modules"; cat "$T/err"; fail=1; }
exit $fail
