/*
 * trainer.c — the fine-tuning loop and the run directory (see trainer.h).
 * The mode-specific state and files of head-only and full fine-tuning live
 * in src/train/full.c; this loop only switches on the mode where they
 * differ (trainable tensors, weight decay, repacking, saving, loading).
 *
 * Loop: tokenize train and valid once; each epoch shuffle the examples
 * (seeded), cut them into windows of 50 batches, sort each window by length
 * and cut it into batches (length bucketing: little padding, still random),
 * shuffle the batch order; per optimizer step: zero gradients, forward +
 * backward over `accum` micro-batches, scale by 1/accum, clip the global norm,
 * AdamW at the scheduled learning rate (optim.h). After each epoch: validation
 * accuracy and macro-F1; the best epoch's adapter is saved; training stops
 * after `patience` epochs without improvement. Deterministic for a seed and a
 * thread count (the kernels are thread-count invariant too).
 * Dropout as BertForSequenceClassification + PEFT in train mode (hidden and
 * classifier --dropout, attention probabilities --attn-dropout, --lora-dropout).
 * Class weights (balanced or given) go to the cross-entropy.
 * Resume: the checkpoint (train_state.h) holds the weights, AdamW's moments,
 * the epoch, the batch index within it, the shuffling generator as it was
 * before that epoch's plan (replanning gives the same batches), the dropout
 * counter, and a hash of the tokenized data (resuming on other data is an
 * error). tcf_run.json is written before the first step, so a run killed in
 * its first epoch can be resumed too. The environment variable
 * TCF_TEST_KILL_AFTER_CHECKPOINT=N (tests only) makes the process SIGKILL
 * itself right after its Nth checkpoint.
 */
#include "train/trainer.h"
#include "base/base.h"
#include "base/atomic_file.h"
#include "base/sha256.h"
#include "eval/metrics.h"
#include "io/dataset.h"
#include "train/adapter_io.h"
#include "train/classifier.h"
#include "train/full.h"
#include "train/llama_lora.h"
#include "train/train_state.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const mode_names[TCF_MODE_KINDS] = {"lora", "head", "full"};
const char *tcf_train_mode_name(tcf_train_mode m) { return m >= 0 && m < TCF_MODE_KINDS ? mode_names[m] : NULL; }
int tcf_train_mode_parse(const char *name) {
    for (int i = 0; i < TCF_MODE_KINDS; i++)
        if (!strcmp(name, mode_names[i])) return i;
    return -1;
}

double tcf_train_default_lr(tcf_train_mode m) { return m == TCF_MODE_FULL ? 5e-5 : m == TCF_MODE_HEAD ? 1e-2 : 1e-3; }

void tcf_train_defaults(tcf_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 3, o->batch = 32, o->max_len = 128, o->lora_r = 8, o->accum = 1, o->threads = 0;
    o->patience = 2, o->lr = 0, o->weight_decay = 0.01, o->warmup_ratio = 0.06, o->clip = 1.0;
    o->valid_fraction = 0.1, o->lora_alpha = 16.0f, o->label_smoothing = 0.0f;
    o->dropout = 0.1f, o->attn_dropout = 0.1f, o->lora_dropout = 0.0f;
    o->targets = (1u << TCF_LORA_KINDS) - 1, o->schedule = TCF_LR_LINEAR, o->seed = 42;
    o->checkpoint_secs = 60;
    o->quant = -2 /* TCF_LLAMA_KEEP */, o->double_quant = 0, o->recompute = 1, o->pooling = TCF_POOL_LAST;
}

void tcf_train_opts_release(tcf_train_opts *o) {
    free(o->owned);
    o->owned = NULL;
}

/* ---- tokenized examples --------------------------------------------------- */

typedef struct {
    int n, max_len;
    int32_t *ids; /* (n, max_len) */
    int *len;     /* (n) */
    int32_t *label;
} toks;

static void toks_free(toks *t) {
    free(t->ids), free(t->len), free(t->label);
    memset(t, 0, sizeof *t);
}

