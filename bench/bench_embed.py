#!/usr/bin/env python3
"""Peers for the embedding benchmark (bench/run_embed.sh): torch and onnxruntime.

Same work as bench/bench_embed.c: tokenize with the model's fast tokenizer
(HF `tokenizers`, truncation 128, dynamic padding to the longest text of each
batch), run the encoder in float32, mean-pool over real tokens, L2-normalise
(the model's modules.json: Transformer -> Pooling(mean) -> Normalize).
Tokenization is inside the timed region, as tcf_model_embed tokenizes too, and
is also reported on its own.

Batches are the texts in file order, cut into consecutive chunks of --batch;
nothing is sorted, so every engine sees the same batches and the same padding.

Subcommands
  export   write the ONNX model (encoder + mean pooling + normalise) once and
           check it against torch (max abs diff <= 1e-4) on the given texts
  run      time torch and/or ORT at --threads; print one JSON object per engine
  compare  max abs diff between raw float32 embedding files
  report   read the JSON lines written by run_embed.sh and print the table

Thread counts must be fixed before torch / tokenizers start their pools, so
`run` sets the environment and only then imports them: run one process per
thread count.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def read_texts(path, limit=0):
    with open(path, encoding="utf-8") as f:
        texts = [line.rstrip("\r\n") for line in f]
    texts = [t for t in texts if t]
    return texts[:limit] if limit > 0 else texts


def set_threads_env(n):
    # before importing torch (OpenMP/MKL) and tokenizers (rayon)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS"):
        os.environ[k] = str(n)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if n > 1 else "false"


def percentile(xs, p):
    """Linear interpolation between closest ranks (numpy's default); the C
    driver uses the same rule."""
    s = sorted(xs)
    pos = p / 100.0 * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


# ---- model pieces (imported lazily) -------------------------------------------


def load_tokenizers(model_dir, max_len):
    from tokenizers import Tokenizer

    one = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    one.no_padding()  # tokenizer.json pads to a fixed 128: turn that off
    one.enable_truncation(max_length=max_len)
    batch = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    batch.enable_truncation(max_length=max_len)
    pad_id = batch.token_to_id("[PAD]")
    batch.enable_padding(pad_id=pad_id if pad_id is not None else 0, pad_token="[PAD]")  # longest
    return one, batch


def encode_one(tok, text):
    import numpy as np

    ids = np.asarray([tok.encode(text).ids], dtype=np.int64)  # (1, T)
    return ids, np.ones_like(ids)


def encode_batch(tok, texts):
    import numpy as np

    encs = tok.encode_batch(texts)
    ids = np.asarray([e.ids for e in encs], dtype=np.int64)  # (B, T)
    mask = np.asarray([e.attention_mask for e in encs], dtype=np.int64)  # (B, T)
    return ids, mask


def build_torch(model_dir):
    import torch
    from transformers import AutoModel

    class Embedder(torch.nn.Module):
        """BertModel -> masked mean over tokens -> L2 normalise (sentence-transformers)."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (B, C)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    bert = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    return Embedder(bert).eval()


def ort_session(onnx_path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])


# ---- export ---------------------------------------------------------------------


def cmd_export(a):
    set_threads_env(a.threads)
    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    os.makedirs(os.path.dirname(os.path.abspath(a.onnx)), exist_ok=True)
    model = build_torch(a.model)
    _, tokb = load_tokenizers(a.model, a.max_len)
    texts = read_texts(a.texts, a.n)
    ids, mask = encode_batch(tokb, texts[:4])
    with torch.inference_mode(False), torch.no_grad():
        # TorchScript exporter (dynamo=False): the dynamo exporter needs
        # onnxscript, which the venv does not have.
        torch.onnx.export(
            model,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            a.onnx,
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                          "attention_mask": {0: "batch", 1: "seq"},
                          "embedding": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
        )
    import onnx

    onnx.checker.check_model(a.onnx)
    sess = ort_session(a.onnx, a.threads)
    worst = 0.0
    with torch.inference_mode():
        for s in range(0, len(texts), a.batch):
            ids, mask = encode_batch(tokb, texts[s:s + a.batch])
            ref = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
            got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            worst = max(worst, float(np.abs(ref - got).max()))
        # batch 1 too (a different shape path through the graph)
        tok1, _ = load_tokenizers(a.model, a.max_len)
        for t in texts[:16]:
            ids, mask = encode_one(tok1, t)
            ref = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
            got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            worst = max(worst, float(np.abs(ref - got).max()))
    ok = worst <= 1e-4
    print(f"onnx export {a.onnx}: max |ort - torch| = {worst:.3g} over {len(texts)} texts "
          f"(+16 at batch 1) {'OK' if ok else 'FAIL (> 1e-4)'}", file=sys.stderr)
    return 0 if ok else 1


