#!/usr/bin/env bash
# MFU in `long1k train` (include/long1k/flops.h): with LONG1K_PEAK_TFLOPS set, the progress line
# shows "MFU x%" and every trainer_log.jsonl record an "mfu"; the FLOPs behind it are checked
# here from the data itself, independently of the clock: per record, mfu x peak x tokens /
# tokens_per_s is the step's model FLOPs, and over one epoch their sum must be
#   6 x trainable matrix params x tokens + 4 x frozen ones x tokens + 6 x layers x (heads x
#   head_dim) x sum over samples of n^2
# (hf_sft_reference.py's count; packed documents counted alone), for full, LoRA and freeze
# fine-tuning, with neat_packing. Without the variable the cpu shows no MFU (its peak is unknown).
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
MODEL=$SHARED/golden/models/qwen2_tiny/f32
[[ -d $MODEL ]] || { echo "SKIP: no golden model at $MODEL"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
fail=0
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 20 5 || exit 1
cfg() { # FT OUT [extra lines]
  cat <<EOC
model_name_or_path: $MODEL
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 128
neat_packing: true
learning_rate: 1.0e-3
num_train_epochs: 1
per_device_train_batch_size: 2
gradient_accumulation_steps: 1
logging_steps: 1
save_steps: 0
num_threads: 1
tokenized_cache_dir: $T/cache
finetuning_type: $1
output_dir: $T/$2
EOC
}
for ft in full lora freeze; do
  { cfg $ft $ft; [[ $ft == lora ]] && printf 'lora_rank: 4\nlora_target: all\n'
    [[ $ft == freeze ]] && printf 'freeze_trainable_layers: 1\n'; } >"$T/$ft.yaml"
  if ! LONG1K_PEAK_TFLOPS=1e-6 "$BIN" train "$T/$ft.yaml" >"$T/$ft.out" 2>"$T/$ft.err"; then
    echo "FAIL: $ft: train exited non-zero:"; tail -5 "$T/$ft.err"; fail=1; continue
  fi
  grep -q "MFU against 1e-06 TFLOP/s per device (LONG1K_PEAK_TFLOPS, float32)" "$T/$ft.err" ||
    { echo "FAIL: $ft: no MFU info line"; head -20 "$T/$ft.err"; fail=1; }
  grep -qE "tok/s MFU [0-9.]+%" "$T/$ft.err" || { echo "FAIL: $ft: no MFU in the progress line"; fail=1; }
  python3 - "$T" "$ft" "$MODEL/config.json" <<'EOP' || fail=1
import json, re, sys
T, ft, cfgp = sys.argv[1:]
c = json.load(open(cfgp))
C, I, V, L = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["num_hidden_layers"]
hd = c.get("head_dim") or C // c["num_attention_heads"]
qw, kvw = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
base = L * (C * qw + 2 * C * kvw + qw * C + 3 * C * I) + V * C
lens = [len(json.loads(l)["input_ids"]) for l in open(f"{T}/data.jsonl")]
err = open(f"{T}/{ft}.err").read()
if ft == "full":
    tr, fr = base, 0
else:
    k = int(re.search(r"finetuning_type %s: (\d+) trainable parameters" % ft, err).group(1))
    tr, fr = (k, base) if ft == "lora" else (k, base - k)
want = 6 * tr * sum(lens) + 4 * fr * sum(lens) + 6 * L * qw * sum(n * n for n in lens)
recs = [json.loads(l) for l in open(f"{T}/{ft}/trainer_log.jsonl") if '"loss"' in l]
got, prev = 0.0, 0
for r in recs:
    assert "mfu" in r, r
    got += r["mfu"] * 1e6 * (r["tokens"] - prev) / r["tokens_per_s"]
    prev = r["tokens"]
assert prev == sum(lens), (prev, sum(lens))
rel = abs(got - want) / want
print(f"mfu {ft}: {len(recs)} records, FLOPs from the log {got:.6g}, from the data {want:.6g}, rel {rel:.1e}")
assert rel < 1e-3, "FLOP count differs"
EOP
done
# no peak known: no MFU, no "mfu" key
cfg full plain >"$T/plain.yaml"
env -u LONG1K_PEAK_TFLOPS "$BIN" train "$T/plain.yaml" >/dev/null 2>"$T/plain.err" || { echo "FAIL: plain run"; fail=1; }
if grep -q "MFU" "$T/plain.err" || grep -q '"mfu"' "$T/plain/trainer_log.jsonl"; then
  echo "FAIL: MFU shown on the cpu without LONG1K_PEAK_TFLOPS"; fail=1
fi
[[ $fail == 0 ]] && echo "test_mfu: ok"
exit $fail
