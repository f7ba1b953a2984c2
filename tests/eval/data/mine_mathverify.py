#!/usr/bin/env python3
"""Mines the (gold, pred, expected) cases of Math-Verify's public test suite for the grader's
own test set (tests/eval/data/gen_grader_cases.py reads the output). Standard library only: the
test files are read with `ast`, never imported.

    python3 tests/eval/data/mine_mathverify.py MATH_VERIFY_CHECKOUT COMMIT > mined.json

Made from huggingface/Math-Verify at commit 5d148cfaaf99214c2e4ffb4bc497ab042c592a7a.
"""
import ast
import json
import sys

FILES = ["test_all.py", "test_numina_cases.py", "test_open_thoughts.py", "test_yujianll.py",
         "test_boxed.py", "test_strict.py"]


def const(node):
    try:
        return ast.literal_eval(node)
    except Exception:
        return None


def cases_of(path, rel):
    tree = ast.parse(open(path, encoding="utf-8").read())
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for dec in fn.decorator_list:
            if not (isinstance(dec, ast.Call) and getattr(dec.func, "attr", "") == "parametrize"):
                continue
            names = [s.strip() for s in const(dec.args[0]).split(",")]
            if "gold" not in names or "pred" not in names:
                continue
            for elt in dec.args[1].elts:
                vals = [const(e) for e in elt.elts] if isinstance(elt, ast.Tuple) else None
                if not vals or len(vals) != len(names):
                    continue
                row = dict(zip(names, vals))
                exp = row.get("expected", row.get("result"))
                if not isinstance(row["gold"], str) or not isinstance(row["pred"], str) or exp is None:
                    continue
                extra = {k: v for k, v in row.items() if k not in ("gold", "pred", "expected", "result")}
                out.append({"gold": row["gold"], "pred": row["pred"], "mv_expected": bool(exp),
                            "file": rel, "line": elt.lineno, "test": fn.name, "config": extra})
    return out


def main():
    root, commit = sys.argv[1], sys.argv[2]
    rows = []
    for f in FILES:
        rows += cases_of(f"{root}/tests/{f}", f"tests/{f}")
    json.dump({"commit": commit, "cases": rows}, sys.stdout, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
