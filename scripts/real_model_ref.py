#!/usr/bin/env python3
"""Helper of scripts/real_model_check.sh (needs torch, transformers, gguf, tokenizers; not part
of the test suite). Subcommands:

  convert GGUF_DIR GGUF_FILE OUT   dequantize a GGUF checkpoint with transformers
                                   (from_pretrained(gguf_file=...)) and save it as a float32
                                   safetensors model directory with its tokenizer
  tokenize MODEL CORPUS OUT        HF tokenizers ids (add_special_tokens=False) of every
                                   "text" of CORPUS, one {"ids": [...]} per line, in the format
                                   `long1k tokenize` writes
  convert-tokenizer GGUF_DIR GGUF_FILE OUT
                                   the tokenizer only (AutoTokenizer.from_pretrained(gguf_file=)
                                   + save_pretrained): for a model whose architecture long1k
                                   does not run (Gemma 3)
  corpus OUT FILE...               each distinct "text" of the JSONL FILEs (.gz too), one
                                   {"text"} per line, in first-seen order (the empty text too)
  decode MODEL IDS OUT             HF tokenizers decode (skip_special_tokens=False) of every
                                   "ids" of IDS, one {"text": ...} per line
  compare KEY A B [LABEL]          counts the lines of A and B whose KEY differs; prints
                                   documents, tokens (KEY=ids) and differing lines; exit 1 if any
  chat MODEL OUT                   transformers' apply_chat_template text and ids for a few
                                   conversations ({"messages", "add_generation_prompt", "text",
                                   "ids"} per line)
  chat-masks MODEL OUT AGP         the conversations of tests/text/gen_chat_templates.py rendered
                                   by apply_chat_template (add_generation_prompt = AGP, 0/1),
                                   with HF tokenizers ids and the assistant masks of that
                                   script's span rule (transformers' renderer, no {% generation %})
  reference MODEL OUT              reference.safetensors in the format of
                                   ../shared/golden/models/*/reference.safetensors (read by
                                   `long1k parity`): input_ids, labels, logits, loss, grad.<name>
                                   of every parameter, long_input_ids / long_logits (LONG
                                   tokens), greedy_prompt / greedy_output (16 new tokens), all
                                   in float64 from the float32 weights
"""
import json
import sys

import torch

CONVS = [
    [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "2+2 = 4."}],
    [{"role": "system", "content": "You are a careful math tutor."},
     {"role": "user", "content": "Solve x^2 - 5x + 6 = 0."},
     {"role": "assistant", "content": "Factor: (x-2)(x-3) = 0, so x = 2 or x = 3."},
     {"role": "user", "content": "And x^2 = 9?"}],
    [{"role": "user", "content": "Écris « bonjour » en 中文 🙂"}],
]


def convert(gdir, gfile, out):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(gdir, gguf_file=gfile)
    m = AutoModelForCausalLM.from_pretrained(gdir, gguf_file=gfile, dtype=torch.float32)
    m.hf_quantizer = None  # dequantized already: save plain float32 tensors
    if hasattr(m.config, "quantization_config"):
        del m.config.quantization_config
    m.save_pretrained(out)
    tok.save_pretrained(out)


def convert_tokenizer(gdir, gfile, out):
    from transformers import AutoTokenizer
    AutoTokenizer.from_pretrained(gdir, gguf_file=gfile).save_pretrained(out)


def corpus(out, files):
    import gzip
    seen = set()  # each distinct text once (the shared corpora and edge files overlap)
    with open(out, "w", encoding="utf-8") as g:
        for p in files:
            with (gzip.open(p, "rt", encoding="utf-8") if p.endswith(".gz") else open(p, encoding="utf-8")) as f:
                for line in f:
                    text = json.loads(line)["text"] if line.strip() else None
                    if text is not None and text not in seen:
                        seen.add(text)
                        g.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


def decode(model, ids, out):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(model + "/tokenizer.json")
    with open(ids, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        for line in f:
            text = tok.decode(json.loads(line)["ids"], skip_special_tokens=False)
            g.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


def compare(key, a, b, label="documents"):
    x = [json.loads(l)[key] for l in open(a, encoding="utf-8")]
    y = [json.loads(l)[key] for l in open(b, encoding="utf-8")]
    bad = [i for i, (u, v) in enumerate(zip(x, y)) if u != v]
    nbad = len(bad) + abs(len(x) - len(y))
    toks = f", {sum(map(len, x))} tokens" if key == "ids" else ""
    print(f"   {len(x)} {label}{toks}, {nbad} with different {key}" +
          (f" (first: line {bad[0] + 1})" if bad else ""))
    return 1 if nbad else 0


def tokenize(model, corpus, out):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(model + "/tokenizer.json")
    with open(corpus, encoding="utf-8") as f, open(out, "w") as g:
        for line in f:
            ids = tok.encode(json.loads(line)["text"], add_special_tokens=False).ids
            g.write(json.dumps({"ids": ids}) + "\n")


def chat(model, out):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model)
    with open(out, "w", encoding="utf-8") as g:
        for msgs in CONVS:
            gen = False  # long1k tokenize takes --add-generation-prompt for a whole file
            text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            g.write(json.dumps({"messages": msgs, "add_generation_prompt": gen, "text": text,
                                "ids": ids}, ensure_ascii=False) + "\n")


