#!/usr/bin/env python3
"""Reference trajectories of torch.optim.AdamW + clip_grad_norm_ + transformers'
LR schedules, for tests/test_optim.c.

Writes tests/fixtures/optim/ (raw little-endian, shapes in manifest.json):
  init.f32                      the initial values of every tensor, concatenated
                                in manifest["tensors"] order (7, 33x5, 128)
  grads.f32                     (25, 300) the raw gradient of each step, before
                                clipping, tensors concatenated in the same order
  <cfg>/lr.f64                  (25) the lr the optimizer used at step k = 1..25
                                (param_groups[0]["lr"] just before opt.step())
  <cfg>/norm.f64                (25) clip_grad_norm_(1.0)'s returned total norm
                                (a float32 tensor, widened)
  <cfg>/params_step{1,10,25}.f32 (300) every tensor after that many steps
  sched.f64                     the schedule lambdas, one block per entry of
                                manifest["schedules"]: lambda(s) for s = 0 ..
                                n_steps-1, for kinds linear, cosine (num_cycles
                                0.5), constant (constant_with_warmup)

Configs (manifest["configs"]): AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8,
  wd001   weight_decay 0.01 on every tensor
  wd0     weight_decay 0
  nodecay weight_decay 0.01, but tensor 0 ("bias", 7) in a param group with
          weight_decay 0 (what excluding biases/LayerNorm means in torch)
each with get_linear_schedule_with_warmup(warmup 5, total 25) and
clip_grad_norm_(params, 1.0) before every step, in the standard loop
  clip; opt.step(); sched.step()

The script also checks by experiment (asserts) that the lr used for the update
at optimizer step k (1-based) is base_lr * lambda(k - 1): LambdaLR evaluates
lambda(0) at construction and each sched.step() advances it after the update.
So with warmup the first update runs at lr 0.

Run: .venv/bin/python tests/ref/gen_optim_fixtures.py
"""
import json, math, os

import numpy as np
import torch
import transformers
from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                          get_linear_schedule_with_warmup)
from transformers.optimization import (_get_constant_schedule_with_warmup_lr_lambda,
                                       _get_cosine_schedule_with_warmup_lr_lambda,
                                       _get_linear_schedule_with_warmup_lr_lambda)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "optim")
SHAPES = [("bias", [7]), ("weight", [33, 5]), ("vec", [128])]
N_STEPS = 25
SAVE_AT = [1, 10, 25]
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
WARMUP, TOTAL = 5, 25
MAX_NORM = 1.0
SCHEDULES = [(0, 10), (5, 25), (3, 7), (10, 10), (0, 1), (1, 2), (10, 4), (100, 1000)]


def lam(kind, step, warmup, total):
    if kind == "linear":
        return _get_linear_schedule_with_warmup_lr_lambda(step, num_warmup_steps=warmup,
                                                          num_training_steps=total)
    if kind == "cosine":
        return _get_cosine_schedule_with_warmup_lr_lambda(step, num_warmup_steps=warmup,
                                                          num_training_steps=total, num_cycles=0.5)
    return _get_constant_schedule_with_warmup_lr_lambda(step, num_warmup_steps=warmup)


def make_sched(kind, opt, warmup, total):
    if kind == "linear":
        return get_linear_schedule_with_warmup(opt, warmup, total)
    if kind == "cosine":
        return get_cosine_schedule_with_warmup(opt, warmup, total)
    return get_constant_schedule_with_warmup(opt, warmup)


def run(init, grads, cfg, dtype):
    params = [torch.nn.Parameter(t.clone().to(dtype)) for t in init]
    if cfg == "nodecay":
        groups = [{"params": [params[0]], "weight_decay": 0.0}, {"params": params[1:]}]
        wd = 0.01
    else:
        groups = [{"params": params}]
        wd = 0.01 if cfg == "wd001" else 0.0
    opt = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS, weight_decay=wd)
    sched = get_linear_schedule_with_warmup(opt, WARMUP, TOTAL)
    lrs, norms, saved = [], [], {}
    for k in range(1, N_STEPS + 1):
        for p, g in zip(params, grads[k - 1]):
            p.grad = g.clone().to(dtype)
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, MAX_NORM)))
        lr = opt.param_groups[0]["lr"]
        assert all(gr["lr"] == lr for gr in opt.param_groups)
        assert lr == LR * lam("linear", k - 1, WARMUP, TOTAL), (k, lr)
        lrs.append(lr)
        opt.step()
        sched.step()
        if k in SAVE_AT:
            saved[k] = torch.cat([p.detach().flatten() for p in params]).clone()
    for st in opt.state.values():
        assert int(st["step"]) == N_STEPS
    return lrs, norms, saved


