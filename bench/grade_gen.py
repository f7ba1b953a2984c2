#!/usr/bin/env python3
"""Generates long reasoning responses for the grading benchmark (docs/bench/grade.md).

Each output line is {"gold", "pred", "label", "kind"}: gold is a MATH500 reference answer,
pred a whole response (a <think> block of ~1k tokens of reasoning with inline math and
intermediate results, then a short solution ending in an answer), label the intended verdict
and kind the rewrite applied to the answer. Equivalent rewrites: same text, \\dfrac/\\tfrac,
\\left...\\right, extra spaces, "x = ..." labels, units, decimals for terminating fractions,
thousands separators, reordered lists and sums. Wrong answers: off-by-one, a changed digit, a
flipped sign, another problem's answer. Deterministic (--seed). Standard library only.

    python3 bench/grade_gen.py --n 10000 --seed 1 --out /tmp/grade_bench.jsonl
"""
import argparse
import json
import random
import re
from fractions import Fraction

WORDS = ("we need to find the value so let us consider the case where the sum is equal to "
         "the product of the terms and then check whether the condition holds for every "
         "integer in the range notice that this simplifies nicely because the denominator "
         "cancels hence it follows that the remaining factor must be positive").split()


def sentence(rng):
    n = rng.randint(8, 22)
    words = [rng.choice(WORDS) for _ in range(n)]
    r = rng.random()
    if r < 0.35:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        words.insert(rng.randint(0, n), f"${a} + {b} = {a + b}$")
    elif r < 0.55:
        a, b = rng.randint(1, 20), rng.randint(2, 30)
        words.insert(rng.randint(0, n), f"$\\frac{{{a}}}{{{b}}}$")
    elif r < 0.65:
        words.insert(rng.randint(0, n), f"$x^2 - {rng.randint(1, 9)}x + {rng.randint(1, 9)} = 0$")
    elif r < 0.70:
        words.insert(rng.randint(0, n), f"\\boxed{{{rng.randint(1, 500)}}}")
    s = " ".join(words)
    return s[0].upper() + s[1:] + "."


def reasoning(rng, chars):
    out, total = [], 0
    while total < chars:
        para = " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
        if rng.random() < 0.2:
            para = "Wait, " + para[0].lower() + para[1:]
        out.append(para)
        total += len(para)
    return "\n\n".join(out)


def as_fraction(g):
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", g)
    if m:
        return Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
    if re.fullmatch(r"-?\d+", g):
        return Fraction(int(g))
    return None


def terminating_decimal(f):
    d = f.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return None
    s = f"{float(f):.10f}".rstrip("0").rstrip(".")
    return s if Fraction(s) == f else None


def equivalent(rng, g):
    """(pred answer, kind) equal to gold g"""
    f = as_fraction(g)
    options = [("same", g)]
    if not re.search(r"\d,", g):  # a space after a thousands comma would make a list
        options.append(("spaces", " ".join(g.replace(",", ", ").split())))
    if "\\frac" in g:
        options.append(("dfrac", g.replace("\\frac", "\\dfrac")))
    if f is not None and f.denominator == 1 and abs(f) >= 1000:
        options.append(("thousands", f"{int(f):,}"))
    if f is not None and f.denominator == 1:
        options += [("decimal .0", f"{int(f)}.0"), ("unit", f"{int(f)} \\text{{ units}}"),
                    ("label", f"x = {int(f)}")]
    if f is not None and f.denominator != 1:
        d = terminating_decimal(f)
        if d:
            options.append(("decimal", d))
        options.append(("slash", f"{f.numerator}/{f.denominator}"))
    if g.startswith("(") and g.endswith(")") or "\\left(" in g:
        inner = g.replace("\\left(", "(").replace("\\right)", ")")
        options.append(("left-right", inner))
    if re.fullmatch(r"-?\d+(, ?-?\d+)+", g) and not re.fullmatch(r"\d{1,3}(,\d{3})+", g):
        parts = [p.strip() for p in g.split(",")]
        rng.shuffle(parts)
        options.append(("reordered list", ", ".join(parts)))
    m = re.fullmatch(r"(-?\d+) ?([+-]) ?(\d+)i", g)
    if m:
        options.append(("complex reordered", f"{m.group(2) if m.group(2) == '-' else ''}{m.group(3)}i + {m.group(1)}"))
    if g.endswith("^\\circ"):
        options.append(("degrees dropped", g[: -len("^\\circ")]))
    kind, pred = rng.choice(options)
    return pred, kind


def wrong(rng, g, golds):
    f = as_fraction(g)
    r = rng.random()
    if f is not None and f.denominator == 1 and r < 0.5:
        return str(int(f) + rng.choice((-1, 1))), "off by one"
    if f is not None and f != 0 and r < 0.7:
        return ("-" + g) if not g.startswith("-") else g[1:], "sign"
    digits = [i for i, c in enumerate(g) if c.isdigit()]
    if "\\text" in g or "\\mbox" in g:  # digits of a unit (cm^2) do not change the value
        digits = []
    if digits and r < 0.85:
        i = rng.choice(digits)
        nd = str((int(g[i]) + rng.randint(1, 8)) % 10)
        p = g[:i] + nd + g[i + 1:]
        if p != g:
            return p, "digit"
    other = rng.choice(golds)
    while other == g:
        other = rng.choice(golds)
    return other, "other answer"


def response(rng, answer, chars):
    think = reasoning(rng, chars)
    tail = reasoning(rng, 300)
    r = rng.random()
    if r < 0.8:
        final = f"Therefore, the final answer is $\\boxed{{{answer}}}$."
    elif r < 0.9:
        final = f"**Final Answer**\n\\[\n\\boxed{{{answer}}}\n\\]"
    else:
        final = f"The answer is ${answer}$."
    return f"<think>\n{think}\n</think>\n\n{tail}\n\n{final}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chars", type=int, default=4000, help="mean length of the reasoning part")
    ap.add_argument("--golds", default="data/benchmarks/math500.jsonl")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    golds = [json.loads(l)["answer"] for l in open(a.golds, encoding="utf-8")]
    with open(a.out, "w", encoding="utf-8") as f:
        for _ in range(a.n):
            g = rng.choice(golds)
            if rng.random() < 0.6:
                p, kind = equivalent(rng, g)
                label = True
            else:
                p, kind = wrong(rng, g, golds)
                label = False
            chars = max(500, int(rng.gauss(a.chars, a.chars / 3)))
            rec = {"gold": g, "pred": response(rng, p, chars), "label": label, "kind": kind}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
