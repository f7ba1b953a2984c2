#!/usr/bin/env bash
# `long1k train` with finetuning_type lora / freeze and device: cuda, the whole CLI linked with
# the CUDA emulation (tests/cuda/test_cuda_emulated.sh builds EMU_BIN), against the same runs
# on the cpu (CPU_BIN, the CMake build's long1k), on the golden llama (untied) model:
#  - LoRA, float32 mode: every step's loss and grad norm within 1e-4 of the cpu run, and the
#    PEFT adapter the checkpoint holds (adapter_model.safetensors) within 1e-4 of the cpu's;
#  - killed after step 2 and resumed from its step-1 checkpoint (train_state.bin: the adapter's moments), the cuda run
#    gives the uninterrupted cuda run's losses and adapter bit for bit;
#  - freeze (the last layer), float32: losses within 1e-4, a full model saved.
# Usage: emu_train_adapters.sh EMU_BIN CPU_BIN (from the source root; LONG1K_SHARED optional).
set -u
EMU=${1:?EMU_BIN} CPU=${2:?CPU_BIN}
SHARED=${LONG1K_SHARED:-../shared}
MODEL=$SHARED/golden/models/llama_tiny/f32
[[ -d $MODEL ]] || { echo "SKIP: no golden model at $MODEL"; exit 77; }
T=$(mktemp -d /tmp/l1k-emu-train.XXXX)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 LONG1K_CUDA_EMULATED=1
python3 tests/train/make_tokenized.py "$T/data.jsonl" 24 7 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 5.0e-3
max_steps: 3
per_device_train_batch_size: 2
gradient_accumulation_steps: 2
save_steps: 2
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
precision: fp32
finetuning_type: lora
lora_rank: 4
lora_target: all
EOC
fail=0
run() { # name bin device [args]
  local name=$1 bin=$2 dev=$3
  shift 3
  "$bin" train "$T/cfg.yaml" -q --output_dir "$T/$name" --device "$dev" "$@" ||
    { echo "FAIL: $name run (exit $?)"; fail=1; }
}
compare() { # a b bound files...
  python3 - "$@" <<'EOP'
import json, math, struct, sys
a, b, bound = sys.argv[1], sys.argv[2], float(sys.argv[3])
def log(d):
    return [json.loads(l) for l in open(d + "/trainer_log.jsonl") if l.strip()]
la, lb = log(a), log(b)
assert len(la) == len(lb) == 3, (len(la), len(lb))
worst = 0.0
for x, y in zip(la, lb):
    for k in ("loss", "grad_norm"):
        worst = max(worst, abs(x[k] - y[k]) / abs(y[k]))
def tensors(p):
    raw = open(p, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        assert v["dtype"] == "F32", (k, v["dtype"])
        out[k] = struct.unpack("<%df" % ((e - s) // 4), raw[8 + n + s:8 + n + e])
    return out
for f in sys.argv[4:]:
    ta, tb = tensors(a + "/checkpoint-3/" + f), tensors(b + "/checkpoint-3/" + f)
    assert sorted(ta) == sorted(tb), f
    d2 = sum((u - v) ** 2 for k in ta for u, v in zip(ta[k], tb[k]))
    r2 = sum(v * v for k in tb for v in tb[k])
    worst = max(worst, math.sqrt(d2 / r2) if r2 else math.sqrt(d2))
print("%s vs %s: worst relative difference %.3e (bound %g)" % (a.split("/")[-1], b.split("/")[-1], worst, bound))
sys.exit(0 if worst <= bound else 1)
EOP
}
run lora-cpu "$CPU" cpu
run lora-cuda "$EMU" cuda
[[ -s $T/lora-cuda/checkpoint-3/adapter_model.safetensors && ! -e $T/lora-cuda/checkpoint-3/model.safetensors ]] ||
  { echo "FAIL: the cuda LoRA checkpoint is not a PEFT adapter"; fail=1; }
compare "$T/lora-cuda" "$T/lora-cpu" 1e-4 adapter_model.safetensors || { echo "FAIL: lora cuda vs cpu"; fail=1; }
LONG1K_TRAIN_FAULT=kill-after-step:2 "$EMU" train "$T/cfg.yaml" -q --output_dir "$T/lora-res" \
  --device cuda --save_steps 1 2>/dev/null
[[ $? == 137 ]] || { echo "FAIL: fault injection did not kill the cuda run"; fail=1; }
run lora-res "$EMU" cuda --save_steps 1 --resume_from_checkpoint true
compare "$T/lora-res" "$T/lora-cuda" 0 adapter_model.safetensors || { echo "FAIL: resumed cuda run differs"; fail=1; }
run freeze-cpu "$CPU" cpu --finetuning_type freeze --freeze_trainable_layers 1
run freeze-cuda "$EMU" cuda --finetuning_type freeze --freeze_trainable_layers 1
compare "$T/freeze-cuda" "$T/freeze-cpu" 1e-4 model.safetensors || { echo "FAIL: freeze cuda vs cpu"; fail=1; }
exit $fail
