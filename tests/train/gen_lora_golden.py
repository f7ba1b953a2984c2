#!/usr/bin/env python3
"""Writes the LoRA goldens of tests/train/golden/lora/<model>/ with PEFT (not run by ctest).

Run:  /tmp/gen-venv/bin/python tests/train/gen_lora_golden.py ../shared/golden/models
Made with peft 0.21.2, transformers 5.25.0, torch 2.15.0 (the versions are also written into
each reference.json).

For each golden tiny model (f32) and one LoRA setting per model (qwen2: every linear module;
qwen3: use_rslora; llama: a lora_target subset with a non-default alpha, and embed_tokens +
lm_head as modules_to_save):
  adapter/            the adapter as PEFT's save_pretrained writes it: PEFT's initialization
                      (A Kaiming-uniform, B zero), then B randomized (N(0, 0.05)) so that the
                      adapter changes the logits and A gets a gradient
  reference.safetensors  on the batch of ../shared/golden/models/<m>/reference.safetensors:
                      logits [B*T, V] with the adapter; grad.<adapter tensor name> the gradient
                      of the mean loss for every lora_A / lora_B
  reference.json      the same format as the shared reference.json: a 5-step AdamW trajectory
                      over the adapter parameters only (loss, grad norm before clipping)
  params_after_5_steps.safetensors  the adapter tensors after the 5 steps (adapter names)
  merged.safetensors  merge_and_unload() of the float32 model + adapter (HF tensor names)
The reference numbers are computed in float64 from the float32 tensors (stored as float32), as
the shared goldens are.
"""
import json
import os
import sys

import peft
import safetensors.torch as st
import torch
import transformers

SETTINGS = {
    "qwen2_tiny": dict(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                           "gate_proj", "up_proj", "down_proj"],
                       use_rslora=False),
    "qwen3_tiny": dict(r=4, lora_alpha=6, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                           "gate_proj", "up_proj", "down_proj"],
                       use_rslora=True),
    "llama_tiny": dict(r=2, lora_alpha=5, target_modules=["q_proj", "v_proj", "down_proj"],
                       use_rslora=False, modules_to_save=["embed_tokens", "lm_head"]),
}
ADAMW = dict(lr=1e-3, betas=[0.9, 0.95], eps=1e-8, weight_decay=0.1, clip_grad_norm=1.0, steps=5)


def adapter_name(n):
    """PEFT parameter name -> the name in adapter_model.safetensors."""
    return n.replace(".modules_to_save.default", "").replace(".default", "")


def greedy(model, prompt, n_out):
    """Repeated full forwards, argmax of the last position (long1k parity's procedure)."""
    seq = prompt.clone()
    eos = model.config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else min(eos)
    done = False
    while seq.shape[1] < n_out:
        if done:
            nxt = pad
        else:
            with torch.no_grad():
                nxt = int(model(input_ids=seq).logits[0, -1].argmax())
            done = nxt in eos
        seq = torch.cat([seq, torch.tensor([[nxt]])], dim=1)
    return seq


def reference(pm, shared_ref, full):
    """logits, loss and the gradient of every trainable tensor (float64 model) on the shared
    batch; with full, also the long sequence's logits and a greedy continuation (what
    `long1k parity` reads)."""
    ids, labels = shared_ref["input_ids"].long(), shared_ref["labels"].long()
    trainable = [(n, p) for n, p in pm.named_parameters() if p.requires_grad]
    pm.zero_grad()
    res = pm(input_ids=ids, labels=labels)
    res.loss.backward()
    out = {"logits": res.logits.detach().float().contiguous(),
           "loss": res.loss.detach().float().reshape(1),
           "input_ids": ids.to(torch.int32), "labels": labels.to(torch.int32)}
    for n, p in trainable:
        out["grad." + adapter_name(n)] = p.grad.detach().float().contiguous()
    pm.zero_grad()
    if full:
        lids = shared_ref["long_input_ids"].long()
        with torch.no_grad():
            out["long_logits"] = pm(input_ids=lids).logits.float().contiguous()
        out["long_input_ids"] = lids.to(torch.int32)
        gp = shared_ref["greedy_prompt"].long()
        out["greedy_prompt"] = gp.to(torch.int32)
        out["greedy_output"] = greedy(pm, gp, shared_ref["greedy_output"].shape[1]).to(torch.int32)
    return out


def main(shared, out_root):
    torch.manual_seed(1234)
    for name, s in SETTINGS.items():
        out = os.path.join(out_root, name)
        os.makedirs(out, exist_ok=True)
        mdir = os.path.join(shared, name, "f32")
        ref = st.load_file(os.path.join(shared, name, "reference.safetensors"))
        ids, labels = ref["input_ids"].long(), ref["labels"].long()
        base = transformers.AutoModelForCausalLM.from_pretrained(mdir, dtype=torch.float32)
        cfg = peft.LoraConfig(r=s["r"], lora_alpha=s["lora_alpha"], target_modules=s["target_modules"],
                              lora_dropout=0.0, use_rslora=s["use_rslora"], task_type="CAUSAL_LM",
                              modules_to_save=s.get("modules_to_save"))
        pm = peft.get_peft_model(base, cfg)
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if "lora_B" in n:
                    p.normal_(0.0, 0.05)
                elif "modules_to_save" in n:  # trained copies differ from the base
                    p.add_(torch.randn_like(p) * 0.02)
        pm.save_pretrained(os.path.join(out, "adapter"))
        os.remove(os.path.join(out, "adapter", "README.md"))  # PEFT's model card: not needed
        # merge golden, float32 as long1k merges a float32 base
        merged = peft.PeftModel.from_pretrained(
            transformers.AutoModelForCausalLM.from_pretrained(mdir, dtype=torch.float32),
            os.path.join(out, "adapter")).merge_and_unload()
        st.save_file({k: v.contiguous() for k, v in merged.state_dict().items()
                      if not (k == "lm_head.weight" and merged.config.tie_word_embeddings)},
                     os.path.join(out, "merged.safetensors"))
        # float64 references
        pm = pm.double()
        trainable = [(n, p) for n, p in pm.named_parameters() if p.requires_grad]
        st.save_file(reference(pm, ref, False), os.path.join(out, "reference.safetensors"))
        decay = [p for n, p in trainable]  # lora A / B: weights, all decayed
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAMW["weight_decay"]}],
                                lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"])
        traj = []
        for step in range(ADAMW["steps"]):
            opt.zero_grad()
            loss = pm(input_ids=ids, labels=labels).loss
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(decay, ADAMW["clip_grad_norm"])
            opt.step()
            traj.append({"step": step + 1, "loss": loss.item(), "grad_norm_before_clip": gn.item()})
        st.save_file({adapter_name(n): p.detach().float().contiguous() for n, p in trainable},
                     os.path.join(out, "params_after_5_steps.safetensors"))
        meta = {"family": name, "lora": s, "adamw": ADAMW, "trajectory": traj,
                "reference_precision": "float64 computation from the float32 tensors; stored as float32",
                "versions": {"peft": peft.__version__, "transformers": transformers.__version__,
                             "torch": torch.__version__}}
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(name, traj[0], traj[-1])


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared/golden/models"),
         os.path.join(here, "golden", "lora"))
