#!/usr/bin/env python3
"""Builds README.md and docs/benchmarks.md from their parts (standard library only).

README.md = docs/readme/_head.md + the command sections in docs/readme/<area>.md (in the order
of the data flow) + docs/readme/_tail.md. docs/benchmarks.md = every docs/bench/*.md, each as
one section. Edit the parts, then run: python3 scripts/assemble_docs.py"""
import os, re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["tokenize", "synth", "model", "generate", "train", "eval", "grade", "fit", "report"]
BENCH_ORDER = ["tokenizer", "model", "generate", "train", "synth", "grade", "device-cpu"]

def read(p):
    with open(os.path.join(ROOT, p), encoding="utf-8") as f:
        return f.read().strip() + "\n"

def demote(text, level):
    """Makes the first heading level `level` and shifts the others with it."""
    heads = [len(m.group(1)) for m in re.finditer(r"^(#+) ", text, re.M)]
    if not heads:
        return text
    shift = level - min(heads)
    out, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        m = re.match(r"^(#+) ", line)
        if m and not fence:
            line = "#" * max(1, len(m.group(1)) + shift) + line[len(m.group(1)):]
        out.append(line)
    return "\n".join(out) + "\n"

def main():
    parts = [read("docs/readme/_head.md")]
    for name in ORDER:
        p = f"docs/readme/{name}.md"
        if os.path.exists(os.path.join(ROOT, p)):
            parts.append(demote(read(p), 3))
    parts.append(read("docs/readme/_tail.md"))
    with open(os.path.join(ROOT, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    bench = [read("docs/bench/_head.md")]
    names = [n[:-3] for n in sorted(os.listdir(os.path.join(ROOT, "docs/bench")))
             if n.endswith(".md") and not n.startswith("_")]
    names.sort(key=lambda n: (BENCH_ORDER.index(n) if n in BENCH_ORDER else 99, n))
    for n in names:
        bench.append(demote(read(f"docs/bench/{n}.md"), 2))
    with open(os.path.join(ROOT, "docs/benchmarks.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(bench))
    print("README.md and docs/benchmarks.md written")

if __name__ == "__main__":
    main()
