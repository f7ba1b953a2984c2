#!/usr/bin/env python3
"""Generate a synthetic pool of solved math problems for `long1k synth` tests and benchmarks.

Python standard library only. Every problem is unique (it carries its own numbers) unless
--dups/--near-dups/--contaminate ask for planted duplicates, near-duplicates or copies of
evaluation problems. Each record's answer is known, so tests can check the composed samples.

  synth_gen_pool.py --schema openthoughts --n 200 --out pool.jsonl [--gzip]
      [--reason-words MEAN] [--seed S] [--dups N] [--near-dups N] [--contaminate FILE:N]
      [--bad N] [--answers-out FILE]

Schemas: openthoughts (system + conversations with thought/solution tags),
openthoughts-metadata, s1k, fields (keys q, trace, sol, ans, level, subject, uid).
--answers-out writes {"id", "problem", "answer", "difficulty", "domain", "kind"} per record
(id = file basename:line for the schemas without an id field, uid for `fields`).
"""
import argparse
import gzip
import json
import math
import os
import random

SYSTEM = ("Your role as an assistant involves thoroughly exploring questions through a "
          "systematic long thinking process before providing the final precise and accurate "
          "solutions.")

STEPS = [
    "Let me compute {a} + {b} first, which gives {s}.",
    "So far the running value is {s}; let me double-check it by subtracting {b} again.",
    "Hmm, wait. Let me recheck the arithmetic: {a} times {c} is {p}.",
    "Alternatively, I could factor the expression as {c}({a} + {b}) and expand it.",
    "Now \\frac{{{a}}}{{{c}}} is about {q:.4f}, which is not an integer, so I keep the fraction.",
    "Let me verify with a smaller case: if the numbers were {c} and {b}, the pattern still holds.",
    "The condition says the result must be positive, and {s} > 0, so that is consistent.",
    "I think the cleanest way is to write $x = {a}$ and $y = {b}$ and substitute.",
    "Then $x^2 + y^2 = {sq}$, and I should not forget the cross term $2xy = {xy}$.",
    "Wait, that gives a different value than before. Let me go back and check step by step.",
    "OK, both routes agree now, so the computation is right.",
    "Let me reconsider the problem statement once more to make sure I read it correctly.",
]


def words_of(text):
    return len(text.split())


def make_problem(rng, i, difficulty):
    a = 1000 + 7 * i + rng.randint(0, 6)  # unique per record: no accidental near-duplicates
    b = rng.randint(10, 99999)
    c = rng.randint(2, 97)
    kind = rng.choice(["sum", "frac", "prod"])
    if kind == "sum":
        problem = (f"Problem {i}: A warehouse holds {a} crates and receives {b} more, then ships "
                   f"out {c} crates. How many crates remain in the warehouse afterwards?")
        answer = str(a + b - c)
    elif kind == "frac":
        g = math.gcd(a, c)
        problem = (f"Problem {i}: Simplify the fraction $\\frac{{{a}}}{{{c}}}$ and write it in "
                   f"lowest terms, given that the denominator is {c} and the numerator {a}.")
        answer = f"\\frac{{{a // g}}}{{{c // g}}}" if c // g != 1 else str(a // g)
    else:
        problem = (f"Problem {i}: What is the product of {a} and {c}, increased by {b}? Give "
                   f"the exact integer value of the expression {a} times {c} plus {b}.")
        answer = str(a * c + b)
    return problem, answer, (a, b, c)


def make_reasoning(rng, nums, words):
    a, b, c = nums
    vals = dict(a=a, b=b, c=c, s=a + b, p=a * c, q=a / c, sq=a * a + b * b, xy=2 * a * b)
    out = ["Okay, let me read the problem carefully and figure out what is being asked."]
    n = words_of(out[0])
    while n < words:
        s = rng.choice(STEPS).format(**vals)
        out.append(s)
        n += words_of(s)
    return " ".join(out)


def make_solution(problem, answer):
    return ("To solve this, we set up the computation directly from the statement.\n\n"
            "Carrying out the arithmetic carefully step by step gives the result.\n\n"
            f"Therefore the answer is $\\boxed{{{answer}}}$.")


