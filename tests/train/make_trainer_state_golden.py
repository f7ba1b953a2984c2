#!/usr/bin/env python3
"""A trainer_state.json written by transformers' Trainer itself, for test_resume.sh to compare
long1k's with (field names and JSON types; the values are this run's).

Trains a 2-layer random LlamaForCausalLM for 2 steps on CPU with logging_steps=1,
include_num_input_tokens_seen=True, an eval at step 2, saves checkpoint-2, and copies its
trainer_state.json to tests/train/data/trainer_state_transformers.json. It also checks that a
long1k checkpoint's trainer_state.json, if given, loads with TrainerState.load_from_json.

Made with: /tmp/gen-venv/bin/python tests/train/make_trainer_state_golden.py [LONG1K_CHECKPOINT_DIR]
(transformers 5.25.0, torch CPU).
"""
import json, os, shutil, sys, tempfile

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerState, TrainingArguments

HERE = os.path.dirname(os.path.abspath(__file__))


class Rows(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        ids = torch.arange(i, i + 6) % 32
        return {"input_ids": ids, "labels": ids, "attention_mask": torch.ones(6, dtype=torch.long)}


def main():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    out = tempfile.mkdtemp()
    args = TrainingArguments(output_dir=out, max_steps=2, per_device_train_batch_size=2,
                             logging_steps=1, save_steps=2, eval_strategy="steps", eval_steps=2,
                             include_num_input_tokens_seen=True, report_to=[], use_cpu=True,
                             disable_tqdm=True)
    Trainer(model=LlamaForCausalLM(cfg), args=args, train_dataset=Rows(), eval_dataset=Rows()).train()
    dst = os.path.join(HERE, "data", "trainer_state_transformers.json")
    shutil.copy(os.path.join(out, "checkpoint-2", "trainer_state.json"), dst)
    st = json.load(open(dst))
    st["_made_by"] = f"tests/train/make_trainer_state_golden.py, transformers {transformers.__version__}"
    json.dump(st, open(dst, "w"), indent=2, sort_keys=True)
    shutil.rmtree(out)
    print("golden:", dst)
    if len(sys.argv) > 1:
        s = TrainerState.load_from_json(os.path.join(sys.argv[1], "trainer_state.json"))
        print("long1k checkpoint loads:", s.global_step, s.epoch, len(s.log_history), s.log_history[:2])


if __name__ == "__main__":
    main()