# ---- run --------------------------------------------------------------------------


def warm_up(forward, tok1, tokb, texts, batch, warmup):
    """A few single texts and two full batches (allocators, kernels, caches)."""
    for t in texts[:warmup]:
        forward(*encode_one(tok1, t))
    for s in range(0, min(len(texts), 2 * batch), batch):
        forward(*encode_batch(tokb, texts[s:s + batch]))


def time_engine(name, forward, tok1, tokb, texts, n1, batch):
    """forward(ids, mask) -> (B, C) float32 numpy. Returns (result dict, emb_b1, emb_bN)."""
    import numpy as np

    clock = time.perf_counter
    lat, tok_lat, emb1 = [], [], []
    for t in texts[:n1]:
        t0 = clock()
        ids, mask = encode_one(tok1, t)
        t1 = clock()
        e = forward(ids, mask)
        t2 = clock()
        lat.append((t2 - t0) * 1e3)
        tok_lat.append((t1 - t0) * 1e3)
        emb1.append(e)

    embs, tok_s = [], 0.0
    t0 = clock()
    for s in range(0, len(texts), batch):
        a = clock()
        ids, mask = encode_batch(tokb, texts[s:s + batch])
        tok_s += clock() - a
        embs.append(forward(ids, mask))
    total = clock() - t0
    res = {
        "engine": name,
        "b1": {"n": len(lat), "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90),
               "p99_ms": percentile(lat, 99), "mean_ms": statistics.fmean(lat),
               "tok_mean_ms": statistics.fmean(tok_lat)},
        "bN": {"batch": batch, "n": len(texts), "total_s": total, "texts_per_s": len(texts) / total,
               "tok_s": tok_s},
    }
    return res, np.concatenate(emb1).astype(np.float32), np.concatenate(embs).astype(np.float32)


