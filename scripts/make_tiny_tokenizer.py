#!/usr/bin/env python3
"""Writes data/tokenizers/tiny/{tokenizer.json,tokenizer_config.json}: a small byte-level BPE
tokenizer in the Hugging Face format of Qwen2.5's (same normalizer, pre-tokenizer regex,
decoder, added tokens and chat template), with 256 byte symbols plus merges that spell a fixed
list of pieces of the demo's texts (each one a single token). The demo trains tiny models with it so that a
step is fast; lengths are still counted with the real Qwen tokenizer. Standard library only.
Run: python3 scripts/make_tiny_tokenizer.py"""
import json, os, re, sys

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

# The pre-tokens (pieces the Qwen pre-tokenizer cuts text into) of the demo's texts, each of which
# becomes one token: the toy pool's reasoning, synth's prompts and linking phrases, the eval
# prompt and the Qwen2.5 chat template's default system prompt. Digits stay single characters
# (the pre-tokenizer splits numbers into digits anyway). Derived from a demo's training sets:
#   long1k demo --quick --out /tmp/t && python3 scripts/make_tiny_tokenizer.py --print-pieces /tmp/t/sets/*.jsonl
PIECES = [
    " $\\", " *", " +", " -", " /", " =", " Alibaba", " Cloud", " Compute", " Correct", " Let",
    " Moving", " Next", " Now", " Qwen", " The", " Turning", " Work", " You", " \\", " a", " add",
    " and", " answer", " are", " assistant", " at", " becomes", " borrow", " by", " care",
    " carefully", " carry", " column", " created", " digit", " digits", " done", " each", " final",
    " finishes", " first", " following", " for", " fourth", " from", " give", " hand", " helpful",
    " in", " is", " it", " last", " leading", " let", " look", " me", " move", " much", " multiply",
    " needs", " now", " numbers", " of", " on", " one", " ones", " order", " problem", " problems",
    " put", " read", " reason", " second", " settles", " start", " starting", " step", " subtract",
    " switch", " takes", " that", " the", " them", " think", " third", " through", " to", " top",
    " turn", " up", " with", " within", " work", " write", " your", "'s", "**", ".\n", ".\n\n",
    ".**\n\n", "</", "<think", ">\n", ">\n\n", "Alright", "Check", "Compute", "Good", "Let", "Next",
    "Now", "Okay", "Please", "Problem", "Reading", "So", "Solve", "That", "The", "With", "You",
    "boxed", "ones", "tens", "think", "{}.", "{}.\n\n", "}$.", "}$.\n\n", "}.\n\n",
    # the chat template's role names, other places and the equation problems
    "system", "user", "assistant", "\n", "\n\n", "hundreds", "thousands", " ten", " thousands",
    " hundreds", " tens", "Subtract", " both", " sides", "Divide", " x", "x", " Solve", " so",
    " far", " so far", " I", "I", " so", ":", ",", ".", " ", "}.", "{", "}", "}$",
]

# The Qwen pre-tokenizer's regex with ASCII classes (the demo's texts are ASCII).
PRETOKEN = re.compile(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9]| ?[^\sA-Za-z0-9]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL = re.compile(r"<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>|<think>|</think>")


def pieces_of(paths):
    """The distinct non-digit pre-tokens of the messages in JSONL files."""
    seen = set()
    for path in paths:
        for line in open(path, encoding="utf-8"):
            for m in json.loads(line).get("messages", []):
                for part in SPECIAL.split(m["content"]):
                    for p in PRETOKEN.findall(part):
                        if len(p) > 1 and not p.strip().isdigit():
                            seen.add(p)
    return sorted(seen)


def bpe(word, ranks):
    """Byte-level BPE of one piece (a list of symbols) with the merges so far."""
    syms = list(word)
    while len(syms) > 1:
        best = None
        for i in range(len(syms) - 1):
            r = ranks.get((syms[i], syms[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        syms[i:i + 2] = [syms[i] + syms[i + 1]]
    return syms


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--print-pieces":
        print(json.dumps(pieces_of(sys.argv[2:]), ensure_ascii=False))
        return
    b2u = bytes_to_unicode()
    vocab = {}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    merges = []
    ranks = {}
    # Each piece becomes one token: encode it with the merges so far and join the resulting
    # symbols left to right with new merges (ranked last, so earlier merges still apply first,
    # exactly as the BPE model will apply them).
    for piece in PIECES:
        syms = bpe([b2u[b] for b in piece.encode("utf-8")], ranks)
        while len(syms) > 1:
            a, b = syms[0], syms[1]
            ranks[(a, b)] = len(merges)
            merges.append([a, b])
            if a + b not in vocab:
                vocab[a + b] = len(vocab)
            syms = bpe(syms, ranks)
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