def chat_masks(model, out, agp):
    import os
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "text"))
    import gen_chat_templates as gct
    tok = AutoTokenizer.from_pretrained(model)
    raw = Tokenizer.from_file(model + "/tokenizer.json")
    gen = bool(int(agp))
    with open(out, "w", encoding="utf-8") as g:
        for msgs in gct.CONVERSATIONS:
            text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
            enc = raw.encode(text, add_special_tokens=False)
            sp = gct.spans(tok.chat_template, msgs, gen, tok.bos_token, tok.eos_token, {}, text)
            mask = [int(any(b < se and sb < e for sb, se in sp)) for b, e in enc.offsets]
            g.write(json.dumps({"messages": msgs, "add_generation_prompt": gen, "text": text,
                                "ids": enc.ids, "mask": mask}, ensure_ascii=False) + "\n")


def embed_grad_without_padding_idx(m, ids, lab):
    """The embedding gradient when nn.Embedding's padding_idx is ignored (what long1k computes
    until it applies the pad_token_id rule): tells whether that rule is the only difference."""
    m.model.embed_tokens.padding_idx = None
    m.zero_grad(set_to_none=True)
    m(input_ids=ids, labels=lab).loss.backward()
    g = m.model.embed_tokens.weight.grad.detach().float().clone()
    m.zero_grad(set_to_none=True)
    m.model.embed_tokens.padding_idx = m.config.pad_token_id
    return g


def reference(model, out, long_len):
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model)
    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).double()
    m.config._attn_implementation = "eager"
    m.train(False)
    # two chat texts (with <|im_end|>, the pad token, in the input), prompt tokens masked
    rows, labels = [], []
    for msgs in CONVS[:2]:
        prompt = tok.apply_chat_template(msgs[:-1] if msgs[-1]["role"] == "assistant" else msgs,
                                         tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(msgs, tokenize=False)
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        f = tok(full, add_special_tokens=False)["input_ids"]
        rows.append(f)
        labels.append([-100] * len(p) + f[len(p):])
    T = min(len(r) for r in rows)
    ids = torch.tensor([r[:T] for r in rows], dtype=torch.int64)
    lab = torch.tensor([r[:T] for r in labels], dtype=torch.int64)
    if (lab != -100).sum() == 0:
        lab[:, T // 2:] = ids[:, T // 2:]
    res = m(input_ids=ids, labels=lab)
    res.loss.backward()
    ref = {"input_ids": ids.to(torch.int32), "labels": lab.to(torch.int32),
           "logits": res.logits.detach().float(), "loss": res.loss.detach().float().reshape(1)}
    for n, p in m.named_parameters():
        ref["grad." + n] = p.grad.detach().float()
    m.zero_grad(set_to_none=True)
    nopad = embed_grad_without_padding_idx(m, ids, lab) if m.config.pad_token_id is not None else None
    with torch.no_grad():
        text = open(__file__, encoding="utf-8").read()
        long_ids = tok(text, add_special_tokens=False)["input_ids"][:long_len]
        long_ids = torch.tensor([long_ids], dtype=torch.int64)
        ref["long_input_ids"] = long_ids.to(torch.int32)
        ref["long_logits"] = m(input_ids=long_ids).logits.float()
        prompt = ids[:1, :min(12, T)]
        gen = m.generate(prompt, max_new_tokens=16, do_sample=False)
        if gen.shape[1] < prompt.shape[1] + 16:  # stopped at EOS: pad as long1k parity does
            pad = torch.full((1, prompt.shape[1] + 16 - gen.shape[1]), m.config.pad_token_id)
            gen = torch.cat([gen, pad], dim=1)
        ref["greedy_prompt"] = prompt.to(torch.int32)
        ref["greedy_output"] = gen.to(torch.int32)
    save_file({k: v.contiguous() for k, v in ref.items()}, out)
    if nopad is not None:  # the same reference with the embedding gradient of padding_idx=None
        ref["grad.model.embed_tokens.weight"] = nopad
        save_file({k: v.contiguous() for k, v in ref.items()}, out.replace(".safetensors", "_nopad.safetensors"))
    print(json.dumps({"T": T, "n_targets": int((lab[:, 1:] != -100).sum()), "loss": float(res.loss.detach()),
                      "long_tokens": int(long_ids.shape[1]), "pad_token_id": m.config.pad_token_id,
                      "pad_in_input": int((ids == m.config.pad_token_id).sum())}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "convert-tokenizer":
        convert_tokenizer(*sys.argv[2:5])
    elif cmd == "corpus":
        corpus(sys.argv[2], sys.argv[3:])
    elif cmd == "decode":
        decode(*sys.argv[2:5])
    elif cmd == "compare":
        sys.exit(compare(*sys.argv[2:6]))
    elif cmd == "convert":
        convert(*sys.argv[2:5])
    elif cmd == "tokenize":
        tokenize(*sys.argv[2:5])
    elif cmd == "chat-masks":
        chat_masks(*sys.argv[2:5])
    elif cmd == "chat":
        chat(*sys.argv[2:4])
    elif cmd == "reference":
        reference(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 300)
    else:
        sys.exit("unknown subcommand " + cmd)
