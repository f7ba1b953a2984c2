#!/usr/bin/env python3
"""SentencePiece-style BPE goldens (Llama-2 / Mistral tokenizer.json layout), made with Hugging
Face `tokenizers` itself (no real Llama-2 / Mistral tokenizer.json is available offline):

1. trains a small BPE (2,000 merges, alphabet limited to 120 characters so that CJK, emoji and
   rare letters go through byte_fallback) on every 8th document of
   ../shared/golden/tokenizer/qwen_corpus.jsonl with tokenizers' BpeTrainer, and lays it out
   as Llama-2's tokenizer.json does: <unk> <s> </s>, then the 256 byte tokens <0x00>..<0xFF>,
   then the learned pieces; normalizer Prepend("▁") + Replace(" " -> "▁"), no pre-tokenizer,
   decoder Replace + ByteFallback + Fuse + Strip, byte_fallback, fuse_unk, unk_token <unk>.
   Written to tests/text/data/tokenizer_sp.json.
2. derives the variants the C test builds the same way (VARIANTS below: Mistral's Metaspace
   prepend_scheme "first", Metaspace "always" + split, "never", no byte_fallback with and
   without unk_token and fuse_unk, the special tokens with normalized: true, Gemma 3's
   Replace(" " -> "▁") normalizer + Split(" ", MergedWithPrevious) pre-tokenizer) and writes, for each, the ids and decoded text of HF
   `tokenizers` (add_special_tokens=False, skip_special_tokens=False):
   - tests/text/data/tokenizer_sp_edge_<variant>.jsonl: edge cases (leading / multiple
     spaces, newlines, tabs, emoji and CJK through byte_fallback, unknown characters, added
     tokens inside text);
   - tests/text/data/tokenizer_sp_corpus_<variant>.jsonl.gz (variants llama2, mistral, always):
     {"doc": index into the shared corpus, "ids": [...]} for every 8th document, plus
     "decoded" where it differs from the text.

Not run by the test suite (needs pip `tokenizers`); rerun by hand when the cases change:

    /tmp/gen-venv/bin/python tests/text/gen_tokenizer_sp.py ../shared
    /tmp/gen-venv/bin/python tests/text/gen_tokenizer_sp.py ../shared gemma   (one variant,
        from the committed tokenizer_sp.json; tokenizer_sp_edge_gemma.jsonl was made so with
        tokenizers 0.23.3)
"""
import copy
import gzip
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer, models, trainers, pre_tokenizers

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
only = sys.argv[2:]  # variant names: regenerate just their files from the committed tokenizer
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "data")
SP = "\u2581"
STEP = 8  # every STEP-th corpus document

META = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": False}
SEQ_DEC = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": SP}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}


def variant(base, name):
    """The tokenizer.json of a variant (the C test makes the same edits)."""
    j = copy.deepcopy(base)
    if name == "llama2":
        pass
    elif name == "mistral":  # transformers' newer Llama/Mistral conversion
        j["normalizer"] = None
        j["pre_tokenizer"] = dict(META)
    elif name == "always":  # SentencePieceBPETokenizer's default pipeline
        j["normalizer"] = None
        j["pre_tokenizer"] = dict(META, prepend_scheme="always", split=True)
        j["decoder"] = dict(META, prepend_scheme="always", split=True)
    elif name == "never":
        j["normalizer"] = None
        j["pre_tokenizer"] = dict(META, prepend_scheme="never", split=True)
        j["decoder"] = dict(META, prepend_scheme="never", split=True)
    elif name == "unk":  # no byte_fallback: unknown characters become <unk>, fused
        j["model"]["byte_fallback"] = False
    elif name == "unk_nofuse":
        j["model"]["byte_fallback"] = False
        j["model"]["fuse_unk"] = False
    elif name == "normalized":  # <unk> <s> </s> with normalized: true (HF then matches them by
        for a in j["added_tokens"]:  # their normalized content: "▁<s>")
            a["normalized"] = True
    elif name == "drop":  # no byte_fallback, no unk_token: unknown characters are dropped
        j["model"]["byte_fallback"] = False
        j["model"]["unk_token"] = None
    elif name == "gemma":  # Gemma 3's layout (its tokenizer.json as transformers converts it):
        j["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": SP}
        j["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "},
                              "behavior": "MergedWithPrevious", "invert": False}
        j["decoder"] = {"type": "Sequence", "decoders": SEQ_DEC["decoders"][:3]}
    else:
        raise ValueError(name)
    return j


VARIANTS = ["llama2", "mistral", "always", "never", "unk", "unk_nofuse", "drop", "normalized",
            "gemma"]
