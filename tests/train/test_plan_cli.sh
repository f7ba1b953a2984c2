#!/usr/bin/env bash
# long1k plan: the table and its summary line, --json (read back with python3's json module and
# checked against the hand arithmetic of the tiny qwen2 config), a plan that does not fit (exit 2,
# one line naming the largest T that fits, which --json's max_T agrees with), and option errors
# (exit 2, one line each).
set -u
BIN=${LONG1K_BIN:?}
SRC=${LONG1K_SRC:-.}
SHARED=${LONG1K_SHARED:-../shared}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
err() { echo "FAIL: $*"; fail=1; }

# the tiny qwen2 config (the same numbers as tests/train/test_memplan.c)
cat > "$T/config.json" <<'EOC'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 512,
 "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "max_position_embeddings": 4096, "rope_theta": 1000000.0,
 "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "torch_dtype": "bfloat16"}
EOC

# --help
"$BIN" plan --help > "$T/help" || err "--help exit $?"
grep -q -- "--gpu-mem" "$T/help" || err "--help lacks --gpu-mem"

# JSON: hand arithmetic at T = 100 (bf16, no recompute): weights 2 * 125504, float32 gradients
# 4 * 125504, optimizer 12 * 125504 (float32 parameters + 2 moments),
# activations 8908 bytes per token, workspace 32 MiB
"$BIN" plan --config "$T" --seq 100 --gpu-mem 1GiB --reserve 0 --json > "$T/plan.json" || err "json exit $?"
python3 - "$T/plan.json" <<'EOP' || err "json content"
import json, sys
p = json.load(open(sys.argv[1]))
b = p["bytes"]
want = {"weights": 251008, "gradients": 502016, "optimizer": 1506048, "activations": 890800,
        "workspace": 33554432, "total": 251008 + 502016 + 1506048 + 890800 + 33554432}
bad = {k: (b[k], v) for k, v in want.items() if b[k] != v}
assert not bad, bad
assert p["params"] == 125504 and p["T"] == 100 and p["fits"] is True and p["free"] == 1 << 30, p
# the largest T: free = 1 GiB; states 2259072 + 32 MiB; 8908 bytes per token up to 4096 rows,
# then 6604 per token (the chunk stops growing at 4096 * 2304 bytes)
free = (1 << 30) - 2259072 - 33554432
t = (free - 4096 * 2304) // 6604
assert p["max_T"] == t, (p["max_T"], t)
print("json ok, max_T", t)
EOP

# the table: the summary line in the issue's words
"$BIN" plan --config "$T/config.json" --seq 2k --recompute --gpu-mem 2GiB > "$T/table" || err "table exit $?"
grep -Eq "^weights [0-9.]+ GiB, optimizer [0-9.]+ GiB, activations [0-9.]+ GiB at 2048 tokens" "$T/table" \
  || err "no summary line: $(cat "$T/table")"
grep -q "largest T that fits: [0-9]* tokens" "$T/table" || err "no largest T"

# shipped presets resolve (data/configs)
"$BIN" plan --config qwen2.5-1.5b --seq 32k --recompute > /dev/null || err "preset exit $?"

# does not fit: exit 2, one line on stderr, naming the largest T = --json's max_T
max_t=$("$BIN" plan --config qwen2.5-7b-instruct --gpu-mem 141GiB --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_T"])')
"$BIN" plan --config qwen2.5-7b-instruct --seq 1M --gpu-mem 141GiB > /dev/null 2> "$T/e"
rc=$?
[[ $rc == 2 ]] || err "not fitting: exit $rc"
[[ $(wc -l < "$T/e") == 1 ]] || err "not fitting: $(wc -l < "$T/e") lines: $(cat "$T/e")"
grep -q "the largest T that fits is $max_t tokens; with --recompute: [0-9]*; with --recompute and --offload: [0-9]*" "$T/e" \
  || err "not fitting message: $(cat "$T/e") (max_T $max_t)"

# option errors: exit 2, exactly one line, naming the option
check_bad() {
  local want=$1; shift
  "$BIN" plan "$@" > /dev/null 2> "$T/e"
  local rc=$?
  [[ $rc == 2 ]] || err "plan $*: exit $rc"
  [[ $(wc -l < "$T/e") == 1 ]] || err "plan $*: not one line: $(cat "$T/e")"
  grep -q -- "$want" "$T/e" || err "plan $*: '$(cat "$T/e")' lacks '$want'"
}
check_bad "--config is required" --seq 4k
check_bad "--config: 'no-such-model'" --config no-such-model
check_bad "--seq: '12x'" --config "$T" --seq 12x
check_bad "--seq: '0'" --config "$T" --seq 0
check_bad "--gpu-mem: '80G'" --config "$T" --gpu-mem 80G
check_bad "--zero: '3'" --config "$T" --zero 3
check_bad "give --world" --config "$T" --zero 1
check_bad "--world: '0'" --config "$T" --world 0
check_bad "--precision: 'fp8'" --config "$T" --precision fp8
check_bad "unknown option '--bogus'" --config "$T" --bogus
check_bad "--chunk needs a value" --config "$T" --chunk
check_bad "unexpected argument 'extra'" --config "$T" extra
check_bad "must exceed --reserve" --config "$T" --gpu-mem 1GiB --reserve 2GiB
echo '{"model_type": "qwen2"' > "$T/broken.json"
check_bad "broken.json" --config "$T/broken.json"
exit $fail
