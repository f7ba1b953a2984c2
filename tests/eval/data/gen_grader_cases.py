#!/usr/bin/env python3
"""Builds the grader's own test set: tests/eval/data/grader_cases.{dev,heldout}.jsonl.

Every case is {gold, pred, equal, source, reason}. Sources:
  * the test suites of Math-Verify, lighteval, NeMo-Skills and MARIO_EVAL
    (grader_tests_cases.json, mined by mine_grader_tests.py at the commits recorded there),
    minus the pairs already in ../shared/eval/grader_cases.dev.jsonl;
  * the conventions written in other graders' code, as cases: PRM800K's grader
    (openai/prm800k prm800k/grading/grader.py @7ecc794: units, mixed numbers, million, "or"),
    lm-evaluation-harness' minerva_math normalization (lm_eval/tasks/minerva_math/utils.py:
    SUBSTITUTIONS, REMOVED_EXPRESSIONS), Qwen2.5-Math's grader (evaluation/grader.py @a45202b),
    OpenAI simple-evals' equality examples (common.py @ee3b031, EQUALITY_TEMPLATE);
  * MATH500 gold answers (../shared/eval/math500.jsonl, HuggingFaceH4/MATH-500) with answers
    phrased as models write them: final-answer phrases, think blocks, boxed forms, equivalent
    forms (decimals rounded from the exact value, other LaTeX), and wrong answers (a digit off,
    reciprocals, swapped coordinates, a wrong rounded digit).

`equal` is what a careful human grader of MATH/AIME answers decides; where a source's own
expectation differs (a non-default configuration of Math-Verify, a string-only grader), the
case says so in `reason`.

The split is fixed by hash: FNV-1a 64 of gold + "\\x00" + pred; a case is held out when the
hash modulo 3 is 0. The held-out part is only measured, never tuned on.

    python3 tests/eval/data/gen_grader_cases.py [--shared ../shared]

Python standard library only (3.8+). Made with python 3.11.
"""
import argparse
import fractions
import json
import math
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def case(gold, pred, equal, source, reason):
    return {"gold": gold, "pred": pred, "equal": bool(equal), "source": source, "reason": reason}


# ----------------------------------------------------------------------------- graders' test suites
# A careful human grader's verdict where a suite's own test expects something else because of
# a configuration a MATH grader does not use (keyed by repo file:line).
OVERRIDES = {
    # strict=False makes f(x) = f(y); a grader of answers keeps variables apart
    "huggingface/Math-Verify tests/test_strict.py:8": (
        False, "strict=False is a Math-Verify option that identifies all variables; f(x) and f(y) "
        "are different answers"),
}


def suite_cases():
    d = json.load(open(os.path.join(HERE, "grader_tests_cases.json"), encoding="utf-8"))
    out = []
    for c in d["cases"]:
        commit = d["commits"][c["repo"]][:7]
        key = f"{c['repo']} {c['file']}:{c['line']}"
        src = f"{c['repo']}@{commit} {c['file']}:{c['line']} ({c['test']})"
        if key in OVERRIDES:
            eq, why = OVERRIDES[key]
            out.append(case(c["gold"], c["pred"], eq, src, "differs from the suite's expectation: " + why))
            continue
        if c["config"].get("strict") is False:
            continue
        cfg = ", ".join(f"{k}={v}" for k, v in c["config"].items() if k not in ("call", "language"))
        why = "the suite's test expects " + ("equal" if c["expected"] else "different")
        if cfg:
            why += f" (with {cfg})"
        out.append(case(c["gold"], c["pred"], c["expected"], src, why))
    return out


# ----------------------------------------------------------------------------- other graders
PRM = "openai/prm800k@7ecc794 prm800k/grading/grader.py"
MINERVA = "EleutherAI/lm-evaluation-harness lm_eval/tasks/minerva_math/utils.py"
QWEN = "QwenLM/Qwen2.5-Math@a45202b evaluation/grader.py"
SIMPLE = "openai/simple-evals@ee3b031 common.py (EQUALITY_TEMPLATE)"


