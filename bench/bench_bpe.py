#!/usr/bin/env python3
"""bench_bpe.py — batch encode throughput of tcf's BPE tokenizers against Hugging
Face `tokenizers`, same texts, same thread count, both in the same run.

    make tests && .venv/bin/python bench/bench_bpe.py [--threads N] [FILE.csv]

Tokenizers: the real SmolLM2-135M tokenizer (tcf reads the GGUF; the peer is
the same tokenizer as tests/ref/gen_bpe_fixtures.py builds it, from that GGUF
through transformers with SmolLM2's own Digits + ByteLevel pre-tokenizer),
when models/SmolLM2-135M-Instruct is present, and the small fixtures
tests/fixtures/bpe/{bytelevel,llama,qwen2}.json (the same file on both sides).
tcf is timed by `build/tests/test_bpe --bench MODEL FILE N` (best of 5
encode_batch runs, specials added, no truncation); the peer by encode_batch
with RAYON_NUM_THREADS=N (best of 5). The total id counts must agree.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("csv", nargs="?")
A = ap.parse_args()
os.environ["RAYON_NUM_THREADS"] = str(A.threads)
os.environ["TOKENIZERS_PARALLELISM"] = "true" if A.threads > 1 else "false"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
from tokenizers import Tokenizer  # noqa: E402  (after the thread settings)
import gen_bpe_fixtures as G  # noqa: E402


def main():
    path = A.csv or os.path.join(ROOT, "..", "shared", "data", "banking77", "train.csv")
    with open(path, newline="", encoding="utf-8") as f:
        texts = [r[0] for r in list(csv.reader(f))[1:]]
    nbytes = sum(len(t.encode()) for t in texts)
    cases = []
    smol = os.path.join(G.SMOL_DIR, G.SMOL_FILE)
    if os.path.exists(smol):
        cases.append(("SmolLM2 (GGUF, 49k vocab)", smol, G.smol_tokenizer()[1]))
    for name in ("bytelevel", "llama", "qwen2"):
        p = os.path.join(ROOT, "tests", "fixtures", "bpe", name + ".json")
        cases.append((name + ".json (1k vocab)", p, Tokenizer.from_file(p)))
    print("%d texts, %d bytes from %s, %d thread(s)" % (len(texts), nbytes, os.path.relpath(path, ROOT), A.threads))
    print("| tokenizer | tcf texts/s | tokenizers texts/s | ratio |")
    print("|---|---:|---:|---:|")
    for label, model, tok in cases:
        out = subprocess.run([os.path.join(ROOT, "build", "tests", "test_bpe"), "--bench", model, path, str(A.threads)],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        tok.no_padding()
        tok.no_truncation()
        best = 1e30
        for _ in range(5):
            t0 = time.perf_counter()
            encs = tok.encode_batch(texts)
            best = min(best, time.perf_counter() - t0)
        ids = sum(len(e.ids) for e in encs)
        assert ids == r["ids"], "%s: tcf made %d ids, tokenizers %d" % (label, r["ids"], ids)
        a, b = len(texts) / r["seconds"], len(texts) / best
        print("| %s | %.0f | %.0f | %.2fx |" % (label, a, b, a / b))


if __name__ == "__main__":
    main()
