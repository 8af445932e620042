/*
 * optim.h — the optimiser layer of the trainer: AdamW, gradient-norm
 * clipping, learning-rate schedules, gradient scaling for accumulation.
 *
 * Numerics follow the reference libraries exactly (docs/PEFT_NOTES.md,
 * "AdamW"; fixtures from tests/ref/gen_optim_fixtures.py):
 *   - AdamW as torch.optim.AdamW (torch 2.15, CPU single-tensor path,
 *     amsgrad off, maximize off);
 *   - clipping as torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2);
 *   - schedules as transformers' get_{linear,cosine,constant}_schedule_with_warmup
 *     driven by torch's LambdaLR.
 * Not here: the training loop, loss scaling for mixed precision, other
 * optimisers, the checkpoint file format (a writer stores what
 * tcf_adamw_state / tcf_adamw_step_count expose).
 *
 * The usual loop, for optimizer update k = 1 .. total (k is 1-based):
 *     forward/backward (accumulating; tcf_grad_scale(.., 1.0 / accum) once)
 *     norm = tcf_clip_grad_norm(params, n, max_norm);
 *     if (!isfinite(norm)) stop;            // see tcf_clip_grad_norm
 *     tcf_adamw_step(opt, tcf_lr_at(kind, base_lr, k - 1, warmup, total));
 *     zero the gradients
 * Note the k - 1: torch's `optimizer.step(); scheduler.step()` runs update k
 * at lambda(k - 1), so with warmup > 0 the first update has lr 0 (it still
 * advances the step count and the moments m, v).
 */
#ifndef TCF_OPTIM_H
#define TCF_OPTIM_H

#include "tcf.h"
#include "train/lora.h"

#include <stdint.h>

/* ---- AdamW -------------------------------------------------------------- */

typedef struct {
    double lr;           /* base learning rate (what schedules scale); tcf_adamw_step
                            takes each step's lr explicitly */
    double beta1, beta2; /* in [0, 1) */
    double eps;          /* >= 0, added after the bias correction of sqrt(v) */
    double weight_decay; /* >= 0, decoupled: p *= 1 - lr * weight_decay */
    const uint8_t *no_decay; /* (n_params) or NULL; nonzero: no weight decay on that
                                tensor (torch: a param group with weight_decay 0).
                                NULL: decay everything, like torch.optim.AdamW.
                                Copied by tcf_adamw_init. */
} tcf_adamw_cfg;

/* torch.optim.AdamW's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0.01, no exclusions. */
tcf_adamw_cfg tcf_adamw_defaults(void);

typedef struct tcf_adamw tcf_adamw;

/* Set up AdamW over params[0 .. n_params) with zero moments and step count
 * 0. The optimiser copies the tcf_param array (not the tensors): every w and
 * g must stay valid, at the same address, until tcf_adamw_free. n_params may
 * be 0. Bad cfg values or param sizes return TCF_ERR_ARG; allocation failure
 * TCF_ERR_NOMEM. Caller frees *out with tcf_adamw_free. */
tcf_status tcf_adamw_init(tcf_adamw **out, const tcf_param *params, int n_params,
                          const tcf_adamw_cfg *cfg);
void tcf_adamw_free(tcf_adamw *opt);

/* One update of every tensor from its current gradient, at learning rate
 * `lr` (>= 0, usually tcf_lr_at(...)). Increments the step count first, as
 * torch does, then per element (float32, scalars rounded from double):
 *     p *= 1 - lr * wd                      (skipped when wd == 0 or no_decay)
 *     m += (1 - b1) * (g - m)
 *     v  = b2 * v + (1 - b2) * g * g
 *     p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Does not read or change the gradients' zeroing state. */
void tcf_adamw_step(tcf_adamw *opt, double lr);

/* The base lr and parameter count given to tcf_adamw_init. */
double tcf_adamw_base_lr(const tcf_adamw *opt);
int tcf_adamw_n_params(const tcf_adamw *opt);

/* Checkpoint hooks. tcf_adamw_state points *m and *v at the (params[i].n)
 * first and second moments of tensor i (torch's exp_avg, exp_avg_sq); they
 * belong to the optimiser and stay valid until tcf_adamw_free. A loader
 * writes into them and then calls tcf_adamw_set_step with the saved step
 * count (torch's state["step"], the number of updates done). */
void tcf_adamw_state(tcf_adamw *opt, int i, float **m, float **v);
int64_t tcf_adamw_step_count(const tcf_adamw *opt);
void tcf_adamw_set_step(tcf_adamw *opt, int64_t step);

/* Transformers Trainer's rule for which tensors get no weight decay
 * (Trainer.get_decay_parameter_names): the lowercased name matches "bias",
 * "layernorm", "rmsnorm", "(^|.)norm($|.)" or "_norm($|.)". Fills
 * flags[0 .. n) (1 = no decay) for use as tcf_adamw_cfg.no_decay; a NULL
 * name counts as decayed. Returns the number flagged. */
int tcf_adamw_no_decay_by_name(const tcf_param *params, int n, uint8_t *flags);
int tcf_name_is_no_decay(const char *name);

/* ---- gradient clipping and scaling -------------------------------------- */

/* torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2): the L2 norm
 * of all gradients together (accumulated in double), and if
 * max_norm / (total + 1e-6) < 1 every gradient is multiplied by it.
 * Returns the total norm (before clipping), for logging.
 * A NaN or infinite total (a non-finite gradient, or overflow) is returned
 * as is and the gradients are left untouched; the trainer must treat it as a
 * failed step and stop (torch would turn every gradient into NaN). */
double tcf_clip_grad_norm(const tcf_param *params, int n, double max_norm);

/* g *= factor for every gradient, e.g. factor = 1.0 / accumulation_steps
 * after summing the gradients of several micro-batches. (PyTorch scripts
 * usually divide the loss instead; the two agree to float rounding.) */
void tcf_grad_scale(const tcf_param *params, int n, double factor);

/* ---- learning-rate schedules -------------------------------------------- */

typedef enum {
    TCF_LR_LINEAR = 0, /* get_linear_schedule_with_warmup */
    TCF_LR_COSINE,     /* get_cosine_schedule_with_warmup, num_cycles 0.5 */
    TCF_LR_CONSTANT,   /* get_constant_schedule_with_warmup (warmup 0: constant) */
    TCF_LR_KINDS
} tcf_lr_kind;

/* The schedule's multiplier at scheduler step `step` (>= 0), bit for bit the
 * transformers lambda (computed in double like Python):
 *   warmup  (step < warmup): step / max(1, warmup)
 *   linear:   max(0, (total - step) / max(1, total - warmup))
 *   cosine:   p = (step - warmup) / max(1, total - warmup);
 *             max(0, 0.5 * (1 + cos(pi * 0.5 * 2 * p)))  (rises again past total,
 *             as in transformers)
 *   constant: 1 */
double tcf_lr_lambda(tcf_lr_kind kind, int64_t step, int64_t warmup_steps, int64_t total_steps);
/* base_lr * tcf_lr_lambda(...), as LambdaLR computes it. The lr for
 * optimizer update k (1-based) is tcf_lr_at(kind, base_lr, k - 1, ...). */
double tcf_lr_at(tcf_lr_kind kind, double base_lr, int64_t step, int64_t warmup_steps,
                 int64_t total_steps);
/* "linear", "cosine", "constant" (as the CLI spells them); NULL if out of range. */
const char *tcf_lr_kind_name(tcf_lr_kind kind);
/* Parse those names; -1 if unknown. */
int tcf_lr_kind_parse(const char *name);

#endif /* TCF_OPTIM_H */
