#!/usr/bin/env python3
"""The adapters long1k writes load in PEFT unchanged and give long1k's numbers (not run by
ctest: needs /tmp/gen-venv with peft 0.21.2, transformers 5.25, torch).

Run from the repository root after building:
  /tmp/gen-venv/bin/python tests/train/check_lora_peft.py build/long1k ../shared/golden/models

For each setting below, `long1k train` trains a LoRA for a few steps on random token rows; then
  1. peft.PeftModel.from_pretrained(base, checkpoint) loads the saved adapter (it must load with
     no missing or unexpected keys), in float64;
  2. its logits, loss, adapter gradients, the 300-token sequence's logits and a greedy
     continuation are written as a reference dump, and `long1k parity --adapter` compares
     long1k's own numbers with it (relative error <= 1e-4, identical greedy ids);
  3. `long1k merge` equals PEFT's merge_and_unload() (float32) tensor by tensor, and on the
     bfloat16 checkpoint of the same model (../bf16) the merged bf16 tensors are bit-identical
     to merge_and_unload() of the bf16 model.
Prints one line per setting and exits non-zero when a check fails.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import peft
import safetensors.torch as st
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_lora_golden import reference  # noqa: E402

SETTINGS = [
    ("llama_tiny", {"lora_rank": 4, "lora_target": "all", "additional_target": "embed_tokens,lm_head"}),
    ("qwen2_tiny", {"lora_rank": 8, "lora_alpha": 4, "use_rslora": "true",
                    "lora_target": "q_proj,k_proj,down_proj"}),
    ("qwen3_tiny", {"lora_rank": 2, "lora_target": "all"}),
]


def write_rows(path, n, vocab, seed):
    rnd = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(n):
            L = rnd.randint(12, 40)
            ids = [rnd.randrange(3, vocab) for _ in range(L)]
            p = rnd.randint(2, L // 2)
            f.write(json.dumps({"input_ids": ids, "labels": [-100] * p + ids[p:]}) + "\n")


def main(binary, models):
    ok_all = True
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "rows.jsonl")
        write_rows(data, 24, 512, 5)
        for name, keys in SETTINGS:
            base = os.path.join(models, name, "f32")
            out = os.path.join(tmp, name)
            cmd = [binary, "train", "-q", "--model_name_or_path", base, "--dataset", data,
                   "--formatting", "tokenized", "--cutoff_len", "64", "--learning_rate", "1e-2",
                   "--max_steps", "4", "--per_device_train_batch_size", "2",
                   "--gradient_accumulation_steps", "1", "--save_steps", "0", "--bf16", "false",
                   "--num_threads", "1", "--tokenized_cache_dir", os.path.join(tmp, "cache"),
                   "--output_dir", out, "--finetuning_type", "lora"]
            for k, v in keys.items():
                cmd += ["--" + k, str(v)]
            subprocess.run(cmd, check=True)
            ckpt = os.path.join(out, "checkpoint-4")
            # 1. PEFT loads it
            model = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
            pm = peft.PeftModel.from_pretrained(model, ckpt, is_trainable=True)
            sd = st.load_file(os.path.join(ckpt, "adapter_model.safetensors"))
            n_lora = sum(1 for n, p in pm.named_parameters() if p.requires_grad)
            assert n_lora == len(sd), (n_lora, len(sd))
            # 2. long1k parity --adapter against PEFT's numbers
            ref = st.load_file(os.path.join(models, name, "reference.safetensors"))
            dump = reference(pm.double(), ref, True)
            rpath = os.path.join(tmp, name + "_ref.safetensors")
            st.save_file(dump, rpath)
            r = subprocess.run([binary, "parity", "--model", base, "--adapter", ckpt,
                                "--reference", rpath], capture_output=True, text=True)
            rep = json.loads(r.stdout) if r.stdout.strip() else {"ok": False, "error": r.stderr}
            # 3. merge
            mdir = os.path.join(tmp, name + "_merged")
            subprocess.run([binary, "merge", "--base", base, "--adapter", ckpt, "--out", mdir],
                           check=True, capture_output=True)
            ours = st.load_file(os.path.join(mdir, "model.safetensors"))
            theirs = peft.PeftModel.from_pretrained(
                transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                ckpt).merge_and_unload().state_dict()
            worst = 0.0
            for k, v in ours.items():
                d = (v.double() - theirs[k].double()).norm() / max(theirs[k].double().norm(), 1e-30)
                worst = max(worst, float(d))
            bdir = os.path.join(tmp, name + "_merged_bf16")
            bbase = os.path.join(models, name, "bf16")
            subprocess.run([binary, "merge", "--base", bbase, "--adapter", ckpt, "--out", bdir],
                           check=True, capture_output=True)
            ours16 = st.load_file(os.path.join(bdir, "model.safetensors"))
            theirs16 = peft.PeftModel.from_pretrained(
                transformers.AutoModelForCausalLM.from_pretrained(bbase, dtype=torch.bfloat16),
                ckpt).merge_and_unload().state_dict()
            diff16 = sum(int((v != theirs16[k]).sum()) for k, v in ours16.items()
                         if v.dtype == theirs16[k].dtype == torch.bfloat16)
            n16 = sum(v.numel() for v in ours16.values())
            ok = rep.get("ok") is True and worst <= 1e-6 and diff16 == 0
            ok_all &= ok
            print("%s %s: PEFT loaded %d adapter tensors; parity logits %.3g, grad worst %.3g (%s), "
                  "long_logits %.3g, greedy %s; merge vs merge_and_unload %.3g, bf16 merge: %d of %d "
                  "elements differ -> %s" % (
                      name, json.dumps(keys), len(sd), rep.get("logits", {}).get("rel_err", -1),
                      rep.get("grad_worst", {}).get("rel_err", -1),
                      rep.get("grad_worst", {}).get("name", "?"),
                      rep.get("long_logits", {}).get("rel_err", -1),
                      rep.get("greedy", {}).get("match"), worst, diff16, n16, "ok" if ok else "FAIL"))
            if not ok and "error" in rep:
                print(rep["error"])
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/long1k",
                  sys.argv[2] if len(sys.argv) > 2 else "../shared/golden/models"))
