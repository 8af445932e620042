"""Manual check (not run by CI): an adapter saved by tcf loads in PEFT.

    make tests && .venv/bin/python tests/ref/check_adapter_peft.py

1. `build/tests/test_adapter_io --save-demo DIR` writes a c1-shaped adapter
   (6 layers, all six target kinds, r=8, alpha=16, 15 classes, every value
   random) with tcf_adapter_save; `... DIR output-only` wraps only the layer
   output.dense (r=4, alpha=8, rsLoRA), which tcf must spell per layer
   ("encoder.layer.N.output.dense") because PEFT's "output.dense" would also
   match attention.output.dense.
2. The file is read with Python safetensors and compared byte for byte with
   what safetensors.torch.save_file writes for the same tensors + metadata.
3. peft.PeftModel.from_pretrained loads DIR onto
   BertForSequenceClassification(models/all-MiniLM-L6-v2, num_labels=15);
   the wrapped module set, the LoRA config (r, alpha, scaling) and every
   loaded tensor (lora_A/B, classifier weight/bias) must equal the file's.
4. merge_and_unload changes a query weight by scaling * B @ A (scaling 2.0).
5. The other way: PEFT's save_pretrained output (c1 and c2 settings, random
   values) is loaded by tcf and saved again (`test_adapter_io --resave`);
   the tensors must come back bit-identical and the adapter_config fields
   that matter equal.
Exit status 0 when everything matches.
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models/all-MiniLM-L6-v2")
BIN = os.path.join(ROOT, "build/tests/test_adapter_io")


def check(variant):
    from peft import PeftModel
    from transformers import BertForSequenceClassification

    failures = []
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([BIN, "--save-demo", d] + ([variant] if variant else []), check=True, cwd=ROOT)
        wpath = os.path.join(d, "adapter_model.safetensors")
        ours = load_file(wpath)
        with safe_open(wpath, "pt") as f:
            meta = f.metadata()
        if meta != {"format": "pt"}:
            failures.append(f"metadata {meta}")
        ref = os.path.join(d, "python.safetensors")
        save_file(ours, ref, metadata={"format": "pt"})
        same_bytes = open(wpath, "rb").read() == open(ref, "rb").read()
        print(f"safetensors: {len(ours)} tensors, byte-identical to safetensors.torch.save_file: {same_bytes}")
        if not same_bytes:
            failures.append("file bytes differ from Python's writer")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            base = BertForSequenceClassification.from_pretrained(MODEL, num_labels=15)
            q = "bert.encoder.layer.3." + ("output.dense" if variant else "attention.self.query")
            w0 = base.state_dict()[q + ".weight"].clone()
            model = PeftModel.from_pretrained(base, d)
        for w in caught:
            msg = str(w.message)
            print(f"warning: {msg[:300]}")
            if "missing" in msg.lower() or "unexpected" in msg.lower():
                failures.append(f"load warning: {msg[:200]}")

        cfg = model.peft_config["default"]
        print(f"config: r={cfg.r} alpha={cfg.lora_alpha} rslora={cfg.use_rslora} "
              f"targets={sorted(cfg.target_modules)} task={cfg.task_type}")
        params = dict(model.named_parameters())
        wrapped = sorted(n for n, m in model.named_modules() if hasattr(m, "lora_A") and "default" in m.lora_A)
        if variant == "output-only":
            want = [f"base_model.model.bert.encoder.layer.{i}.output.dense" for i in range(6)]
        else:
            want = sorted(f"base_model.model.bert.encoder.layer.{i}.{k}" for i in range(6) for k in
                          ["attention.self.query", "attention.self.key", "attention.self.value",
                           "attention.output.dense", "intermediate.dense", "output.dense"])
        print(f"wrapped: {len(wrapped)} modules, as intended: {wrapped == want}")
        if wrapped != want:
            failures.append(f"wrapped {wrapped}")
        max_diff = 0.0
        for key, t in ours.items():
            if ".classifier." in key:
                name = key.replace("classifier.", "classifier.modules_to_save.default.")
            else:
                name = key.replace(".weight", ".default.weight")
            p = params.get(name)
            if p is None:
                failures.append(f"{key}: no parameter {name} in the PEFT model")
                continue
            if tuple(p.shape) != tuple(t.shape):
                failures.append(f"{key}: shape {tuple(p.shape)} vs {tuple(t.shape)}")
                continue
            max_diff = max(max_diff, (p.detach() - t).abs().max().item())
        print(f"loaded tensors vs file: {len(ours)} compared, max abs diff {max_diff}")
        if max_diff != 0.0:
            failures.append(f"loaded tensors differ by {max_diff}")
        scalings = {m.scaling["default"] for m in model.modules()
                    if isinstance(getattr(m, "scaling", None), dict) and "default" in m.scaling}
        print(f"scaling: {scalings}")
        s = 4.0 if variant == "output-only" else 2.0
        if scalings != {s}:
            failures.append(f"scaling {scalings}")

        # merge: W' - W must be scaling * B @ A
        A = ours[f"base_model.model.{q}.lora_A.weight"]
        B = ours[f"base_model.model.{q}.lora_B.weight"]
        merged = model.merge_and_unload()
        w1 = merged.state_dict()[q + ".weight"]
        err = (w1 - w0 - s * B @ A).abs().max().item()
        print(f"merge check on {q}: max |W' - W - {s} B A| = {err:.3g}")
        if err > 1e-5:
            failures.append(f"merge differs by {err}")

    if failures:
        print(f"FAILED ({variant or 'c1'}):\n  " + "\n  ".join(failures))
        return 1
    print(f"OK ({variant or 'c1'}): PeftModel.from_pretrained accepts the tcf adapter and loads every tensor exactly")
    return 0


def check_peft_to_tcf(name, **kw):
    from peft import LoraConfig, get_peft_model
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    base = BertForSequenceClassification.from_pretrained(MODEL, num_labels=15)
    model = get_peft_model(base, LoraConfig(task_type="SEQ_CLS", lora_dropout=0.0, **kw))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.requires_grad:
                p.copy_(torch.randn_like(p))
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "peft"), os.path.join(d, "tcf")
        model.save_pretrained(src)
        subprocess.run([BIN, "--resave", src, dst], check=True, cwd=ROOT)
        a = load_file(os.path.join(src, "adapter_model.safetensors"))
        b = load_file(os.path.join(dst, "adapter_model.safetensors"))
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        ca = json.load(open(os.path.join(src, "adapter_config.json")))
        cb = json.load(open(os.path.join(dst, "adapter_config.json")))
        fields = ["peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "use_rslora",
                  "modules_to_save", "bias", "fan_in_fan_out", "rank_pattern", "alpha_pattern"]
        diff = [f for f in fields if ca.get(f) != cb.get(f)]
        if set(ca["target_modules"]) != set(cb["target_modules"]):
            diff.append("target_modules")
        print(f"PEFT -> tcf -> file ({name}): {len(a)} tensors bit-identical: {same}; "
              f"config fields differing: {diff or 'none'}")
        return 0 if same and not diff else 1


def main():
    rc = check(None) | check("output-only")
    rc |= check_peft_to_tcf("c1", r=8, lora_alpha=16, target_modules=[
        "query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"])
    rc |= check_peft_to_tcf("c2", r=4, lora_alpha=8, use_rslora=True, target_modules=["query", "value"])
    return rc


if __name__ == "__main__":
    sys.exit(main())