def cmd_run(a):
    set_threads_env(a.threads)
    import numpy as np  # noqa: F401
    import onnxruntime
    import tokenizers
    import torch
    import transformers

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    texts = read_texts(a.texts, a.n)
    n1 = min(a.n1, len(texts)) if a.n1 > 0 else len(texts)
    tok1, tokb = load_tokenizers(a.model, a.max_len)
    common = {"threads": a.threads, "max_len": a.max_len, "model": os.path.basename(a.model.rstrip("/")),
              "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                           "transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
              "env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}}
    fwds = {}
    for name in a.engines.split(","):
        if name == "torch":
            model = build_torch(a.model)

            def fwd(ids, mask, model=model):
                with torch.inference_mode():
                    return model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        elif name == "ort":
            sess = ort_session(a.onnx, a.threads)

            def fwd(ids, mask, sess=sess):
                return sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        else:
            print(f"unknown engine {name!r}", file=sys.stderr)
            return 2
        warm_up(fwd, tok1, tokb, texts, a.batch, a.warmup)
        fwds[name] = fwd
    # repeats interleave the engines, so that load from elsewhere on the
    # machine falls on all of them alike
    for r in range(a.repeat):
        for name, fwd in fwds.items():
            res, e1, eb = time_engine(name, fwd, tok1, tokb, texts, n1, a.batch)
            res.update(common, repeat=r)
            print(json.dumps(res), flush=True)
            if a.emb_out and r == a.repeat - 1:
                e1.tofile(f"{a.emb_out}.{name}.b1.f32")
                eb.tofile(f"{a.emb_out}.{name}.bN.f32")
    return 0


# ---- compare / report -----------------------------------------------------------


def cmd_compare(a):
    import numpy as np

    ref = np.fromfile(a.ref, dtype=np.float32).reshape(-1, a.dim)
    worst_all = 0.0
    for path in a.others:
        got = np.fromfile(path, dtype=np.float32).reshape(-1, a.dim)
        if got.shape != ref.shape:
            print(f"{path}: shape {got.shape} != {ref.shape} of {a.ref}")
            return 1
        d = float(np.abs(got - ref).max())
        cos = float((got * ref).sum(1).min())
        worst_all = max(worst_all, d)
        print(f"  max |{os.path.basename(path)} - {os.path.basename(a.ref)}| = {d:.3g}"
              f"  (min cosine {cos:.7f}, {ref.shape[0]} texts)")
    ok = worst_all <= a.atol
    print(f"  embeddings {'match' if ok else 'DIFFER'} (atol {a.atol:g})")
    return 0 if ok else 1


def cmd_report(a):
    rows = []
    with open(a.results) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    # median over repeats of each (engine, threads)
    groups = {}
    for r in rows:
        groups.setdefault((r["engine"], r["threads"]), []).append(r)
    med = {}
    for key, rs in groups.items():
        def m(f):
            return statistics.median(f(r) for r in rs)
        med[key] = {"reps": len(rs),
                    "p50": m(lambda r: r["b1"]["p50_ms"]), "p90": m(lambda r: r["b1"]["p90_ms"]),
                    "p99": m(lambda r: r["b1"]["p99_ms"]), "tok1": m(lambda r: r["b1"]["tok_mean_ms"]),
                    "tps": m(lambda r: r["bN"]["texts_per_s"]),
                    "tokN": m(lambda r: r["bN"]["tok_s"] / r["bN"]["n"] * 1e6),
                    "n1": rs[0]["b1"]["n"], "nN": rs[0]["bN"]["n"], "batch": rs[0]["bN"]["batch"]}
    names = {"tcf": "tcf f32", "ort": "onnxruntime fp32", "torch": "torch f32"}
    threads = sorted({k[1] for k in med})
    any_ = next(iter(med.values()))
    out = []
    out.append(f"batch 1: {any_['n1']} texts one at a time; batch {any_['batch']}: {any_['nN']} texts; "
               f"median of {min(v['reps'] for v in med.values())}-{max(v['reps'] for v in med.values())} runs")
    out.append("")
    out.append(f"| engine | threads | b1 p50 ms | b1 p90 ms | b1 p99 ms | b{any_['batch']} texts/s "
               f"| tok b1 ms/text | tok b{any_['batch']} us/text |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for th in threads:
        for e in ("tcf", "ort", "torch"):
            v = med.get((e, th))
            if not v:
                continue
            out.append(f"| {names[e]} | {th} | {v['p50']:.2f} | {v['p90']:.2f} | {v['p99']:.2f} | "
                       f"{v['tps']:.0f} | {v['tok1']:.3f} | {v['tokN']:.1f} |")
    out.append("")
    out.append("Ratios (tcf / peer; latency < 1 and throughput > 1 mean tcf is faster):")
    out.append("")
    out.append(f"| threads | vs | b1 p50 | b1 p99 | b{any_['batch']} texts/s |")
    out.append("|---:|---|---:|---:|---:|")
    for th in threads:
        t = med.get(("tcf", th))
        for e in ("ort", "torch"):
            v = med.get((e, th))
            if not t or not v:
                continue
            out.append(f"| {th} | {names[e]} | {t['p50'] / v['p50']:.2f}x | {t['p99'] / v['p99']:.2f}x | "
                       f"{t['tps'] / v['tps']:.2f}x |")
    print("\n".join(out))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(q):
        q.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
        q.add_argument("--texts", required=True, help="one text per line")
        q.add_argument("--n", type=int, default=0, help="use the first N texts (0: all)")
        q.add_argument("--threads", type=int, default=1)
        q.add_argument("--batch", type=int, default=32)
        q.add_argument("--max-len", type=int, default=128)
        q.add_argument("--onnx", default=os.path.join(ROOT, "build", "bench", "all-MiniLM-L6-v2.onnx"))

    q = sub.add_parser("export")
    common(q)
    q = sub.add_parser("run")
    common(q)
    q.add_argument("--engines", default="torch,ort")
    q.add_argument("--n1", type=int, default=0, help="texts timed at batch 1 (0: all)")
    q.add_argument("--warmup", type=int, default=8)
    q.add_argument("--repeat", type=int, default=1, help="timed passes per engine (interleaved)")
    q.add_argument("--emb-out", default="", help="write PREFIX.<engine>.{b1,bN}.f32")
    q = sub.add_parser("compare")
    q.add_argument("--dim", type=int, default=384)
    q.add_argument("--atol", type=float, default=1e-4)
    q.add_argument("ref")
    q.add_argument("others", nargs="+")
    q = sub.add_parser("report")
    q.add_argument("results")
    a = p.parse_args()
    return {"export": cmd_export, "run": cmd_run, "compare": cmd_compare, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
