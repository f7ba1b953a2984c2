#!/usr/bin/env bash
# `long1k train --device cuda` on the emulated device (EMU_BIN, built by
# tests/cuda/test_cuda_emulated_cli.sh) and its memory plan, on the golden llama model:
#  - the plan line ("memory plan: weights x GiB, optimizer y GiB, activations z GiB at T
#    tokens ...") is printed before the first step;
#  - with a device of too little memory (LONG1K_EMU_MEM_TOTAL) the run stops before any step
#    with one line, exit 2, naming the largest T that fits, which is `long1k plan`'s max_T for
#    the same memory, and no CUDA out-of-memory;
#  - optim_offload: true (master weights and moments on the host, AdamW on the CPU with the cpu
#    backend's code) gives the on-device AdamW run's losses, grad norms and saved weights bit for
#    bit, in fp32 and bf16 mode (both update in double and round once; on a GPU nvcc may fuse
#    multiply-adds in the kernel, so there the bar is 1e-6: scripts/gpu-check.d/zero.sh);
#    fp32 through the pipeline of pieces (LONG1K_OFFLOAD_CHUNK), bf16 in one piece and in pieces;
#    in bf16 mode the device then holds no float32 parameters (hostmaster.h): also the same bits
#    as the offload that kept them (LONG1K_OFFLOAD_DEVICE_PARAMS=1);
#  - an offloaded run killed after step 2 and resumed from checkpoint-1 (moments from
#    train_state.bin into host memory) ends bit for bit as the uninterrupted one (fp32, bf16).
# Usage: emu_train_plan.sh EMU_BIN CPU_BIN (from the source root; LONG1K_SHARED optional).
set -u
EMU=${1:?EMU_BIN} CPU=${2:?CPU_BIN}
SHARED=${LONG1K_SHARED:-../shared}
MODEL=$SHARED/golden/models/llama_tiny/f32
[[ -d $MODEL ]] || { echo "SKIP: no golden model at $MODEL"; exit 77; }
T=$(mktemp -d /tmp/l1k-emu-plan.XXXX)
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
save_steps: 0
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
precision: fp32
device: cuda
finetuning_type: full
EOC
fail=0
# 1. the plan line before the first step
"$EMU" train "$T/cfg.yaml" --output_dir "$T/ok" >"$T/ok.log" 2>&1 || { echo "FAIL: plan run: $(tail -3 "$T/ok.log")"; fail=1; }
grep -qE "memory plan: weights [0-9.]+ GiB, optimizer [0-9.]+ GiB, activations [0-9.]+ GiB at 128 tokens" "$T/ok.log" ||
  { echo "FAIL: no memory plan line: $(head -5 "$T/ok.log")"; fail=1; }
