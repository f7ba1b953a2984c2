#!/usr/bin/env python3
"""Generates tests/text/data/tokenizer_edge_{qwen,llama3}.jsonl: hostile and unusual strings
(NFC-changing text, every \\s character, combining marks, Hangul jamo, Unicode 16 letters,
contractions with U+017F, long runs, added-token look-alikes) with the ids and decoded text
from Hugging Face `tokenizers` (pip install tokenizers). Not run by the test suite (which
needs no pip package); rerun by hand when the cases change:

    python3 tests/text/gen_tokenizer_edge.py ../shared
"""
import json
import os
import random
import sys

from tokenizers import Tokenizer

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
here = os.path.dirname(os.path.abspath(__file__))

WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_WS = "\x1c\x1d\x1e\x1f\u180e\u200b\ufeff\x01\x7f"  # no NUL: the C test reads cJSON strings
POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") * 3
    + list("0123456789") * 2
    + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") * 2
    + list(WS) + list(NOT_WS) + [" "] * 20 + ["\n"] * 6
    + [chr(c) for c in range(0x300, 0x370, 7)]          # combining marks
    + list("éèêëàâäôöüçñÅ") + ["e\u0301", "a\u0308", "o\u0302\u0323", "\u1e0b\u0323"]
    + ["\u1100", "\u1161", "\u11a8", "\uac00", "\ud55c", "\u1112\u1161\u11ab"]  # Hangul
    + list("中文字符测试漢字かなカナ") + ["\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469"]
    + list("عربيहिन्दीक़") + ["\u0958", "\u0915\u093c", "\u2126", "\u212b", "\u0344", "\u0f73", "\u0f71\u0f72"]
    + ["\u017f", "'s", "'S", "'\u017f", "'LL", "'rE", "'Ve", "'m", "'D", "'t", "'x", "''"]
    + list("٠١٢０１２²³½Ⅻⅻ") + ["\u1c89", "\ua7cb", "\U00010d40", "\U000105c0"]
    + ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<|im_", " <think> ", "<|begin_of_text|>",
       "<|eot_id|>", "<|reserved_special_token_5|>", "<|start_header_id|>", "<tool_call>", "< |im_end|>"]
    + ["\U000e0001", "\U0010fffd", "\ue000", "\u00ad", "\u2060", "\u061c"]
    # marks newer than HF's Unicode 9.0 NFC data (starters there), U+11935 U+11930
    + ["\u1acc", "\u1df7", "\u0898", "\U0001e4ec", "\U00011935", "\U00011930", "\u0f71", "\u032a"]
)

FIXED = [
    "", " ", "  ", "\n", "\r\n", " \n ", "\t\t\n\n  x", "a" * 300, "ab" * 200, " " * 200 + "x",
    "1" * 100, "1234567", "!" * 150, "\n" * 50, "x" + " " * 65 + "y", "é" * 100,
    "e\u0301" * 40, "\u1112\u1161\u11ab\u1100\u1173\u11af", "Ω\u2126Å\u212b",
    "don't I'LL WE'RE you'Ve it'ſ 'ſt", "3.14159265358979", "$$\\frac{a}{b}$$",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\nx\n</think>\n\nok<|im_end|>",
    "".join(chr(c) for c in range(0x20, 0x7f)), "\u3000\u3000中文\u3000", "x\u00a0\u00a0y",
    "supercalifragilisticexpialidocious" * 5, "http://example.com/a_very-long/path?x=1&y=2#frag",
    "    def f(x):\n        return x  \n\n\n", "\U0001F600" * 30, "\u0915\u093c\u0958" * 5,
    "\u25c2\u1acc\u032a", "x\u1df7\u0f71\u0f72", "m\u0315\u1acd", "\U00011935\U00011930",
    "a\u1df6\u0316\u0301", "e\u0898\u0301",
    "x  <|im_start|>  y", "\u3000<|im_start|>", "a<|im_end|> \n\tb", "<|im_end|>\u2003", "a<think>b",
    "a <think> b", "_<think>", "<think>_", "\u00e9<think>", "1<think>", "x</think>y", "<|im_start|><|im_end|>",
]


def cases(rng):
    out = list(FIXED)
    for _ in range(1500):
        n = rng.randint(1, 40)
        out.append("".join(rng.choice(POOL) for _ in range(n)))
    for _ in range(60):  # long pieces for the O(n log n) BPE path
        alpha = rng.choice(["abcdefghij", "xyz", "etaoinshr", "0123456789", "+-*/=", " \t", "中文"])
        out.append("".join(rng.choice(alpha) for _ in range(rng.randint(65, 400))))
    return out


GPT2_PRE = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
# added-token flags no shipped tokenizer uses (the C test sets the same ones)
FLAGS = {"<|im_start|>": "lstrip", "<|im_end|>": "rstrip", "<think>": "single_word", "</think>": "normalized"}


def main():
    rng = random.Random(1234)
    texts = cases(rng)
    for name in ["qwen", "llama3", "gpt2", "flags"]:
        if name == "flags":
            j = json.load(open(os.path.join(shared, "tokenizers", "qwen", "tokenizer.json"), encoding="utf-8"))
            for a in j["added_tokens"]:
                if a["content"] in FLAGS:
                    a[FLAGS[a["content"]]] = True
            tok = Tokenizer.from_str(json.dumps(j))
        elif name == "gpt2":
            # the Qwen vocabulary with GPT-2's ByteLevel regex as pre-tokenizer (the C test builds
            # the same tokenizer.json)
            j = json.load(open(os.path.join(shared, "tokenizers", "qwen", "tokenizer.json"), encoding="utf-8"))
            j["pre_tokenizer"] = GPT2_PRE
            tok = Tokenizer.from_str(json.dumps(j))
        else:
            tok = Tokenizer.from_file(os.path.join(shared, "tokenizers", name, "tokenizer.json"))
        path = os.path.join(here, "data", f"tokenizer_edge_{name}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for t in texts:
                ids = tok.encode(t, add_special_tokens=False).ids
                dec = tok.decode(ids, skip_special_tokens=False)
                f.write(json.dumps({"text": t, "ids": ids, "decoded": dec}, ensure_ascii=False) + "\n")
        print(path, len(texts))


if __name__ == "__main__":
    main()
