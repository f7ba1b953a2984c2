#!/usr/bin/env python3
"""Reference for the embedding's pad_token_id rule (issue 17 (b)): transformers builds the
embedding as nn.Embedding(vocab, hidden, padding_idx=config.pad_token_id), so the row
pad_token_id gets no gradient from the positions whose INPUT id is pad_token_id (it still gets
the lm_head's gradient when the embeddings are tied).

Writes, for two tiny models whose inputs contain pad_token_id several times,
tests/model/golden/pad_<name>/ : config.json, generation_config.json, model.safetensors
(float32, save_pretrained) and reference.safetensors (input_ids, labels, loss and every
parameter's gradient as grad.<name>, of the mean cross-entropy as transformers computes it).
Read by tests/model/test_pad_embedding.c.

Run with the shared generator venv:  /tmp/gen-venv/bin/python tests/model/make_pad_golden.py
(the committed goldens: transformers 5.25.0, torch 2.15.0; also in reference.safetensors metadata).
"""
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def make(name, cls, cfg_cls, tie, pad):
    torch.manual_seed(1234)
    cfg = cfg_cls(vocab_size=48, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                  rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=tie,
                  pad_token_id=pad, bos_token_id=1, eos_token_id=2, initializer_range=0.2)
    model = cls(cfg).float()
    # a pad row that is not zero, so that its gradient is not the only thing that matters
    with torch.no_grad():
        model.model.embed_tokens.weight[pad].normal_(0, 0.2)
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(3, 48, (2, 14), generator=g)
    ids[0, 3] = ids[0, 9] = ids[0, 10] = pad     # pad inside a row (as an EOS token would be)
    ids[1, 12] = ids[1, 13] = pad                # and at its end
    labels = ids.clone()
    labels[:, :2] = -100
    labels[1, 12:] = -100
    out = model(input_ids=ids, labels=labels)
    out.loss.backward()
    d = os.path.join(HERE, 'golden', 'pad_' + name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    ref = {'input_ids': ids.to(torch.int32).contiguous(), 'labels': labels.to(torch.int32).contiguous(),
           'loss': out.loss.detach().reshape(1).contiguous()}
    for n, p in model.named_parameters():
        ref['grad.' + n] = p.grad.detach().contiguous()
    meta = {'transformers': transformers.__version__, 'torch': torch.__version__,
            'script': 'tests/model/make_pad_golden.py', 'pad_token_id': str(pad)}
    save_file(ref, os.path.join(d, 'reference.safetensors'), metadata=meta)
    print(name, 'loss', out.loss.item(), 'pad row grad norm',
          model.model.embed_tokens.weight.grad[pad].norm().item(), file=sys.stderr)


make('llama', transformers.LlamaForCausalLM, transformers.LlamaConfig, False, 5)
make('qwen2', transformers.Qwen2ForCausalLM, transformers.Qwen2Config, True, 2)
