#!/usr/bin/env python3
"""Differential check against Hugging Face tokenizers on random strings (needs pip tokenizers;
not part of the test suite). Draws N random strings from a pool of hostile code points and
pieces (gen_tokenizer_edge.py's pool plus random code points from every plane), tokenizes them
with `long1k tokenize` and with HF, and reports the first mismatches.

    python3 tests/text/diff_hf_random.py BUILD/long1k ../shared [N] [seed]
"""
import json
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tokenizer_edge import POOL  # noqa: E402


def rand_cp(rng):
    while True:
        r = rng.random()
        if r < 0.5:
            c = rng.randrange(0x80, 0x3000)
        elif r < 0.8:
            c = rng.randrange(0x3000, 0x10000)
        else:
            c = rng.randrange(0x10000, 0x110000)
        if not (0xD800 <= c < 0xE000):
            return chr(c)


def main():
    binary, shared = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
    texts = []
    for _ in range(n):
        k = rng.randint(1, 30)
        texts.append("".join(rand_cp(rng) if rng.random() < 0.3 else rng.choice(POOL) for _ in range(k)))
    bad_total = 0
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, "in.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        for name in ["qwen", "llama3"]:
            path = os.path.join(shared, "tokenizers", name)
            out = subprocess.run([binary, "tokenize", "-t", path, "-i", inp], check=True,
                                 capture_output=True).stdout.decode().splitlines()
            ours = [json.loads(l)["ids"] for l in out]
            hf = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
            theirs = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
            bad = [i for i in range(n) if ours[i] != theirs[i]]
            bad_total += len(bad)
            print(f"{name}: {n} random strings, {len(bad)} mismatches")
            for i in bad[:5]:
                print("  ", ascii(texts[i]), ours[i], theirs[i])
    sys.exit(1 if bad_total else 0)


if __name__ == "__main__":
    main()
