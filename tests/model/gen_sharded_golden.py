#!/usr/bin/env python3
"""Writes the sharded-checkpoint goldens of tests/model/test_save_sharded.c with transformers'
own save_pretrained (not part of the test suite; needs /tmp/gen-venv):

    /tmp/gen-venv/bin/python tests/model/gen_sharded_golden.py [SHARED_DIR]

For each tiny model in SHARED_DIR/golden/models/<name>/bf16 it loads the model in bfloat16,
saves it with save_pretrained(max_shard_size=MAX_SHARD) and keeps, under
tests/model/data/sharded/<name>/, the index (model.safetensors.index.json, verbatim) and the
header of each shard (its first 8 + N bytes, as <shard file>.header). The shards' tensor data
are the source checkpoint's bf16 bytes (the test checks that too), so they are not committed.
Made with transformers 5.25.0, torch 2.15.0, safetensors 0.8.0 (versions printed below).
"""
import os
import shutil
import struct
import sys
import tempfile

import safetensors
import torch
import transformers

MAX_SHARD = "40KB"  # 40,000 bytes: the 65,536-byte embedding (and lm_head) exceed it
MODELS = ["qwen2_tiny", "qwen3_tiny", "llama_tiny"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared")
    out_root = os.path.join(here, "data", "sharded")
    print("transformers", transformers.__version__, "torch", torch.__version__,
          "safetensors", safetensors.__version__)
    for name in MODELS:
        src = os.path.join(shared, "golden", "models", name, "bf16")
        model = transformers.AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16)
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp, max_shard_size=MAX_SHARD)
            dst = os.path.join(out_root, name)
            shutil.rmtree(dst, ignore_errors=True)
            os.makedirs(dst)
            files = sorted(f for f in os.listdir(tmp) if f.endswith(".safetensors"))
            shutil.copy(os.path.join(tmp, "model.safetensors.index.json"), dst)
            for f in files:
                with open(os.path.join(tmp, f), "rb") as fh:
                    n = struct.unpack("<Q", fh.read(8))[0]
                    fh.seek(0)
                    head = fh.read(8 + n)
                with open(os.path.join(dst, f + ".header"), "wb") as fh:
                    fh.write(head)
            print(name, len(files), "shards:", " ".join(files))
    many_layers(out_root)


def many_layers(out_root):
    """A 12-layer float32 qwen2 (layers.10 and .11 sort after .2 only in natural order): the
    index transformers writes for it once loaded with from_pretrained, with 1KB shards (the
    1024-byte q/o projections exceed them). Only the index and config.json are kept: the test
    saves a model of this config and compares the index, which does not depend on the values."""
    cfg = transformers.Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32,
                                   num_hidden_layers=12, num_attention_heads=2,
                                   num_key_value_heads=1, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    dst = os.path.join(out_root, "qwen2_12layers")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        model.save_pretrained(a)
        loaded = transformers.AutoModelForCausalLM.from_pretrained(a, dtype=torch.float32)
        loaded.save_pretrained(b, max_shard_size="1KB")
        for f in ("model.safetensors.index.json", "config.json"):
            shutil.copy(os.path.join(b, f), dst)
    print("qwen2_12layers: index written")


if __name__ == "__main__":
    main()