def convention_cases():
    c = []
    # PRM800K: unit words dropped (_normalize's unit list), "million", mixed numbers, " or "
    for unit, n in [("degrees", 45), ("cm", 12), ("centimeters", 7), ("meters", 150), ("miles", 3),
                    ("seconds", 90), ("minutes", 25), ("hours", 6), ("days", 4), ("weeks", 10),
                    ("months", 18), ("years", 21), ("feet", 64), ("inches", 30), ("yards", 5)]:
        c.append(case(str(n), f"{n} {unit}", 1, PRM + " _normalize (unit list)",
                      f"a unit word after the number is dropped ({unit})"))
        c.append(case(str(n), f"{n + 1} {unit}", 0, PRM + " _normalize (unit list)",
                      "the number differs; the unit does not make it equal"))
    c += [
        case("2.5", "2 1/2", 1, PRM + " _inject_implicit_mixed_number", "mixed number 2 1/2 = 2.5, not 2 x 1/2"),
        case("\\frac{31}{4}", "7 3/4", 1, PRM + " _inject_implicit_mixed_number", "7 3/4 is the mixed number 31/4"),
        case("1.5", "1 \\frac{1}{2}", 1, PRM + " _parse_latex (mixed numbers)", "1 \\frac12 is the mixed number 3/2"),
        case("\\frac{1}{2}", "1 1/2", 0, PRM + " _inject_implicit_mixed_number", "1 1/2 is 3/2, never the product 1/2"),
        case("-3.5", "-3 \\frac{1}{2}", 1, PRM + " _normalize (mixed numbers and negative signs)",
             "a negative mixed number negates the whole number"),
        case("3000000", "3 million", 1, PRM + " _normalize (million)", "million is 10^6"),
        case("2, 3", "2 \\text{ or } 3", 1, PRM + " _normalize (' or ' -> ',')", "'or' separates the answers"),
        case("1, -4", "1 and -4", 1, PRM + " _normalize (' and ' -> ',')", "'and' separates the answers"),
        case("12345", "12,345", 1, PRM + " _strip_properly_formatted_commas", "thousands separator"),
        case("(12, 345)", "12,345", 0, PRM + " _strip_properly_formatted_commas",
             "a number with a thousands separator is not a pair"),
        case("\\text{(C)}", "C", 1, PRM + " _normalize (enclosing \\text{})", "\\text{} around the answer is dropped"),
        case("\\text{Monday}", "monday", 1, PRM + " _normalize (lower case)", "text answers ignore case"),
        case("50\\%", "50", 1, PRM + " _normalize (\\% dropped)", "a percent sign is dropped"),
        case("\\$32", "32", 1, PRM + " _normalize (\\$ dropped)", "a dollar sign is dropped"),
        case("90", "90^\\circ", 1, PRM + " _normalize (^\\circ dropped)", "degrees sign dropped"),
        case("5", "5.0", 1, PRM + " _normalize (float that is an int)", "5.0 is the integer 5"),
        case("5", "5.01", 0, PRM + " grade_answer", "5.01 is not 5"),
        case("(1,2)", "(2,1)", 0, PRM + " split_tuple", "tuples are ordered"),
        case("(1,2)", "(1, 2)", 1, PRM + " split_tuple", "spacing in a tuple"),
        case("[1,2)", "(1,2)", 0, PRM + " grade_answer (interval ends)", "open and closed ends differ"),
    ]
    # minerva: SUBSTITUTIONS / REMOVED_EXPRESSIONS / split on "="
    for word, n in [("square units", 24), ("ways", 120), ("integers", 9), ("dollars", 15), ("mph", 55),
                    ("points", 7), ("digits", 4), ("cents", 35), ("pounds", 8), ("students", 30),
                    ("edges", 12), ("meals", 6), ("multiples", 11), ("km", 42), ("units", 16)]:
        c.append(case(str(n), f"{n}\\text{{ {word}}}", 1, MINERVA + " REMOVED_EXPRESSIONS",
                      f"the word '{word}' after the number is dropped"))
    c += [
        case("4", "x = 4", 1, MINERVA + " normalize_final_answer (split on '=')", "a variable label is dropped"),
        case("2,3", "2\\text{ and }3", 1, MINERVA + " SUBSTITUTIONS (\\text{and} -> ',')", "'and' between answers"),
        case("1000000", "1{,}000{,}000", 1, MINERVA + " REMOVED_EXPRESSIONS ('{,}')", "braced thousands separators"),
        case("1000000", "1,\\!000,\\!000", 1, MINERVA + " REMOVED_EXPRESSIONS (',\\!')", "thin-space thousands separators"),
        case("3", "3^{\\circ}", 1, MINERVA + " REMOVED_EXPRESSIONS ('^{\\circ}')", "degrees sign dropped"),
        case("21", "21^{\\mathrm{th}}", 1, MINERVA + " REMOVED_EXPRESSIONS ('\\mathrm{th}')", "ordinal suffix dropped"),
        case("\\frac{2}{3}", "\\dfrac{2}{3}", 1, MINERVA + " normalize_final_answer (dfrac)", "\\dfrac is \\frac"),
        case("\\sqrt{3}", "\\sqrt3", 1, MINERVA + " normalize_final_answer (sqrt without braces)", "\\sqrt3 is \\sqrt{3}"),
        case("\\frac{1}{2}", "\\frac12", 1, MINERVA + " normalize_final_answer (frac without braces)", "\\frac12 is 1/2"),
        case("\\frac{1}{2}", "\\frac21", 0, MINERVA + " normalize_final_answer (frac without braces)", "\\frac21 is 2"),
        case("0.5", "\\frac{1}{2}", 1, MINERVA + " is_equiv (sympy equality)", "0.5 = 1/2 exactly"),
        case("5", "\\$5.00", 1, MINERVA + " SUBSTITUTIONS ('\\$' removed)", "money written with cents"),
    ]
    # Qwen2.5-Math grader
    c += [
        case("0.0833333333333333", "\\frac{1}{12}", 1, QWEN + " _test_math_equal", "a long decimal of 1/12"),
        case("\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}", 1, QWEN + " _test_math_equal", "same expression"),
        case("50", "50\\%", 1, QWEN + " math_equal (percentage: x, x/100, x*100)", "percent of the same number"),
        case("0.5", "50\\%", 1, QWEN + " math_equal (percentage: x, x/100, x*100)", "50% is 0.5"),
        case("0.5", "51\\%", 0, QWEN + " math_equal (percentage)", "51% is not 0.5"),
        case("\\text{(A)}", "A", 1, QWEN + " math_equal (choice answers)", "the letter of a choice"),
        case("x=2", "2", 1, QWEN + " math_equal (equation against a value)", "x = 2 has the value 2"),
        case("y = 2x + 3", "2x + 3", 1, QWEN + " math_equal (equation against an expression)", "label y ="),
        case("(1, 2)", "[1, 2]", 0, QWEN + " math_equal (interval brackets kept)", "open vs closed interval"),
        case("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1, 2)", 1, QWEN + " math_equal (pmatrix vs tuple)",
             "a column vector written as a tuple"),
        case("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}",
             1, QWEN + " math_equal (pmatrix/bmatrix)", "same matrix, other brackets"),
        case("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}",
             0, QWEN + " math_equal (matrices elementwise)", "transposed matrix"),
        case("2x^2+4x", "2x(x+2)", 1, QWEN + " symbolic_equal", "factored form"),
        case("2x^2+4x", "2x(x+4)", 0, QWEN + " symbolic_equal", "different polynomial"),
        case("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}", 1, QWEN + " symbolic_equal", "same number"),
        case("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", 1, QWEN + " symbolic_equal", "rationalized denominator"),
    ]
    # verl: canonical integers (tests/utils/reward_score/test_numeric_canonicalization_on_cpu.py)
    VERL = "volcengine/verl@d69068d tests/utils/reward_score/test_numeric_canonicalization_on_cpu.py (test_is_equiv_boxed)"
    c += [
        case("\\boxed{033}", "33", 1, VERL, "leading zeros: the same integer"),
        case("\\boxed{+033}", "33", 1, VERL, "a plus sign and leading zeros"),
        case("\\boxed{-0}", "0", 1, VERL, "-0 is 0"),
        case("\\boxed{000}", "0", 1, VERL, "000 is 0"),
    ]
    # MindSpeed-RL's grader test (tests/ut/utils/test_grader.py)
    MS = "codemayq/MindSpeed-RL@9312f4f tests/ut/utils/test_grader.py (test_math_equal)"
    c += [
        case("x+1", "x+1", 1, MS, "the same expression"),
        case("x+1", "x+2", 0, MS, "different constant"),
        case("1", "1.0", 1, MS, "1.0 is 1"),
        case("1", "1.0001", 0, MS, "the test expects equal (relative tolerance 1e-4); a careful grader of exact "
             "answers does not: 1.0001 is not 1"),
        case("1", "1.1", 0, MS, "1.1 is not 1"),
    ]
    c += [
        case("33.3", "\\frac{100}{3}", 1, QWEN + " _test_math_equal (commented example)",
             "a decimal gold is 100/3 rounded to the digits shown"),
        case("-34x-45y+20z-100=0", "34x+45y-20z+100=0", 1, QWEN + " _test_math_equal (commented example)",
             "the same plane, both sides negated"),
        case("-\\frac{2(x^2+6)}{9(x^2-2)\\sqrt[3]{x^2-2}^2}",
             "-\\frac{8x^2}{9(x^2-2)^{5/3}}+\\frac{2}{3(x^2-2)^{2/3}}", 1,
             QWEN + " _test_math_equal (commented example)", "the same derivative, simplified differently"),
    ]
    # s1's answer-matching prompt (from simple-evals): each option against the attempt; the
    # option the prompt's example picks is equal, the others are not
    S1 = ("simplescaling/s1 eval/lm-evaluation-harness/lm_eval/tasks/aime/utils.py "
          "(EXTRACTION_TEMPLATE_IDX examples)")
    for opt in ["2x+4", "2x", "4x"]:
        c.append(case(opt, "The answer is 3+2x.", 0, S1, "the attempt 3+2x is none of the options"))
    c.append(case("x=5", "5", 1, S1, "the label x = is dropped"))
    c.append(case("(1,-3)", "-2, 1", 0, S1, "the example matches (1,-2), not (1,-3)"))
    c.append(case("42", "...So the answer is 42. ...So the answer is 42. ...So the answer is 42.", 1, S1,
                  "repeated final answers"))
    for opt, eq in [("100", 0), ("200", 0), ("150", 1)]:
        c.append(case(opt, "...Therefore, the final answer is $\\boxed{150}$.", eq, S1, "the boxed final answer is 150"))
    for opt, eq in [("11", 0), ("100", 0), ("12", 1), ("10", 0)]:
        c.append(case(opt, "...$\\boxed{12^{\\mathrm{th}}}$.", eq, S1, "12th is the ordinal 12"))
    c.append(case("2516_8", "2516", 1, S1, "the digits in the question's base (benefit of the doubt)"))
    c.append(case("11,\\! 111,\\! 111,\\! 100", "11111111100", 1, S1, "thousands separators"))
    c.append(case("\\text{Navin}", "...it is navin.", 1, S1, "a text answer at the end of the sentence"))
    # simple-evals: the equality checker's own examples
    c += [
        case("$2x+3$", "$3+2x$", 1, SIMPLE, "example: Yes"),
        case("3/2", "1.5", 1, SIMPLE, "example: Yes"),
        case("$x^2+2x+1$", "$y^2+2y+1$", 0, SIMPLE, "example: No (different variables)"),
        case("$x^2+2x+1$", "$(x+1)^2$", 1, SIMPLE, "example: Yes"),
        case("3245/5", "649", 1, SIMPLE, "example: Yes (simple computation)"),
        case("2/(-3)", "-2/3", 1, SIMPLE, "example: Yes"),
        case("72 degrees", "72", 1, SIMPLE, "example: Yes (units dropped)"),
        case("64", "64 square feet", 1, SIMPLE, "example: Yes (units dropped)"),
    ]
    return c


