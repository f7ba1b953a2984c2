#!/usr/bin/env python3
"""Generates tests/text/data/tokenizer_edge_missing.jsonl: a byte-level vocabulary that lacks
some of the 256 byte symbols, as SmolLM2's does (the 21 bytes below are exactly the ones
SmolLM2-135M-Instruct's tokenizer.json lacks). The tokenizer is Qwen's
(../shared/tokenizers/qwen) with those 21 byte tokens renamed in model.vocab to
"<unused_byte_XX>" (so that the ids stay dense: HF numbers added tokens after the count of
model tokens) and every merge that uses one of them removed from model.merges (the C test,
test_tokenizer_missing.c, makes the same file). Ids and decoded text come from Hugging Face `tokenizers`, which drops the bytes
that have no symbol (and merges across them). Cases: the edge cases of gen_tokenizer_edge.py
plus texts full of the missing bytes. Not run by the test suite (needs pip `tokenizers`):

    /tmp/gen-venv/bin/python tests/text/gen_tokenizer_missing.py ../shared
"""
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tokenizer_edge import cases  # noqa: E402

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
here = os.path.dirname(os.path.abspath(__file__))
MISSING = [0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, 0xF5, 0xF6, 0xF7, 0xF8,
           0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF]


def byte_alphabet():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def missing_tokenizer():
    j = json.load(open(os.path.join(shared, "tokenizers", "qwen", "tokenizer.json"), encoding="utf-8"))
    alpha = byte_alphabet()
    gone = {alpha[b] for b in MISSING}
    names = {alpha[b]: "<unused_byte_%02X>" % b for b in MISSING}
    j["model"]["vocab"] = {names.get(k, k): v for k, v in j["model"]["vocab"].items()}
    keep = []
    for m in j["model"]["merges"]:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a not in gone and b not in gone:
            keep.append(m)
    j["model"]["merges"] = keep
    return j


def texts():
    rng = random.Random(99)
    out = cases(random.Random(1234))[:400]
    fixed = ["\x04", "a\x04b", "hello\x04world", "!\x04!", "==\x04==", "\x04\x06==", "\x13\x14\x16\x1d",
             "\U00050000", "x\U00090000y", "\U00040000\U0004ffff", "ab\x04\x04cd", " \x04 ", "中\x04",
             "<|im_start|>\x04<|im_end|>", "\x04<|im_end|>\x06"]
    pool = ["\x04", "\x06", "\x13", "\x14", "\x16", "\x1d", "\U00050000", "\U00088888", "a", "b", " ", "!",
            "=", "\n", "中", "é", "1", "<|im_end|>"]
    for _ in range(300):
        fixed.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 30))))
    return out + fixed


def main():
    tok = Tokenizer.from_str(json.dumps(missing_tokenizer()))
    path = os.path.join(here, "data", "tokenizer_edge_missing.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for t in texts():
            ids = tok.encode(t, add_special_tokens=False).ids
            dec = tok.decode(ids, skip_special_tokens=False)
            f.write(json.dumps({"text": t, "ids": ids, "decoded": dec}, ensure_ascii=False) + "\n")
    print(path, "tokenizers", tokenizers.__version__)


if __name__ == "__main__":
    main()
