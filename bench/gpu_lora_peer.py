#!/usr/bin/env python3
"""PEFT + transformers peer of bench/gpu_lora_bench.c: the same random model shape, LoRA rank r
(alpha 2r, dropout 0) on every linear module (q/k/v/o/gate/up/down) of every layer, one sequence
of T tokens per step (labels = ids), AdamW (clip 1.0) over the adapter only.

  gpu_lora_peer.py [SHAPE [RANK [T ...]]]   SHAPE 1.5b (Qwen2.5-1.5B) | 7b | tiny; RANK 16;
                                            T 16384. One JSON line per T on stdout.

As LLaMA-Factory runs LoRA: the base in bf16, the trainable LoRA weights upcast to float32
(PEFT then computes the LoRA branch in float32), sdpa attention, no gradient checkpointing
(long1k's CUDA backend has no recomputation yet either). Timing: whole optimizer steps (two; one from
T = 8192 on, as gpu_lora_bench) after one warm-up step, CUDA-synchronized wall clock; memory: torch.cuda.max_memory_allocated (the
caching allocator's peak; the CUDA context is not in it, while long1k's number, from
cudaMemGetInfo, holds everything its run allocated after the context). A peer that cannot run
prints its reason in "status". Needs torch with CUDA, transformers and peft (the lent H200
machine has them); not used by the test suite.
"""
import json
import sys
import time

SHAPES = {
    "1.5b": dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                 num_attention_heads=12, num_key_value_heads=2, tie_word_embeddings=True),
    "7b": dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
               num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False),
    "tiny": dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
IMPL = "peft-bf16"


def emit(**kw):
    print(json.dumps(kw), flush=True)


def build(torch, shape, rank, device="cuda"):
    import peft
    import transformers
    cfg = transformers.Qwen2Config(max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
                                   use_cache=False, **SHAPES[shape])
    torch.manual_seed(0)
    with torch.device(device):
        try:
            model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16,
                                                                  attn_implementation="sdpa")
        except TypeError:  # transformers 4.x spells it torch_dtype
            model = transformers.AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16,
                                                                  attn_implementation="sdpa")
    lcfg = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=TARGETS,
                           task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, lcfg)
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:  # LLaMA-Factory: trainable parameters in float32
        p.data = p.data.float()
    return model, params


def one_T(torch, model, params, opt, shape, rank, T):
    bench = "lora-%s-T%d" % (shape, T)
    V = model.config.vocab_size
    ids = ((torch.arange(T, device="cuda", dtype=torch.int64) * 2654435761 + 7) % V)[None]
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()

    def step():
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(out.loss)

    try:
        step()  # warm-up
        torch.cuda.synchronize()
        steps, t0 = (1 if T >= 8192 else 2), time.perf_counter()
        for _ in range(steps):
            loss = step()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    except torch.cuda.OutOfMemoryError as e:
        emit(bench=bench, impl=IMPL, T=T, status="out of memory: %s" % str(e).split("\n")[0][:200])
        return
    emit(bench=bench, impl=IMPL, T=T, rank=rank, trainable=sum(p.numel() for p in params),
         step_ms=round(1e3 * dt / steps, 1), tokens_per_s=round(T * steps / dt),
         device_gb=round(torch.cuda.max_memory_allocated() / 1e9, 2), loss=round(loss, 4))


def main(argv):
    shape = argv[0] if argv else "1.5b"
    rank = int(argv[1]) if len(argv) > 1 else 16
    Ts = [int(a) for a in argv[2:]] or [16384]
    if shape not in SHAPES:
        sys.exit("usage: gpu_lora_peer.py [1.5b|7b|tiny [RANK [T ...]]]")
    try:
        import peft  # noqa: F401
        import torch
        import transformers  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
        for T in Ts:
            emit(bench="lora-%s-T%d" % (shape, T), impl=IMPL, status="not importable: %s" % e)
        return
    if not torch.cuda.is_available():
        for T in Ts:
            emit(bench="lora-%s-T%d" % (shape, T), impl=IMPL, status="no CUDA device")
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    model, params = build(torch, shape, rank)
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    for T in Ts:
        one_T(torch, model, params, opt, shape, rank, T)


if __name__ == "__main__":
    main(sys.argv[1:])
