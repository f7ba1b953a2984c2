#!/usr/bin/env bash
# Binary files read back are checked, never trusted: a damaged train_state.bin (one flipped
# bit, a negative global_step or a row index out of range with a valid checksum, a truncation)
# stops the resume with one line naming the file and the field, exit 2; a damaged dataset
# cache (bad offset table, flipped bit) is rebuilt with a line saying so, and training gives
# the same losses as with a good cache.
source "$(dirname "$0")/../lib.sh"
MODEL=$SHARED/golden/models/qwen2_tiny/f32
need_model "$MODEL"
python3 "$SRC/tests/train/make_tokenized.py" "$T/data.jsonl" 16 5 || exit 1
cat > "$T/cfg.yaml" <<EOC
model_name_or_path: $MODEL
finetuning_type: full
dataset: $T/data.jsonl
formatting: tokenized
cutoff_len: 64
learning_rate: 1.0e-3
max_steps: 4
per_device_train_batch_size: 2
save_steps: 2
logging_steps: 1
num_threads: 1
tokenized_cache_dir: $T/cache
bf16: false
EOC
"$BIN" train "$T/cfg.yaml" -q --output_dir "$T/ref" 2>"$T/e" || { echo "FAIL: reference run: $(cat "$T/e")"; exit 1; }
ST=$T/ref/checkpoint-2/train_state.bin
[[ -s $ST ]] || { echo "FAIL: no $ST"; exit 1; }

# damage(MODE): a copy of the run whose checkpoint-2/train_state.bin is damaged; resume it
damage() {
  rm -rf "$T/run" && cp -r "$T/ref" "$T/run" && rm -rf "$T/run/checkpoint-4"
  python3 - "$T/run/checkpoint-2/train_state.bin" "$1" <<'EOP'
import struct, sys, zlib
path, mode = sys.argv[1], sys.argv[2]
b = bytearray(open(path, "rb").read())
def fix_crc():
    z = bytearray(b); z[12:16] = b"\0\0\0\0"
    b[12:16] = struct.pack("<I", zlib.crc32(bytes(z)) & 0xffffffff)
if mode == "flip":
    b[200] ^= 0x10                      # one bit of a parameter
elif mode == "negstep":
    b[32:40] = struct.pack("<q", -5)    # global_step
    fix_crc()
elif mode == "hugestep":
    b[32:40] = struct.pack("<q", 1 << 60); b[24:32] = struct.pack("<q", 1 << 60)
    fix_crc()
elif mode == "badrow":
    n = struct.unpack("<Q", b[16:24])[0]
    off = 128 + 12 * n
    b[off:off + 8] = struct.pack("<q", 1 << 40)   # first row index
    fix_crc()
elif mode == "truncate":
    del b[-8:]
open(path, "wb").write(b)
EOP
  "$BIN" train "$T/cfg.yaml" -q --output_dir "$T/run" --resume_from_checkpoint true >"$T/o" 2>"$T/e"
}
for mode in flip negstep hugestep badrow truncate; do
  damage $mode; rc=$?
  check '[ $rc -eq 2 ] && one_line "$T/e" && grep -q "train_state.bin" "$T/e"' "train_state.bin ($mode): rc $rc, $(head -c 400 "$T/e")"
done
damage negstep; grep -q "global_step" "$T/e" || bad "negative global_step: the message does not name the field: $(cat "$T/e")"
damage badrow; grep -q "row order" "$T/e" || bad "row index: the message does not name the field: $(cat "$T/e")"
damage flip; grep -q "checksum" "$T/e" || bad "flipped bit: the message does not say checksum: $(cat "$T/e")"

# a damaged cache is rebuilt (a line says so) and training is unchanged
CACHE=$(ls "$T"/cache/ds-*.bin | head -1)
[[ -f $CACHE ]] || { echo "FAIL: no cache file"; exit 1; }
python3 - "$CACHE" <<'EOP'
import struct, sys, zlib
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
b[128 + 8:128 + 16] = struct.pack("<q", 1 << 40)   # offset 1: far past the tokens
z = bytearray(b); z[12:16] = b"\0\0\0\0"
b[12:16] = struct.pack("<I", zlib.crc32(bytes(z)) & 0xffffffff)
open(path, "wb").write(b)
EOP
"$BIN" train "$T/cfg.yaml" --output_dir "$T/c1" >"$T/o" 2>"$T/e"; rc=$?
check '[ $rc -eq 0 ] && grep -q "rebuilding the cache" "$T/e" && grep -q "offset 1" "$T/e"' "bad offset table: rc $rc, $(grep -v '^\[' "$T/e" | head -c 600)"
check 'cmp -s "$T/c1/checkpoint-4/train_state.bin" "$T/ref/checkpoint-4/train_state.bin"' "rebuilt cache: a different final state"
python3 - "$CACHE" <<'EOP'
import sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read()); b[-3] ^= 0x01
open(path, "wb").write(b)
EOP
"$BIN" train "$T/cfg.yaml" --output_dir "$T/c2" >"$T/o" 2>"$T/e"; rc=$?
check '[ $rc -eq 0 ] && grep -q "checksum mismatch.*rebuilding the cache" "$T/e"' "flipped cache bit: rc $rc"
check 'cmp -s "$T/c2/checkpoint-4/train_state.bin" "$T/ref/checkpoint-4/train_state.bin"' "flipped cache bit: a different final state"
finish
