#!/usr/bin/env python3
"""Peers for the classifier benchmark (bench/run_classify.sh): torch f32,
onnxruntime fp32 and onnxruntime int8 (quantize_dynamic) on the same trained
classifier as tcf.

The model is rebuilt in Python from a tcf run directory: BertForSequence
Classification of the run's base, with (lora) the PEFT adapter merged by
merge_and_unload, (head) classifier.safetensors, or (full) the run directory
itself. Output: class probabilities (softmax of the logits). Tokenization and
timing follow bench_embed.py (HF tokenizers, truncation at the run's max_len,
padding to the longest text of each batch, tokenization inside the timed
region).

Subcommands
  export   write RUN.onnx (fp32) and RUN.int8.onnx once; check fp32 vs torch
  run      time torch / ort / ort_int8; one JSON object per engine and repeat
  compare  max abs diff of probabilities and label agreement vs a reference
  report   the table of medians and ratios
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_embed as be  # noqa: E402


def run_info(run):
    with open(os.path.join(run, "tcf_run.json")) as f:
        j = json.load(f)
    mode = (j.get("train_config") or {}).get("mode", "lora")
    return j["base_model"], int(j["max_len"]), j["labels"], mode


def build_torch(run):
    import torch
    from transformers import AutoModelForSequenceClassification

    base, _, labels, mode = run_info(run)
    K = len(labels)
    if mode == "full":
        m = AutoModelForSequenceClassification.from_pretrained(run, dtype=torch.float32)
    else:
        m = AutoModelForSequenceClassification.from_pretrained(base, num_labels=K, dtype=torch.float32)
        if mode == "lora":
            from peft import PeftModel
            m = PeftModel.from_pretrained(m, run).merge_and_unload()
        else:
            from safetensors.torch import load_file
            sd = load_file(os.path.join(run, "classifier.safetensors"))
            m.classifier.weight.data.copy_(sd["classifier.weight"])
            m.classifier.bias.data.copy_(sd["classifier.bias"])

    class Probs(torch.nn.Module):
        def __init__(self, clf):
            super().__init__()
            self.clf = clf

        def forward(self, input_ids, attention_mask):
            return torch.softmax(self.clf(input_ids=input_ids, attention_mask=attention_mask).logits, -1)

    return Probs(m.eval()).eval()


def cmd_export(a):
    be.set_threads_env(a.threads)
    import numpy as np
    import torch

    base, max_len, _, _ = run_info(a.run)
    model = build_torch(a.run)
    _, tokb = be.load_tokenizers(base, max_len)
    texts = be.read_texts(a.texts, a.n)
    ids, mask = be.encode_batch(tokb, texts[:4])
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(ids), torch.from_numpy(mask)), a.onnx, dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["probs"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"}, "probs": {0: "batch"}},
                          opset_version=17, do_constant_folding=True)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(a.onnx, a.onnx_int8, weight_type=QuantType.QInt8)
    sess = be.ort_session(a.onnx, a.threads)
    worst = 0.0
    with torch.inference_mode():
        for s in range(0, len(texts), a.batch):
            ids, mask = be.encode_batch(tokb, texts[s:s + a.batch])
            ref = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
            got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            worst = max(worst, float(np.abs(ref - got).max()))
    ok = worst <= 1e-4
    print(f"onnx export {a.onnx} (+ int8 {a.onnx_int8}): max |ort - torch| = {worst:.3g} "
          f"{'OK' if ok else 'FAIL'}", file=sys.stderr)
    return 0 if ok else 1


def cmd_run(a):
    be.set_threads_env(a.threads)
    import onnxruntime
    import torch

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    base, max_len, _, _ = run_info(a.run)
    texts = be.read_texts(a.texts, a.n)
    n1 = min(a.n1, len(texts)) if a.n1 > 0 else len(texts)
    tok1, tokb = be.load_tokenizers(base, max_len)
    common = {"threads": a.threads, "max_len": max_len,
              "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}}
    fwds = {}
    for name in a.engines.split(","):
        if name == "torch":
            model = build_torch(a.run)

            def fwd(ids, mask, model=model):
                with torch.inference_mode():
                    return model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        elif name in ("ort", "ort_int8"):
            sess = be.ort_session(a.onnx if name == "ort" else a.onnx_int8, a.threads)

            def fwd(ids, mask, sess=sess):
                return sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        else:
            print(f"unknown engine {name!r}", file=sys.stderr)
            return 2
        be.warm_up(fwd, tok1, tokb, texts, a.batch, a.warmup)
        fwds[name] = fwd
    for r in range(a.repeat):
        for name, fwd in fwds.items():
            res, p1, pn = be.time_engine(name, fwd, tok1, tokb, texts, n1, a.batch)
            res.update(common, repeat=r)
            print(json.dumps(res), flush=True)
            if a.probs_out and r == a.repeat - 1:
                p1.tofile(f"{a.probs_out}.{name}.b1.f32")
                pn.tofile(f"{a.probs_out}.{name}.bN.f32")
    return 0


def cmd_compare(a):
    import numpy as np

    ref = np.fromfile(a.ref, dtype=np.float32).reshape(-1, a.k)
    worst = 0.0
    for path in a.others:
        got = np.fromfile(path, dtype=np.float32).reshape(-1, a.k)
        d = float(np.abs(got - ref).max())
        agree = float((got.argmax(1) == ref.argmax(1)).mean())
        print(f"  {os.path.basename(path)} vs {os.path.basename(a.ref)}: max |dp| = {d:.3g}, "
              f"same label {agree * 100:.2f}% of {ref.shape[0]}")
        if os.path.basename(path).split(".")[-3] in ("tcf", "ort"):  # the f32 engines must agree
            worst = max(worst, d)
    return 0 if worst <= a.atol else 1


NAMES = {"tcf": "tcf f32", "tcf_q8_0": "tcf q8_0", "tcf_q4_0": "tcf q4_0", "ort": "onnxruntime fp32",
         "ort_int8": "onnxruntime int8", "torch": "torch f32"}


def cmd_report(a):
    rows = [json.loads(x) for x in open(a.results) if x.strip().startswith("{")]
    groups = {}
    for r in rows:
        groups.setdefault((r["engine"], r["threads"]), []).append(r)
    med = {}
    for key, rs in groups.items():
        def m(f):
            return statistics.median(f(r) for r in rs)
        med[key] = {"reps": len(rs), "p50": m(lambda r: r["b1"]["p50_ms"]), "p99": m(lambda r: r["b1"]["p99_ms"]),
                    "tps": m(lambda r: r["bN"]["texts_per_s"]), "n1": rs[0]["b1"]["n"], "nN": rs[0]["bN"]["n"],
                    "batch": rs[0]["bN"]["batch"]}
    threads = sorted({k[1] for k in med})
    engines = [e for e in NAMES if any((e, th) in med for th in threads)]
    engines[1:1] = sorted({k[0] for k in med if k[0].startswith("tcf_") and k[0] not in NAMES})
    for e in engines:
        NAMES.setdefault(e, e.replace("tcf_", "tcf ").replace("-", " "))
    v0 = next(iter(med.values()))
    out = [f"batch 1: {v0['n1']} texts one at a time; batch {v0['batch']}: {v0['nN']} texts; medians of "
           f"{min(v['reps'] for v in med.values())} runs", "",
           f"| engine | threads | b1 p50 ms | b1 p99 ms | b{v0['batch']} texts/s |", "|---|---:|---:|---:|---:|"]
    for th in threads:
        for e in engines:
            v = med.get((e, th))
            if v:
                out.append(f"| {NAMES[e]} | {th} | {v['p50']:.2f} | {v['p99']:.2f} | {v['tps']:.0f} |")
    out += ["", "Ratios tcf / peer (latency < 1, throughput > 1: tcf faster):", "",
            f"| threads | tcf | vs | b1 p50 | b1 p99 | b{v0['batch']} texts/s |", "|---:|---|---|---:|---:|---:|"]
    for th in threads:
        for t in (e for e in engines if e.startswith("tcf")):
            for e in ("ort", "ort_int8", "torch"):
                tv, v = med.get((t, th)), med.get((e, th))
                if tv and v:
                    out.append(f"| {th} | {NAMES[t]} | {NAMES[e]} | {tv['p50'] / v['p50']:.2f}x | "
                               f"{tv['p99'] / v['p99']:.2f}x | {tv['tps'] / v['tps']:.2f}x |")
    print("\n".join(out))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(q):
        q.add_argument("--run", required=True)
        q.add_argument("--texts", required=True)
        q.add_argument("--n", type=int, default=0)
        q.add_argument("--threads", type=int, default=1)
        q.add_argument("--batch", type=int, default=32)
        q.add_argument("--onnx", required=True)
        q.add_argument("--onnx-int8", required=True)

    common(sub.add_parser("export"))
    q = sub.add_parser("run")
    common(q)
    q.add_argument("--engines", default="torch,ort,ort_int8")
    q.add_argument("--n1", type=int, default=0)
    q.add_argument("--warmup", type=int, default=8)
    q.add_argument("--repeat", type=int, default=1)
    q.add_argument("--probs-out", default="")
    q = sub.add_parser("compare")
    q.add_argument("--k", type=int, required=True)
    q.add_argument("--atol", type=float, default=1e-4)
    q.add_argument("ref")
    q.add_argument("others", nargs="+")
    q = sub.add_parser("report")
    q.add_argument("results")
    a = p.parse_args()
    return {"export": cmd_export, "run": cmd_run, "compare": cmd_compare, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