def record(schema, problem, reasoning, solution, answer, difficulty, domain, uid):
    if schema == "openthoughts":
        value = ("<|begin_of_thought|>\n\n" + reasoning + "\n\n<|end_of_thought|>\n\n"
                 "<|begin_of_solution|>\n\n" + solution + "\n\n<|end_of_solution|>")
        # as in OpenThoughts-114k, the user turn starts with the boxed-answer instruction
        user = "Return your final response within \\boxed{}. " + problem
        return {"system": SYSTEM, "conversations": [{"from": "user", "value": user},
                                                    {"from": "assistant", "value": value}]}
    if schema == "openthoughts-metadata":
        return {"problem": problem, "deepseek_reasoning": reasoning, "deepseek_solution": solution,
                "ground_truth_solution": solution, "domain": domain, "source": "synthetic"}
    if schema == "s1k":
        return {"question": problem, "solution": answer, "cot_type": domain,
                "source_type": "synthetic", "metadata": "{}", "gemini_thinking_trajectory": "",
                "gemini_attempt": "", "deepseek_thinking_trajectory": reasoning,
                "deepseek_attempt": solution}
    if schema == "fields":
        return {"uid": uid, "q": problem, "trace": reasoning, "sol": solution, "ans": answer,
                "level": f"Level {difficulty}", "subject": domain}
    raise SystemExit(f"unknown schema {schema}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", default="openthoughts")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--reason-words", type=float, default=300.0,
                    help="mean words of reasoning (lognormal spread)")
    ap.add_argument("--spread", type=float, default=0.5, help="lognormal sigma")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dups", type=int, default=0, help="exact duplicates to plant")
    ap.add_argument("--near-dups", type=int, default=0, help="near duplicates to plant")
    ap.add_argument("--contaminate", default=None, help="FILE:N copy N problems of FILE")
    ap.add_argument("--bad", type=int, default=0, help="malformed lines to plant")
    ap.add_argument("--no-answer", type=int, default=0, help="records without a boxed answer")
    ap.add_argument("--difficulty-words", action="store_true",
                    help="harder problems get longer reasoning (for the difficulty study)")
    ap.add_argument("--answers-out", default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = os.path.basename(args.out)
    contam = []
    if args.contaminate:
        path, n = args.contaminate.rsplit(":", 1)
        with open(path) as f:
            evals = [json.loads(l) for l in f if l.strip()]
        contam = [e.get("problem") or e.get("question") for e in evals[: int(n)]]
    opener = (lambda p: gzip.open(p, "wt", encoding="utf-8", compresslevel=1)) if args.gzip else \
        (lambda p: open(p, "w", encoding="utf-8"))
    answers = []
    planted = []  # (kind, problem) to insert
    with opener(args.out) as f:
        line = 0
        total = args.n
        # positions for planted records (after the original they copy)
        extra_at = sorted(rng.sample(range(total // 2, total), min(total // 2, args.dups + args.near_dups + len(contam) + args.bad + args.no_answer))) if total > 1 else []
        kinds = (["dup"] * args.dups + ["near"] * args.near_dups + ["contam"] * len(contam) +
                 ["bad"] * args.bad + ["noans"] * args.no_answer)
        rng.shuffle(kinds)
        extra = dict(zip(extra_at, kinds))
        made = []
        ci = 0
        for i in range(total):
            difficulty = rng.randint(1, 5)
            domain = rng.choice(["math", "math", "math", "science"])
            problem, answer, nums = make_problem(rng, i, difficulty)
            mean = args.reason_words * (0.4 + 0.3 * difficulty if args.difficulty_words else 1.0)
            words = max(20, int(rng.lognormvariate(math.log(mean), args.spread)))
            reasoning = make_reasoning(rng, nums, words)
            solution = make_solution(problem, answer)
            kind = "orig"
            k = extra.get(i)
            if k == "dup" and made:
                problem, answer = rng.choice(made)
                solution = make_solution(problem, answer)
                kind = "dup"
            elif k == "near" and made:
                p0, answer = rng.choice(made)
                problem = p0 + " Explain."
                solution = make_solution(problem, answer)
                kind = "near"
            elif k == "contam":
                problem = contam[ci]
                if ci % 2:  # wrapped: caught by a shared 13-gram, not by equal text
                    problem = "Here is a question from a contest. " + problem + " Show your work."
                ci += 1
                kind = "contam"
            elif k == "bad":
                line += 1
                f.write('{"problem": "broken record", "deepseek_reasoning": \n')
                answers.append({"id": f"{base}:{line}", "kind": "bad"})
                continue
            elif k == "noans":
                solution = "We cannot write a single final value here; see the argument above."
                kind = "noans"
            uid = f"u{i}"
            rec = record(args.schema, problem, reasoning, solution, answer, difficulty, domain, uid)
            if kind == "noans" and args.schema == "fields":
                del rec["ans"]
            line += 1
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            rid = uid if args.schema == "fields" else f"{base}:{line}"
            answers.append({"id": rid, "problem": problem, "answer": answer,
                            "difficulty": difficulty, "domain": domain, "kind": kind})
            if kind == "orig":
                made.append((problem, answer))
    if args.answers_out:
        with open(args.answers_out, "w") as f:
            for a in answers:
                f.write(json.dumps(a) + "\n")


if __name__ == "__main__":
    main()
