#!/usr/bin/env python3
"""Generates tests/text/data/chat_llama3.jsonl: conversations rendered and tokenized by
transformers' apply_chat_template with the Llama-3 tokenizer in ../shared/tokenizers/llama3
(pip install transformers jinja2). Not run by the test suite; rerun by hand:

    python3 tests/text/gen_chat_llama3.py ../shared
"""
import json
import os
import sys

from transformers import AutoTokenizer

shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
here = os.path.dirname(os.path.abspath(__file__))

CONVS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are a careful math tutor."},
     {"role": "user", "content": "Solve x^2 = 4."},
     {"role": "assistant", "content": "x = 2 or x = -2, so the answer is $\\boxed{\\pm 2}$."}],
    [{"role": "user", "content": "  padded question \n\n"},
     {"role": "assistant", "content": "\n\n  padded answer\t"},
     {"role": "user", "content": "again\u3000"},
     {"role": "assistant", "content": "<think>\nreasoning\n</think>\n\nfinal"}],
    [{"role": "system", "content": ""},
     {"role": "user", "content": "\u4f60\u597d\uff0c\u4e16\u754c\uff01 \U0001F600 \u00fcn\u00efc\u00f6d\u00e9\r\n\ttabs"}],
    [{"role": "user", "content": "<|eot_id|> inside text <|start_header_id|>?"},
     {"role": "assistant", "content": "ok\x1c"}],
    [{"role": "user", "content": "Problem 1: compute 3*7.\nProblem 2: compute 10-4."},
     {"role": "assistant", "content": "Okay, let's see. 3*7 = 21.\n\nNow the second one: 10-4 = 6."},
     {"role": "user", "content": "Now add them."}],
]


def main():
    tok = AutoTokenizer.from_pretrained(os.path.join(shared, "tokenizers", "llama3"))
    path = os.path.join(here, "data", "chat_llama3.jsonl")
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for msgs in CONVS:
            for agp in (False, True):
                text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=agp)
                ids = tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=agp)
                if isinstance(ids, dict) or hasattr(ids, "keys"):
                    ids = ids["input_ids"]
                f.write(json.dumps({"template": "llama3", "messages": msgs, "add_generation_prompt": agp,
                                    "text": text, "ids": list(ids)}, ensure_ascii=False) + "\n")
                n += 1
    print(path, n)


if __name__ == "__main__":
    main()