# ----------------------------------------------------------------------------- MATH500
def gold_value(a):
    """Exact value of simple MATH500 golds: (kind, value) with kind 'int', 'frac', 'real'."""
    a = a.strip()
    if re.fullmatch(r"-?\d+", a):
        return "int", fractions.Fraction(int(a))
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", a)
    if m:
        v = fractions.Fraction(int(m.group(2)), int(m.group(3)))
        return "frac", -v if m.group(1) else v
    m = re.fullmatch(r"(\d*)\\sqrt\{?(\d+)\}?", a)
    if m:
        k = int(m.group(1)) if m.group(1) else 1
        return "real", k * math.sqrt(int(m.group(2)))
    m = re.fullmatch(r"\\frac\{(\d*)\\sqrt\{(\d+)\}\}\{(\d+)\}", a)
    if m:
        k = int(m.group(1)) if m.group(1) else 1
        return "real", k * math.sqrt(int(m.group(2))) / int(m.group(3))
    m = re.fullmatch(r"(\d*)\\pi", a)
    if m:
        return "real", (int(m.group(1)) if m.group(1) else 1) * math.pi
    m = re.fullmatch(r"\\frac\{(\d*)\\pi\}\{(\d+)\}", a)
    if m:
        return "real", (int(m.group(1)) if m.group(1) else 1) * math.pi / int(m.group(2))
    return None, None