static tcf_status tokenize_all(const tcf_tokenizer *tok, int n, const char *const *texts, const size_t *lens,
                               int max_len, int n_threads, toks *out) {
    memset(out, 0, sizeof *out);
    out->n = n, out->max_len = max_len;
    out->ids = malloc(sizeof(int32_t) * ((size_t)n * max_len + 1));
    out->len = malloc(sizeof(int) * ((size_t)n + 1));
    int32_t **rows = malloc(sizeof(int32_t *) * ((size_t)n + 1));
    int *caps = malloc(sizeof(int) * ((size_t)n + 1));
    tcf_status st = TCF_OK;
    if (!out->ids || !out->len || !rows || !caps) st = tcf_fail(TCF_ERR_NOMEM, "tokenize: out of memory");
    for (int i = 0; !st && i < n; i++) rows[i] = out->ids + (int64_t)i * max_len, caps[i] = max_len;
    tcf_encode_opts eo = {1, max_len};
    if (!st) st = tcf_tokenizer_encode_batch(tok, n, texts, lens, &eo, rows, caps, out->len, n_threads);
    free(rows), free(caps);
    if (st) toks_free(out);
    return st;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Token-length statistics, counting texts cut at max_len (whose untruncated
 * length is found by encoding again without a limit). */
static void length_report(const tcf_tokenizer *tok, const char *what, int n, const char *const *texts,
                          const size_t *lens, const toks *t, FILE *log) {
    int *l = malloc(sizeof(int) * ((size_t)n + 1));
    if (!l) return;
    int cut = 0;
    for (int i = 0; i < n; i++) {
        l[i] = t->len[i];
        if (t->len[i] == t->max_len) { /* maybe truncated: count exactly */
            tcf_encode_opts eo = {1, INT_MAX / 4};
            int32_t *tmp = malloc(sizeof(int32_t) * (lens[i] + 8));
            int k = 0;
            if (tmp && !tcf_tokenizer_encode(tok, texts[i], lens[i], &eo, tmp, (int)lens[i] + 8, &k) &&
                k > t->max_len)
                cut++;
            free(tmp);
        }
    }
    qsort(l, (size_t)n, sizeof *l, cmp_int);
    fprintf(log, "%s tokens per text: min %d, median %d, p95 %d, max %d; %d of %d truncated at %d\n", what,
            n ? l[0] : 0, n ? l[n / 2] : 0, n ? l[(int)(0.95 * (n - 1))] : 0, n ? l[n - 1] : 0, cut, n,
            t->max_len);
    free(l);
}

/* ---- batching ----------------------------------------------------------------- */

static _Thread_local const toks *sort_toks;
static int by_len(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    int lx = sort_toks->len[x], ly = sort_toks->len[y];
    return lx != ly ? lx - ly : x - y;
}

/* Fill a padded batch (B, T) from examples idx[0..B); returns T. */
static int fill_batch(const toks *t, const int *idx, int B, int32_t *ids, uint8_t *mask, int32_t *labels) {
    int T = 1;
    for (int b = 0; b < B; b++) T = t->len[idx[b]] > T ? t->len[idx[b]] : T;
    for (int b = 0; b < B; b++) {
        const int32_t *src = t->ids + (int64_t)idx[b] * t->max_len;
        for (int j = 0; j < T; j++) {
            int real = j < t->len[idx[b]];
            ids[b * T + j] = real ? src[j] : 0;
            mask[b * T + j] = (uint8_t)real;
        }
        if (labels) labels[b] = t->label ? t->label[idx[b]] : 0;
    }
    return T;
}

/* One epoch's batch plan: batches of example indices, bucketed by length. */
static int plan_epoch(const toks *t, int batch, uint64_t *rng, int *order, int *starts) {
    for (int i = 0; i < t->n; i++) order[i] = i;
    tcf_shuffle_int(order, t->n, rng);
    const int window = batch * 50;
    sort_toks = t;
    for (int w = 0; w < t->n; w += window)
        qsort(order + w, (size_t)(t->n - w < window ? t->n - w : window), sizeof *order, by_len);
    int nb = 0;
    for (int s = 0; s < t->n; s += batch) starts[nb++] = s;
    /* shuffle batch order */
    for (int i = nb - 1; i > 0; i--) {
        int j = (int)tcf_rng_below(rng, (uint64_t)i + 1), tmp = starts[i];
        starts[i] = starts[j], starts[j] = tmp;
    }
    return nb;
}

/* ---- the model being trained ------------------------------------------------------ */

/* An encoder (m, l, ws, full by mode) or a decoder (dm, dl). */
typedef struct {
    tcf_bert *m;
    tcf_lora *l;
    tcf_clf_ws *ws;
    tcf_full *full;
    tcf_llama *dm;
    tcf_llama_lora *dl;
    int recompute;
    float lora_dropout;      /* decoders: PEFT's lora_dropout */
    uint64_t seed, calls;    /* decoders: the masks' seed; training forwards so far */
} learner;

static int learner_classes(const learner *L) { return L->dm ? L->dl->n_labels : L->l->n_classes; }

static tcf_status learner_forward(learner *L, int B, int T, const int32_t *ids, const uint8_t *mask,
                                  const int32_t *labels, const float *cw, float label_smoothing, int backward,
                                  float *logits, float *loss, int n_threads) {
    if (!L->dm)
        return tcf_clf_forward(L->m, L->l, L->ws, B, T, ids, mask, labels, cw, label_smoothing, backward, logits, loss);
    if (!backward)
        return tcf_llama_lora_logits(L->dm, L->dl, L->dl->score, L->dl->n_labels, B, T, ids, mask, logits, n_threads);
    tcf_llama_lora_step_opts so = {cw, label_smoothing, L->recompute, L->lora_dropout, L->seed, L->calls++};
    return tcf_llama_lora_step(L->dm, L->dl, L->dl->score, L->dl->dscore, L->dl->n_labels, B, T, ids, mask, labels, &so,
                               logits, loss, n_threads);
}

static void learner_zero_grad(learner *L) {
    if (L->dm) tcf_llama_lora_zero_grad(L->dl);
    else tcf_lora_zero_grad(L->l);
    if (L->full) tcf_full_zero_grad(L->full);
}

/* the dropout counter: training forwards so far */
static uint64_t learner_calls(const learner *L) { return L->ws ? tcf_clf_ws_calls(L->ws) : L->calls; }

/* ---- inference on tokenized examples --------------------------------------------- */

static void softmax_row(float *p, const float *z, int K) {
    float mx = z[0];
    for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    double s = 0;
    for (int k = 0; k < K; k++) s += p[k] = expf(z[k] - mx);
    for (int k = 0; k < K; k++) p[k] = (float)(p[k] / s);
}

/* probs (n, K) for every example of t, in batches of up to B sorted by length. */
static tcf_status predict_toks(learner *L, int B, const toks *t, float *probs, int n_threads) {
    const int K = learner_classes(L);
    int *order = malloc(sizeof(int) * ((size_t)t->n + 1));
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * t->max_len);
    uint8_t *mask = malloc((size_t)B * t->max_len);
    float *logits = malloc(sizeof(float) * (size_t)B * K);
    tcf_status st = TCF_OK;
    if (!order || !ids || !mask || !logits) st = tcf_fail(TCF_ERR_NOMEM, "predict: out of memory");
    for (int i = 0; !st && i < t->n; i++) order[i] = i;
    sort_toks = t;
    if (!st) qsort(order, (size_t)t->n, sizeof *order, by_len);
    for (int s = 0; !st && s < t->n; s += B) {
        int nb = t->n - s < B ? t->n - s : B;
        int T = fill_batch(t, order + s, nb, ids, mask, NULL);
        st = learner_forward(L, nb, T, ids, mask, NULL, NULL, 0.0f, 0, logits, NULL, n_threads);
        for (int b = 0; !st && b < nb; b++) softmax_row(probs + (int64_t)order[s + b] * K, logits + (int64_t)b * K, K);
    }
    free(order), free(ids), free(mask), free(logits);
    return st;
}

static int argmax(const float *p, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

/* FNV-1a over the tokenized examples and labels: a resumed run must see the
 * same data. */
static uint64_t hash_toks(uint64_t h, const toks *t) {
    for (int i = 0; i < t->n; i++) {
        const int32_t *row = t->ids + (int64_t)i * t->max_len;
        int32_t v[2] = {t->len[i], t->label ? t->label[i] : -1};
        for (int j = 0; j < 2 + t->len[i]; j++) {
            uint32_t x = (uint32_t)(j < 2 ? v[j] : row[j - 2]);
            for (int b = 0; b < 4; b++) h = (h ^ ((x >> (8 * b)) & 0xFF)) * 0x100000001B3ull;
        }
    }
    return h;
}

/* Class weights from the --class-weights spec into w (K). */
static tcf_status parse_class_weights(const char *spec, const tcf_dataset *train, float *w) {
    const tcf_labels *lab = tcf_dataset_labels(train);
    const int K = tcf_labels_count(lab), n = tcf_dataset_count(train);
    if (!strcmp(spec, "balanced")) {
        int64_t *cnt = calloc((size_t)K, sizeof *cnt);
        if (!cnt) return tcf_fail(TCF_ERR_NOMEM, "class weights: out of memory");
        const int32_t *y = tcf_dataset_label_ids(train);
        for (int i = 0; i < n; i++) cnt[y[i]]++;
        for (int k = 0; k < K; k++) w[k] = cnt[k] ? (float)((double)n / ((double)K * (double)cnt[k])) : 0.0f;
        free(cnt);
        return TCF_OK;
    }
    for (int k = 0; k < K; k++) w[k] = 1.0f;
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        if (!comma) comma = p + strlen(p);
        if (!eq || eq > comma)
            return tcf_fail(TCF_ERR_ARG, "--class-weights: '%.*s' is not LABEL=WEIGHT (or use 'balanced')",
                            (int)(comma - p), p);
        char name[1024];
        if ((size_t)(eq - p) >= sizeof name) return tcf_fail(TCF_ERR_ARG, "--class-weights: label too long");
        memcpy(name, p, (size_t)(eq - p));
        name[eq - p] = '\0';
        int k = tcf_labels_index(lab, name);
        if (k < 0) return tcf_fail(TCF_ERR_ARG, "--class-weights: '%s' is not a label of the training data", name);
        char *end;
        double v = strtod(eq + 1, &end);
        if (end != comma || !(v >= 0) || v > 1e6)
            return tcf_fail(TCF_ERR_ARG, "--class-weights: weight of '%s' must be a number in [0, 1e6]", name);
        w[k] = (float)v;
        p = *comma ? comma + 1 : comma;
    }
    return TCF_OK;
}

/* ---- run directory ------------------------------------------------------------------ */

static const char *quant_name(int q) {
    return q == TCF_LLAMA_F32 ? "f32" : q == TCF_LLAMA_KEEP ? "keep" : tcf_qtype_name((tcf_qtype)q);
}

