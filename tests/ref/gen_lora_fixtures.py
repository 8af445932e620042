#!/usr/bin/env python3
"""Reference outputs of LoRA fine-tuning (PEFT) on all-MiniLM-L6-v2, from PyTorch.

Model: transformers BertForSequenceClassification loaded from models/all-MiniLM-L6-v2
with num_labels=15 (classifier Linear(384, 15) with bias, on BertPooler = tanh(dense([CLS]))),
all dropout probabilities set to 0 AND model.eval(), float32, eager attention, CPU, 1 thread.

Two PEFT LoRA configs (task_type SEQ_CLS, so `classifier` is trainable via modules_to_save):
  c1: r=8, lora_alpha=16 (scale 2), targets query,key,value,attention.output.dense,
      intermediate.dense,output.dense (36 modules; the pooler dense is NOT wrapped)
  c2: r=4, lora_alpha=8, use_rslora (scale 8/sqrt(4) = 4), targets query,value (12 modules)

Initial values:
  classifier.weight / .bias: torch.Generator(seed SEED_HEAD) normal * 0.02 (weight then bias);
      saved in init/ (shared by c1 and c2).
  lora_A / lora_B: NOT torch's kaiming/zero init but a counter-based generator that a C test
      can reproduce exactly (values are exact float32; see lora_init_values() and
      manifest["lora_init"], which lists seed and amplitude per tensor). lora_B is non-zero so
      the gradients w.r.t. lora_A are non-trivial. Storing all of them would not fit the size
      budget; c1's layer-0 query A/B are saved in init/ to check a C implementation of the
      generator, and manifest["lora_init"] holds every tensor's float64 sum.

Writes tests/fixtures/lora/ (raw little-endian .f32 / .i32, row-major; manifest.json lists
every tensor with name, file, shape, dtype):
  texts.txt, ids.i32 [8,T], mask.i32 [8,T], labels.i32 [8]   fixed batch (padded to longest)
  init/...                      classifier init (+ c1 layer-0 query lora A/B)
  c1/logits.f32 [8,15], c1/loss.f32 [1], c1/grad/<PEFT param name>.f32  (all 74 trainable)
  c2/logits.f32, c2/loss.f32, c2/grad/...                                 (all 26 trainable)
  c1/train_loss.f32 [21]        AdamW on the same batch: loss with the params after s updates,
                                s = 0..20 (entries 0..19 are "before update s+1")
  c1/final/...                  params after 20 steps: classifier, layer-0 query A/B;
                                c1/final_norms.f32 [74]: L2 norm of every param
                                after 20 steps, in manifest["final_norms_order"] order
  c1_adapter_config.json, c2_adapter_config.json   as written by save_pretrained
  manifest.json                 versions, model sha256, command, seeds, tensor list, FD checks
Run: .venv/bin/python tests/ref/gen_lora_fixtures.py [--out DIR]
"""
import argparse, copy, csv, hashlib, json, os, random, shutil, sys, tempfile

import numpy as np
import peft
import torch
import torch.nn.functional as F
import transformers
from peft import LoraConfig, get_peft_model
from safetensors import safe_open
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = "models/all-MiniLM-L6-v2"  # relative to ROOT (the script chdirs there), so that the
                                    # saved adapter_config.json's base_model_name_or_path is portable
DATA = os.environ.get("TCF_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
OUT = os.path.join(ROOT, "tests", "fixtures", "lora")

NUM_LABELS = 15
BATCH = 8
MAX_LEN = 128
SEED_TORCH = 0       # torch.manual_seed (nothing random should depend on it)
SEED_TEXTS = 77      # random.Random: which 8 rows of banking77/train.csv
SEED_HEAD = 1234     # torch.Generator: classifier init
SEED_FD = 4321       # torch.Generator: which elements the finite-difference check probes
STEPS = 20
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)

