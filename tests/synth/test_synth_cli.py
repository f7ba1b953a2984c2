#!/usr/bin/env python3
"""`long1k synth` from the command line: help, schema auto-detection over several pools (plain and
gzip), default decontamination against the shipped benchmarks, outputs and stats files, bad input
(exit 2 with one clear line naming file:line or the option). Token counts are re-checked by
tests/synth/test_synth_e2e.c with the C tokenizer; here the CLI's plumbing is checked."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("LONG1K_SRC", ".")
BIN = os.environ.get("LONG1K_BIN", os.path.join(SRC, "build", "long1k"))
GEN = os.path.join(SRC, "bench", "synth_gen_pool.py")
FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL:", msg, file=sys.stderr)


def run(*args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([BIN, "synth", *args], capture_output=True, text=True, env=e)
    return p.returncode, p.stdout, p.stderr


def gen(d, schema, name, *extra):
    out = os.path.join(d, name)
    subprocess.run([sys.executable, GEN, "--schema", schema, "--out", out,
                    "--answers-out", out + ".key", *extra], check=True)
    keys = [json.loads(l) for l in open(out + ".key")]
    return out, keys


def jsonl(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def main():
    if not os.path.exists(BIN):
        print(f"long1k binary not found at {BIN}", file=sys.stderr)
        return 1
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    d = tempfile.mkdtemp(prefix="l1k_synth_cli_", dir=base)
    try:
        rc, out, err = run("--help")
        check(rc == 0 and "usage: long1k synth" in out and "--target-tokens" in out, "--help")

        math500 = os.path.join(SRC, "data", "benchmarks", "math500.jsonl")
        aime = os.path.join(SRC, "data", "benchmarks", "aime24.jsonl")
        a, ka = gen(d, "openthoughts", "ot.jsonl", "--n", "120", "--reason-words", "150",
                    "--contaminate", math500 + ":3", "--bad", "2", "--seed", "1")
        b, kb = gen(d, "s1k", "s1.jsonl.gz", "--n", "80", "--reason-words", "150", "--gzip",
                    "--contaminate", aime + ":2", "--seed", "2")
        o = os.path.join(d, "out.jsonl")
        # two pools, schemas detected per file; default decontamination (shipped benchmarks)
        rc, out, err = run("--pool", a, b, "--samples", "30", "-k", "3", "--out", o,
                           "--no-progress", "--seed", "3")
        check(rc == 0, f"two-pool run rc={rc} err={err}")
        if rc == 0:
            recs = jsonl(o)
            check(len(recs) == 30, f"{len(recs)} samples")
            keys = {k["id"]: k for k in ka + kb}
            used = set()
            for r in recs:
                m = r["meta"]
                check(m["k"] == 3 and len(m["sources"]) == 3, "k=3")
                for s in m["sources"]:
                    check(s not in used, f"{s} used twice")
                    used.add(s)
                    check(keys[s]["kind"] == "orig", f"{s} is {keys[s]['kind']}")
                check([x["role"] for x in r["messages"]] == ["user", "assistant"], "roles")
                check(r["messages"][1]["content"].startswith("<think>\n"), "think format")
            st = json.load(open(o + ".stats.json"))
            check(st["removed"]["contaminated"] == 5, f"contaminated {st['removed']}")
            check(st["removed"]["malformed"] == 2, f"malformed {st['removed']}")
            schemas = [f["schema"] for f in st["pool"]["files"]]
            check(schemas == ["openthoughts", "s1k"], f"schemas {schemas}")
            check(sum(f["records_used"] for f in st["pool"]["files"]) == 90, "records used")
            check(sum(st["domains_used"].values()) == 90, f"domains used {st['domains_used']}")
            check(st["sets"][0]["samples"] == 30, "stats samples")
            removed = jsonl(o + ".removed.jsonl")
            check(sum(1 for x in removed if x["reason"] == "contaminated") == 5, "report")
            check(any("aime24.jsonl:" in x["detail"] for x in removed), "report names the eval file")
            check("ot.jsonl:" in err and "invalid JSON" in err, "malformed lines named on stderr")
            check("5 contaminated" in out and "stats:" in out, f"summary: {out}")

        # --no-decontaminate keeps them; --domain filters
        rc, out, err = run("--pool", b, "--samples", "5", "--out", o, "--no-decontaminate",
                           "--quiet", "--domain", "science")
        check(rc == 0, f"domain run: {err}")
        if rc == 0:
            st = json.load(open(o + ".stats.json"))
            check(st["removed"]["contaminated"] == 0 and st["removed"]["domain"] > 0, "domain/decon")
            for r in jsonl(o):
                for s in r["meta"]["sources"]:
                    check(keys[s]["domain"] == "science" or keys[s]["kind"] == "contam",
                          "domain filter")

        # sharegpt + system + template
        tpl = os.path.join(d, "tpl.json")
        json.dump({"links": ["NEXT {i}"], "prompt_intro": "Do all {k}."}, open(tpl, "w"))
        rc, out, err = run("--pool", a, "--samples", "4", "--out", o, "--quiet",
                           "--output-format", "sharegpt", "--system", "SYS", "--template", tpl,
                           "--format", "openthoughts")
        check(rc == 0, f"sharegpt run: {err}")
        if rc == 0:
            r = jsonl(o)[0]
            check(r["system"] == "SYS" and r["conversations"][0]["from"] == "human", "sharegpt")
            check(r["conversations"][0]["value"].startswith("Do all 2."), "template prompt")
            check("NEXT 2" in r["conversations"][1]["value"], "template link")
            check(r["conversations"][1]["value"].startswith("<|begin_of_thought|>"), "ot format")

        # bins with {bin} -> one file per bin
        ob = os.path.join(d, "scale_{bin}.jsonl")
        rc, out, err = run("--pool", a, "--bins", "400,700", "--per-bin", "4", "--out", ob,
                           "--quiet")
        check(rc == 0, f"bins run: {err}")
        if rc == 0:
            for bn in (400, 700):
                recs = jsonl(os.path.join(d, f"scale_{bn}.jsonl"))
                check(len(recs) == 4 and all(x["meta"]["bin"] == bn for x in recs), f"bin {bn}")
                check(all(bn * 0.9 <= x["meta"]["reasoning_tokens"] <= bn * 1.1 + 1 for x in recs),
                      f"bin {bn} lengths")

        # the default evaluation sets come from $LONG1K_DATA/benchmarks when set
        ddir = os.path.join(d, "data")
        os.makedirs(os.path.join(ddir, "benchmarks"))
        planted = [k for k in ka if k["kind"] == "orig"][5]
        with open(os.path.join(ddir, "benchmarks", "math500.jsonl"), "w") as f:
            f.write(json.dumps({"problem": planted["problem"], "answer": "x"}) + "\n")
        tok = os.path.join(SRC, "data", "tokenizers", "qwen")
        rc, out, err = run("--pool", a, "--samples", "3", "--out", o, "--quiet", "--tokenizer", tok,
                           env={"LONG1K_DATA": ddir})
        check(rc == 0, f"LONG1K_DATA run: {err}")
        if rc == 0:
            removed = jsonl(o + ".removed.jsonl")
            hits = [x for x in removed if x["reason"] == "contaminated"]
            check(len(hits) == 1 and hits[0]["id"] == planted["id"], f"LONG1K_DATA decontam {hits}")
        os.remove(os.path.join(ddir, "benchmarks", "math500.jsonl"))
        rc, out, err = run("--pool", a, "--samples", "3", "--out", o, "--quiet", "--tokenizer", tok,
                           env={"LONG1K_DATA": ddir})
        check(rc == 0 and "not decontaminating" in err, f"no shipped benchmarks: {rc} {err}")

        # singles only from --single-pool (the paper's s1.1 mix), joined samples from --pool
        sp, _ = gen(d, "s1k", "single.jsonl", "--n", "60", "--reason-words", "500", "--seed", "9")
        rc, out, err = run("--pool", a, "--single-pool", sp, "--samples", "10", "--target-tokens",
                           "700:1100", "--mix-single", "0.3", "--out", o, "--quiet")
        check(rc == 0, f"single-pool run: {err}")
        if rc == 0:
            recs = jsonl(o)
            singles = [r for r in recs if r["meta"].get("single")]
            check(len(recs) == 10 and len(singles) == 3, f"singles {len(singles)}")
            for r in recs:
                m = r["meta"]
                from_single = [s.startswith("single.jsonl:") for s in m["sources"]]
                check(all(from_single) if m.get("single") else not any(from_single),
                      f"single-pool sources {m['sources']}")
                check(700 <= m["reasoning_tokens"] <= 1100, "single-pool target")

        # --mix-single without a length target: that fraction of samples hold one problem
        rc, out, err = run("--pool", a, "--samples", "8", "-k", "3", "--mix-single", "0.25",
                           "--out", o, "--quiet", "--no-decontaminate")
        check(rc == 0, f"mix without target: {err}")
        if rc == 0:
            recs = jsonl(o)
            ks = sorted(r["meta"]["k"] for r in recs)
            check(ks == [1, 1, 3, 3, 3, 3, 3, 3], f"mix without target: k = {ks}")
            check(all(bool(r["meta"].get("single")) == (r["meta"]["k"] == 1) for r in recs),
                  "mix without target: single flags")

        # {problem} in linking phrases restates the problem the reasoning turns to
        tpl = os.path.join(d, "restate.json")
        with open(tpl, "w") as f:
            json.dump({"first_link": "First: {problem}", "links": ["Then problem {i}: {problem}"]}, f)
        rc, out, err = run("--pool", a, "--samples", "3", "-k", "2", "--template", tpl,
                           "--out", o, "--quiet", "--no-decontaminate")
        check(rc == 0, f"restating template: {err}")
        if rc == 0:
            for r in jsonl(o):
                user, reply = r["messages"][0]["content"], r["messages"][-1]["content"]
                probs = [p.split(": ", 1)[1] for p in user.split("\n\n") if p.startswith("Problem ")]
                check(len(probs) == 2 and "First: " + probs[0] in reply and
                      "Then problem 2: " + probs[1] in reply, f"restated problems: {reply[:300]!r}")

        # --- bad input: exit 2, one clear line ---
        def bad(args, needle, what):
            rc, out, err = run(*args)
            check(rc == 2, f"{what}: rc={rc} err={err}")
            check(needle in err, f"{what}: '{needle}' not in: {err}")
            check(not os.path.exists(os.path.join(d, "never.jsonl")), f"{what}: output written")

        nv = os.path.join(d, "never.jsonl")
        # a first line that is JSON but not an object is a malformed record, not the schema
        arr = os.path.join(d, "arr.jsonl")
        with open(arr, "w") as f:
            f.write("[1, 2]\n")
            f.write(open(a).read())
        rc, out, err = run("--pool", arr, "--samples", "3", "--out", o, "--quiet")
        check(rc == 0 and "arr.jsonl:1: expected a JSON object" in err, f"array line: {rc} {err}")

        bad(["--samples", "3", "--out", nv], "no pool given", "no pool")
        bad(["--pool", a, "--samples", "3"], "no output given", "no out")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--target-tokens", "9:3"],
            "--target-tokens '9:3'", "bad target")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--field", "problemo=x"],
            "unknown name 'problemo'", "unknown field name")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--schema", "fields", "--field",
             "problem=nope,reasoning=r,solution=s"], "missing field 'nope'", "unmapped field")
        bad(["--pool", a, "--samples", "3", "-k", "2", "--out", nv, "--target-tokens",
             "90000:99000"], "reachable is about", "unreachable target")
        empty = os.path.join(d, "empty.jsonl")
        open(empty, "w").write("\n\n")
        bad(["--pool", empty, "--samples", "3", "--out", nv], "pool is empty", "empty pool")
        bad(["--pool", os.path.join(d, "missing.jsonl"), "--samples", "3", "--out", nv],
            "missing.jsonl", "missing pool")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--format", "xml"], "--format 'xml'",
            "bad format")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--schema", "alpaca"], "--schema 'alpaca'",
            "bad schema")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--decontaminate",
             os.path.join(d, "nope.jsonl")], "nope.jsonl", "missing eval file")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--tokenizer", os.path.join(d, "tok")],
            "tok", "missing tokenizer")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--mix-single", "1.5"],
            "--mix-single", "mix out of range")
        bad(["--pool", a, "--samples", "3", "--out", nv, "--difficulty-study"],
            "difficulty", "study without difficulty")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"{len(FAILS)} failures", file=sys.stderr)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
