#!/usr/bin/env python3
"""`long1k eval` against a small OpenAI-compatible server (tests/eval/mock_openai_server.py on
127.0.0.1, started here): normal and slow answers, HTTP 429 (Retry-After) and 500 with
retries, malformed JSON, a dropped connection, failures after the retries, resume without
repeating a sample, a kill mid-run with a torn last line, judge mode, multiple choice with a
seeded shuffle, /v1/completions, and bad input. Bounded: the server stops by itself."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
# the server is local: keep any proxy settings of the environment out of the way
for _v in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(_v, None)
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
BIN = os.environ.get("LONG1K_BIN")
if not BIN or not os.path.exists(BIN):
    print("SKIP: LONG1K_BIN not set or missing", file=sys.stderr)
    sys.exit(77)

failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("CHECK failed:", msg, file=sys.stderr)


def start_server():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "mock_openai_server.py"),
                          "--lifetime", "110", "--idle", "40"],
                         stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    return p, "http://127.0.0.1:%d" % port


def stats(url):
    with urllib.request.urlopen(url + "/stats", timeout=10) as r:
        return json.load(r)


def write_jsonl(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def run(args, timeout=60):
    p = subprocess.run([BIN, "eval"] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def key_of(rec):
    for line in rec["response"].splitlines():
        if line.startswith("mock-key: "):
            return line[len("mock-key: "):]
    return None


def main():
    srv, url = start_server()
    tmp = tempfile.mkdtemp(prefix="l1k_eval_")
    try:
        for f in (scenario_retries, scenario_interrupt, scenario_judge,
                  scenario_mc_and_completions, scenario_bad_input, scenario_local_judge):
            t0 = time.time()
            f(url, tmp)
            print("%s: %.1f s" % (f.__name__, time.time() - t0), file=sys.stderr)
    finally:
        srv.kill()
        srv.wait()
        subprocess.run(["rm", "-rf", tmp])
    print("%s" % ("ok" if not failures else "%d checks failed" % failures), file=sys.stderr)
    sys.exit(1 if failures else 0)


def scenario_retries(url, tmp):
    data = os.path.join(tmp, "retry.jsonl")
    probs = [
        ("p0", "What is 40+2? [[ans=42]]", 42),              # number gold -> "42"
        ("p1", "A wrong answer [[ans=41]]", "42"),
        ("p2", "A slow answer [[ans=7]] [[slow=0.4]] [[tokens=100]]", "7"),
        ("p3", "Rate limited twice [[ans=3]] [[429x2]]", "3"),
        ("p4", "A server error [[ans=\\frac{1}{2}]] [[500x1]]", "0.5"),
        ("p5", "Malformed once [[ans=5]] [[malformedx1]]", "5"),
        ("p6", "Dropped connections [[ans=6]] [[dropx2]]", "6"),
        ("p7", "Truncated [[trunc]] [[tokens=500]]", "8"),
        ("p8", "Always malformed [[malformed-always]]", "9"),
        ("p9", "Thinking first [[ans=10]] [[think]]", 10.0),  # 10.0 -> "10"
        ("p10", "Stalls past the timeout once [[ans=11]] [[stallx1]]", "11"),
        ("p11", "A bad request [[badrequest]]", "12"),
    ]
    write_jsonl(data, [{"id": i, "problem": "%s [[id=%s]]" % (t, i), "answer": a}
                       for i, t, a in probs])
    out = os.path.join(tmp, "retry_out")
    args = ["--data", data, "--endpoint", url, "--model-name", "mock", "--n", "2",
            "--concurrency", "4", "--retries", "3", "--backoff", "0.05", "--backoff-max", "0.2",
            "--timeout", "1", "--out", out]
    t0 = time.time()
    rc, so, se = run(args)
    check(rc == 1, "first run: exit 1 when samples fail after retries, got %d: %s" % (rc, se))
    check("4 samples failed after retries" in se, "first run names the failures: " + se)
    res = read_jsonl(os.path.join(out, "results.jsonl"))
    errs = read_jsonl(os.path.join(out, "errors.jsonl"))
    got = {(r["problem_index"], r["sample_index"]) for r in res}
    check(len(res) == 20 and len(got) == 20, "20 results (10 problems x 2), got %d" % len(res))
    check(all(pi not in (8, 11) for pi, _ in got), "the failing problems are not in results")
    e8 = [e for e in errs if e["problem_index"] == 8]
    e11 = [e for e in errs if e["problem_index"] == 11]
    check(len(errs) == 4 and len(e8) == 2 and all(e["attempts"] == 4 for e in e8),
          "errors.jsonl holds problem 8's two samples after 4 tries: %s" % errs)
    check(all("malformed" in e["error"] for e in e8), "error names the malformed reply")
    check(len(e11) == 2 and all(e["attempts"] == 1 and e["http_status"] == 400 for e in e11),
          "HTTP 400 is not retried: %s" % e11)
    st = stats(url)["counts"]
    want = {"p0": 1, "p1": 1, "p2": 1, "p3": 3, "p4": 2, "p5": 2, "p6": 3, "p7": 1, "p8": 4, "p9": 1,
            "p10": 2, "p11": 1}
    for pid, n in want.items():
        ks = [k for k in st if k.startswith(pid + "#")]
        check(len(ks) == 2, "%s: two samples with distinct seeds, got %s" % (pid, ks))
        check(all(st[k] == n for k in ks), "%s: %d requests per sample, got %s" % (
            pid, n, [st[k] for k in ks]))
    # Retry-After: 1 is respected although the backoff is 0.05 s
    times = stats(url)["times"]
    for k in [k for k in times if k.startswith("p3#")]:
        gaps = [b - a for a, b in zip(times[k], times[k][1:])]
        check(all(g >= 0.9 for g in gaps), "Retry-After respected for %s: gaps %s" % (k, gaps))
    by = {(r["problem_index"], r["sample_index"]): r for r in res}
    for r in res:
        for f in ("id", "problem_index", "sample_index", "response", "tokens", "finish_reason",
                  "extracted", "correct"):
            check(f in r, "results field %s present" % f)
        check(key_of(r) is not None, "response is the server's text")
    check(by[(0, 0)]["answer"] == "42" and by[(9, 0)]["answer"] == "10",
          "numeric gold answers as text: %s %s" % (by[(0, 0)]["answer"], by[(9, 0)]["answer"]))
    check(by[(2, 1)]["tokens"] == 100 and by[(7, 0)]["tokens"] == 500, "tokens from usage")
    check(by[(7, 0)]["finish_reason"] == "length" and by[(0, 0)]["finish_reason"] == "stop",
          "finish_reason kept")
    check(by[(3, 0)]["attempts"] == 3, "attempts recorded")
    check(by[(10, 0)]["attempts"] == 2 and by[(10, 1)]["attempts"] == 2, "a timed-out try is retried")
    # grading (needs the grader): right, wrong, \frac{1}{2} == 0.5, no answer when truncated
    for pi, want_c in [(0, True), (1, False), (2, True), (3, True), (4, True), (5, True),
                       (6, True), (7, False), (9, True), (10, True)]:
        for si in (0, 1):
            check(by[(pi, si)]["correct"] is want_c, "problem %d sample %d: correct should be %s, "
                  "got %r (extracted %r)" % (pi, si, want_c, by[(pi, si)]["correct"],
                                               by[(pi, si)]["extracted"]))
    check(by[(0, 0)]["extracted"] == "42", "extracted: %r" % by[(0, 0)]["extracted"])
    summ = json.load(open(os.path.join(out, "summary.json")))
    # problems 0..10 except 8 have samples: 8 of 10 all correct (p1, p7 wrong)
    check(abs(summ["pass@1"] - 8 / 10) < 1e-9, "pass@1 = 8/10, got %r" % summ["pass@1"])
    check(summ["samples"] == 20 and summ["samples_missing"] == 4 and not summ["complete"],
          "summary counts: %s" % {k: summ[k] for k in ("samples", "samples_missing", "complete")})
    check(abs(summ["truncated_rate"] - 2 / 20) < 1e-9, "truncated rate 2/20")
    check(abs(summ["maj@k"]["2"] - 8 / 10) < 1e-9, "maj@2 = 8/10, got %r" % summ["maj@k"]["2"])
    check(abs(summ["pass@k"]["2"] - 8 / 10) < 1e-9, "pass@2 = 8/10")
    check(summ["mean_tokens_wrong"] is not None and summ["mean_tokens_wrong"] > 100,
          "mean tokens of wrong answers include the truncated ones: %r" % summ["mean_tokens_wrong"])
    check("pass@1" in so and "truncated" in so, "table printed: " + so)
    # rerun: only the failed samples are requested again
    before = stats(url)["counts"]
    rc, so, se = run(args)
    after = stats(url)["counts"]
    check(rc == 1, "rerun still fails on problem 8")
    for k in after:
        grew = after[k] - before.get(k, 0)
        if k.startswith("p8#"):
            check(grew == 4, "rerun retries problem 8 (%s: +%d)" % (k, grew))
        elif k.startswith("p11#"):
            check(grew == 1, "rerun asks problem 11 once more (%s: +%d)" % (k, grew))
        else:
            check(grew == 0, "rerun does not repeat finished sample %s (+%d)" % (k, grew))
    check(len(read_jsonl(os.path.join(out, "results.jsonl"))) == 20, "rerun adds no duplicate")
    # a changed sampling setting into the same directory is refused
    rc, so, se = run(args[:-2] + ["--temperature", "0.9", "--out", out])
    check(rc == 2 and "temperature" in se, "changed temperature refused: %d %s" % (rc, se))
    # extending n reuses the first samples
    before = stats(url)["counts"]
    rc, so, se = run(["--data", data, "--endpoint", url, "--model-name", "mock", "--n", "3",
                      "--limit", "2", "--backoff", "0.05", "--out", out])
    after = stats(url)["counts"]
    check(rc == 0, "n=3 on two problems: %d %s" % (rc, se))
    check(sum(after.values()) - sum(before.values()) == 2, "only the third sample of each of "
          "two problems is requested")
    summ = json.load(open(os.path.join(out, "summary.json")))
    check(summ["samples"] == 6 and summ["samples_per_problem"] == 3 and summ["complete"],
          "summary over 2 problems x 3")
    check(abs(summ["pass@1"] - 0.5) < 1e-9 and abs(summ["pass@k"]["3"] - 0.5) < 1e-9,
          "pass@1 and pass@3 over one right and one wrong problem")
    # --summary-only recomputes from run.json
    rc, so, se = run(["--out", out, "--summary-only"])
    check(rc == 0 and "pass@1" in so, "--summary-only: %d %s" % (rc, se))


def scenario_interrupt(url, tmp):
    data = os.path.join(tmp, "slow.jsonl")
    write_jsonl(data, [{"id": "s%d" % i, "problem": "Slow %d [[id=s%d]] [[ans=%d]] [[slow=0.2]]"
                        % (i, i, i), "answer": i} for i in range(12)])
    out = os.path.join(tmp, "slow_out")
    args = ["--data", data, "--endpoint", url, "--model-name", "mock", "--n", "2",
            "--concurrency", "2", "--backoff", "0.05", "--out", out, "-q"]
    res_path = os.path.join(out, "results.jsonl")
    p = subprocess.Popen([BIN, "eval"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while time.time() - t0 < 30 and len(read_jsonl_safe(res_path)) < 6:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done_before = read_jsonl(res_path)
    check(6 <= len(done_before) < 24, "killed mid-run with %d of 24 samples" % len(done_before))
    # a kill during a write leaves a torn last line
    with open(res_path, "a") as f:
        f.write('{"id":"s11","problem_index":11,"sample_index":0,"answer":"11","resp')
    before = stats(url)["counts"]
    rc, so, se = run(args)
    check(rc == 0, "resumed run: %d %s" % (rc, se))
    check("incomplete last line" in se, "torn line reported: " + se)
    after = stats(url)["counts"]
    res = read_jsonl(res_path)
    keys = [(r["problem_index"], r["sample_index"]) for r in res]
    check(len(res) == 24 and len(set(keys)) == 24, "24 unique samples after resume, got %d lines "
          "/ %d unique" % (len(res), len(set(keys))))
    for r in done_before:
        k = key_of(r)
        check(after.get(k) == before.get(k) == 1, "sample %s finished before the kill is not "
              "requested again (%s -> %s)" % (k, before.get(k), after.get(k)))
    total = sum(v for k, v in after.items() if k.startswith("s"))
    check(24 <= total <= 24 + 2, "at most the 2 requests in flight at the kill are repeated "
          "(%d requests for 24 samples)" % total)
    # SIGINT: a clean stop with exit 130 and a usable file
    out2 = os.path.join(tmp, "slow_out2")
    args2 = ["--data", data, "--endpoint", url, "--model-name", "mock", "--n", "2",
             "--concurrency", "2", "--backoff", "0.05", "--out", out2, "-q"]
    p = subprocess.Popen([BIN, "eval"] + args2, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    t0 = time.time()
    while time.time() - t0 < 30 and len(read_jsonl_safe(os.path.join(out2, "results.jsonl"))) < 2:
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=30)[1]
    check(p.returncode == 130 and "interrupted" in err, "SIGINT: exit 130, got %d %s" % (p.returncode, err))
    part = read_jsonl(os.path.join(out2, "results.jsonl"))
    check(2 <= len(part) < 24, "SIGINT keeps the finished samples (%d)" % len(part))


def read_jsonl_safe(path):
    try:
        with open(path) as f:
            return [l for l in f if l.endswith("\n")]
    except OSError:
        return []


def scenario_judge(url, tmp):
    data = os.path.join(tmp, "judge.jsonl")
    write_jsonl(data, [
        {"id": "j0", "problem": "Right [[id=j0]] [[ans=12]]", "answer": "12"},
        {"id": "j1", "problem": "Wrong [[id=j1]] [[ans=13]]", "answer": "12"},
        {"id": "j2", "problem": "Judge disagrees [[id=j2]] [[ans=5]] [[judge-flip]]", "answer": "5"},
        {"id": "j3", "problem": "Right again [[id=j3]] [[ans=7]]", "answer": "7"},
    ])
    out = os.path.join(tmp, "judge_out")
    base = ["--data", data, "--endpoint", url, "--model-name", "mock", "--n", "2",
            "--backoff", "0.05", "--out", out]
    # first without the judge, then add it: only judge requests are made
    rc, so, se = run(base)
    check(rc == 0, "judge data, no judge: %d %s" % (rc, se))
    before = stats(url)
    rc, so, se = run(base + ["--judge-endpoint", url, "--judge-model", "judge"])
    after = stats(url)
    check(rc == 0, "judge run: %d %s" % (rc, se))
    gen = sum(v for k, v in after["counts"].items() if k.startswith("j")) - \
        sum(v for k, v in before["counts"].items() if k.startswith("j"))
    check(gen == 0, "adding the judge makes no generation request (%d)" % gen)
    judged = sum(v for k, v in after["judge"].items() if k.startswith("j"))
    check(judged == 8, "8 judge requests, got %d" % judged)
    res = read_jsonl(os.path.join(out, "results.jsonl"))
    last = {}
    for r in res:
        last[(r["problem_index"], r["sample_index"])] = r
    check(len(last) == 8, "8 samples")
    for (pi, si), r in last.items():
        check("judge_correct" in r and "correct" in r, "both verdicts kept")
        want = {0: True, 1: False, 2: False, 3: True}[pi]
        check(r.get("judge_correct") is want, "judge verdict of problem %d: %r" % (pi, r.get("judge_correct")))
    summ = json.load(open(os.path.join(out, "summary.json")))
    j = summ.get("judge", {})
    check(j.get("verdicts") == 8, "judge verdicts counted: %s" % j)
    check(abs(j.get("pass@1", -1) - 0.5) < 1e-9, "judge pass@1 = 0.5: %s" % j)
    # rule: 0, 2, 3 right; judge: 0, 3 right -> agree on 6 of 8
    check(abs(j.get("agreement", -1) - 0.75) < 1e-9, "agreement 6/8: %s" % j)
    check(j.get("rule_correct_judge_wrong") == 2, "disagreements counted: %s" % j)
    check("agreement" in so, "table shows the agreement")
    # a rerun with the judge asks nothing
    before = stats(url)
    rc, so, se = run(base + ["--judge-endpoint", url, "--judge-model", "judge"])
    after = stats(url)
    check(rc == 0 and after["judge"] == before["judge"] and after["counts"] == before["counts"],
          "a finished judged run asks nothing again")


def scenario_mc_and_completions(url, tmp):
    data = os.path.join(tmp, "gpqa.jsonl")
    recs = []
    for i in range(6):
        recs.append({"Question": "Which is option %d? [[id=g%d]] [[choice=right %d]]" % (i, i, i),
                     "Correct Answer": "right %d" % i,
                     "Incorrect Answer 1": "wrong a%d" % i,
                     "Incorrect Answer 2": "wrong b%d" % i,
                     "Incorrect Answer 3": " wrong c%d\n" % i,
                     "Record ID": "rec%d" % i})
    write_jsonl(data, recs)
    letters = {}
    for seed, out in (("0", "mc0"), ("0", "mc0b"), ("7", "mc7")):
        o = os.path.join(tmp, out)
        rc, so, se = run(["--data", data, "--gpqa", "--id-field", "Record ID", "--shuffle-seed", seed,
                          "--endpoint", url, "--model-name", "mock", "--backoff", "0.05", "--out", o])
        check(rc == 0, "gpqa run: %d %s" % (rc, se))
        res = sorted(read_jsonl(os.path.join(o, "results.jsonl")), key=lambda r: r["problem_index"])
        check(len(res) == 6, "6 gpqa samples")
        letters[out] = [r["answer"] for r in res]
        for r in res:
            check(r["answer"] in "ABCD" and len(r["answer"]) == 1, "gold is a letter")
            check("\\boxed{%s}" % r["answer"] in r["response"], "the mock found the right option")
            check(r["correct"] is True, "multiple choice graded: %r %r" % (r["extracted"], r["correct"]))
    check(letters["mc0"] == letters["mc0b"], "same seed, same shuffle")
    check(letters["mc0"] != letters["mc7"], "another seed, another shuffle")
    check(len(set(letters["mc0"])) > 1, "the correct option is not always in the same place")
    # /v1/completions
    data = os.path.join(tmp, "compl.jsonl")
    write_jsonl(data, [{"problem": "Plain [[id=c%d]] [[ans=%d]]" % (i, i), "answer": str(i)}
                       for i in range(3)])
    o = os.path.join(tmp, "compl_out")
    rc, so, se = run(["--data", data, "--completions", "--prompt-template", "plain", "--endpoint",
                      url + "/v1", "--model-name", "mock", "--out", o])
    check(rc == 0, "completions run: %d %s" % (rc, se))
    res = read_jsonl(os.path.join(o, "results.jsonl"))
    check(len(res) == 3 and all(r["correct"] is True for r in res), "completions graded")
    check(json.load(open(os.path.join(o, "run.json")))["api"] == "completions", "api recorded")


def scenario_bad_input(url, tmp):
    data = os.path.join(tmp, "bad.jsonl")
    with open(data, "w") as f:
        f.write('{"problem": "ok", "answer": "1"}\n{"question_text": "no problem field", "answer": "2"}\n')
    rc, so, se = run(["--data", data, "--endpoint", url, "--model-name", "mock", "--out",
                      os.path.join(tmp, "bad_out")])
    check(rc == 2 and "bad.jsonl:2" in se and "'problem'" in se, "missing field: %d %s" % (rc, se))
    good = os.path.join(tmp, "good.jsonl")
    write_jsonl(good, [{"problem": "x [[id=f0]]", "answer": "1"}])
    rc, so, se = run(["--data", good, "--endpoint", url, "--model-name", "forbidden", "--out",
                      os.path.join(tmp, "forbidden_out")])
    check(rc == 2 and "404" in se, "a 404 stops the run: %d %s" % (rc, se))
    allbad = os.path.join(tmp, "allbad.jsonl")
    write_jsonl(allbad, [{"problem": "x [[id=ab%d]] [[badrequest]]" % i, "answer": "1"} for i in range(12)])
    rc, so, se = run(["--data", allbad, "--endpoint", url, "--model-name", "m", "--concurrency", "2",
                      "--out", os.path.join(tmp, "allbad_out")])
    check(rc == 2 and "first 8 requests were all refused" in se and "400" in se,
          "a server refusing every request stops the run: %d %s" % (rc, se))
    rc, so, se = run(["--benchmark", "math500", "--model", "/nonexistent", "--out",
                      os.path.join(tmp, "local_out")])
    check(rc == 2 and "--model" in se, "--model: %d %s" % (rc, se))
    rc, so, se = run(["--benchmark", "gsm8k", "--endpoint", url, "--model-name", "m", "--out", tmp])
    check(rc == 2 and "math500" in se, "unknown benchmark: %d %s" % (rc, se))
    rc, so, se = run(["--data", good, "--endpoint", url, "--model-name", "m", "--n", "zero", "--out", tmp])
    check(rc == 2 and "--n" in se, "bad --n: %d %s" % (rc, se))
    rc, so, se = run(["--help"])
    check(rc == 0 and "--judge-endpoint" in so, "--help")
    # a refused connection is retried, then reported
    rc, so, se = run(["--data", good, "--endpoint", "http://127.0.0.1:1", "--model-name", "m",
                      "--retries", "1", "--backoff", "0.01", "--out", os.path.join(tmp, "refused")])
    check(rc == 1 and "connect" in se.lower(), "refused connection: %d %s" % (rc, se))
    # a shipped benchmark loads (ids, numeric answers), --limit
    out = os.path.join(tmp, "aime")
    rc, so, se = run(["--benchmark", "aime25", "--limit", "3", "--endpoint", url, "--model-name",
                      "mock", "--out", out, "-q"])
    res = read_jsonl(os.path.join(out, "results.jsonl"))
    check(rc == 0 and len(res) == 3, "aime25 --limit 3: %d %s" % (rc, se))
    check([r["answer"] for r in sorted(res, key=lambda r: r["problem_index"])] == ["70", "588", "16"],
          "aime25 answers: %s" % [r["answer"] for r in res])


def scenario_local_judge(url, tmp):
    """--model DIR (our engine) with a judge endpoint: generated, written, then judged."""
    src = os.environ.get("LONG1K_SRC", os.path.join(HERE, "..", ".."))
    model = os.path.join(tmp, "tiny_model")
    p = subprocess.run([BIN, "init", "--preset", "qwen2.5-0.5b-instruct", "--layers", "1",
                        "--hidden-size", "32", "--intermediate-size", "64", "--heads", "4",
                        "--kv-heads", "2", "--vocab-size", "750", "--max-position-embeddings", "512",
                        "--eos-token-id", "747", "--dtype", "f32", "--tokenizer",
                        os.path.join(src, "data", "tokenizers", "tiny"), "--out", model],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "long1k init: %s" % p.stderr)
    if p.returncode:
        return
    data = os.path.join(tmp, "local.jsonl")
    write_jsonl(data, [{"problem": "What is %d+%d?" % (i, i), "answer": str(2 * i)} for i in range(3)])
    out = os.path.join(tmp, "local_out")
    before = stats(url)["judge"].get("?", 0)
    rc, so, se = run(["--data", data, "--model", model, "--n", "2", "--max-tokens", "8",
                      "--judge-endpoint", url, "--judge-model", "judge", "--out", out])
    check(rc == 0, "local + judge: %d %s" % (rc, se))
    after = stats(url)["judge"].get("?", 0)
    check(after - before == 6, "6 judge requests for 3 problems x 2 local samples (%d)" % (after - before))
    res = read_jsonl(os.path.join(out, "results.jsonl"))
    last = {(r["problem_index"], r["sample_index"]): r for r in res}
    check(len(last) == 6, "6 local samples")
    check(all(r.get("judge_correct") is False and r["tokens"] <= 8 for r in last.values()),
          "judged local samples (a random model is never right)")
    summ = json.load(open(os.path.join(out, "summary.json")))
    check(summ.get("judge", {}).get("verdicts") == 6, "summary counts 6 verdicts")


if __name__ == "__main__":
    main()
