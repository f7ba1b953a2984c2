"""Writes a small pre-tokenized SFT dataset (input_ids + labels, -100 on the prompt) for the
trainer tests: python3 make_tokenized.py OUT.jsonl N SEED [MAXLEN] [VOCAB]."""
import json
import random
import sys

out, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
maxlen = int(sys.argv[4]) if len(sys.argv) > 4 else 60
vocab = int(sys.argv[5]) if len(sys.argv) > 5 else 500
rng = random.Random(seed)
with open(out, "w") as f:
    for _ in range(n):
        k = rng.randint(10, maxlen)
        ids = [rng.randint(3, vocab - 1) for _ in range(k)]
        p = k // 3
        f.write(json.dumps({"input_ids": ids, "labels": [-100] * p + ids[p:]}) + "\n")
