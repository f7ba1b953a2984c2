#!/usr/bin/env python3
"""Writes run directories shaped like what synth, train, eval and fit leave behind, for the
report tests (and for looking at a report by hand: python3 report_fixture.py DIR).

Formats follow the other modules' code and docs: eval's summary.json/results.jsonl
(src/eval/eval_run.c), the trainer's trainer_log.jsonl (step, epoch, loss, lr, grad_norm,
tokens, tokens_per_s, elapsed), synth's OUT.stats.json, fit's JSON lines. Deterministic."""
import json
import math
import os
import random
import sys

# MATH500-like accuracy for three training lengths (the paper's read-offs)
RUNS = [("len1k", 1000, 0.858), ("len3k", 3000, 0.902), ("len12k", 12000, 0.941)]


def write_jsonl(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


def make(root, with_broken=True):
    rng = random.Random(7)
    dirs = []
    for name, length, acc in RUNS:
        d = os.path.join(root, name)
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        os.makedirs(os.path.join(d, "train", "checkpoint-50"), exist_ok=True)
        os.makedirs(os.path.join(d, "train", "checkpoint-100"), exist_ok=True)
        meta = {"name": name, "train_length": length, "note": "fixture", "unknown_field": [1, 2, {"x": 1}]}
        if name == "len3k":
            del meta["train_length"]  # this run's length comes from its synth stats
        with open(os.path.join(d, "long1k.json"), "w") as f:
            json.dump(meta, f)
        lens = [int(rng.lognormvariate(math.log(length), 0.25)) for _ in range(500)]
        if name == "len1k":
            # another stats shape (edges + counts), to show the report reads more than one
            edges = [0, 512, 1024, 2048, 4096, 8192, 16384, 32768]
            counts = [sum(1 for t in lens if edges[i] <= t < edges[i + 1]) for i in range(7)]
            stats = {"samples": 500, "mean_tokens": length * 1.02, "sources": {"openthoughts.jsonl": 1450},
                     "removed": {"duplicates": 12, "contaminated": 3, "no_answer": 7},
                     "length_histogram": {"edges": edges, "counts": counts},
                     "k_hist": {"1": 10, "2": 200, "3": 290}, "future_field": {"deep": {"deeper": {"deepest": 1}}}}
        else:
            # the shape `long1k synth` writes (src/synth/synth.c: OUT.stats.json)
            lo, hi = min(lens), max(lens)
            hist = []
            for q in range(10):
                a = lo + int((hi - lo + 1) * q / 10.0)
                e = lo + int((hi - lo + 1) * (q + 1) / 10.0) - 1
                hist.append({"from": a, "to": e, "count": sum(1 for t in lens if a <= t <= e)})
            stats = {"samples": 500, "seconds": 1.9, "seed": 0,
                     "pool": {"files": [{"path": "pool.jsonl", "schema": "s1k", "records_used": 1300}], "records_read": 1500,
                              "blank_lines": 0, "parsed": 1500, "eligible": 1460, "tokens_counted_records": 1400, "load_passes": 1},
                     "removed": {"malformed": 0, "no_final_answer": 7, "domain": 0, "contaminated": 3, "exact_duplicate": 12,
                                 "near_duplicate": 1, "report": "long1k.jsonl.removed.jsonl"},
                     "decontamination": ["data/benchmarks/math500.jsonl", "data/benchmarks/aime24.jsonl"], "ngram": 13,
                     "near_dup_threshold": 0.8,
                     "sets": [{"name": "all", "samples": 500, "singles": 0, "target": None, "measured": "reasoning_tokens",
                               "min": lo, "median": sorted(lens)[250], "max": hi, "mean_reasoning_tokens": float(length),
                               "mean_response_tokens": length * 1.07, "mean_prompt_tokens": 61.0, "mean_k": 2.6,
                               "k_histogram": {"1": 10, "2": 200, "3": 290}, "length_histogram": hist}],
                     "future_field": {"deep": {"deeper": {"deepest": 1}}}}
        with open(os.path.join(d, "data", "long1k.jsonl.stats.json"), "w") as f:
            json.dump(stats, f, indent=1)
        # trainer log
        recs = []
        steps = 120
        for s in range(1, steps + 1):
            lr = 1e-5 * (s / 10 if s <= 10 else 0.5 * (1 + math.cos(math.pi * (s - 10) / (steps - 10))))
            loss = 0.55 + 0.9 * math.exp(-s / 30) + 0.03 * math.sin(s) + 0.02 * rng.random()
            recs.append({"step": s, "epoch": s / 40, "loss": round(loss, 4), "lr": lr, "grad_norm": 1.5 * math.exp(-s / 50) + 0.2,
                         "tokens": s * 65536, "tokens_per_s": 5200 + 300 * rng.random() if s > 1 else 900.0,
                         "elapsed": s * 12.6, "some_new_metric": 1})
            if s % 40 == 0:  # validation records, as long1k train writes them
                recs.append({"step": s, "epoch": s / 40, "eval_loss": round(0.7 + 0.6 * math.exp(-s / 40), 4)})
        recs.append({"event": "checkpoint", "step": 100, "path": "checkpoint-100"})
        write_jsonl(os.path.join(d, "train", "trainer_log.jsonl"), recs)
        with open(os.path.join(d, "train", "trainer_log.jsonl"), "a") as f:
            f.write('{"step": 121, "loss": 0.5')  # torn last line (a kill during the write)
        # eval: math500, 40 problems x 2 samples
        for bench, base in (("math500", acc), ("aime24", acc - 0.45)):
            e = os.path.join(d, "eval", bench)
            os.makedirs(e, exist_ok=True)
            res = []
            np_, n = 40, 2
            correct = 0
            for p in range(np_):
                for si in range(n):
                    ok = rng.random() < base
                    correct += ok
                    tok = int(rng.lognormvariate(math.log(2500 if ok else 5000), 0.6))
                    trunc = tok > 16000
                    res.append({"id": "%s-%d" % (bench, p), "problem_index": p, "sample_index": si, "answer": "42",
                                "response": "... \\boxed{42}" if ok else "...", "finish_reason": "length" if trunc else "stop",
                                "tokens": min(tok, 16384), "extracted": "42" if ok else None, "correct": ok, "attempts": 1,
                                "seconds": 1.5})
            # a later line for the same sample replaces the first
            res.append(dict(res[0], correct=not res[0]["correct"]))
            write_jsonl(os.path.join(e, "results.jsonl"), res)
            summ = {"data": bench, "model_name": "qwen2.5-0.5b-" + name, "n": n, "problems": np_, "samples_per_problem": n,
                    "samples": np_ * n, "samples_missing": 0, "complete": True, "correct": correct,
                    "pass@1": correct / (np_ * n), "pass@1_se": 0.05, "pass@k": {"1": correct / (np_ * n), "2": min(1, correct / (np_ * n) + 0.04)},
                    "maj@k": {"1": correct / (np_ * n), "2": correct / (np_ * n)}, "mean_tokens_correct": 2600, "mean_tokens_wrong": 5400,
                    "truncated_rate": 0.01, "no_answer_rate": 0.05, "a_field_from_the_future": {"x": [1, 2]}}
            if bench == "math500":
                summ["judge"] = {"pass@1": correct / (np_ * n) + 0.01, "pass@1_se": 0.05, "verdicts": np_ * n,
                                 "without_verdict": 0, "agreement": 0.97, "rule_correct_judge_wrong": 1,
                                 "rule_wrong_judge_correct": 2}
            with open(os.path.join(e, "summary.json"), "w") as f:
                json.dump(summ, f, indent=2)
        dirs.append(d)
    # a fit file
    fit = {"group": "math500", "law": "y = a + b ln x", "points": 3, "a": 62.9, "b": 3.37, "per_decade": 7.76, "r2": 0.98,
           "ci": {"level": 0.95, "method": "residual", "replicates": 200, "seed": 1, "per_decade": [7.0, 8.5]},
           "best_model": "log", "x_field": "train_length", "y_field": "pass@1",
           "data": [{"x": 1000, "y": 85.8}, {"x": 3000, "y": 90.2}, {"x": 12000, "y": 94.1}]}
    with open(os.path.join(root, "len12k", "math500.fit.json"), "w") as f:
        f.write(json.dumps(fit) + "\n")
    if with_broken:
        # an empty run dir and one with only a broken eval summary
        empty = os.path.join(root, "empty_run")
        os.makedirs(empty, exist_ok=True)
        broken = os.path.join(root, "broken_run")
        os.makedirs(os.path.join(broken, "eval"), exist_ok=True)
        with open(os.path.join(broken, "eval", "summary.json"), "w") as f:
            f.write('{"data": "math500", "pass@1": ')
        dirs += [empty, broken]
    return dirs


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "/tmp/l1k_report_fixture"
    print(" ".join(make(root)))