CORPUS_VARIANTS = ["llama2", "mistral", "always"]


def corpus_texts():
    with open(os.path.join(shared, "golden", "tokenizer", "qwen_corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def train(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SP, prepend_scheme="always", split=True)
    tr = trainers.BpeTrainer(vocab_size=2400, min_frequency=2, limit_alphabet=120, show_progress=False)
    tok.train_from_iterator(texts, tr)
    j = json.loads(tok.to_str())
    learned = sorted(j["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece, _ in learned:
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(["<unk>", "<s>", "</s>"])]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SP},
            {"type": "Replace", "pattern": {"String": " "}, "content": SP}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": SEQ_DEC,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


# no NUL: the C test reads the texts through cJSON
FIXED = [
    "", " ", "  ", "   ", "\n", " \n ", "\n\n", "\t", "a", " a", "  a", "a ", "a  ", " a ", "Hello world",
    "Hello  world", "Hello   world ", " Hello", "  Hello", "\nHello", "Hello\nworld", "Hello \n world",
    "\u2581", "\u2581Hello", " \u2581 ", "a\u2581\u2581b", "\u2581\u2581", "x\u2581",
    "中文", "中文字符测试", "\U0001F600", "a\U0001F600b", " \U0001F44D\U0001F3FD ", "\U0001F468\u200d\U0001F469",
    "é", "e\u0301", "Ω\u2126", "\u0915\u093c", "\x01x", "\x01\x02", "\x7f", "\ufffd", "\U0010fffd",
    "<s>", "</s>", "<unk>", "<s>Hello", "Hello<s>world", "a </s> b", " <s> ", "<s><s>", "<s> ", "x<unk>y",
    "<0x41>", "<0xE4>", "<s", "</s", "Let's compute $70514 \\times 473$.", "3.14159265358979",
    "    def f(x):\n        return x  \n\n\n", "$$\\frac{a}{b}$$", "ab" * 200, " " * 70 + "x",
    "x" + " " * 65 + "y", "\u3000\u3000中文\u3000", "x\u00a0\u00a0y", "don't I'LL WE'RE",
]
POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ") * 3 + list("0123456789") + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
        + [" "] * 25 + ["\n"] * 6 + ["\t", "\r", "\u2581", "\u00a0", "\u3000"]
        + list("éèêëàâäôöüçñÅ") + list("中文字符测试漢字かなカナ한국어") + ["\U0001F600", "\U0001F44D\U0001F3FD", "\u200d"]
        + list("عربيहिन्दी") + ["\u0301", "\u0308", "\ufffd", "\U0010fffd", "\x01", "\x7f"]
        + ["<s>", "</s>", "<unk>", "<0x41>", " <s> "])


def edge_cases():
    rng = random.Random(4321)
    out = list(FIXED)
    for _ in range(600):
        out.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, 40))))
    return out


def main():
    texts = corpus_texts()
    if only:  # the committed tokenizer_sp.json, not retrained: only the named variants' files
        with open(os.path.join(data, "tokenizer_sp.json"), encoding="utf-8") as f:
            base = json.load(f)
    else:
        base = train(texts[::STEP])
        with open(os.path.join(data, "tokenizer_sp.json"), "w", encoding="utf-8") as f:
            json.dump(base, f, ensure_ascii=False, indent=None, separators=(",", ":"))
            f.write("\n")
    edges = edge_cases()
    for name in only or VARIANTS:
        tok = Tokenizer.from_str(json.dumps(variant(base, name)))
        path = os.path.join(data, f"tokenizer_sp_edge_{name}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for t in edges:
                ids = tok.encode(t, add_special_tokens=False).ids
                dec = tok.decode(ids, skip_special_tokens=False)
                f.write(json.dumps({"text": t, "ids": ids, "decoded": dec}, ensure_ascii=False) + "\n")
        print(path, len(edges))
        if name not in CORPUS_VARIANTS:
            continue
        path = os.path.join(data, f"tokenizer_sp_corpus_{name}.jsonl.gz")
        n = 0
        with gzip.GzipFile(path, "wb", mtime=0) as g:
            for i in range(0, len(texts), STEP):
                ids = tok.encode(texts[i], add_special_tokens=False).ids
                dec = tok.decode(ids, skip_special_tokens=False)
                rec = {"doc": i, "ids": ids}
                if dec != texts[i]:
                    rec["decoded"] = dec
                g.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
                n += 1
        print(path, n, "documents")
    print("tokenizers", tokenizers.__version__)


if __name__ == "__main__":
    main()