def rounded(v, sig):
    """The decimal string of v rounded to `sig` significant digits (at least one place)."""
    v = float(v)
    if v == 0:
        return None
    e = math.floor(math.log10(abs(v)))
    places = max(1, sig - 1 - e)
    return f"{v:.{places}f}"


def off_by_last_digit(s):
    d = int(s[-1])
    return s[:-1] + str((d + 3) % 10 if d != 7 else 2)


PHRASES = [
    ("answer phrase", "We simplify step by step.\n\nTherefore, the answer is ${}$."),
    ("final answer, boxed", "Let's check the computation once more.\n\nThe final answer is $\\boxed{{{}}}$. I hope it is correct."),
    ("think block then box", "<think>\nFirst try: maybe 17? No, recompute.\n</think>\n\nSo the result is $\\boxed{{{}}}$."),
    ("bold final answer heading", "Putting everything together.\n\n**Final Answer**\n\\[\n\\boxed{{{}}}\n\\]"),
    ("Answer: line", "Adding the two cases gives the total.\n\nAnswer: {}"),
    ("boxed in display math", "Hence\n\\[ \\boxed{{{}}} \\]"),
]


def math500_cases(shared):
    path = os.path.join(shared, "eval", "math500.jsonl")
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    out = []
    src0 = "HuggingFaceH4/MATH-500 test.jsonl (../shared/eval/math500.jsonl line {})"
    for i, r in enumerate(rows):
        line = i + 1
        gold = r["answer"]
        src = src0.format(line)
        pname, phrase = PHRASES[i % len(PHRASES)]
        # every gold: the gold itself in a model's phrasing
        if i % 2 == 0 and len(gold) < 120:
            out.append(case(gold, phrase.format(gold), 1, src + "; phrasing: " + pname,
                            "the gold answer, stated as models state it"))
        kind, v = gold_value(gold)
        if kind is None:
            continue
        if kind == "int":
            n = int(v)
            if i % 3 == 0:
                out.append(case(gold, phrase.format(str(n + 1)), 0, src + "; phrasing: " + pname,
                                "a different integer (off by one)"))
            if abs(n) >= 1000 and i % 2 == 1:
                out.append(case(gold, f"So there are ${n:,}$ in all.", 1, src + "; thousands separators",
                                "the same integer with thousands separators"))
            if i % 5 == 1 and n > 1:
                out.append(case(gold, f"The answer is {n}.0", 1, src + "; decimal point",
                                "the integer written with a zero decimal"))
        elif kind == "frac":
            num, den = v.numerator, v.denominator
            out.append(case(gold, phrase.format(f"{num}/{den}"), 1, src + "; plain fraction; " + pname,
                            "the same fraction written a/b"))
            if num != den:
                out.append(case(gold, phrase.format(f"\\frac{{{den}}}{{{num}}}"), 0, src + "; reciprocal",
                                "the reciprocal is a different number"))
            dec = rounded(v, 4)
            terminating = all(p in (2, 5) for p in _prime_factors(den))
            if dec and not terminating:
                out.append(case(gold, phrase.format(dec), 1, src + "; decimal rounded to 4 significant digits",
                                "a decimal equals an exact value that rounds to it at the digits shown"))
                out.append(case(gold, phrase.format(off_by_last_digit(dec)), 0, src + "; wrong last digit",
                                "a shown digit is wrong: not the exact value rounded"))
        else:
            dec = rounded(v, 5 if i % 2 else 4)
            out.append(case(gold, phrase.format(dec), 1, src + "; decimal rounded from the exact value",
                            "a decimal equals an exact irrational value that rounds to it at the digits shown"))
            out.append(case(gold, phrase.format(off_by_last_digit(dec)), 0, src + "; wrong last digit",
                            "a shown digit is wrong: not the exact value rounded"))
    return out


