#!/usr/bin/env python3
"""Hugging Face tokenizers throughput on the "text" fields of a JSONL file, for
bench/tokenizer_bench.sh. Threads: set RAYON_NUM_THREADS before starting Python.

    RAYON_NUM_THREADS=1 python3 bench/tokenizer_bench_hf.py TOKENIZER.json CORPUS.jsonl REPEAT
prints: threads=<n> bytes=<b> tokens=<t> seconds=<s> MBps=<x> cpu_s=<c> cpu_MBps=<y>
"""
import json
import os
import sys
import time

from tokenizers import Tokenizer


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    texts = [json.loads(l)["text"] for l in open(sys.argv[2], encoding="utf-8")]
    rep = int(sys.argv[3])
    nbytes = sum(len(t.encode("utf-8")) for t in texts) * rep
    tok.encode_batch(texts[:50], add_special_tokens=False)  # warm up the thread pool
    w0, c0 = time.perf_counter(), time.process_time()
    ntok = 0
    for _ in range(rep):
        for e in tok.encode_batch(texts, add_special_tokens=False):
            ntok += len(e.ids)
    w, c = time.perf_counter() - w0, time.process_time() - c0
    print(f"threads={os.environ.get('RAYON_NUM_THREADS', '?')} bytes={nbytes} tokens={ntok} "
          f"seconds={w:.3f} MBps={nbytes / w / 1e6:.2f} cpu_s={c:.3f} cpu_MBps={nbytes / c / 1e6:.2f}")


if __name__ == "__main__":
    main()