static tcf_status write_run_json(const char *dir, const tcf_train_opts *o, const char *base_abs,
                                 const tcf_labels *labels, cJSON *history, int best_epoch, const tcf_llama *dm) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "tcf-run");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "base_model", base_abs);
    cJSON_AddStringToObject(root, "architecture", dm ? "llama-sequence-classification" : "bert-sequence-classification");
    if (dm) {
        /* the base as trained: the block type actually used */
        cJSON_AddStringToObject(root, "base_quant", quant_name(dm->quant));
        cJSON_AddStringToObject(root, "pooling", o->pooling == TCF_POOL_MEAN ? "mean" : "last");
    }
    cJSON_AddNumberToObject(root, "max_len", o->max_len);
    cJSON *names = cJSON_AddArrayToObject(root, "labels");
    for (int i = 0; i < tcf_labels_count(labels); i++) cJSON_AddItemToArray(names, cJSON_CreateString(tcf_labels_name(labels, i)));
    cJSON *cfg = cJSON_AddObjectToObject(root, "train_config");
    cJSON_AddStringToObject(cfg, "mode", tcf_train_mode_name(o->mode));
    cJSON_AddStringToObject(cfg, "train", o->train_path);
    if (o->valid_path) cJSON_AddStringToObject(cfg, "valid", o->valid_path);
    else cJSON_AddNumberToObject(cfg, "valid_fraction", o->valid_fraction);
    /* provenance for `tcf export`: what the data files held */
    char hex[65];
    if (!tcf_sha256_file(o->train_path, hex)) cJSON_AddStringToObject(cfg, "train_sha256", hex);
    if (o->valid_path && !tcf_sha256_file(o->valid_path, hex)) cJSON_AddStringToObject(cfg, "valid_sha256", hex);
    cJSON_AddNumberToObject(cfg, "epochs", o->epochs);
    cJSON_AddNumberToObject(cfg, "batch", o->batch);
    cJSON_AddNumberToObject(cfg, "accum", o->accum);
    cJSON_AddNumberToObject(cfg, "lr", o->lr);
    cJSON_AddNumberToObject(cfg, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(cfg, "warmup_ratio", o->warmup_ratio);
    cJSON_AddStringToObject(cfg, "schedule", tcf_lr_kind_name(o->schedule));
    cJSON_AddNumberToObject(cfg, "clip", o->clip);
    cJSON_AddNumberToObject(cfg, "lora_r", o->lora_r);
    cJSON_AddNumberToObject(cfg, "lora_alpha", o->lora_alpha);
    cJSON_AddBoolToObject(cfg, "use_rslora", o->use_rslora);
    cJSON_AddNumberToObject(cfg, "label_smoothing", o->label_smoothing);
    cJSON_AddNumberToObject(cfg, "dropout", o->dropout);
    cJSON_AddNumberToObject(cfg, "lora_dropout", o->lora_dropout);
    cJSON_AddNumberToObject(cfg, "attn_dropout", o->attn_dropout);
    cJSON_AddNumberToObject(cfg, "seed", (double)o->seed);
    cJSON_AddNumberToObject(cfg, "patience", o->patience);
    cJSON *tg = cJSON_AddArrayToObject(cfg, "targets");
    for (int k = 0; !dm && k < TCF_LORA_KINDS; k++)
        if ((o->targets >> k) & 1) cJSON_AddItemToArray(tg, cJSON_CreateString(tcf_lora_kind_names[k]));
    for (int k = 0; dm && k < TCF_LL_N; k++) cJSON_AddItemToArray(tg, cJSON_CreateString(tcf_llama_lora_module_names[k]));
    if (dm) {
        cJSON_AddStringToObject(cfg, "quant", quant_name(o->quant));
        cJSON_AddBoolToObject(cfg, "double_quant", o->double_quant);
        cJSON_AddBoolToObject(cfg, "recompute", o->recompute);
        cJSON_AddStringToObject(cfg, "pooling", o->pooling == TCF_POOL_MEAN ? "mean" : "last");
    }
    if (o->class_weights) cJSON_AddStringToObject(cfg, "class_weights", o->class_weights);
    if (o->init_adapter) cJSON_AddStringToObject(cfg, "init_adapter", o->init_adapter);
    cJSON_AddNumberToObject(cfg, "threads", o->threads);
    cJSON_AddNumberToObject(cfg, "checkpoint_steps", o->checkpoint_steps);
    cJSON_AddNumberToObject(cfg, "checkpoint_secs", o->checkpoint_secs);
    cJSON_AddNumberToObject(root, "best_epoch", best_epoch);
    cJSON_AddItemReferenceToObject(root, "history", history);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot format tcf_run.json", dir);
    char path[4096];
    tcf_status st = tcf_path_join(path, sizeof path, dir, "tcf_run.json");
    if (!st) st = tcf_atomic_write_file(path, text, strlen(text));
    free(text);
    return st;
}

/* Strings of a resumed run's options live in one buffer, o->owned. */
static const char *keep_string(tcf_train_opts *o, size_t *used, size_t cap, const char *v) {
    size_t n = strlen(v) + 1;
    if (*used + n > cap) return NULL;
    char *d = o->owned + *used;
    memcpy(d, v, n);
    *used += n;
    return d;
}

