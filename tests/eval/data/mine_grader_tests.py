#!/usr/bin/env python3
"""Mines the (gold, pred, expected) cases of public graders' test suites for the grader's own
test set (gen_grader_cases.py reads the output, grader_tests_cases.json). Standard library
only: the test files are read with `ast`, never imported.

    python3 tests/eval/data/mine_grader_tests.py REPO=CHECKOUT@COMMIT ... > mined.json

with REPO one of the names in SUITES. The committed grader_tests_cases.json was made from
    huggingface/Math-Verify @5d148cfaaf99214c2e4ffb4bc497ab042c592a7a
    huggingface/lighteval @3fd15266bc8448b797e61462d293aa3fd40b3580
    NVIDIA/NeMo-Skills @0b012df8a09cd4730d31b16e90a0d8f13d145fb8
    MARIO-Math-Reasoning/MARIO_EVAL @13584f20b71ffc6e9873e86481054849ed015065
    hendrycks/math @5f3bf91d13367550bed100240554fd11c25abe48
(python 3.11; tabs in hendrycks' file were expanded to spaces before parsing).
"""
import ast
import json
import sys

SUITES = {
    "huggingface/Math-Verify": ["tests/test_all.py", "tests/test_numina_cases.py", "tests/test_open_thoughts.py",
                                "tests/test_yujianll.py", "tests/test_boxed.py", "tests/test_strict.py"],
    "huggingface/lighteval": ["tests/unit/metrics/test_extractive_match.py"],
    "NVIDIA/NeMo-Skills": ["tests/test_math_equal.py"],
    "MARIO-Math-Reasoning/MARIO_EVAL": ["math_evaluation/tests/test_is_equiv.py"],
    "hendrycks/math": ["modeling/math_equivalence_test.py"],
}


def const(node):
    try:
        return ast.literal_eval(node)
    except Exception:
        return None


def text(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return repr(v)
    return v if isinstance(v, str) else None


def parametrized(tree):
    """pytest: @parametrize("gold,pred,expected", [...]) and NeMo's ("output_pair", [...])."""
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                continue
            names = [s.strip() for s in const(dec.args[0]).split(",")]
            for elt in dec.args[1].elts:
                vals = [const(e) for e in elt.elts] if isinstance(elt, ast.Tuple) else None
                if not vals:
                    continue
                if names == ["output_pair"] or len(names) == 1:  # NeMo: pairs, verdict from the test name
                    if len(vals) != 2 or "correct" not in fn.name:
                        continue
                    eq = not fn.name.startswith("test_incorrect")
                    g, p = text(vals[0]), text(vals[1])
                    if g is not None and p is not None:
                        yield g, p, eq, elt.lineno, fn.name, {}
                        yield p, g, eq, elt.lineno, fn.name + " (reversed: the test checks both orders)", {}
                    continue
                if len(vals) != len(names) or "gold" not in names or "pred" not in names:
                    continue
                row = dict(zip(names, vals))
                exp = row.get("expected", row.get("result"))
                g, p = text(row["gold"]), text(row["pred"])
                if g is None or p is None or exp is None:
                    continue
                extra = {k: v for k, v in row.items() if k not in ("gold", "pred", "expected", "result")}
                yield g, p, bool(exp), elt.lineno, fn.name, extra


def in_order(stmts):
    """statements and the calls inside them, in source order (ast.walk is breadth-first)"""
    for st in stmts:
        yield st
        for field in ("body", "orelse", "finalbody"):
            yield from in_order(getattr(st, field, []) or [])


def unittest_pairs(tree):
    """MARIO: test_in = ...; test_out = ...; assertTrue(_test_is_equiv(...)) or
    assertFalse(_test_is_not_equiv(...)) / assertFalse(is_equiv(...)), in source order."""
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test"):
            continue
        cur = {}
        for st in in_order(fn.body):
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                v = const(st.value)
                cur[st.targets[0].id] = v if isinstance(v, str) else None
                continue
            node = st.value if isinstance(st, ast.Expr) else None
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("assertTrue", "assertFalse")):
                continue
            inner = node.args[0] if node.args else None
            if not isinstance(inner, ast.Call):
                continue
            fname = getattr(inner.func, "id", getattr(inner.func, "attr", ""))
            if fname not in ("_test_is_equiv", "_test_is_not_equiv", "is_equiv"):
                continue
            if not cur.get("test_in") or not cur.get("test_out"):
                continue
            truth = node.func.attr == "assertTrue"
            yield cur["test_in"], cur["test_out"], truth, node.lineno, fn.name, {"call": fname}


def main():
    rows, commits = [], {}
    for arg in sys.argv[1:]:
        repo, rest = arg.split("=", 1)
        root, commit = rest.rsplit("@", 1)
        commits[repo] = commit
        for rel in SUITES[repo]:
            tree = ast.parse(open(f"{root}/{rel}", encoding="utf-8").read())
            gen = unittest_pairs(tree) if repo in ("MARIO-Math-Reasoning/MARIO_EVAL", "hendrycks/math") else parametrized(tree)
            for g, p, eq, line, test, extra in gen:
                rows.append({"gold": g, "pred": p, "expected": eq, "repo": repo, "file": rel, "line": line,
                             "test": test, "config": extra})
    json.dump({"commits": commits, "cases": rows}, sys.stdout, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
