#!/usr/bin/env python3
"""bench_tokenize.py — encode throughput of tcf's tokenizer against Hugging Face
`tokenizers` on one data set file, single thread, both in the same run.

    make tests && .venv/bin/python bench/bench_tokenize.py [../shared/data/banking77/train.csv]

tcf is timed by `build/tests/test_tokenizer --bench FILE` (ids with specials,
the tokenizer.json truncation, no padding: what the parity test checks). The
peer encodes the same texts with the same settings, once through encode_batch
with one thread (no Python overhead per text) and once text by text.
"""
import csv
import os
import re
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402  (after the thread settings)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def timed(fn, min_s=2.0):
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        el = time.perf_counter() - t0
        if el >= min_s:
            return reps, el


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "banking77", "train.csv")
    with open(path, newline="", encoding="utf-8") as f:
        texts = [r[0] for r in list(csv.reader(f))[1:]]
    out = subprocess.run([os.path.join(ROOT, "build", "tests", "test_tokenizer"), "--bench", path], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    print(out.strip())
    tcf = float(re.search(r"([0-9.]+) texts/s", out).group(1))

    tok = Tokenizer.from_file(os.path.join(ROOT, "models", "all-MiniLM-L6-v2", "tokenizer.json"))
    tok.no_padding()
    reps, el = timed(lambda: tok.encode_batch(texts))
    batch = len(texts) * reps / el
    print("tokenizers encode_batch: %d texts x %d in %.3fs: %.0f texts/s (1 thread)" % (len(texts), reps, el, batch))
    reps, el = timed(lambda: [tok.encode(t) for t in texts])
    one = len(texts) * reps / el
    print("tokenizers encode:       %d texts x %d in %.3fs: %.0f texts/s (1 thread, per call)" % (len(texts), reps, el, one))
    print("ratio tcf / tokenizers: %.2fx (encode_batch), %.2fx (encode)" % (tcf / batch, tcf / one))


if __name__ == "__main__":
    main()
