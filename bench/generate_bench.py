#!/usr/bin/env python3
"""Generation benchmark: long1k vs transformers + PyTorch (CPU) and llama.cpp (llama-cpp-python).

    python bench/generate_bench.py [--build build] [--threads 2] [--prompt-len 128]
                                   [--new-tokens 64] [--new-tokens-b16 32] [--repeats 3]

Model: a Qwen2.5 architecture scaled to ~50M parameters with the real 151,936-token
vocabulary (hidden 256, 12 layers, 4 heads / 2 KV heads, MLP 1024, tied embeddings), random
weights from transformers (seed 0), saved in bfloat16 like real checkpoints, with the Qwen
tokenizer from data/tokenizers/qwen. Every engine computes in float32 from those weights
(PyTorch loads them with dtype=float32); llama.cpp runs the same weights converted to a BF16 GGUF
with the converter shipped in the llama-cpp-python sdist (vendor/llama.cpp/convert_hf_to_gguf.py).

"long1k-f32w" is long1k without the bf16 weight copies (LONG1K_GEN_F32=1): what a float32 or
fine-tuned checkpoint gets.

Measured, each engine in its own process (peak RSS is that process's ru_maxrss):
  prefill tokens/s: BATCH prompts of PROMPT_LEN ids through the model, filling the KV cache;
  decode tokens/s:  NEW_TOKENS greedy steps for all BATCH sequences (one token each per step).
Best of --repeats runs in one process, and best of --rounds rounds that interleave the engines
(the 2-core machine is shared; its load changes from minute to minute). Needs: pip install torch transformers sentencepiece llama-cpp-python.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHAPE = dict(vocab_size=151936, hidden_size=256, intermediate_size=1024, num_hidden_layers=12,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
             rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
             bos_token_id=151643, eos_token_id=151645)


def prompt_ids(batch, plen):
    x, out = 12345, []
    for _ in range(batch * plen):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out.append((x >> 33) % 150000)
    return [out[b * plen:(b + 1) * plen] for b in range(batch)]


def make_model(out):
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(0)
    m = Qwen2ForCausalLM(Qwen2Config(**SHAPE))
    n = sum(p.numel() for p in m.parameters())
    print(f"model: {n / 1e6:.1f}M parameters -> {out}", file=sys.stderr)
    m.to(torch.bfloat16).save_pretrained(out)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(ROOT, "data", "tokenizers", "qwen", f), out)


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---- peers (run as child processes: python generate_bench.py --peer NAME ...) -------------------

def run_torch(a):
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(a.threads)
    t = time.time()
    m = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    m.eval()
    load = time.time() - t
    ids = torch.tensor(prompt_ids(a.batch, a.prompt_len), dtype=torch.long)
    best_pf, best_dec = 1e30, 1e30
    with torch.inference_mode():
        for _ in range(a.repeats):
            t = time.time()
            out = m(input_ids=ids, use_cache=True)
            pf = time.time() - t
            past = out.past_key_values
            nxt = out.logits[:, -1, :].argmax(-1, keepdim=True)
            t = time.time()
            for _ in range(a.new_tokens):
                out = m(input_ids=nxt, past_key_values=past, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1, :].argmax(-1, keepdim=True)
            dec = time.time() - t
            best_pf, best_dec = min(best_pf, pf), min(best_dec, dec)
    return dict(impl="torch " + torch.__version__, load_s=load, last_token=int(nxt[0, 0]),
                prefill_tok_s=a.batch * a.prompt_len / best_pf, decode_tok_s=a.batch * a.new_tokens / best_dec)


def run_llama(a):
    import llama_cpp
    import numpy as np
    t = time.time()
    llm = llama_cpp.Llama(model_path=a.gguf, n_ctx=a.prompt_len + a.new_tokens + 8, n_batch=a.prompt_len,
                          n_ubatch=a.prompt_len, n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    load = time.time() - t
    ids = prompt_ids(1, a.prompt_len)[0]
    nv = llm.n_vocab()
    # the last position's logits (llama-cpp-python keeps no copy without logits_all)
    last = lambda: int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(nv,))))
    best_pf, best_dec = 1e30, 1e30
    for _ in range(a.repeats):
        llm.reset()  # n_tokens = 0: the next eval overwrites the cache from position 0
        t = time.time()
        llm.eval(ids)
        pf = time.time() - t
        nxt = last()
        t = time.time()
        for _ in range(a.new_tokens):
            llm.eval([nxt])
            nxt = last()
        dec = time.time() - t
        best_pf, best_dec = min(best_pf, pf), min(best_dec, dec)
    return dict(impl="llama.cpp (llama-cpp-python %s)" % llama_cpp.__version__, load_s=load, last_token=nxt,
                prefill_tok_s=a.prompt_len / best_pf, decode_tok_s=a.new_tokens / best_dec)


# ---- driver ----------------------------------------------------------------------------------

def find_converter(cache):
    """convert_hf_to_gguf.py from the llama-cpp-python sdist (pip download)."""
    for d, _, files in os.walk(cache):
        if "convert_hf_to_gguf.py" in files and os.path.isdir(os.path.join(d, "gguf-py")):
            return os.path.join(d, "convert_hf_to_gguf.py")
    os.makedirs(cache, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                    "llama-cpp-python", "-d", cache], check=True, stdout=subprocess.DEVNULL)
    for f in os.listdir(cache):
        if f.startswith("llama_cpp_python") and f.endswith(".tar.gz"):
            with tarfile.open(os.path.join(cache, f)) as tf:
                members = [m for m in tf.getmembers() if "/vendor/llama.cpp/" in m.name and
                           ("/gguf-py/" in m.name or "/conversion/" in m.name or m.name.endswith(".py"))]
                tf.extractall(cache, members=members)
    for d, _, files in os.walk(cache):
        if "convert_hf_to_gguf.py" in files:
            return os.path.join(d, "convert_hf_to_gguf.py")
    return None


def child(args, extra):
    cmd = [sys.executable, os.path.abspath(__file__)] + extra
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return dict(error=(r.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(r.stdout.strip().splitlines()[-1])


def ours(args, exe, batch, new, f32=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    if f32:
        env["LONG1K_GEN_F32"] = "1"  # no bf16 weight copies: the float32 kernels
    r = subprocess.run([exe, args.model, str(args.prompt_len), str(new), str(batch), str(args.repeats)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return dict(error=r.stderr.strip())
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default="/tmp/long1k-generate-bench")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--new-tokens-b16", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-llama", action="store_true")
    ap.add_argument("--peer", choices=["torch", "llama"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--gguf")
    a = ap.parse_args()
    a.new_tokens_run = a.new_tokens
    if a.peer:
        r = run_torch(a) if a.peer == "torch" else run_llama(a)
        r.update(batch=a.batch, prompt_len=a.prompt_len, new_tokens=a.new_tokens, peak_rss_mb=peak_mb())
        print(json.dumps(r))
        return
    os.makedirs(a.work, exist_ok=True)
    a.model = a.model or os.path.join(a.work, "qwen2.5-50m-bf16")
    make_model(a.model)

    exe = os.path.join(a.work, "generate_bench")
    lib = lambda n: os.path.join(a.build, "liblong1k_%s.a" % n)
    subprocess.run(["cc", "-O2", "-I", os.path.join(ROOT, "include"), os.path.join(ROOT, "bench", "generate_bench.c"),
                    "-o", exe, lib("model"), lib("core"), "-lopenblas", "-lcjson", "-lz", "-lm", "-fopenmp"],
                   check=True)

    gguf = None
    if not a.skip_llama:
        gguf = os.path.join(a.work, "qwen2.5-50m-bf16.gguf")
        if not os.path.exists(gguf):
            conv = find_converter(os.path.join(a.work, "llama-sdist"))
            if conv:
                subprocess.run([sys.executable, conv, a.model, "--outtype", "bf16", "--outfile", gguf],
                               check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.path.exists(gguf):
            gguf = "failed"

    # The machine is shared: load changes from minute to minute. Every engine runs once per
    # round, rounds interleave the engines, and the best of the rounds is kept for each.
    best = {}
    order = []

    def keep(batch, name, r):
        key = (batch, name)
        if key not in best:
            order.append(key)
            best[key] = r
        elif "error" not in r and ("error" in best[key] or r["decode_tok_s"] > best[key]["decode_tok_s"]):
            best[key] = r

    for rnd in range(a.rounds):
        for batch, new in ((1, a.new_tokens), (16, a.new_tokens_b16)):
            base = ["--model", a.model, "--threads", str(a.threads), "--prompt-len", str(a.prompt_len),
                    "--new-tokens", str(new), "--repeats", str(a.repeats), "--batch", str(batch)]
            keep(batch, "long1k", ours(a, exe, batch, new))
            keep(batch, "torch", child(a, ["--peer", "torch"] + base))
            keep(batch, "long1k-f32w", ours(a, exe, batch, new, f32=True))
        if gguf == "failed":
            keep(1, "llama.cpp", dict(error="GGUF conversion failed"))
        elif gguf:
            base = ["--gguf", gguf, "--threads", str(a.threads), "--prompt-len", str(a.prompt_len),
                    "--new-tokens", str(a.new_tokens), "--repeats", str(a.repeats), "--batch", "1"]
            keep(1, "llama.cpp", child(a, ["--peer", "llama"] + base))
        print(f"round {rnd + 1}/{a.rounds} done", file=sys.stderr)
    rows = [(b, n, best[(b, n)]) for b, n in sorted(order, key=lambda k: k[0])]

    print(f"threads {a.threads}, prompt {a.prompt_len} tokens, best of {a.rounds} rounds x {a.repeats} repeats, "
          f"model {a.model}")
    print(f"{'batch':>5} {'engine':<12} {'prefill tok/s':>14} {'decode tok/s':>13} {'peak RSS MB':>12}  note")
    ref = {}
    for batch, name, r in rows:
        if "error" in r:
            print(f"{batch:>5} {name:<12} {'-':>14} {'-':>13} {'-':>12}  {r['error']}")
            continue
        if name == "long1k":
            ref[batch] = r
        note = ""
        if name not in ("long1k", "long1k-f32w") and batch in ref:
            note = "long1k decode %.2fx, prefill %.2fx" % (ref[batch]["decode_tok_s"] / r["decode_tok_s"],
                                                         ref[batch]["prefill_tok_s"] / r["prefill_tok_s"])
        print(f"{batch:>5} {name:<12} {r['prefill_tok_s']:>14.1f} {r['decode_tok_s']:>13.1f} {r['peak_rss_mb']:>12.0f}  {note}")
    print(json.dumps([dict(r, batch=b, engine=n) for b, n, r in rows]))


if __name__ == "__main__":
    main()
