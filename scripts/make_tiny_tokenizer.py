#!/usr/bin/env python3
"""Writes data/tokenizers/tiny/{tokenizer.json,tokenizer_config.json}: a small byte-level BPE
tokenizer in the Hugging Face format of Qwen2.5's (same normalizer, pre-tokenizer regex,
decoder, added tokens and chat template), with 256 byte symbols plus merges that spell a fixed
list of words used by the demo's reasoning text. The demo trains tiny models with it so that a
step is fast; lengths are still counted with the real Qwen tokenizer. Standard library only.
Run: python3 scripts/make_tiny_tokenizer.py"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QWEN = os.path.join(ROOT, "data", "tokenizers", "qwen")
OUT = os.path.join(ROOT, "data", "tokenizers", "tiny")

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
         list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}

WORDS = """ I add subtract multiply divide the numbers column by from ones tens hundreds thousands
 ten thousands write carry borrow Reading digits top Check Correct answer is Solve both sides
 Compute sum difference product Problem Now Next First then so gives equals We need to find value
 of and problems all Therefore final step result boxed Let me think solve each one Moving on
 Combining answers are Answer Subtract Divide Add Multiply solution which that for""".split()

def main():
    b2u = bytes_to_unicode()
    vocab = {}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    merges = []
    pieces = []
    for w in WORDS:
        for form in (w, " " + w):
            pieces.append(form)
    for piece in pieces:
        syms = [b2u[b] for b in piece.encode("utf-8")]
        cur = syms[0]
        for s in syms[1:]:
            new = cur + s
            if new not in vocab:
                vocab[new] = len(vocab)
                merges.append([cur, s])
            cur = new
    qwen = json.load(open(os.path.join(QWEN, "tokenizer.json"), encoding="utf-8"))
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    added = []
    for s in specials:
        added.append({"id": len(vocab), "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
        vocab[s] = len(vocab)
    for s in ["<think>", "</think>"]:
        added.append({"id": len(vocab), "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": False})
        vocab[s] = len(vocab)
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": qwen["normalizer"], "pre_tokenizer": qwen["pre_tokenizer"],
        "post_processor": qwen["post_processor"], "decoder": qwen["decoder"],
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": merges},
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    cfg = json.load(open(os.path.join(QWEN, "tokenizer_config.qwen2.5.json"), encoding="utf-8"))
    cfg["added_tokens_decoder"] = {str(a["id"]): {k: v for k, v in a.items() if k != "id"}
                                   for a in added}
    cfg["additional_special_tokens"] = ["<|im_start|>", "<|im_end|>"]
    cfg["model_max_length"] = 4096
    with open(os.path.join(OUT, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)
    print(f"vocab {len(vocab)} ({len(merges)} merges) -> {OUT}")

if __name__ == "__main__":
    main()
