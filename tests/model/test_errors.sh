#!/usr/bin/env bash
# Bad model input gives one clear line (file, tensor / field, expectation) and exit code 2:
# truncated safetensors, header past the end of the file, missing / extra / mis-shaped tensor,
# token id >= vocab_size, unsupported configs. Also long1k init's usage errors.
set -u
BIN=${LONG1K_BIN:?}
SHARED=${LONG1K_SHARED:-../shared}
G=$SHARED/golden/models/qwen2_tiny
T=$(mktemp -d /tmp/l1k_model_err.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0

# expect NAME EXIT_CODE PATTERN... -- command
expect() {
  local name=$1 code=$2
  shift 2
  local pats=()
  while [ "$1" != "--" ]; do pats+=("$1"); shift; done
  shift
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  local ok=1
  [ $rc -eq "$code" ] || ok=0
  for p in "${pats[@]}"; do
    printf '%s' "$err" | grep -qF -- "$p" || ok=0
  done
  if [ "$(printf '%s\n' "$err" | grep -c .)" -gt 3 ]; then ok=0; fi # one clear line (+ usage hint)
  if [ $ok -eq 1 ]; then echo "ok   $name: $err" | head -n 1
  else echo "FAIL $name: exit $rc (want $code), message: $err"; fail=1; fi
}

mk() { rm -rf "$T/$1"; mkdir -p "$T/$1"; cp "$G"/f32/* "$T/$1/"; chmod -R u+w "$T/$1"; }
parity() { "$BIN" parity --model "$T/$1" --reference "${2:-$G/reference.safetensors}"; }

# rewrite a safetensors file with python (stdlib): drop / add / reshape tensors
st_edit() {
  python3 - "$@" <<'PY'
import json, struct, sys
path, op = sys.argv[1], sys.argv[2]
raw = open(path, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n]); data = raw[8 + n:]
meta = h.pop('__metadata__', None)
items = []
for k, v in h.items():
    a, b = v['data_offsets']; items.append([k, v['dtype'], v['shape'], data[a:b]])
if op == 'drop':
    items = [it for it in items if it[0] != sys.argv[3]]
elif op == 'extra':
    items.append([sys.argv[3], 'F32', [2], b'\0' * 8])
elif op == 'ids':  # set input_ids[0, 3] = value
    for it in items:
        if it[0] == 'input_ids':
            b = bytearray(it[3]); b[12:16] = struct.pack('<i', int(sys.argv[3])); it[3] = bytes(b)
out = {} if meta is None else {'__metadata__': meta}
off = 0; blob = b''
for k, dt, shape, d in items:
    out[k] = {'dtype': dt, 'shape': shape, 'data_offsets': [off, off + len(d)]}
    off += len(d); blob += d
hb = json.dumps(out).encode()
open(path, 'wb').write(struct.pack('<Q', len(hb)) + hb + blob)
PY
}

mk trunc
head -c 300000 "$G/f32/model.safetensors" > "$T/trunc/model.safetensors"
expect truncated 2 "trunc/model.safetensors" "past the end" -- parity trunc

mk hdr
python3 -c "
import struct,sys; p=sys.argv[1]; raw=open(p,'rb').read(); open(p,'wb').write(struct.pack('<Q', len(raw)) + raw[8:])" "$T/hdr/model.safetensors"
expect header-past-end 2 "hdr/model.safetensors" "header length" "past the end" -- parity hdr

mk missing
st_edit "$T/missing/model.safetensors" drop model.layers.1.mlp.up_proj.weight
expect missing-tensor 2 "missing tensor 'model.layers.1.mlp.up_proj.weight'" -- parity missing

mk extra
st_edit "$T/extra/model.safetensors" extra model.layers.7.foo.weight
expect extra-tensor 2 "unexpected tensor 'model.layers.7.foo.weight'" -- parity extra

mk shape
sed -i 's/"intermediate_size": 176/"intermediate_size": 160/' "$T/shape/config.json"
expect wrong-shape 2 "model.safetensors" "model.layers.0.mlp.gate_proj.weight" "has shape [176, 64], expected [160, 64]" -- parity shape

mk ids
cp "$G/reference.safetensors" "$T/ref_bad_ids.safetensors"
st_edit "$T/ref_bad_ids.safetensors" ids 512
expect token-id-out-of-range 2 "token id 512 out of range (vocab_size is 512)" "row 0 position 3" -- parity ids "$T/ref_bad_ids.safetensors"

mk gemma2
sed -i 's/"model_type": "qwen2"/"model_type": "gemma2"/' "$T/gemma2/config.json"
expect unknown-model-type 2 "config.json" "model_type 'gemma2' is not supported" -- parity gemma2

mk sliding
sed -i 's/"use_sliding_window": false/"use_sliding_window": true/' "$T/sliding/config.json"
expect sliding-window 2 "config.json" "use_sliding_window" -- parity sliding

mk yarn
python3 -c "
import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['rope_parameters']={'rope_type':'yarn','factor':4.0,'rope_theta':1e6}; json.dump(c,open(p,'w'))" "$T/yarn/config.json"
expect yarn 2 "config.json" "'yarn' is not supported" -- parity yarn

mkdir -p "$T/empty"
expect no-config 2 "empty/config.json" "missing" -- parity empty
mk noweights
rm "$T/noweights/model.safetensors"
expect no-weights 2 "no model.safetensors" -- parity noweights

# sharded checkpoint: index.json pointing at a missing shard
mk shard
mv "$T/shard/model.safetensors" "$T/shard/model-00001-of-00002.safetensors"
python3 - "$T/shard" <<'PY'
import json, struct, sys
d = sys.argv[1]
raw = open(d + '/model-00001-of-00002.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]; h = json.loads(raw[8:8 + n])
wm = {k: 'model-00001-of-00002.safetensors' for k in h if k != '__metadata__'}
wm['model.norm.weight'] = 'model-00002-of-00002.safetensors'
json.dump({'metadata': {}, 'weight_map': wm}, open(d + '/model.safetensors.index.json', 'w'))
PY
expect missing-shard 2 "model-00002-of-00002.safetensors" "cannot open" -- parity shard

# init usage errors
expect init-unknown-preset 2 "unknown preset 'gpt5'" -- "$BIN" init --preset gpt5 --out "$T/x"
expect init-bad-int 2 "--layers" -- "$BIN" init --preset qwen3-0.6b --layers zero --out "$T/x"
expect init-bad-dtype 2 "--dtype" -- "$BIN" init --preset qwen3-0.6b --layers 1 --hidden-size 32 --heads 2 --kv-heads 1 --intermediate-size 32 --vocab-size 64 --dtype f64 --out "$T/x"
expect init-heads 2 "num_key_value_heads" -- "$BIN" init --preset qwen3-0.6b --layers 1 --hidden-size 32 --heads 4 --kv-heads 3 --intermediate-size 32 --vocab-size 64 --out "$T/x"
expect init-too-big 2 "use --layers" -- "$BIN" init --preset qwen2.5-32b-instruct --out "$T/x" --dtype f32
exit $fail
