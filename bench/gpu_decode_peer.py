#!/usr/bin/env python3
"""transformers peer of bench/gpu_decode_bench.c: the same random model shape in bf16 (sdpa
attention), greedy generate with every EOS ignored (min_new_tokens = max_new_tokens):

  - decode at batch 1: one prompt of P tokens, N new tokens: generate's tokens/s after the
    prefill (the time of a 1-token generate of the same prompt is subtracted), and the whole
    call's;
  - throughput at batch B: B prompts of P2 tokens (no padding: all the same length), N2 new
    tokens each: generated tokens/s of the whole call.

  gpu_decode_peer.py [SHAPE [P N [B P2 N2]]]   as gpu_decode_bench (1.5b 1024 1024 128 512 4096)

One JSON line per measurement on stdout; a peer that cannot run prints its reason in "status".
Needs torch with CUDA and transformers (the lent H200 machine has them); not used by the tests.
vLLM cannot be installed there: its published numbers are recorded beside ours in
docs/bench/gpu.md instead.
"""
import json
import sys
import time

SHAPES = {
    "1.5b": dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                 num_attention_heads=12, num_key_value_heads=2, tie_word_embeddings=True),
    "0.5b": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True),
    "7b": dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
               num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False),
    "tiny": dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False),
}
IMPL = "transformers-bf16"


def emit(**kw):
    print(json.dumps(kw), flush=True)


def build(torch, shape):
    import transformers
    cfg = transformers.Qwen2Config(max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
                                   **SHAPES[shape])
    torch.manual_seed(0)
    with torch.device("cuda"):
        try:
            model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16,
                                                                  attn_implementation="sdpa")
        except TypeError:  # transformers 4.x spells it torch_dtype
            model = transformers.AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16,
                                                                  attn_implementation="sdpa")
    model.eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def gen(torch, model, ids, n):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                             min_new_tokens=n, do_sample=False)
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out.shape[1] - ids.shape[1]


def main():
    a = sys.argv[1:]
    shape = a[0] if a else "1.5b"
    P, N = (int(a[1]), int(a[2])) if len(a) > 2 else (1024, 1024)
    B, P2, N2 = (int(a[3]), int(a[4]), int(a[5])) if len(a) > 5 else (128, 512, 4096)
    try:
        import torch
        if not torch.cuda.is_available():
            emit(bench="decode", impl=IMPL, status="no CUDA device")
            return
        model = build(torch, shape)
    except Exception as e:  # noqa: BLE001 - the reason is the result
        emit(bench="decode", impl=IMPL, status="cannot run: %s" % str(e).splitlines()[0][:200])
        return
    V = SHAPES[shape]["vocab_size"]
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, V, (1, P), generator=g).cuda()
    bench = "decode-%s-b1-p%d-n%d" % (shape, P, N)
    try:
        gen(torch, model, ids, 4)  # warm-up
        t1, _ = gen(torch, model, ids, 1)
        t, n = gen(torch, model, ids, N)
        emit(bench=bench, impl=IMPL, prompt=P, new=n, seconds=round(t, 3),
             tokens_per_s=round((n - 1) / max(t - t1, 1e-9), 1), tokens_per_s_whole=round(n / t, 1))
    except Exception as e:  # noqa: BLE001
        emit(bench=bench, impl=IMPL, status="failed: %s" % str(e).splitlines()[0][:200])
    if B <= 0:
        return
    bench = "decode-%s-b%d-p%d-n%d" % (shape, B, P2, N2)
    try:
        ids = torch.randint(0, V, (B, P2), generator=g).cuda()
        t, n = gen(torch, model, ids, N2)
        emit(bench=bench, impl=IMPL, batch=B, prompt=P2, new=n, seconds=round(t, 2),
             tokens_per_s=round(B * n / t))
    except Exception as e:  # noqa: BLE001
        emit(bench=bench, impl=IMPL, status="failed: %s" % str(e).splitlines()[0][:200])


if __name__ == "__main__":
    main()