tcf_status tcf_train_opts_from_run(const char *dir, tcf_train_opts *o) {
    char path[4096], *text;
    size_t len;
    tcf_train_defaults(o);
    tcf_status st = tcf_path_join(path, sizeof path, dir, "tcf_run.json");
    if (st) return st;
    if ((st = tcf_read_file(path, &text, &len))) return tcf_fail_prefix(st, "--resume %s: not a tcf run directory", dir);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *cfg = cJSON_GetObjectItem(root, "train_config");
    const cJSON *base = cJSON_GetObjectItem(root, "base_model"), *ml = cJSON_GetObjectItem(root, "max_len");
    size_t cap = strlen(dir) + 1 + 8192, used = 0;
    if (!(o->owned = malloc(cap))) {
        cJSON_Delete(root);
        return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    }
    const char *bad = NULL;
#define NUM(key, dst)                                                  \
    do {                                                               \
        const cJSON *it_ = cJSON_GetObjectItem(cfg, key);              \
        if (!cJSON_IsNumber(it_)) { if (!bad) bad = key; }             \
        else dst = it_->valuedouble;                                   \
    } while (0)
    if (!cJSON_IsObject(cfg) || !cJSON_IsString(base) || !cJSON_IsNumber(ml)) {
        bad = "train_config, base_model or max_len";
    } else {
        double d[20] = {0};
        NUM("epochs", d[0]); NUM("batch", d[1]); NUM("accum", d[2]); NUM("lr", d[3]);
        NUM("weight_decay", d[4]); NUM("warmup_ratio", d[5]); NUM("clip", d[6]); NUM("lora_r", d[7]);
        NUM("lora_alpha", d[8]); NUM("label_smoothing", d[9]); NUM("dropout", d[10]);
        NUM("lora_dropout", d[11]); NUM("seed", d[12]); NUM("patience", d[13]); NUM("threads", d[14]);
        NUM("checkpoint_steps", d[15]); NUM("checkpoint_secs", d[16]); NUM("attn_dropout", d[17]);
        o->epochs = (int)d[0], o->batch = (int)d[1], o->accum = (int)d[2], o->lr = d[3], o->weight_decay = d[4];
        o->warmup_ratio = d[5], o->clip = d[6], o->lora_r = (int)d[7], o->lora_alpha = (float)d[8];
        o->label_smoothing = (float)d[9], o->dropout = (float)d[10], o->lora_dropout = (float)d[11];
        o->seed = (uint64_t)d[12], o->patience = (int)d[13], o->threads = (int)d[14];
        o->checkpoint_steps = (int)d[15], o->checkpoint_secs = d[16], o->attn_dropout = (float)d[17];
        o->max_len = ml->valueint;
        const cJSON *rs = cJSON_GetObjectItem(cfg, "use_rslora"), *sc = cJSON_GetObjectItem(cfg, "schedule");
        const cJSON *tr = cJSON_GetObjectItem(cfg, "train"), *va = cJSON_GetObjectItem(cfg, "valid");
        const cJSON *vf = cJSON_GetObjectItem(cfg, "valid_fraction"), *tg = cJSON_GetObjectItem(cfg, "targets");
        const cJSON *cw = cJSON_GetObjectItem(cfg, "class_weights"), *mo = cJSON_GetObjectItem(cfg, "mode");
        int mk = cJSON_IsString(mo) ? tcf_train_mode_parse(mo->valuestring) : (mo ? -1 : TCF_MODE_LORA);
        int sk = cJSON_IsString(sc) ? tcf_lr_kind_parse(sc->valuestring) : -1;
        if (!cJSON_IsBool(rs)) bad = "use_rslora";
        else if (sk < 0) bad = "schedule";
        else if (!cJSON_IsString(tr)) bad = "train";
        else if (!cJSON_IsString(va) && !cJSON_IsNumber(vf)) bad = "valid";
        else if (!cJSON_IsArray(tg)) bad = "targets";
        else if (cw && !cJSON_IsString(cw)) bad = "class_weights";
        else if (mk < 0) bad = "mode";
        if (!bad) {
            o->use_rslora = cJSON_IsTrue(rs), o->schedule = (tcf_lr_kind)sk, o->mode = (tcf_train_mode)mk;
            o->targets = 0;
            const cJSON *t, *qt = cJSON_GetObjectItem(cfg, "quant");
            const int decoder = cJSON_IsString(qt);
            if (decoder) { /* a decoder run: all seven modules, its base format */
                o->targets = (1u << TCF_LORA_KINDS) - 1;
                o->quant = -3;
                for (int q = TCF_LLAMA_KEEP; q <= TCF_QTYPE_NF4; q++)
                    if (!strcmp(qt->valuestring, quant_name(q))) o->quant = q;
                if (o->quant == -3) bad = "quant";
                o->double_quant = cJSON_IsTrue(cJSON_GetObjectItem(cfg, "double_quant"));
                o->recompute = !cJSON_IsFalse(cJSON_GetObjectItem(cfg, "recompute"));
                const cJSON *pl = cJSON_GetObjectItem(cfg, "pooling");
                if (pl && !(cJSON_IsString(pl) && (!strcmp(pl->valuestring, "last") || !strcmp(pl->valuestring, "mean"))))
                    bad = "pooling";
                o->pooling = cJSON_IsString(pl) && !strcmp(pl->valuestring, "mean") ? TCF_POOL_MEAN : TCF_POOL_LAST;
            }
            cJSON_ArrayForEach(t, tg) {
                if (decoder) break;
                int k = 0;
                while (k < TCF_LORA_KINDS && !(cJSON_IsString(t) && !strcmp(t->valuestring, tcf_lora_kind_names[k]))) k++;
                if (k == TCF_LORA_KINDS) bad = "targets";
                else o->targets |= 1u << k;
            }
            if (cJSON_IsNumber(vf)) o->valid_fraction = vf->valuedouble;
            if (!(o->model_dir = keep_string(o, &used, cap, base->valuestring)) ||
                !(o->train_path = keep_string(o, &used, cap, tr->valuestring)) ||
                (cJSON_IsString(va) && !(o->valid_path = keep_string(o, &used, cap, va->valuestring))) ||
                (cw && !(o->class_weights = keep_string(o, &used, cap, cw->valuestring))) ||
                !(o->out_dir = keep_string(o, &used, cap, dir)))
                bad = "paths (too long)";
        }
    }
#undef NUM
    cJSON_Delete(root);
    if (bad) {
        tcf_train_opts_release(o);
        return tcf_fail(TCF_ERR_FORMAT, "%s: cannot resume: train_config entry '%s' missing or invalid", path, bad);
    }
    o->resume = 1;
    return TCF_OK;
}

/* ---- the loop --------------------------------------------------------------------------- */

static void progress(FILE *log, int tty, int epoch, int epochs, int done, int total, double loss, double ex_s,
                     double eta) {
    if (tty)
        fprintf(log, "\repoch %d/%d [%-30.*s] %d/%d  loss %.4f  %.1f ex/s  ETA %.0fs   ", epoch, epochs,
                total ? 30 * done / total : 0, "##############################", done, total, loss, ex_s, eta);
    else
        fprintf(log, "epoch %d/%d step %d/%d loss %.4f %.1f ex/s eta %.0fs\n", epoch, epochs, done, total, loss,
                ex_s, eta);
    fflush(log);
}

/* --init-adapter: start from a saved adapter's values (same layout: the
 * options must describe the same adapter). */
static tcf_status init_from_adapter(tcf_lora *l, const tcf_train_opts *o, const tcf_bert *m) {
    const char *dir = o->init_adapter;
    if (o->mode != TCF_MODE_LORA)
        return tcf_fail(TCF_ERR_ARG, "--init-adapter %s: only for --mode lora", dir);
    tcf_lora *src = NULL;
    tcf_status st = tcf_adapter_load(dir, m->cfg.layers, m->cfg.hidden, m->cfg.inter, &src);
    if (st) return tcf_fail_prefix(st, "--init-adapter");
    char want[160] = "", have[160] = "";
    for (int k = 0; k < TCF_LORA_KINDS; k++) {
        if ((src->targets >> k) & 1) snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", *have ? "," : "", tcf_lora_kind_names[k]);
        if ((l->targets >> k) & 1) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", *want ? "," : "", tcf_lora_kind_names[k]);
    }
    if (src->targets != l->targets || src->r != l->r || src->alpha != l->alpha || src->use_rslora != l->use_rslora)
        st = tcf_fail(TCF_ERR_ARG,
                      "--init-adapter %s: the adapter is r=%d alpha=%g%s on %s but training is set up for r=%d "
                      "alpha=%g%s on %s (pass --lora-r %d --lora-alpha %g --targets %s%s)",
                      dir, src->r, (double)src->alpha, src->use_rslora ? " rsLoRA" : "", have, l->r, (double)l->alpha,
                      l->use_rslora ? " rsLoRA" : "", want, src->r, (double)src->alpha, have,
                      src->use_rslora ? " --rslora" : "");
    else if (src->n_classes != l->n_classes)
        st = tcf_fail(TCF_ERR_ARG, "--init-adapter %s: the adapter's head has %d classes, the training data %d", dir,
                      src->n_classes, l->n_classes);
    for (int i = 0; !st && i < l->n_modules; i++) {
        const tcf_lora_module *a = &src->mod[i];
        tcf_lora_module *b = &l->mod[i];
        memcpy(b->A, a->A, sizeof(float) * (size_t)a->r * (size_t)a->in);
        memcpy(b->B, a->B, sizeof(float) * (size_t)a->out * (size_t)a->r);
    }
    if (!st) {
        memcpy(l->head_w, src->head_w, sizeof(float) * (size_t)l->n_classes * (size_t)l->hidden);
        memcpy(l->head_b, src->head_b, sizeof(float) * (size_t)l->n_classes);
    }
    tcf_lora_free(src);
    return st;
}

