#!/usr/bin/env bash
# `long1k train --device cuda` under mpirun through the CUDA backend's NCCL path
# (src/backend/cuda/nccl.c), on the emulated device with tests/cuda/emu/fake_nccl.c standing in
# for libnccl.so.2 (MPI's collectives on the emulated device memory; LONG1K_NCCL_LIB). Golden
# llama model, float32 mode, 6 rows per optimizer step (accumulation 6 / 3 / 2 on 1 / 2 / 3
# ranks, so every run sees the same data in the same order):
#  - np 2 and 3, zero_stage 0, 1, 2: losses, grad norms and final parameters within 1e-5
#    relative of the one-process cuda run without NCCL (the sums over ranks associate
#    differently); all ranks end with the same parameters (bit for bit);
#  - np 2: ZeRO-2 (reduce-scatter, norm from the shards) gives ZeRO-1's (all-reduce)
#    parameters bit for bit, as on the cpu path (test_zero2.sh);
#  - np 1 with LONG1K_DP=nccl and zero_stage 2 (what scripts/gpu-check.d/zero.sh runs on a GPU
#    with the real NCCL) equals the run without NCCL bit for bit.
# LONG1K_ZERO2_BUCKET=5000 gives several buckets. Usage: emu_train_nccl.sh EMU_BIN WORKDIR
# (from the source root; LONG1K_SHARED optional). Skips without mpirun / mpicc.
set -u
EMU=${1:?EMU_BIN} W=${2:?WORKDIR}
SHARED=${LONG1K_SHARED:-../shared}
MODEL=$SHARED/golden/models/llama_tiny/f32
[[ -d $MODEL ]] || { echo "SKIP: no golden model at $MODEL"; exit 77; }
command -v mpirun >/dev/null && command -v mpicc >/dev/null || { echo "SKIP: no mpirun / mpicc"; exit 77; }
mpicc -shared -fPIC -O2 tests/cuda/emu/fake_nccl.c -o "$W/libfakenccl.so" || { echo "FAIL: fake NCCL build"; exit 1; }
T=$(mktemp -d /tmp/l1k-emu-nccl.XXXX)
trap 'rm -rf "$T"' EXIT
# three emulated devices: each rank takes the one of its node-local rank (trainer.c)
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" # OpenMPI's own allocations
export OMP_NUM_THREADS=1 LONG1K_CUDA_EMULATED=1 LONG1K_NCCL_LIB=$W/libfakenccl.so LONG1K_ZERO2_BUCKET=5000 LONG1K_EMU_DEVICES=3
python3 tests/train/make_tokenized.py "$T/data.jsonl" 24 7 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 5.0e-3
max_steps: 3
per_device_train_batch_size: 1
save_steps: 0
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
precision: fp32
device: cuda
finetuning_type: full
max_grad_norm: 0.5
EOC
fail=0
run() { # NP NAME ZERO [env...]
  local np=$1 name=$2 z=$3
  shift 3
  mpirun -np "$np" --oversubscribe --allow-run-as-root --mca btl self,vader -x OMP_NUM_THREADS -x ASAN_OPTIONS \
    -x LONG1K_CUDA_EMULATED -x LONG1K_EMU_DEVICES -x LONG1K_NCCL_LIB -x LONG1K_ZERO2_BUCKET -x LONG1K_TRAIN_DUMP_PARAMS="$T/p.$name" "$@" \
    "$EMU" train "$T/cfg.yaml" --output_dir "$T/$name" --gradient_accumulation_steps $((6 / np)) \
    --zero_stage "$z" >"$T/$name.log" 2>&1 || { echo "FAIL: $name (np $np zero $z): $(tail -3 "$T/$name.log")"; fail=1; }
}
run 1 ref 0
run 1 dp1 2 -x LONG1K_DP=nccl
run 2 n2z0 0
run 2 n2z1 1
run 2 n2z2 2
run 3 n3z2 2
grep -q "data parallelism: 3 processes on device cuda over NCCL (zero_stage 2)" "$T/n3z2.log" ||
  { echo "FAIL: no NCCL line: $(head -5 "$T/n3z2.log")"; fail=1; }
grep -q "over NCCL" "$T/ref.log" && { echo "FAIL: the reference used NCCL"; fail=1; }
# one device, two ranks: rank 1 asks for device 1 and stops with one line (no hang, no crash)
LONG1K_EMU_DEVICES=1 timeout 300 mpirun -np 2 --oversubscribe --allow-run-as-root --mca btl self,vader \
  -x OMP_NUM_THREADS -x ASAN_OPTIONS -x LONG1K_CUDA_EMULATED -x LONG1K_EMU_DEVICES "$EMU" train "$T/cfg.yaml" -q \
  --output_dir "$T/onedev" --gradient_accumulation_steps 3 >"$T/onedev.log" 2>&1
rc=$?
if [[ $rc == 0 || $rc == 124 ]] || ! grep -q "cudaSetDevice" "$T/onedev.log"; then
  echo "FAIL: two ranks on one device: exit $rc: $(head -3 "$T/onedev.log")"
  fail=1
fi
python3 - "$T" <<'EOP' || fail=1
import json, os, struct, sys, math
T = sys.argv[1]
def log(d): return [json.loads(l) for l in open(os.path.join(T, d, "trainer_log.jsonl"))]
def params(name, np):
    b = [open(os.path.join(T, f"p.{name}.rank{r}"), "rb").read() for r in range(np)]
    assert all(x == b[0] for x in b), f"{name}: ranks hold different parameters"
    return b[0]
runs = {"ref": 1, "dp1": 1, "n2z0": 2, "n2z1": 2, "n2z2": 2, "n3z2": 3}
L = {k: log(k) for k in runs}
P = {k: params(k, n) for k, n in runs.items()}
def f(b): return struct.unpack(f"{len(b) // 4}f", b)
ref = f(P["ref"])
for k in runs:
    assert len(L[k]) == 3, (k, len(L[k]))
    w = max(abs(x[q] - y[q]) / abs(x[q]) for x, y in zip(L["ref"], L[k]) for q in ("loss", "grad_norm"))
    p = f(P[k])
    d = math.sqrt(sum((u - v) ** 2 for u, v in zip(ref, p))) / math.sqrt(sum(u * u for u in ref))
    print(f"nccl (fake, emulated): {k}: worst loss/grad-norm rel err {w:.2e}, params rel err {d:.2e} vs one process without NCCL")
    assert w <= 1e-5 and d <= 1e-5, k
assert P["dp1"] == P["ref"], "np 1 through NCCL: parameters differ"
assert all(x[q] == y[q] for x, y in zip(L["dp1"], L["ref"]) for q in ("loss", "grad_norm")), "np 1 through NCCL: losses differ"
assert P["n2z2"] == P["n2z1"], "np 2: ZeRO-2 parameters differ from ZeRO-1's"
print("nccl (fake, emulated): np 1 through NCCL == without; np 2 ZeRO-2 == ZeRO-1 bit for bit; ranks identical")
EOP
exit $fail
