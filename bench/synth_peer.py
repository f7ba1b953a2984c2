#!/usr/bin/env python3
"""Peer for bench/synth_bench.sh: the same job as `long1k synth` written the obvious way in
Python with Hugging Face `tokenizers` (pip install tokenizers): read the whole pool with json,
drop exact duplicates and problems sharing a 13-gram with the evaluation set, then compose
samples of k problems whose joined reasoning lands in [MIN, MAX] tokens (draws that miss are
redrawn), and write messages JSONL. No near-duplicate pass (a MinHash pass would only add time).

  synth_peer.py --pool POOL.jsonl --eval math500.jsonl --tokenizer tokenizer.json \
      --samples 1000 -k 2 --target MIN:MAX --out OUT.jsonl [--seed S]
"""
import argparse
import json
import random
import re
import time

from tokenizers import Tokenizer

NONWORD = re.compile(r"[\W_]+", re.UNICODE)
BOXED = re.compile(r"\\boxed\{")


def norm(s):
    return NONWORD.sub(" ", s.lower()).strip()


def grams(words, n):
    if len(words) < n:
        return [" ".join(words)]
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def last_boxed(s):
    i = s.rfind("\\boxed{")
    if i < 0:
        return None
    j = i + 7
    depth = 1
    while j < len(s) and depth:
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
        j += 1
    return s[i + 7:j - 1] if depth == 0 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("-k", type=int, default=2)
    ap.add_argument("--target", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.time()
    lo, hi = map(int, a.target.split(":"))
    tok = Tokenizer.from_file(a.tokenizer)
    evalgrams = set()
    for line in open(a.eval, encoding="utf-8"):
        if line.strip():
            evalgrams.update(grams(norm(json.loads(line)["problem"]).split(), 13))
    pool, seen = [], set()
    for line in open(a.pool, encoding="utf-8"):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            prob = r["conversations"][0]["value"]
            asst = r["conversations"][1]["value"]
        except (ValueError, KeyError, IndexError):
            continue
        th = asst.split("<|begin_of_thought|>", 1)[-1].split("<|end_of_thought|>", 1)
        if len(th) != 2:
            continue
        reasoning = th[0].strip()
        sol = th[1].split("<|begin_of_solution|>", 1)[-1].split("<|end_of_solution|>", 1)[0].strip()
        ans = last_boxed(sol)
        if ans is None:
            continue
        n = norm(prob)
        if n in seen or any(g in evalgrams for g in grams(n.split(), 13)):
            continue
        seen.add(n)
        pool.append((prob, reasoning, sol, ans))
    rng = random.Random(a.seed)
    order = list(range(len(pool)))
    rng.shuffle(order)
    used = set()
    made = 0
    count_cache = {}

    def count(i):
        if i not in count_cache:
            count_cache[i] = len(tok.encode(pool[i][1], add_special_tokens=False).ids)
        return count_cache[i]

    with open(a.out, "w", encoding="utf-8") as f:
        free = [i for i in order]
        tries = 0
        while made < a.samples and tries < 200 * a.samples:
            tries += 1
            cand = [i for i in rng.sample(free, a.k)]
            if sum(count(i) for i in cand) + 20 * a.k < lo or sum(count(i) for i in cand) > hi:
                continue
            reasoning = "\n\n".join(
                (f"Now, on to problem {j + 1}.\n\n" if j else "") + pool[i][1] for j, i in enumerate(cand))
            rt = len(tok.encode(reasoning, add_special_tokens=False).ids)
            if not lo <= rt <= hi:
                continue
            prompt = "Solve the following problems.\n\n" + "\n\n".join(
                f"Problem {j + 1}: {pool[i][0]}" for j, i in enumerate(cand))
            resp = "<think>\n" + reasoning + "\n</think>\n\n" + "\n\n".join(
                f"{pool[i][2]}\n\nThe final answer to problem {j + 1} is $\\boxed{{{pool[i][3]}}}$."
                for j, i in enumerate(cand))
            f.write(json.dumps({"messages": [{"role": "user", "content": prompt},
                                             {"role": "assistant", "content": resp}]}) + "\n")
            for i in cand:
                free.remove(i)
            made += 1
    print(json.dumps({"samples": made, "pool": len(pool), "seconds": round(time.time() - t0, 2)}))


if __name__ == "__main__":
    main()