tcf_status tcf_train_run(const tcf_train_opts *o, FILE *log) {
    tcf_status st;
    tcf_bert *m = NULL;
    tcf_tokenizer *tok = NULL;
    tcf_dataset *train = NULL, *valid = NULL, *all = NULL;
    tcf_lora *l = NULL;
    tcf_clf_ws *ws = NULL;
    tcf_adamw *opt = NULL;
    tcf_full *full = NULL;
    tcf_llama *dm = NULL;
    tcf_llama_lora *dl = NULL;
    learner LR = {0};
    tcf_param *params = NULL;
    uint8_t *no_decay = NULL;
    toks tt = {0}, tv = {0};
    int *order = NULL, *starts = NULL;
    float *probs = NULL, *blogits = NULL;
    int32_t *ids = NULL, *labels = NULL, *pred = NULL;
    uint8_t *mask = NULL;
    float *cw = NULL;
    tcf_train_state rs = {0};
    char state_path[4096];
    cJSON *history = NULL;
    char base_abs[PATH_MAX];
    const int tty = isatty(fileno(log));
    const int nt = o->threads > 0 ? o->threads : tcf_default_threads();
    /* lr 0: the mode's default, which is what tcf_run.json records */
    tcf_train_opts eff = *o;
    if (eff.lr == 0) eff.lr = tcf_train_default_lr(o->mode);
    o = &eff;

    if (o->epochs < 1 || o->batch < 1 || o->accum < 1 || o->max_len < 3 || !(o->lr > 0))
        return tcf_fail(TCF_ERR_ARG, "train: need epochs, batch, accum >= 1, max_len >= 3, lr > 0");
    if ((st = tcf_path_join(state_path, sizeof state_path, o->out_dir, TCF_TRAIN_STATE_FILE))) return st;
    if (!realpath(o->model_dir, base_abs))
        return tcf_fail(TCF_ERR_IO, "%s: %s", o->model_dir, strerror(errno));
    const int decoder = tcf_llama_handles(o->model_dir);
    if (o->pooling != TCF_POOL_LAST && o->pooling != TCF_POOL_MEAN)
        return tcf_fail(TCF_ERR_ARG, "train: pooling must be last or mean");
    if (!decoder && o->pooling != TCF_POOL_LAST)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "train: %s is an encoder; its classifier reads the pooler on [CLS] "
                        "(BertForSequenceClassification), so --pooling is for decoders only", o->model_dir);
    if (decoder) {
        if (o->mode != TCF_MODE_LORA || o->use_rslora) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "train: %s is a decoder; decoders train in --mode lora only, without "
                          "--rslora (not implemented)", o->model_dir);
            goto done;
        }
        tcf_llama_load_opts lo_ = {o->quant, o->double_quant};
        if ((st = tcf_llama_load_with(o->model_dir, &lo_, &dm)) || (st = tcf_tokenizer_load(o->model_dir, &tok)))
            goto done;
        if (o->max_len > dm->cfg.max_pos) {
            st = tcf_fail(TCF_ERR_ARG, "train: --max-len %d exceeds the model's %d positions", o->max_len,
                          dm->cfg.max_pos);
            goto done;
        }
        if (tcf_tokenizer_vocab_size(tok) > dm->cfg.vocab) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: tokenizer has %d tokens but the model's vocabulary is %d", o->model_dir,
                          tcf_tokenizer_vocab_size(tok), dm->cfg.vocab);
            goto done;
        }
        fprintf(log, "decoder: %d layers, hidden %d; frozen base %s, %.1f MB of weights%s\n", dm->cfg.layers,
                dm->cfg.hidden, dm->quant < 0 ? "f32" : tcf_qtype_name((tcf_qtype)dm->quant),
                tcf_llama_weight_bytes(dm) / 1e6, o->recompute ? "; activations recomputed per layer" : "");
    } else {
    if ((st = tcf_bert_load(o->model_dir, &m)) || (st = tcf_tokenizer_load(o->model_dir, &tok))) goto done;
    if (!m->pool_w) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: the checkpoint has no pooler.dense weights (needed by the "
                      "BertForSequenceClassification head)", o->model_dir);
        goto done;
    }
    if (o->max_len > m->cfg.max_pos) {
        st = tcf_fail(TCF_ERR_ARG, "train: --max-len %d exceeds the model's %d positions", o->max_len, m->cfg.max_pos);
        goto done;
    }
    if ((st = tcf_bert_enable_backward(m))) goto done;
    }
    /* data */
    if ((st = tcf_dataset_load(o->train_path, NULL, &all))) goto done;
    if (o->valid_path) {
        train = all, all = NULL;
        if ((st = tcf_dataset_load(o->valid_path, tcf_dataset_labels(train), &valid))) goto done;
    } else if ((st = tcf_dataset_split_stratified(all, o->valid_fraction, o->seed, &train, &valid))) {
        goto done;
    }
    fprintf(log, "train: %s\n", o->train_path);
    tcf_dataset_summary(train, log);
    fprintf(log, "valid: %s\n", o->valid_path ? o->valid_path : "(stratified split of train)");
    fprintf(log, "  %d examples\n", tcf_dataset_count(valid));
    const tcf_labels *lab = tcf_dataset_labels(train);
    const int K = tcf_labels_count(lab);
    if ((st = tokenize_all(tok, tcf_dataset_count(train), tcf_dataset_texts(train), tcf_dataset_text_lens(train),
                           o->max_len, nt, &tt)) ||
        (st = tokenize_all(tok, tcf_dataset_count(valid), tcf_dataset_texts(valid), tcf_dataset_text_lens(valid),
                           o->max_len, nt, &tv))) {
        tcf_fail_prefix(st, "tokenizing");
        goto done;
    }
    tt.label = malloc(sizeof(int32_t) * ((size_t)tt.n + 1));
    tv.label = malloc(sizeof(int32_t) * ((size_t)tv.n + 1));
    if (!tt.label || !tv.label) {
        st = tcf_fail(TCF_ERR_NOMEM, "train: out of memory");
        goto done;
    }
    memcpy(tt.label, tcf_dataset_label_ids(train), sizeof(int32_t) * (size_t)tt.n);
    memcpy(tv.label, tcf_dataset_label_ids(valid), sizeof(int32_t) * (size_t)tv.n);
    length_report(tok, "train", tt.n, tcf_dataset_texts(train), tcf_dataset_text_lens(train), &tt, log);
    if (o->class_weights) {
        if (!(cw = malloc(sizeof(float) * (size_t)K))) {
            st = tcf_fail(TCF_ERR_NOMEM, "train: out of memory");
            goto done;
        }
        if ((st = parse_class_weights(o->class_weights, train, cw))) goto done;
        fprintf(log, "class weights (%s):", o->class_weights);
        for (int k = 0; k < K; k++) fprintf(log, " %s=%.4g", tcf_labels_name(lab, k), (double)cw[k]);
        fputc('\n', log);
    }
    const uint64_t data_hash = hash_toks(hash_toks(0xCBF29CE484222325ull, &tt), &tv);

    /* model state */
    /* head and full: an adapter with no LoRA modules holds the head */
    const int lora = o->mode == TCF_MODE_LORA;
    /* a decoder: one tensor pair per module of every layer + the head */
    const int pcap = decoder ? 2 * TCF_LL_N * dm->cfg.layers + 2 : 512;
    params = calloc((size_t)pcap, sizeof *params);
    no_decay = calloc((size_t)pcap, 1);
    int np = 0;
    if (!params || !no_decay) {
        st = tcf_fail(TCF_ERR_NOMEM, "train: out of memory");
        goto done;
    }
    if (decoder) {
        if ((st = tcf_llama_lora_init(&dm->cfg, o->lora_r, o->lora_alpha, &dl)) ||
            (st = tcf_llama_lora_init_head(dl, K, dm->cfg.hidden)))
            goto done;
        tcf_llama_lora_init_default(dl, o->seed);
        dl->pooling = o->pooling;
        if (o->init_adapter) { /* start from a decoder adapter (tcf's or PEFT's) */
            tcf_llama_lora *src = NULL;
            if ((st = tcf_llama_adapter_load(o->init_adapter, &dm->cfg, &src))) {
                tcf_fail_prefix(st, "--init-adapter");
                goto done;
            }
            if (src->r != dl->r || src->scale != dl->scale || src->n_labels != K) {
                st = tcf_fail(TCF_ERR_ARG, "--init-adapter %s: r=%d alpha=%g with %d classes, but this run has r=%d "
                              "alpha=%g and %d labels", o->init_adapter, src->r, (double)(src->scale * src->r),
                              src->n_labels, dl->r, (double)o->lora_alpha, K);
                tcf_llama_lora_free(src);
                goto done;
            }
            for (int i = 0; i < dl->layers * TCF_LL_N; i++) {
                memcpy(dl->A[i], src->A[i], sizeof(float) * (size_t)(dl->B[i] - dl->A[i]));
                memcpy(dl->B[i], src->B[i], sizeof(float) * (size_t)(dl->dA[i] - dl->B[i]));
            }
            memcpy(dl->score, src->score, sizeof(float) * (size_t)K * dm->cfg.hidden);
            tcf_llama_lora_free(src);
        }
        np = tcf_llama_lora_params(dl, params, pcap);
        dl->dropout = o->lora_dropout;
        LR = (learner){.dm = dm, .dl = dl, .recompute = o->recompute, .lora_dropout = o->lora_dropout,
                       .seed = o->seed ^ 0xD1B54A32D192ED03ull};
    } else {
    if ((st = tcf_lora_init(&l, m->cfg.layers, m->cfg.hidden, m->cfg.inter, lora ? o->targets : 0, o->lora_r,
                            o->lora_alpha, o->use_rslora, lora ? o->lora_dropout : 0.0f, K)))
        goto done;
    tcf_lora_init_default(l, o->seed);
    if (o->init_adapter && (st = init_from_adapter(l, o, m))) goto done;
    if ((st = tcf_clf_ws_init(&ws, m, l, o->batch, o->max_len, nt))) goto done;
    tcf_clf_dropout drop = {.hidden = o->dropout, .classifier = o->dropout, .lora = lora ? o->lora_dropout : 0.0f,
                            .attn = o->attn_dropout, .seed = o->seed};
    tcf_clf_ws_set_dropout(ws, &drop);
    if (o->mode == TCF_MODE_FULL &&
        ((st = tcf_full_init(&full, m)) || (st = tcf_clf_ws_set_mode(ws, 0, tcf_full_grads(full)))))
        goto done;
    if (o->mode == TCF_MODE_HEAD && (st = tcf_clf_ws_set_mode(ws, 1, NULL))) goto done;
    if (full && (np = tcf_full_params(full, params, 510)) < 0) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "train: %d layers are too many for --mode full", m->cfg.layers);
        goto done;
    }
    np += tcf_lora_params(l, params + np, 512 - np);
    LR = (learner){.m = m, .l = l, .ws = ws, .full = full};
    }
    tcf_adamw_cfg ac = tcf_adamw_defaults();
    ac.lr = o->lr, ac.weight_decay = o->weight_decay;
    /* head and full: no decay on biases and LayerNorm weights, as
     * transformers' Trainer (LoRA keeps decaying everything, as before) */
    if (!lora) tcf_adamw_no_decay_by_name(params, np, no_decay), ac.no_decay = no_decay;
    if ((st = tcf_adamw_init(&opt, params, np, &ac))) goto done;
    order = malloc(sizeof(int) * ((size_t)tt.n + 1));
    starts = malloc(sizeof(int) * ((size_t)tt.n + 1));
    probs = malloc(sizeof(float) * ((size_t)tv.n * K + 1));
    pred = malloc(sizeof(int32_t) * ((size_t)tv.n + 1));
    ids = malloc(sizeof(int32_t) * (size_t)o->batch * o->max_len);
    mask = malloc((size_t)o->batch * o->max_len);
    labels = malloc(sizeof(int32_t) * (size_t)o->batch);
    blogits = malloc(sizeof(float) * (size_t)o->batch * K);
    if (!order || !starts || !probs || !pred || !ids || !mask || !labels || !blogits) {
        st = tcf_fail(TCF_ERR_NOMEM, "train: out of memory");
        goto done;
    }
    const int nb = (tt.n + o->batch - 1) / o->batch;
    const int steps_per_epoch = (nb + o->accum - 1) / o->accum;
    const int64_t total_steps = (int64_t)steps_per_epoch * o->epochs;
    const int64_t warmup = (int64_t)llround(o->warmup_ratio * (double)total_steps);
    int64_t n_trainable = 0;
    for (int i = 0; i < np; i++) n_trainable += params[i].n;
    if (decoder)
        fprintf(log, "LoRA r=%d alpha=%g on %d modules (q k v o gate up down), score head %dx%d", o->lora_r,
                (double)o->lora_alpha, TCF_LL_N * dm->cfg.layers, K, dm->cfg.hidden);
    else if (lora)
        fprintf(log, "LoRA r=%d alpha=%g on %d modules, head %dx%d", o->lora_r, (double)o->lora_alpha, l->n_modules, K,
                m->cfg.hidden);
    else
        fprintf(log, "%s, head %dx%d", full ? "full fine-tuning of every weight" : "head only (frozen encoder)", K,
                m->cfg.hidden);
    fprintf(log, ": %lld trainable values; %d epochs x %d steps, batch %d x accum %d, lr %g, %d threads\n",
            (long long)n_trainable, o->epochs, steps_per_epoch, o->batch, o->accum, o->lr, nt);
    uint64_t rng = o->seed ^ 0x5DEECE66Dull;
    double best_f1 = -1;
    int best_epoch = 0, since_best = 0, ep0 = 1, bi0 = 0;
    int64_t step = 0;
    double loss_sum0 = 0;
    int loss_n0 = 0;
    if (o->resume) {
        if ((st = tcf_train_state_load(state_path, &rs, params, np, opt))) {
            tcf_fail_prefix(st, "--resume");
            goto done;
        }
        if (rs.data_hash != data_hash) {
            st = tcf_fail(TCF_ERR_ARG, "--resume %s: the training or validation data differ from the run's "
                          "(tokenized data hash %016" PRIx64 ", checkpoint %016" PRIx64 ")", o->out_dir, data_hash,
                          rs.data_hash);
            goto done;
        }
        if (!(history = cJSON_Parse(rs.history)) || !cJSON_IsArray(history)) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: metadata 'history' is not a JSON array", state_path);
            goto done;
        }
        if (rs.finished) {
            fprintf(log, "%s: training already finished (best epoch %d, valid macro-F1 %.4f); nothing to do\n",
                    o->out_dir, rs.best_epoch, rs.best_f1);
            goto done;
        }
        rng = rs.rng_epoch, best_f1 = rs.best_f1, best_epoch = rs.best_epoch, since_best = rs.since_best;
        ep0 = rs.epoch, bi0 = rs.batch_index, step = rs.step, loss_sum0 = rs.loss_sum, loss_n0 = rs.loss_n;
        if (ws) tcf_clf_ws_set_calls(ws, rs.dropout_calls);
        LR.calls = rs.dropout_calls;
        if (full) tcf_full_sync(full); /* the model's packed weights from the restored masters */
        if (ep0 > o->epochs || bi0 > nb) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: epoch %d batch %d is past the run's %d epochs of %d batches",
                          state_path, ep0, bi0, o->epochs, nb);
            goto done;
        }
        fprintf(log, "resuming %s at epoch %d, batch %d/%d (update %lld of %lld)\n", o->out_dir, ep0, bi0, nb,
                (long long)step, (long long)total_steps);
    } else {
        history = cJSON_CreateArray();
        if (!history || (st = tcf_mkdirs(o->out_dir)) ||
            (st = write_run_json(o->out_dir, o, base_abs, lab, history, 0, dm))) {
            if (!st) st = tcf_fail(TCF_ERR_NOMEM, "train: out of memory");
            goto done;
        }
    }
    /* the checkpoint of the loop's state as of (epoch, batch) */
    tcf_train_state cs = {0};