C1_TARGETS = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
C2_TARGETS = ["query", "value"]
CONFIGS = {
    "c1": dict(r=8, lora_alpha=16, use_rslora=False, target_modules=C1_TARGETS, seed_base=0),
    "c2": dict(r=4, lora_alpha=8, use_rslora=True, target_modules=C2_TARGETS, seed_base=1000),
}
MODULE_ORDER = ["attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "intermediate.dense", "output.dense"]

M64 = (1 << 64) - 1


def splitmix64(x):
    """splitmix64 finaliser on uint64 numpy arrays (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def lora_init_values(seed, amp_log2, n):
    """Element i (row-major) = (k - 2^23) * 2^(amp_log2 - 23), k = splitmix64((seed << 32) + i) >> 40.

    In C: uint64_t z = ((uint64_t)seed << 32) + i; z += 0x9E3779B97F4A7C15;
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
          z ^= z >> 31; float v = ldexpf((float)((int32_t)(z >> 40) - (1 << 23)), amp_log2 - 23);
    Uniform in [-2^amp_log2, 2^amp_log2), exact in float32.
    """
    idx = np.arange(n, dtype=np.uint64) + np.uint64((seed << 32) & M64)
    with np.errstate(over="ignore"):
        z = splitmix64(idx)
    k = (z >> np.uint64(40)).astype(np.int64) - (1 << 23)
    return np.ldexp(k.astype(np.float64), amp_log2 - 23).astype(np.float32)


def lora_param_seed(cfg, name):
    """Seed of a lora tensor: seed_base + 16 * layer + 2 * module index + (0 for A, 1 for B)."""
    after = name.split("encoder.layer.", 1)[1]
    layer = int(after.split(".", 1)[0])
    mod = after.split(".", 1)[1].split(".lora_", 1)[0]
    ab = 0 if ".lora_A." in name else 1
    return cfg["seed_base"] + 16 * layer + 2 * MODULE_ORDER.index(mod) + ab


def lora_amp_log2(name, shape):
    # A: 2^-5 (in=384) / 2^-6 (in=1536), about PEFT's kaiming bound 1/sqrt(in); B: 2^-6.
    if ".lora_A." in name:
        return -5 if shape[1] == 384 else -6
    return -6


def load_batch():
    path = os.path.join(DATA, "banking77", "train.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r["text"] for r in csv.DictReader(f)]
    rows = [t for t in rows if "\n" not in t and "\r" not in t]
    texts = random.Random(SEED_TEXTS).sample(rows, BATCH)
    labels = [(7 * i + 3) % NUM_LABELS for i in range(BATCH)]
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_LEN)
    enc = [tok.encode(t).ids for t in texts]
    T = max(len(e) for e in enc)
    ids = np.zeros((BATCH, T), dtype=np.int32)    # [PAD] = 0
    mask = np.zeros((BATCH, T), dtype=np.int32)
    for i, e in enumerate(enc):
        ids[i, :len(e)] = e
        mask[i, :len(e)] = 1
    return texts, ids, mask, np.array(labels, dtype=np.int32)


def base_model(head_w, head_b):
    m = BertForSequenceClassification.from_pretrained(
        MODEL, num_labels=NUM_LABELS, dtype=torch.float32, attn_implementation="eager",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    with torch.no_grad():
        m.classifier.weight.copy_(head_w)
        m.classifier.bias.copy_(head_b)
    return m.eval()


def peft_model(cfg, head_w, head_b):
    lc = LoraConfig(task_type="SEQ_CLS", r=cfg["r"], lora_alpha=cfg["lora_alpha"], lora_dropout=0.0,
                    use_rslora=cfg["use_rslora"], target_modules=cfg["target_modules"])
    pm = get_peft_model(base_model(head_w, head_b), lc).eval()
    init = {}
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if not p.requires_grad or ".lora_" not in n:
                continue
            seed, amp = lora_param_seed(cfg, n), lora_amp_log2(n, tuple(p.shape))
            v = lora_init_values(seed, amp, p.numel()).reshape(tuple(p.shape))
            p.copy_(torch.from_numpy(v))
            init[n] = dict(param=n, shape=list(p.shape), seed=seed, amp_log2=amp,
                           sum=float(v.astype(np.float64).sum()))
    return pm, init


def wrapped_modules(pm):
    return [n for n, m in pm.named_modules() if isinstance(m, peft.tuners.lora.LoraLayer)]


def trainable(pm):
    return [(n, p) for n, p in pm.named_parameters() if p.requires_grad]


def forward_loss(pm, batch):
    ids, mask, labels = batch
    out = pm(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids), labels=labels)
    return out.logits, out.loss


class Writer:
    def __init__(self, out):
        self.out, self.tensors = out, []

    def put(self, name, rel, arr, param=None):
        arr = np.ascontiguousarray(arr)
        dt = {np.dtype(np.float32): ("f32", "<f4"), np.dtype(np.int32): ("i32", "<i4")}[arr.dtype]
        rel = rel + "." + dt[0]
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        arr.astype(dt[1]).tofile(path)
        e = dict(name=name, file=rel, shape=list(arr.shape), dtype=dt[0])
        if param is not None:
            e["param"] = param
        self.tensors.append(e)


def fd_check(pm, batch, names, n_el, gen, h=1e-4):
    """Float64 4-point central differences (error O(h^4)) vs float64 autograd on n_el random
    elements of each tensor."""
    pm = copy.deepcopy(pm).double()
    params = dict(pm.named_parameters())
    pm.zero_grad()
    _, loss = forward_loss(pm, batch)
    loss.backward()
    rows = []
    for n in names:
        p = params[n]
        for _ in range(n_el):
            j = int(torch.randint(p.numel(), (1,), generator=gen))
            g = float(p.grad.reshape(-1)[j])
            with torch.no_grad():
                flat = p.data.view(-1)
                x0 = float(flat[j])
                f = {}
                for k in (-2, -1, 1, 2):
                    flat[j] = x0 + k * h
                    f[k] = float(forward_loss(pm, batch)[1])
                flat[j] = x0
            fd = (8 * (f[1] - f[-1]) - (f[2] - f[-2])) / (12 * h)
            rel = abs(fd - g) / max(abs(fd), abs(g), 1e-30)
            rows.append(dict(param=n, index=j, autograd=g, fd=fd, rel=rel))
            print(f"  FD {n.replace('base_model.model.', '')}[{j}]: autograd {g:+.10e} fd {fd:+.10e} rel {rel:.2e}")
    grads64 = {n: p.grad.detach().clone() for n, p in pm.named_parameters() if p.requires_grad}
    return rows, grads64


def compact_json(obj, ind=0):
    """JSON with dicts down to depth 3 one entry per line and lists of dicts one dict per line."""
    pad = " " * (ind + 1)
    if isinstance(obj, dict) and ind < 3 and obj:
        items = [f"{pad}{json.dumps(k)}: {compact_json(v, ind + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * ind + "}"
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        return "[\n" + ",\n".join(pad + json.dumps(v) for v in obj) + "\n" + " " * ind + "]"
    return json.dumps(obj)


def train(pm, batch):
    """STEPS AdamW steps on one batch; returns the loss after s updates, s = 0..STEPS."""
    opt = torch.optim.AdamW([p for _, p in trainable(pm)], **ADAMW)
    losses = []
    for s in range(STEPS + 1):
        opt.zero_grad()
        _, loss = forward_loss(pm, batch)
        losses.append(loss.item())
        if s == STEPS:
            break
        loss.backward()
        opt.step()
    return losses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    if os.environ.get("PYTHONHASHSEED") != "0":
        # PEFT stores target_modules as a set: its order in adapter_config.json follows str hashing
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])
    args.out = os.path.abspath(args.out)
    os.chdir(ROOT)
    torch.manual_seed(SEED_TORCH)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    W = Writer(args.out)

    texts, ids, mask, labels = load_batch()
    with open(os.path.join(args.out, "texts.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(t + "\n" for t in texts)
    W.put("ids", "ids", ids)
    W.put("mask", "mask", mask)
    W.put("labels", "labels", labels)
    batch = (torch.from_numpy(ids).long(), torch.from_numpy(mask).long(), torch.from_numpy(labels).long())

    g = torch.Generator().manual_seed(SEED_HEAD)
    head_w = torch.randn(NUM_LABELS, 384, generator=g) * 0.02
    head_b = torch.randn(NUM_LABELS, generator=g) * 0.02
    W.put("init/classifier.weight", "init/classifier.weight", head_w.numpy(),
          param="base_model.model.classifier.modules_to_save.default.weight")
    W.put("init/classifier.bias", "init/classifier.bias", head_b.numpy(),
          param="base_model.model.classifier.modules_to_save.default.bias")

    man = dict(
        model="all-MiniLM-L6-v2",
        model_sha256=hashlib.sha256(open(os.path.join(MODEL, "model.safetensors"), "rb").read()).hexdigest(),
        torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
        numpy=np.__version__,
        command="python tests/ref/gen_lora_fixtures.py",
        seeds=dict(torch_manual_seed=SEED_TORCH, texts_random=SEED_TEXTS, head_generator=SEED_HEAD,
                   fd_generator=SEED_FD),
        model_setup="BertForSequenceClassification(num_labels=15), float32, attn_implementation=eager, "
                    "hidden/attention/classifier dropout 0.0 and model.eval(); token_type_ids all 0; "
                    "logits = classifier(tanh(pooler.dense(h[:,0]))); loss = mean cross-entropy",
        batch=dict(source="banking77/train.csv", texts=texts, labels=labels.tolist(),
                   labels_rule="(7*i+3) % 15", truncation=MAX_LEN, padding="longest, [PAD]=0, mask 0"),
        head_init="g=torch.Generator().manual_seed(1234); W=randn(15,384,g)*0.02; b=randn(15,g)*0.02",
        lora_init_rule=lora_init_values.__doc__.strip(),
        configs={}, lora_init={}, adapter_keys={}, fd_check={}, tensors=W.tensors,
    )

    models = {}
    for cname, cfg in CONFIGS.items():
        pm, init = peft_model(cfg, head_w, head_b)
        models[cname] = pm
        wrapped = wrapped_modules(pm)
        expect = [f"base_model.model.bert.encoder.layer.{l}.{m}" for l in range(6) for m in MODULE_ORDER
                  if m.rsplit(".", 1)[-1] in cfg["target_modules"] or m in cfg["target_modules"]]
        assert sorted(wrapped) == sorted(expect), (cname, wrapped)
        assert not any("pooler" in w for w in wrapped)
        tr = trainable(pm)
        lora_scale = cfg["lora_alpha"] / (cfg["r"] ** 0.5 if cfg["use_rslora"] else cfg["r"])
        pscale = {pm.base_model.model.bert.encoder.layer[0].attention.self.query.scaling["default"]}
        assert pscale == {lora_scale}, (pscale, lora_scale)
        man["configs"][cname] = dict(
            r=cfg["r"], lora_alpha=cfg["lora_alpha"], use_rslora=cfg["use_rslora"], lora_dropout=0.0,
            target_modules=cfg["target_modules"], scaling=lora_scale,
            wrapped_modules=[w.replace("base_model.model.", "") for w in wrapped],
            n_trainable_tensors=len(tr), n_trainable_params=sum(p.numel() for _, p in tr))
        man["lora_init"][cname] = list(init.values())
        print(f"{cname}: {len(wrapped)} LoRA modules, {len(tr)} trainable tensors, "
              f"{sum(p.numel() for _, p in tr)} params, scaling {lora_scale}")
        with torch.no_grad():
            cls = pm.base_model.model.classifier
            assert torch.equal(cls.modules_to_save["default"].weight, head_w)

        # adapter as PEFT saves it (init values)
        with tempfile.TemporaryDirectory() as d:
            pm.save_pretrained(d)
            shutil.copy(os.path.join(d, "adapter_config.json"),
                        os.path.join(args.out, f"{cname}_adapter_config.json"))
            with safe_open(os.path.join(d, "adapter_model.safetensors"), "pt") as f:
                man["adapter_keys"][cname] = {k: list(f.get_slice(k).get_shape()) for k in sorted(f.keys())}
                sd = {k: f.get_tensor(k) for k in f.keys()}
            for n, p in tr:
                k = n.replace(".default.", ".").replace(".modules_to_save.", ".")
                assert torch.equal(sd[k], p.detach()), k

        # one step: logits, loss, gradients
        pm.zero_grad()
        logits, loss = forward_loss(pm, batch)
        assert torch.equal(loss, F.cross_entropy(logits, batch[2]))
        loss.backward()
        print(f"{cname}: loss {loss.item():.9f}")
        W.put(f"{cname}/logits", f"{cname}/logits", logits.detach().numpy())
        W.put(f"{cname}/loss", f"{cname}/loss", loss.detach().reshape(1).numpy())
        for n, p in tr:
            W.put(f"{cname}/grad/{n}", f"{cname}/grad/{n}", p.grad.numpy(), param=n)
        if cname == "c1":
            for n in ("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.default.weight",
                      "base_model.model.bert.encoder.layer.0.attention.self.query.lora_B.default.weight"):
                W.put(f"init/{n}", f"init/{n}", dict(tr)[n].detach().numpy(), param=n)

        # finite differences in float64, and how far the float32 grads are from float64 ones
        gen = torch.Generator().manual_seed(SEED_FD + len(man["fd_check"]))
        if cname == "c1":
            names = ["base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.default.weight",
                     "base_model.model.bert.encoder.layer.3.intermediate.dense.lora_B.default.weight",
                     "base_model.model.classifier.modules_to_save.default.weight"]
        else:
            names = ["base_model.model.bert.encoder.layer.2.attention.self.value.lora_A.default.weight"]
        rows, g64 = fd_check(pm, batch, names, 3, gen)
        worst = 0.0
        for n, p in tr:
            a, b = p.grad.double(), g64[n]
            worst = max(worst, float((a - b).norm() / b.norm()))
        print(f"  float32 vs float64 grads: worst per-tensor relative L2 error {worst:.2e}")
        man["fd_check"][cname] = dict(rows=rows, max_rel=max(r["rel"] for r in rows),
                                      f32_vs_f64_grad_worst_rel_l2=worst)

    # 20 AdamW steps for c1 from the same init (and the same in float64, to size the float32 drift)
    pm = models["c1"]
    pm64 = copy.deepcopy(pm).double()
    losses = train(pm, batch)
    losses64 = train(pm64, batch)
    tr = trainable(pm)
    tr64 = dict(trainable(pm64))
    rel = [float((p.detach().double() - tr64[n]).norm() / tr64[n].norm()) for n, p in tr]
    absd = max(float((p.detach().double() - tr64[n]).abs().max()) for n, p in tr)
    man["train_f64"] = dict(
        note="same 20 steps in float64: how far float32 PyTorch itself is from exact arithmetic",
        losses=losses64, max_abs_loss_diff=max(abs(a - b) for a, b in zip(losses, losses64)),
        final_worst_rel_l2=max(rel), final_max_abs_diff=absd)
    print(f"c1 float64 training: loss diff {man['train_f64']['max_abs_loss_diff']:.2e}, "
          f"final params worst rel L2 {max(rel):.2e}, max abs {absd:.2e}")
    print("c1 train loss: " + " ".join(f"{x:.6f}" for x in losses))
    W.put("c1/train_loss", "c1/train_loss", np.array(losses, dtype=np.float32))
    norms = np.array([float(p.detach().double().norm()) for _, p in tr], dtype=np.float32)
    W.put("c1/final_norms", "c1/final_norms", norms)
    man["final_norms_order"] = [n for n, _ in tr]
    man["adamw"] = dict(ADAMW, steps=STEPS, note="torch.optim.AdamW defaults otherwise (amsgrad False, "
                        "foreach default); weight decay on every trainable tensor incl. biases and lora; "
                        "no scheduler, no clipping")
    keep = [n for n, _ in tr if n.startswith("base_model.model.classifier.")
            or ".layer.0.attention.self.query." in n]
    for n in keep:
        W.put(f"c1/final/{n}", f"c1/final/{n}", dict(tr)[n].detach().numpy(), param=n)

    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        f.write(compact_json(man) + "\n")
    total = sum(os.path.getsize(os.path.join(dp, x)) for dp, _, fs in os.walk(args.out) for x in fs)
    print(f"wrote {len(W.tensors)} tensors, {total} bytes to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
