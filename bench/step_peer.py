#!/usr/bin/env python3
"""Peer of bench/gpu_step_bench.c: ../shared/bench/hf_sft_reference.py's own model step
(transformers Qwen2ForCausalLM of the Qwen2.5-1.5B shape, random weights, bf16 autocast, sdpa
attention, gradient checkpointing, a quarter of the tokens masked, clip + fused AdamW in the
timed step) at the T given, with its FLOP count and the bf16 matrix rate measured in the same
run (an 8192^3 torch bf16 product, as that script measures it).

    step_peer.py [--reference PATH] [--steps N] [--warm N] T [T ...]

The reference script runs its whole table when imported, so this takes from it only its imports,
its configurations (CFGS, dev, OUT) and its functions (flops_per_token, run), and calls
run(name, T, ckpt=True, mode="amp") itself: the step, the masking and the count are that
script's, not a copy. One JSON line per T, as gpu_step_bench's: bench step-1.5b-T<T>,
impl transformers."""
import argparse
import ast
import json
import os
import sys
import time


def load_reference(path):
    src = open(path).read()
    tree = ast.parse(src, path)
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef)):
            keep.append(node)
        elif isinstance(node, ast.Assign) and all(
                isinstance(t, ast.Name) and t.id in ("OUT", "dev", "CFGS") for t in node.targets):
            keep.append(node)
    ns = {"__name__": "hf_sft_reference"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), path, "exec"), ns)
    for name in ("run", "flops_per_token", "CFGS"):
        if name not in ns:
            sys.exit("%s: no %s (expected hf_sft_reference.py's run / flops_per_token / CFGS)" % (path, name))
    return ns


def matmul_tflops(torch, n=8192):
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn_like(a)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / 10
    del a, b
    torch.cuda.empty_cache()
    return 2 * n ** 3 / dt / 1e12


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.environ.get("LONG1K_SHARED", os.path.join(here, "..", "..", "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", default=os.path.join(shared, "bench", "hf_sft_reference.py"))
    ap.add_argument("--model", default="qwen2.5-1.5b")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warm", type=int, default=1)
    ap.add_argument("T", type=int, nargs="+")
    a = ap.parse_args()
    if not os.path.isfile(a.reference):
        print(json.dumps({"bench": "step", "impl": "transformers",
                          "status": "no %s (LONG1K_SHARED or --reference)" % a.reference}))
        return 0
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"bench": "step", "impl": "transformers", "status": "no torch: %s" % e}))
        return 0
    if not torch.cuda.is_available():
        print(json.dumps({"bench": "step", "impl": "transformers", "status": "no CUDA device"}))
        return 0
    ref = load_reference(a.reference)
    rate = matmul_tflops(torch)
    print(json.dumps({"bench": "step-matmul", "impl": "torch-bf16", "n": 8192, "tflops": round(rate, 1)}),
          flush=True)
    shape = a.model.replace("qwen2.5-", "")
    for T in a.T:
        bench = "step-%s-T%d" % (shape, T)
        try:
            r = ref["run"](a.model, T, steps=a.steps, warm=a.warm, ckpt=True, mode="amp")
        except Exception as e:  # noqa: BLE001 (out of memory, a transformers change: one line)
            print(json.dumps({"bench": bench, "impl": "transformers", "status": repr(e)[:300]}), flush=True)
            torch.cuda.empty_cache()
            continue
        print(json.dumps({"bench": bench, "impl": "transformers", "T": T, "recompute": True,
                          "step_ms": round(1e3 * r["step_s"], 1), "tokens_per_s": round(r["tok_s"]),
                          "tflops_step": round(r["tflops"], 1), "matmul_tflops": round(rate, 1),
                          "mfu_step": round(r["tflops"] / rate, 3), "peak_gib": round(r["peak_gib"], 2),
                          "loss": round(r["loss"], 4)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
