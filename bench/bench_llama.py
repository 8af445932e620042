#!/usr/bin/env python3
"""Peer side of bench/run_llama.sh: transformers' LlamaModel in torch f32 on
the same dequantised GGUF weights and the same ids, same thread count.

  bench_llama.py MODEL_DIR GGUF_NAME IDS.i32 B T THREADS REPEAT TCF_OUT.f32

Prints one JSON line like bench_llama.c's, plus the max relative diff of
the last-token hidden states against tcf's (max |a-b| / max |b|)."""
import json, sys, time

import numpy as np
import torch
from transformers import AutoModelForCausalLM


def main():
    d, name, ids_path, B, T, threads, rep, tcf_out = sys.argv[1:9]
    B, T, threads, rep = int(B), int(T), int(threads), int(rep)
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).model.eval()
    ids = torch.from_numpy(np.fromfile(ids_path, dtype=np.int32).reshape(B, T).astype(np.int64))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)  # warm-up
        times = []
        for _ in range(rep):
            t0 = time.perf_counter()
            h = model(input_ids=ids, attention_mask=mask).last_hidden_state
            times.append(time.perf_counter() - t0)
    last = h[:, -1].numpy()
    ours = np.fromfile(tcf_out, dtype=np.float32).reshape(B, -1)
    rel = float(np.abs(ours - last).max() / np.abs(last).max())
    med = sorted(times)[rep // 2]
    print(json.dumps(dict(engine="torch", threads=threads, attn=model.config._attn_implementation,
                          times=[round(t, 4) for t in times], median_s=round(med, 4),
                          tokens_per_s=round(B * T / med, 1), max_rel_diff_vs_tcf=rel)))


if __name__ == "__main__":
    main()