def check_lambdalr_offset():
    """lr seen by update k (1-based) == base * lambda(k - 1), for every kind."""
    for kind in ("linear", "cosine", "constant"):
        for warmup, total in SCHEDULES[:6]:
            p = torch.nn.Parameter(torch.zeros(1))
            opt = torch.optim.AdamW([p], lr=LR)
            sched = make_sched(kind, opt, warmup, total)
            for k in range(1, total + 3):
                p.grad = torch.ones(1)
                assert opt.param_groups[0]["lr"] == LR * lam(kind, k - 1, warmup, total), (kind, k)
                opt.step()
                sched.step()


def main():
    torch.manual_seed(20251125)
    init = [torch.randn(s, dtype=torch.float32) * 0.5 for _, s in SHAPES]
    n_total = sum(t.numel() for t in init)
    grads = []
    for k in range(N_STEPS):
        # per-step scale so that the total norm lands on both sides of max_norm;
        # a few exact zeros so m and v see them
        scale = [0.02, 0.045, 0.08, 0.12][k % 4]
        step = [torch.randn(s, dtype=torch.float32) * scale for _, s in SHAPES]
        step[1][0, :] = 0.0
        grads.append(step)

    os.makedirs(OUT, exist_ok=True)
    torch.cat([t.flatten() for t in init]).numpy().astype("<f4").tofile(os.path.join(OUT, "init.f32"))
    torch.stack([torch.cat([g.flatten() for g in step]) for step in grads]).numpy().astype("<f4").tofile(
        os.path.join(OUT, "grads.f32"))

    manifest = {
        "torch": torch.__version__, "transformers": transformers.__version__,
        "command": ".venv/bin/python tests/ref/gen_optim_fixtures.py",
        "tensors": [{"name": n, "shape": s} for n, s in SHAPES], "n_values": n_total,
        "n_steps": N_STEPS, "save_at": SAVE_AT,
        "adamw": {"lr": LR, "betas": list(BETAS), "eps": EPS},
        "schedule": {"kind": "linear", "warmup": WARMUP, "total": TOTAL}, "max_norm": MAX_NORM,
        "configs": {"wd001": {"weight_decay": 0.01, "no_decay": []},
                    "wd0": {"weight_decay": 0.0, "no_decay": []},
                    "nodecay": {"weight_decay": 0.01, "no_decay": [0]}},
        "f32_vs_f64": {},
    }
    for cfg in manifest["configs"]:
        d = os.path.join(OUT, cfg)
        os.makedirs(d, exist_ok=True)
        lrs, norms, saved = run(init, grads, cfg, torch.float32)
        np.array(lrs, dtype="<f8").tofile(os.path.join(d, "lr.f64"))
        np.array(norms, dtype="<f8").tofile(os.path.join(d, "norm.f64"))
        for k, v in saved.items():
            v.numpy().astype("<f4").tofile(os.path.join(d, f"params_step{k}.f32"))
        # how far float32 torch lands from float64 torch: the scale of
        # disagreement a correct float32 C implementation may show
        _, norms64, saved64 = run(init, grads, cfg, torch.float64)
        p32, p64 = saved[N_STEPS].double(), saved64[N_STEPS]
        manifest["f32_vs_f64"][cfg] = {
            "params_step25_max_abs": float((p32 - p64).abs().max()),
            "params_step25_max_rel": float(((p32 - p64).abs() / p64.abs().clamp_min(1e-12)).max()),
            "norm_max_rel": max(abs(a - b) / b for a, b in zip(norms, norms64)),
        }

    check_lambdalr_offset()
    blocks, entries = [], []
    for kind in ("linear", "cosine", "constant"):
        for warmup, total in SCHEDULES:
            n = total + 3  # past the end too: linear clamps at 0, cosine turns back up
            entries.append({"kind": kind, "warmup": warmup, "total": total, "n_steps": n,
                            "offset": sum(len(b) for b in blocks)})
            blocks.append([lam(kind, s, warmup, total) for s in range(n)])
    np.array([x for b in blocks for x in b], dtype="<f8").tofile(os.path.join(OUT, "sched.f64"))
    manifest["schedules"] = entries
    manifest["lr_offset"] = ("lr of optimizer update k (1-based) = base_lr * lambda(k - 1); "
                             "checked by experiment against LambdaLR for every kind")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps(manifest["f32_vs_f64"], indent=1))
    print("norms (wd001):", [round(x, 4) for x in np.fromfile(os.path.join(OUT, "wd001", "norm.f64"))])


if __name__ == "__main__":
    main()