# 2. a device with 1 GiB (the plan's reserve) + 36.6 MB: the 32 MiB workspace and the model
#    fit, 128 tokens do not
MEM=$((1073741824 + 36600000))
want=$("$CPU" plan --config "$MODEL" --precision f32 --gpu-mem $MEM --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_T"])')
LONG1K_EMU_MEM_TOTAL=$MEM "$EMU" train "$T/cfg.yaml" -q --output_dir "$T/small" >"$T/small.out" 2>"$T/small.err"
rc=$?
if [[ $rc != 2 || $(grep -c . "$T/small.err") != 1 ]] || ! grep -q "the largest T that fits is $want tokens" "$T/small.err" ||
   grep -qi "out of device memory\|cudaErrorMemoryAllocation" "$T/small.err"; then
  echo "FAIL: small device: exit $rc (want 2, one line naming T=$want): $(cat "$T/small.err")"
  fail=1
else
  echo "plan: small device refused before the first step: $(cat "$T/small.err")"
fi
[[ ! -e $T/small/trainer_log.jsonl || ! -s $T/small/trainer_log.jsonl ]] || { echo "FAIL: small device trained"; fail=1; }
# 3. optim_offload against the device's AdamW
same() { # a b: logs and saved weights equal bit for bit
  python3 - "$T/$1" "$T/$2" <<'EOP'
import json, sys, hashlib
a, b = sys.argv[1], sys.argv[2]
la = [json.loads(l) for l in open(a + "/trainer_log.jsonl") if l.strip()]
lb = [json.loads(l) for l in open(b + "/trainer_log.jsonl") if l.strip()]
assert len(la) == len(lb) == 3, (len(la), len(lb))
for x, y in zip(la, lb):
    assert x["loss"] == y["loss"] and x["grad_norm"] == y["grad_norm"], (x, y)
h = lambda d: hashlib.sha256(open(d + "/checkpoint-3/model.safetensors", "rb").read()).hexdigest()
assert h(a) == h(b), "saved weights differ"
print(f"offload: {a.rsplit('/', 1)[1]} == {b.rsplit('/', 1)[1]}: 3 steps, losses {[x['loss'] for x in la]}, weights bit for bit")
EOP
}
for pr in fp32 bf16; do
  "$EMU" train "$T/cfg.yaml" -q --output_dir "$T/dev_$pr" --precision $pr || { echo "FAIL: $pr run"; fail=1; }
  # fp32: the pipeline (pieces of 10000 values: a copy thread moves the next piece while the
  # host updates this one); bf16: one piece, the update in turn
  chunk=10000
  [[ $pr == bf16 ]] && chunk=0
  LONG1K_OFFLOAD_CHUNK=$chunk "$EMU" train "$T/cfg.yaml" --output_dir "$T/off_$pr" --precision $pr --optim_offload true >"$T/off_$pr.log" 2>&1 ||
    { echo "FAIL: $pr offload run: $(tail -3 "$T/off_$pr.log")"; fail=1; }
  grep -q "optim_offload: float32 master weights and AdamW moments of" "$T/off_$pr.log" || { echo "FAIL: no offload line"; fail=1; }
  same dev_$pr off_$pr || { echo "FAIL: optim_offload $pr differs from the device AdamW"; fail=1; }
done
# bf16 + optim_offload keeps no float32 parameters on the device (src/backend/cuda/hostmaster.h):
# the same bits as the arrangement that kept them (LONG1K_OFFLOAD_DEVICE_PARAMS=1) and, through
# the pipeline of pieces (bf16 rounded on the host, uploaded by the copy thread), as the device
# AdamW run above
LONG1K_OFFLOAD_DEVICE_PARAMS=1 LONG1K_OFFLOAD_CHUNK=0 "$EMU" train "$T/cfg.yaml" -q --output_dir "$T/off32_bf16" --precision bf16 --optim_offload true ||
  { echo "FAIL: bf16 offload run with float32 device parameters"; fail=1; }
same off32_bf16 off_bf16 || { echo "FAIL: bf16 optim_offload without float32 device parameters differs"; fail=1; }
LONG1K_OFFLOAD_CHUNK=10000 "$EMU" train "$T/cfg.yaml" -q --output_dir "$T/offp_bf16" --precision bf16 --optim_offload true ||
  { echo "FAIL: bf16 offload pipeline run"; fail=1; }
same dev_bf16 offp_bf16 || { echo "FAIL: bf16 optim_offload pipeline differs from the device AdamW"; fail=1; }
# 4. killed after step 2, resumed from checkpoint-1
export LONG1K_OFFLOAD_CHUNK=7000
(LONG1K_TRAIN_FAULT=kill-after-step:2 "$EMU" train "$T/cfg.yaml" -q --output_dir "$T/kill" --optim_offload true --save_steps 1 >/dev/null 2>&1; true) 2>/dev/null
[[ -d $T/kill/checkpoint-1 && ! -d $T/kill/checkpoint-3 ]] || { echo "FAIL: offload kill: $(ls "$T/kill")"; fail=1; }
"$EMU" train "$T/cfg.yaml" -q --output_dir "$T/kill" --optim_offload true --save_steps 1 --resume_from_checkpoint true ||
  { echo "FAIL: offload resume"; fail=1; }
"$EMU" train "$T/cfg.yaml" -q --output_dir "$T/full1" --optim_offload true --save_steps 1 || { echo "FAIL: offload save_steps 1"; fail=1; }
same full1 kill || { echo "FAIL: resumed offload run differs"; fail=1; }
# the same in bf16 mode, where the resume's parameters go to the host master and up as bf16
(LONG1K_TRAIN_FAULT=kill-after-step:2 "$EMU" train "$T/cfg.yaml" -q --output_dir "$T/killb" --precision bf16 --optim_offload true --save_steps 1 >/dev/null 2>&1; true) 2>/dev/null
[[ -d $T/killb/checkpoint-1 && ! -d $T/killb/checkpoint-3 ]] || { echo "FAIL: bf16 offload kill: $(ls "$T/killb")"; fail=1; }
"$EMU" train "$T/cfg.yaml" -q --output_dir "$T/killb" --precision bf16 --optim_offload true --save_steps 1 --resume_from_checkpoint true ||
  { echo "FAIL: bf16 offload resume"; fail=1; }
"$EMU" train "$T/cfg.yaml" -q --output_dir "$T/full1b" --precision bf16 --optim_offload true --save_steps 1 || { echo "FAIL: bf16 offload save_steps 1"; fail=1; }
same full1b killb || { echo "FAIL: resumed bf16 offload run differs"; fail=1; }
exit $fail