#define CHECKPOINT(ep_, bi_, rng_, fin_)                                                                          \
    do {                                                                                                          \
        char *h_ = cJSON_PrintUnformatted(history);                                                              \
        cs = (tcf_train_state){(ep_), (bi_), step, (rng_), learner_calls(&LR), best_f1, best_epoch, since_best,   \
                               loss_sum, loss_n, data_hash, (fin_), h_};                                         \
        st = h_ ? tcf_train_state_save(state_path, &cs, params, np, opt)                                          \
                : tcf_fail(TCF_ERR_NOMEM, "train: out of memory");                                                \
        free(h_);                                                                                                 \
        if (st) goto done;                                                                                        \
        last_ckpt = tcf_now(), last_ckpt_step = step;                                                             \
        if (++n_ckpt == kill_after) raise(SIGKILL);                                                               \
    } while (0)
    /* test hook (tests/cli_resume.sh): die by SIGKILL right after the Nth
     * checkpoint of this process, at a known point mid-epoch */
    const char *ka = getenv("TCF_TEST_KILL_AFTER_CHECKPOINT");
    const int kill_after = ka ? atoi(ka) : -1;
    int n_ckpt = 0;
    double t_start = tcf_now(), t_valid = 0, last_ckpt = t_start;
    int64_t ex_done = 0, tok_done = 0, last_ckpt_step = step;
    for (int ep = ep0; ep <= o->epochs; ep++) {
        const uint64_t rng_ep = rng;
        int n_batches = plan_epoch(&tt, o->batch, &rng, order, starts);
        double loss_sum = ep == ep0 ? loss_sum0 : 0;
        int loss_n = ep == ep0 ? loss_n0 : 0;
        double t_ep = tcf_now(), last_print = 0;
        for (int bi = ep == ep0 ? bi0 : 0; bi < n_batches;) {
            learner_zero_grad(&LR);
            int micro = 0;
            for (; micro < o->accum && bi < n_batches; micro++, bi++) {
                int s = starts[bi], B = tt.n - s < o->batch ? tt.n - s : o->batch;
                int T = fill_batch(&tt, order + s, B, ids, mask, labels);
                float loss = 0;
                if ((st = learner_forward(&LR, B, T, ids, mask, labels, cw, o->label_smoothing, 1, blogits, &loss,
                                          nt)))
                    goto done;
                if (!isfinite(loss)) {
                    st = tcf_fail(TCF_ERR_DIVERGED, "train: loss is %g at epoch %d step %lld; the best checkpoint "
                                  "so far (epoch %d) is in %s", (double)loss, ep, (long long)step + 1, best_epoch, o->out_dir);
                    goto done;
                }
                loss_sum += loss, loss_n++;
                ex_done += B;
                /* a decoder computes only the real tokens (packed rows); an
                 * encoder step computes the padded batch */
                if (decoder)
                    for (int64_t i = 0; i < (int64_t)B * T; i++) tok_done += mask[i] != 0;
                else
                    tok_done += (int64_t)B * T;
            }
            if (micro > 1) tcf_grad_scale(params, np, 1.0 / micro);
            double norm = o->clip > 0 ? tcf_clip_grad_norm(params, np, o->clip) : 0.0;
            if (!isfinite(norm)) {
                st = tcf_fail(TCF_ERR_DIVERGED, "train: gradient norm is %g at epoch %d step %lld; the best "
                              "checkpoint so far (epoch %d) is in %s", norm, ep, (long long)step + 1, best_epoch, o->out_dir);
                goto done;
            }
            tcf_adamw_step(opt, tcf_lr_at(o->schedule, o->lr, step, warmup, total_steps));
            if (full) tcf_full_sync(full);
            step++;
            double now = tcf_now();
            if (now - last_print > (tty ? 0.5 : 10.0) || bi == n_batches) {
                double rate = ex_done / (now - t_start - t_valid);
                double eta = rate > 0 ? ((double)total_steps - step) * o->batch * o->accum / rate : 0;
                progress(log, tty, ep, o->epochs, bi, n_batches, loss_sum / (loss_n ? loss_n : 1), rate, eta);
                last_print = now;
            }
            if (bi < n_batches && ((o->checkpoint_steps > 0 && step - last_ckpt_step >= o->checkpoint_steps) ||
                                   (o->checkpoint_secs > 0 && now - last_ckpt >= o->checkpoint_secs)))
                CHECKPOINT(ep, bi, rng_ep, 0);
        }
        if (tty) fputc('\n', log);
        /* validate */
        double t_v0 = tcf_now();
        if ((st = predict_toks(&LR, o->batch, &tv, probs, nt))) goto done;
        t_valid += tcf_now() - t_v0;
        for (int i = 0; i < tv.n; i++) pred[i] = argmax(probs + (int64_t)i * K, K);
        tcf_metrics *mt = NULL;
        if ((st = tcf_metrics_compute(tv.n, tv.label, pred, K, &mt))) goto done;
        double ep_s = tcf_now() - t_ep;
        fprintf(log, "epoch %d: train loss %.4f, valid accuracy %.4f, macro-F1 %.4f (%.0f s)\n", ep,
                loss_sum / (loss_n ? loss_n : 1), mt->accuracy, mt->macro_f1, ep_s);
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "epoch", ep);
        cJSON_AddNumberToObject(h, "train_loss", loss_sum / (loss_n ? loss_n : 1));
        cJSON_AddNumberToObject(h, "valid_accuracy", mt->accuracy);
        cJSON_AddNumberToObject(h, "valid_macro_f1", mt->macro_f1);
        cJSON_AddNumberToObject(h, "seconds", ep_s);
        cJSON_AddItemToArray(history, h);
        double f1 = mt->macro_f1;
        int improved = f1 > best_f1;
        tcf_metrics_free(mt);
        if (improved) {
            best_f1 = f1, best_epoch = ep, since_best = 0;
            if (decoder) st = tcf_llama_adapter_save(dl, o->out_dir, base_abs);
            else if (lora) st = tcf_adapter_save(l, o->out_dir, base_abs);
            else if (full) st = tcf_full_save(full, l, o->out_dir, base_abs, tcf_labels_names(lab));
            else st = tcf_head_save(l, o->out_dir);
            if (st) goto done;
        } else {
            since_best++;
        }
        if ((st = write_run_json(o->out_dir, o, base_abs, lab, history, best_epoch, dm))) goto done;
        if (improved) fprintf(log, "saved epoch %d to %s\n", ep, o->out_dir);
        int stop = o->patience > 0 && since_best >= o->patience;
        loss_sum = 0, loss_n = 0;
        CHECKPOINT(ep + 1, 0, rng, stop || ep == o->epochs);
        if (stop) {
            fprintf(log, "early stop: no improvement for %d epochs\n", since_best);
            break;
        }
    }
