#!/usr/bin/env python3
"""Makes tests/model/data/mistral_tiny/: a tiny random MistralForCausalLM saved by transformers
(an f32/ checkpoint) and reference.safetensors / reference.json in the format of
../shared/golden/models/*_tiny (read by `long1k parity`, see src/cli/cmd_parity.c):
input_ids, labels (-100 = ignored), logits, loss, grad.<name> of every parameter, the logits of
the bf16 checkpoint, the logits of a 300-token sequence and a 16-token greedy generation, all
computed in float64 from the float32 weights (logits_bf16_checkpoint from the f32 weights rounded to bf16; no bf16 checkpoint is kept:
long1k's bf16 path reproduces the shared goldens' logits_bf16_checkpoint, which is not this
float64-from-bf16-weights computation, so only the f32 checks are used).

The config exercises what Mistral adds to Llama: an explicit head_dim that is not
hidden_size / num_attention_heads, grouped-query attention and sliding_window null.
Not run by the test suite (needs torch + transformers); rerun by hand:

    /tmp/gen-venv/bin/python tests/model/gen_mistral_tiny.py tests/model/data/mistral_tiny
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import MistralConfig, MistralForCausalLM

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data", "mistral_tiny")
os.makedirs(out, exist_ok=True)
torch.manual_seed(1234)

CFG = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
           num_attention_heads=4, num_key_value_heads=2, head_dim=24, sliding_window=None,
           tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5,
           max_position_embeddings=2048, bos_token_id=1, eos_token_id=2)
cfg = MistralConfig(**CFG)
model = MistralForCausalLM(cfg).float().eval()
with torch.no_grad():  # larger random weights than the init, so that errors show
    for p in model.parameters():
        p.normal_(0.0, 0.08)
        if p.dim() == 1:
            p.add_(1.0)
model.save_pretrained(os.path.join(out, "f32"))
bf16_weights = {k: v.detach().to(torch.bfloat16) for k, v in model.state_dict().items()}

B, T, V = 2, 24, CFG["vocab_size"]
ids = torch.randint(3, V, (B, T), dtype=torch.int64)
labels = ids.clone()
masked = [8, 5]
for b, m in enumerate(masked):
    labels[b, :m] = -100

ref = {"input_ids": ids.to(torch.int32), "labels": labels.to(torch.int32)}
m64 = MistralForCausalLM.from_pretrained(os.path.join(out, "f32"), dtype=torch.float32).double()
m64.config._attn_implementation = "eager"
m64.train(False)
res = m64(input_ids=ids, labels=labels)
res.loss.backward()
ref["logits"] = res.logits.detach().float()
ref["loss"] = res.loss.detach().float().reshape(1)
for n, p in m64.named_parameters():
    ref["grad." + n] = p.grad.detach().float()
m64.zero_grad()
with torch.no_grad():
    long_ids = torch.randint(3, V, (1, 300), dtype=torch.int64)
    ref["long_input_ids"] = long_ids.to(torch.int32)
    ref["long_logits"] = m64(input_ids=long_ids).logits.float()
    prompt = ids[:1, :6]
    gen = m64.generate(prompt, max_new_tokens=16, do_sample=False, min_new_tokens=16,
                       eos_token_id=None, pad_token_id=0)
    ref["greedy_prompt"] = prompt.to(torch.int32)
    ref["greedy_output"] = gen.to(torch.int32)
    mb = MistralForCausalLM(cfg).double().eval()
    mb.load_state_dict({k: v.double() for k, v in bf16_weights.items()})
    mb.config._attn_implementation = "eager"
    ref["logits_bf16_checkpoint"] = mb(input_ids=ids).logits.float()
save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(out, "reference.safetensors"))
meta = {
    "family": "mistral",
    "config_kwargs": CFG,
    "batch": {"B": B, "T": T, "prompt_tokens_masked": masked},
    "loss": "mean cross-entropy over positions whose shifted label != -100 (HF causal-LM loss)",
    "reference_precision": "float64 computation from the float32 checkpoint; stored as float32",
    "made_by": "tests/model/gen_mistral_tiny.py",
    "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
}
with open(os.path.join(out, "reference.json"), "w") as f:
    json.dump(meta, f, indent=1)
print("wrote", out, "loss", float(res.loss))