def _prime_factors(n):
    f, p = [], 2
    while p * p <= n:
        while n % p == 0:
            f.append(p)
            n //= p
        p += 1
    if n > 1:
        f.append(n)
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "..", "shared"))
    a = ap.parse_args()
    cases = suite_cases() + convention_cases() + math500_cases(a.shared)
    cases += [c for c in hand_cases()]
    dev_pairs = set()
    for l in open(os.path.join(a.shared, "eval", "grader_cases.dev.jsonl"), encoding="utf-8"):
        r = json.loads(l)
        dev_pairs.add((str(r["gold"]), str(r["pred"])))
    seen, parts = set(), {"dev": [], "heldout": []}
    for c in cases:
        key = (c["gold"], c["pred"])
        if key in seen or key in dev_pairs:
            continue
        seen.add(key)
        part = "heldout" if fnv1a64(c["gold"] + "\x00" + c["pred"]) % 3 == 0 else "dev"
        parts[part].append(c)
    for name, rows in parts.items():
        with open(os.path.join(HERE, f"grader_cases.{name}.jsonl"), "w", encoding="utf-8") as f:
            for c in rows:
                f.write(json.dumps(c, ensure_ascii=False) + "\n")
        print(name, len(rows))


from hand_cases import hand_cases  # noqa: E402  (next to this file)

if __name__ == "__main__":
    main()