#undef CHECKPOINT
    double t_all = tcf_now() - t_start;
    /* the usual cost model per weight of the encoder's dense layers per
     * token: forward 2 FLOPs, input gradient 2 (LoRA, full), weight gradient
     * 2 (full); head only: the forward */
    double dense;
    if (decoder) {
        const tcf_llama_config *dc = &dm->cfg;
        const double C = dc->hidden, Q = (double)dc->heads * dc->head_dim, Kv = (double)dc->kv_heads * dc->head_dim;
        dense = (double)dc->layers * (C * (Q + 2 * Kv) + Q * C + 3.0 * C * dc->inter);
    } else {
        dense = (double)m->cfg.layers * (4.0 * m->cfg.hidden * m->cfg.hidden + 2.0 * m->cfg.hidden * m->cfg.inter);
    }
    const int fpw = full ? 6 : lora ? 4 : 2;
    fprintf(log, "best epoch %d: valid macro-F1 %.4f; trained on %lld examples (%lld %stokens) in %.1f s "
            "(%.1f ex/s, %.1f GFLOP/s at %d x %.1fM dense weights per token), validation %.1f s\n", best_epoch,
            best_f1, (long long)ex_done, (long long)tok_done, decoder ? "" : "padded ", t_all - t_valid, ex_done / (t_all - t_valid),
            fpw * dense * (double)tok_done / (t_all - t_valid) / 1e9, fpw, dense / 1e6, t_valid);
