#!/usr/bin/env python3
"""`long1k synth` outputs (issue 18): a run's outputs (samples, per-bin files, FILE.removed.jsonl,
FILE.stats.json) commit together or not at all, whether it fails on a later bin or on a full disk
(RLIMIT_FSIZE makes writes fail with EFBIG); an output that is an input (the pool) is refused
before the work, the pool untouched; invalid UTF-8 in pool records is repaired to U+FFFD in the
output (every line valid JSON) and counted in the stats."""
import json
import os
import resource
import signal
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


def run(*args, fsize=None):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    p = subprocess.run([BIN, "synth", "--no-decontaminate", "--quiet", *args], capture_output=True,
                       preexec_fn=limit)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def outputs(d, stem):
    return sorted(f for f in os.listdir(d) if f.startswith(stem))


def main():
    d = tempfile.mkdtemp(prefix="l1k_synth_out_")
    pool = os.path.join(d, "pool.jsonl")
    subprocess.run([sys.executable, GEN, "--schema", "openthoughts", "--out", pool, "--n", "60",
                    "--reason-words", "120", "--seed", "3"], check=True)
    pool_bytes = open(pool, "rb").read()

    # reference: it works
    rc, _, err = run("--pool", pool, "--samples", "5", "--out", os.path.join(d, "ok.jsonl"))
    check(rc == 0 and outputs(d, "ok") == ["ok.jsonl", "ok.jsonl.removed.jsonl",
                                           "ok.jsonl.stats.json"], f"reference run: {rc} {err} {outputs(d, 'ok')}")

    # a later bin fails (unreachable length): no file of the run is left, not even bin 1's
    rc, _, err = run("--pool", pool, "--bins", "300,100000000", "--per-bin", "2", "--out",
                     os.path.join(d, "bins_{bin}.jsonl"))
    check(rc == 2 and len(err.strip().splitlines()) == 1, f"unreachable bin: rc {rc}, {err}")
    check(outputs(d, "bins_") == [], f"a failed run left {outputs(d, 'bins_')}")

    # a full disk while writing: no output and no temp file left, exit 1 with one line
    rc, _, err = run("--pool", pool, "--samples", "5", "--out", os.path.join(d, "full.jsonl"),
                     fsize=4096)
    check(rc == 1 and len(err.strip().splitlines()) == 1, f"full disk: rc {rc}, {err}")
    check(outputs(d, "full") == [], f"full disk left {outputs(d, 'full')}")

    # the output is the pool (directly, and through a symlink): refused, the pool untouched
    rc, _, err = run("--pool", pool, "--samples", "5", "--out", pool)
    check(rc == 2 and "same file" in err and open(pool, "rb").read() == pool_bytes,
          f"--out = --pool: rc {rc}, {err}")
    os.symlink(pool, os.path.join(d, "link.jsonl"))
    rc, _, err = run("--pool", os.path.join(d, "link.jsonl"), "--samples", "5", "--out", pool)
    check(rc == 2 and open(pool, "rb").read() == pool_bytes, f"--out = the pool's link: rc {rc}, {err}")
    rc, _, err = run("--pool", pool, "--samples", "5", "--out", d)
    check(rc == 2 and "directory" in err, f"--out DIR: rc {rc}, {err}")

    # invalid UTF-8 in the pool: repaired to U+FFFD, counted; every output line is valid JSON
    lines = pool_bytes.split(b"\n")
    bad = []
    for i, l in enumerate(lines):
        if l.strip() and len(bad) < 30:
            l = l.replace(b"Problem ", b"Pr\xff\xfeblem ", 1)
            bad.append(i)
        lines[i] = l
    bpool = os.path.join(d, "bad_utf8.jsonl")
    open(bpool, "wb").write(b"\n".join(lines))
    out = os.path.join(d, "u.jsonl")
    rc, _, err = run("--pool", bpool, "--samples", "20", "--out", out)
    check(rc == 0, f"invalid UTF-8 pool: rc {rc}, {err}")
    if rc == 0:
        raw = open(out, "rb").read()
        try:
            text = raw.decode("utf-8")
            recs = [json.loads(l) for l in text.splitlines() if l.strip()]
            check(len(recs) == 20, f"{len(recs)} samples")
            check(any("\ufffd" in json.dumps(r, ensure_ascii=False) for r in recs), "no U+FFFD in the output")
        except UnicodeDecodeError as e:
            check(False, f"the output is not valid UTF-8: {e}")
        st = json.load(open(out + ".stats.json"))
        check(st.get("invalid_utf8_repaired", 0) > 0, f"stats: invalid_utf8_repaired = {st.get('invalid_utf8_repaired')}")
    subprocess.run(["rm", "-rf", d])
    if FAILS:
        print(f"{len(FAILS)} failure(s)", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
