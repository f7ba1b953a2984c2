#!/usr/bin/env python3
"""Loads long1k's sharded checkpoints with transformers (not part of the test suite; needs
/tmp/gen-venv and a build):

    /tmp/gen-venv/bin/python tests/model/check_sharded_hf.py [BUILD_DIR] [SHARED_DIR]

Runs BUILD_DIR/model_test_save_sharded OUT, which saves ../shared's qwen3_tiny/f32 with a
40,000-byte shard size as bf16 (OUT) and as float32 (OUT-f32), then loads both with
AutoModelForCausalLM.from_pretrained and requires every tensor to equal the source
checkpoint's (float32: exactly; bf16: the source rounded to bfloat16 by torch, exactly).
Checked with transformers 5.25.0 and torch 2.15.0.
"""
import os
import subprocess
import sys
import tempfile

import torch
import transformers


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "build")
    shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "..", "..", "shared")
    src = os.path.join(shared, "golden", "models", "qwen3_tiny", "f32")
    ref = transformers.AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).state_dict()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "qwen3_tiny")
        env = dict(os.environ, LONG1K_SHARED=shared)
        subprocess.run([os.path.join(build, "model_test_save_sharded"), out], check=True, env=env)
        for path, dtype in ((out, torch.bfloat16), (out + "-f32", torch.float32)):
            shards = [f for f in os.listdir(path) if f.endswith(".safetensors")]
            model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
            got = model.state_dict()
            assert set(got) == set(ref), (path, set(got) ^ set(ref))
            differ = [n for n, t in ref.items() if not torch.equal(got[n], t.to(dtype))]
            bad += len(differ)
            print(f"{os.path.basename(path)}: {len(shards)} shards, {len(got)} tensors loaded by "
                  f"transformers {transformers.__version__}: "
                  + (f"{len(differ)} differ: {differ}" if differ else "all equal"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