done:
    cJSON_Delete(history);
    free(rs.history), free(cw);
    free(order), free(starts), free(probs), free(blogits), free(pred), free(ids), free(mask), free(labels);
    toks_free(&tt), toks_free(&tv);
    tcf_adamw_free(opt);
    tcf_clf_ws_free(ws);
    tcf_full_free(full);
    tcf_lora_free(l);
    tcf_llama_lora_free(dl);
    tcf_llama_free(dm);
    free(params), free(no_decay);
    tcf_dataset_free(train), tcf_dataset_free(valid), tcf_dataset_free(all);
    tcf_tokenizer_free(tok);
    tcf_bert_free(m);
    return st;
}

/* ---- loading a run ------------------------------------------------------------------------ */

struct tcf_run {
    tcf_bert *m;
    tcf_tokenizer *tok;
    tcf_lora *l;
    tcf_clf_ws *ws;
    int max_len, n_threads, batch;
    char **labels;
};

void tcf_run_free(tcf_run *r) {
    if (!r) return;
    tcf_clf_ws_free(r->ws);
    tcf_lora_free(r->l);
    tcf_tokenizer_free(r->tok);
    tcf_bert_free(r->m);
    for (int i = 0; r->labels && r->labels[i]; i++) free(r->labels[i]);
    free(r->labels);
    free(r);
}

int tcf_run_n_classes(const tcf_run *r) { return r->l->n_classes; }
const char *const *tcf_run_labels(const tcf_run *r) { return (const char *const *)r->labels; }

tcf_status tcf_run_load(const char *dir, int n_threads, tcf_run **out) {
    *out = NULL;
    char path[4096], *text;
    size_t len;
    tcf_status st;
    if ((st = tcf_path_join(path, sizeof path, dir, "tcf_run.json"))) return st;
    if ((st = tcf_read_file(path, &text, &len))) return tcf_fail_prefix(st, "%s is not a tcf run directory", dir);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    tcf_run *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(root);
        return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    }
    r->n_threads = n_threads > 0 ? n_threads : tcf_default_threads();
    r->batch = 32;
    const cJSON *base = cJSON_GetObjectItem(root, "base_model"), *ml = cJSON_GetObjectItem(root, "max_len"),
                *names = cJSON_GetObjectItem(root, "labels");
    if (!root || !cJSON_IsString(base) || !cJSON_IsNumber(ml) || ml->valueint < 3 || !cJSON_IsArray(names) ||
        cJSON_GetArraySize(names) < 2) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: not a tcf run file (needs base_model, max_len >= 3, labels)", path);
        goto fail;
    }
    r->max_len = ml->valueint;
    /* runs from before --mode have no "mode": LoRA */
    const cJSON *mo = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "train_config"), "mode");
    int mode = cJSON_IsString(mo) ? tcf_train_mode_parse(mo->valuestring) : TCF_MODE_LORA;
    if (mode < 0) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: unknown train_config.mode \"%s\" (known: lora, head, full)", path,
                      mo->valuestring);
        goto fail;
    }
    /* full: the run directory is itself the fine-tuned model */
    if ((st = tcf_bert_load(mode == TCF_MODE_FULL ? dir : base->valuestring, &r->m)) ||
        (st = tcf_tokenizer_load(base->valuestring, &r->tok))) {
        tcf_fail_prefix(st, "%s: %s", path, mode == TCF_MODE_FULL ? "fine-tuned model" : "base model");
        goto fail;
    }
    int K = cJSON_GetArraySize(names);
    if (mode == TCF_MODE_LORA) {
        if ((st = tcf_adapter_load(dir, r->m->cfg.layers, r->m->cfg.hidden, r->m->cfg.inter, &r->l))) goto fail;
    } else {
        char hpath[4096];
        if ((st = tcf_lora_init(&r->l, r->m->cfg.layers, r->m->cfg.hidden, r->m->cfg.inter, 0, 8, 16.0f, 0, 0.0f, K)) ||
            (st = tcf_path_join(hpath, sizeof hpath, dir,
                                mode == TCF_MODE_FULL ? "model.safetensors" : "classifier.safetensors")) ||
            (st = tcf_head_load(hpath, r->l)))
            goto fail;
    }
    if (K != r->l->n_classes) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: %d labels but the adapter's classifier has %d classes", path, K,
                      r->l->n_classes);
        goto fail;
    }
    r->labels = calloc((size_t)K + 1, sizeof *r->labels);
    for (int i = 0; r->labels && i < K; i++) {
        const cJSON *n = cJSON_GetArrayItem(names, i);
        if (!cJSON_IsString(n) || !(r->labels[i] = strdup(n->valuestring))) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: label %d is not a string", path, i);
            goto fail;
        }
    }
    if (r->max_len > r->m->cfg.max_pos) r->max_len = r->m->cfg.max_pos;
    if ((st = tcf_clf_ws_init(&r->ws, r->m, r->l, r->batch, r->max_len, r->n_threads))) goto fail;
    cJSON_Delete(root);
    *out = r;
    return TCF_OK;
fail:
    cJSON_Delete(root);
    tcf_run_free(r);
    return st;
}

tcf_status tcf_run_predict(tcf_run *r, int n, const char *const *texts, float *probs) {
    toks t;
    tcf_status st = tokenize_all(r->tok, n, texts, NULL, r->max_len, r->n_threads, &t);
    if (st) return st;
    learner L = {.m = r->m, .l = r->l, .ws = r->ws};
    st = predict_toks(&L, r->batch, &t, probs, r->n_threads);
    toks_free(&t);
    return st;
}
