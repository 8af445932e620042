/*
 * adapter_io.c — PEFT adapter directories: adapter_config.json +
 * adapter_model.safetensors (see adapter_io.h; key names and config fields
 * in docs/PEFT_NOTES.md).
 */
#include "train/adapter_io.h"
#include "base/atomic_file.h"
#include "base/base.h"
#include "io/st_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_NAME "adapter_config.json"
#define WEIGHTS_NAME "adapter_model.safetensors"
#define HEAD_W "base_model.model.classifier.weight"

static const char *const kind_paths[TCF_LORA_KINDS] = {
    "attention.self.query", "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense"};

/* ---- save ----------------------------------------------------------------- */

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c == '\n') fputs("\\n", f);
        else if (*c == '\t') fputs("\\t", f);
        else if (*c == '\r') fputs("\\r", f);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

/* The shortest %g spelling that reads back as the same float; Python-style
 * "0.0" for integral values when `as_float`, a bare integer otherwise. */
static void json_number(FILE *f, float v, int as_float) {
    char buf[64];
    if (v == floorf(v) && fabsf(v) < 1e9f) {
        snprintf(buf, sizeof buf, as_float ? "%.1f" : "%.0f", (double)v);
    } else {
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
            if (strtof(buf, NULL) == v) break;
        }
    }
    fputs(buf, f);
}

/* adapter_config.json in PEFT's style (json.dumps(indent=2, sort_keys=True)).
 * target_modules must make PEFT wrap exactly our modules: a list entry t
 * wraps path p if p == t or p ends with "." t, so "output.dense" alone would
 * also wrap attention.output.dense; when only the layer output is wrapped it
 * is listed per layer ("encoder.layer.3.output.dense"). */
/* The LoraConfig fields of an adapter; target_modules from write_targets. */
typedef struct {
    int r, use_rslora;
    float alpha, dropout;
    void (*write_targets)(FILE *f, const void *ctx);
    const void *ctx;
} config_fields;

/* adapter_config.json in PEFT's style (json.dumps(indent=2, sort_keys=True)). */
static tcf_status config_json_fields(const config_fields *c, const char *base_model_path, char **out,
                                     size_t *len) {
    FILE *f = open_memstream(out, len);
    if (!f) return tcf_fail(TCF_ERR_NOMEM, "adapter config: out of memory");
    fputs("{\n  \"alpha_pattern\": {},\n  \"base_model_name_or_path\": ", f);
    if (base_model_path) json_string(f, base_model_path);
    else fputs("null", f);
    fputs(",\n  \"bias\": \"none\",\n  \"exclude_modules\": null,\n  \"fan_in_fan_out\": false,\n"
          "  \"inference_mode\": true,\n  \"init_lora_weights\": true,\n"
          "  \"layers_pattern\": null,\n  \"layers_to_transform\": null,\n  \"lora_alpha\": ", f);
    json_number(f, c->alpha, 0);
    fputs(",\n  \"lora_bias\": false,\n  \"lora_dropout\": ", f);
    json_number(f, c->dropout, 1);
    fprintf(f, ",\n  \"modules_to_save\": [\n    \"classifier\",\n    \"score\"\n  ],\n"
               "  \"peft_type\": \"LORA\",\n  \"r\": %d,\n  \"rank_pattern\": {},\n"
               "  \"revision\": null,\n  \"target_modules\": [", c->r);
    c->write_targets(f, c->ctx);
    fprintf(f, "\n  ],\n  \"task_type\": \"SEQ_CLS\",\n  \"use_dora\": false,\n"
               "  \"use_rslora\": %s\n}", c->use_rslora ? "true" : "false");
    if (fclose(f) != 0) {
        free(*out);
        *out = NULL;
        return tcf_fail(TCF_ERR_NOMEM, "adapter config: out of memory");
    }
    return TCF_OK;
}

/* target_modules must make PEFT wrap exactly our modules: a list entry t
 * wraps path p if p == t or p ends with "." t, so "output.dense" alone would
 * also wrap attention.output.dense; when only the layer output is wrapped it
 * is listed per layer ("encoder.layer.3.output.dense"). */
static void bert_targets(FILE *f, const void *ctx) {
    const tcf_lora *l = ctx;
    int first = 1;
    unsigned both_out = (1u << TCF_LORA_ATTN_OUT) | (1u << TCF_LORA_OUTPUT);
    for (int k = 0; k < TCF_LORA_KINDS; k++) {
        if (!((l->targets >> k) & 1)) continue;
        if (k == TCF_LORA_OUTPUT && (l->targets & both_out) != both_out) {
            for (int layer = 0; layer < l->n_layers; layer++) {
                fprintf(f, "%s\n    \"encoder.layer.%d.output.dense\"", first ? "" : ",", layer);
                first = 0;
            }
            continue;
        }
        fprintf(f, "%s\n    ", first ? "" : ",");
        json_string(f, tcf_lora_kind_names[k]);
        first = 0;
    }
}

/* Write the n tensors p (their values, under their names) as the weights
 * file and the config c as adapter_config.json in dir: weights first, config
 * last (see adapter_io.h). */
static tcf_status save_files(const char *dir, const tcf_param *p, int n, const config_fields *c,
                             const char *base_model_path) {
    char wpath[4096], cpath[4096];
    tcf_status st = tcf_path_join(wpath, sizeof wpath, dir, WEIGHTS_NAME);
    if (st == TCF_OK) st = tcf_path_join(cpath, sizeof cpath, dir, CONFIG_NAME);
    if (st == TCF_OK) st = tcf_mkdirs(dir);
    if (st != TCF_OK) return st;
    tcf_st_tensor *t = calloc((size_t)n + 1, sizeof *t);
    char *json = NULL;
    size_t json_len = 0;
    if (!t) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", dir);
    for (int i = 0; i < n; i++) {
        t[i] = (tcf_st_tensor){.name = p[i].name, .dtype = TCF_DTYPE_F32, .n_dims = p[i].ndim, .data = p[i].w};
        for (int d = 0; d < p[i].ndim; d++) t[i].shape[d] = p[i].shape[d];
    }
    static const char *const meta[2] = {"format", "pt"};
    st = tcf_safetensors_write(wpath, t, n, meta, 1);
    if (st == TCF_OK) st = config_json_fields(c, base_model_path, &json, &json_len);
    if (st == TCF_OK) st = tcf_atomic_write_file(cpath, json, json_len);
    free(json);
    free(t);
    return st;
}

tcf_status tcf_adapter_save(const tcf_lora *l, const char *dir, const char *base_model_path) {
    if (!l || !dir || !*dir) return tcf_fail(TCF_ERR_ARG, "adapter save: no adapter or directory");
    int cap = 2 * l->n_modules + 2;
    tcf_param *p = calloc((size_t)cap, sizeof *p);
    if (!p) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", dir);
    /* tcf_lora_params only fills its name table; the values are not touched. */
    int n = tcf_lora_params((tcf_lora *)l, p, cap);
    config_fields c = {l->r, l->use_rslora, l->alpha, l->dropout, bert_targets, l};
    tcf_status st = save_files(dir, p, n, &c, base_model_path);
    free(p);
    return st;
}

/* ---- load: config ----------------------------------------------------------- */

/* PEFT's list matching (tuners_utils.py check_target_module_exists). */
static int suffix_match(const char *key, const char *t) {
    size_t kl = strlen(key), tl = strlen(t);
    if (kl == tl) return strcmp(key, t) == 0;
    return kl > tl && key[kl - tl - 1] == '.' && strcmp(key + kl - tl, t) == 0;
}

static int is_true(const cJSON *j) { return j && cJSON_IsTrue(j); }
static int is_set(const cJSON *j) {  /* present, not null, not an empty list/object */
    if (!j || cJSON_IsNull(j) || cJSON_IsFalse(j)) return 0;
    if (cJSON_IsArray(j) || cJSON_IsObject(j)) return j->child != NULL;
    return 1;
}

typedef struct {
    int r;
    float alpha, dropout;
    int use_rslora;
    unsigned targets;
} lora_cfg;

/* Map target_modules onto kinds; every kind must be matched in all layers or
 * in none. */
static tcf_status parse_targets(const char *path, const cJSON *tm, int n_layers, unsigned *targets) {
    if (!tm || cJSON_IsNull(tm))
        return tcf_fail(TCF_ERR_FORMAT, "%s: target_modules missing", path);
    if (cJSON_IsString(tm))
        return tcf_fail(TCF_ERR_UNSUPPORTED,
                        "%s: target_modules is the string \"%s\" (a regex or \"all-linear\"); tcf "
                        "supports a list of module names", path, tm->valuestring);
    if (!cJSON_IsArray(tm) || !tm->child)
        return tcf_fail(TCF_ERR_FORMAT, "%s: target_modules is not a non-empty list", path);
    int *hits = calloc((size_t)TCF_LORA_KINDS, sizeof *hits);
    if (!hits) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    /* hits[k]: number of layers whose kind-k module some entry matches */
    unsigned char *m = calloc((size_t)n_layers * TCF_LORA_KINDS, 1);
    tcf_status st = TCF_OK;
    if (!m) {
        free(hits);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    char key[256];
    for (const cJSON *e = tm->child; e && st == TCF_OK; e = e->next) {
        if (!cJSON_IsString(e) || !*e->valuestring) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: target_modules holds a non-string or empty entry", path);
            break;
        }
        const char *t = e->valuestring;
        if (suffix_match("bert.pooler.dense", t)) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED,
                          "%s: target_modules entry \"%s\" also wraps bert.pooler.dense, which tcf "
                          "does not support", path, t);
            break;
        }
        int any = 0;
        for (int layer = 0; layer < n_layers; layer++)
            for (int k = 0; k < TCF_LORA_KINDS; k++) {
                snprintf(key, sizeof key, "bert.encoder.layer.%d.%s", layer, kind_paths[k]);
                if (suffix_match(key, t)) m[(size_t)layer * TCF_LORA_KINDS + k] = 1, any = 1;
            }
        if (!any)
            st = tcf_fail(TCF_ERR_UNSUPPORTED,
                          "%s: target_modules entry \"%s\" names no LoRA-capable module of the "
                          "encoder (query, key, value, attention.output.dense, intermediate.dense, "
                          "output.dense)", path, t);
    }
    *targets = 0;
    for (int k = 0; k < TCF_LORA_KINDS && st == TCF_OK; k++) {
        for (int layer = 0; layer < n_layers; layer++) hits[k] += m[(size_t)layer * TCF_LORA_KINDS + k];
        if (hits[k] == n_layers) *targets |= 1u << k;
        else if (hits[k] != 0)
            st = tcf_fail(TCF_ERR_UNSUPPORTED,
                          "%s: target_modules wrap %s in %d of %d layers; tcf needs all or none",
                          path, kind_paths[k], hits[k], n_layers);
    }
    free(m);
    free(hits);
    return st;
}

static tcf_status parse_config(const char *path, int n_layers, lora_cfg *c) {
    char *text;
    size_t len;
    tcf_status st = tcf_read_file(path, &text, &len);
    if (st != TCF_OK) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: not a JSON object%s", path,
                      root ? "" : " (JSON syntax error)");
        goto done;
    }
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "peft_type");
    if (!cJSON_IsString(j)) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: peft_type missing or not a string", path);
        goto done;
    }
    if (strcmp(j->valuestring, "LORA") != 0) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: peft_type \"%s\": tcf reads LORA adapters only",
                      path, j->valuestring);
        goto done;
    }
    j = cJSON_GetObjectItemCaseSensitive(root, "task_type");
    if (cJSON_IsString(j) && strcmp(j->valuestring, "SEQ_CLS") != 0) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: task_type \"%s\": tcf reads SEQ_CLS adapters only",
                      path, j->valuestring);
        goto done;
    }
    j = cJSON_GetObjectItemCaseSensitive(root, "r");
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 1 ||
        j->valuedouble > 4096) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: r must be an integer in [1, 4096]", path);
        goto done;
    }
    c->r = (int)j->valuedouble;
    j = cJSON_GetObjectItemCaseSensitive(root, "lora_alpha");
    c->alpha = 8; /* LoraConfig's default */
    if (j) {
        if (!cJSON_IsNumber(j) || !(j->valuedouble > 0) || !isfinite(j->valuedouble)) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: lora_alpha must be a positive number", path);
            goto done;
        }
        c->alpha = (float)j->valuedouble;
    }
    j = cJSON_GetObjectItemCaseSensitive(root, "lora_dropout");
    c->dropout = 0;
    if (j && !cJSON_IsNull(j)) {
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble < 1)) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: lora_dropout must be a number in [0, 1)", path);
            goto done;
        }
        c->dropout = (float)j->valuedouble;
    }
    j = cJSON_GetObjectItemCaseSensitive(root, "use_rslora");
    if (j && !cJSON_IsBool(j) && !cJSON_IsNull(j)) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: use_rslora must be true or false", path);
        goto done;
    }
    c->use_rslora = is_true(j);
    j = cJSON_GetObjectItemCaseSensitive(root, "bias");
    if (j && !cJSON_IsNull(j) && !(cJSON_IsString(j) && !strcmp(j->valuestring, "none"))) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: bias must be \"none\" (tcf trains no biases)", path);
        goto done;
    }
    static const char *const unsupported_flags[] = {"fan_in_fan_out", "use_dora", "lora_bias",
                                                    "use_qalora"};
    for (size_t i = 0; i < sizeof unsupported_flags / sizeof *unsupported_flags; i++)
        if (is_true(cJSON_GetObjectItemCaseSensitive(root, unsupported_flags[i]))) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: %s = true is not supported", path,
                          unsupported_flags[i]);
            goto done;
        }
    static const char *const unsupported_sets[] = {"rank_pattern", "alpha_pattern",
                                                   "layers_to_transform", "exclude_modules",
                                                   "layer_replication", "target_parameters"};
    for (size_t i = 0; i < sizeof unsupported_sets / sizeof *unsupported_sets; i++)
        if (is_set(cJSON_GetObjectItemCaseSensitive(root, unsupported_sets[i]))) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: %s is set; tcf supports it only empty", path,
                          unsupported_sets[i]);
            goto done;
        }
    st = parse_targets(path, cJSON_GetObjectItemCaseSensitive(root, "target_modules"), n_layers,
                       &c->targets);
done:
    cJSON_Delete(root);
    free(text);
    return st;
}

/* ---- load: weights ---------------------------------------------------------- */

static void shape_str(char *buf, size_t cap, int nd, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < nd && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* Check name's dtype and shape against (nd, shape) and convert it into dst. */
static tcf_status read_tensor(const char *path, const tcf_safetensors *sf, const char *name, int nd,
                              const int64_t *shape, float *dst) {
    char want[96], got[192];
    shape_str(want, sizeof want, nd, shape);
    const tcf_tensor_view *v = tcf_safetensors_find(sf, name);
    if (!v)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' missing (expected shape %s)", path, name, want);
    int ok = v->n_dims == nd;
    for (int d = 0; ok && d < nd; d++) ok = v->shape[d] == shape[d];
    if (!ok) {
        shape_str(got, sizeof got, v->n_dims, v->shape);
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", path, name, got,
                        want);
    }
    if (v->dtype != TCF_DTYPE_F32 && v->dtype != TCF_DTYPE_F16 && v->dtype != TCF_DTYPE_BF16 &&
        v->dtype != TCF_DTYPE_F64)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16",
                        path, name, tcf_dtype_name(v->dtype));
    tcf_status st = tcf_tensor_to_f32(v, dst, v->numel);
    if (st != TCF_OK) return tcf_fail_prefix(st, "%s: tensor '%s'", path, name);
    return TCF_OK;
}

tcf_status tcf_adapter_load(const char *dir, int n_layers, int hidden, int inter, tcf_lora **out) {
    *out = NULL;
    if (!dir || n_layers <= 0 || n_layers > 1024 || hidden <= 0 || inter <= 0)
        return tcf_fail(TCF_ERR_ARG, "adapter load: bad arguments (layers %d, hidden %d, inter %d)",
                        n_layers, hidden, inter);
    char wpath[4096], cpath[4096];
    tcf_status st = tcf_path_join(wpath, sizeof wpath, dir, WEIGHTS_NAME);
    if (st == TCF_OK) st = tcf_path_join(cpath, sizeof cpath, dir, CONFIG_NAME);
    if (st != TCF_OK) return st;
    lora_cfg c = {0};
    st = parse_config(cpath, n_layers, &c);
    if (st != TCF_OK) return st;

    tcf_safetensors *sf = NULL;
    st = tcf_safetensors_open(wpath, &sf);
    if (st != TCF_OK) {
        if (!strstr(tcf_last_error(), wpath)) tcf_fail_prefix(st, "%s", wpath);
        return st;
    }
    tcf_lora *l = NULL;
    tcf_param *p = NULL;
    const tcf_tensor_view *hw = tcf_safetensors_find(sf, HEAD_W);
    if (!hw) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '" HEAD_W "' missing (the classification head, "
                      "expected shape [n_classes, %d])", wpath, hidden);
        goto done;
    }
    if (hw->n_dims != 2 || hw->shape[0] < 2 || hw->shape[0] > INT_MAX || hw->shape[1] != hidden) {
        char got[192];
        shape_str(got, sizeof got, hw->n_dims, hw->shape);
        st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '" HEAD_W "' has shape %s, expected [n_classes >= 2, %d]",
                      wpath, got, hidden);
        goto done;
    }
    st = tcf_lora_init(&l, n_layers, hidden, inter, c.targets, c.r, c.alpha, c.use_rslora, c.dropout,
                       (int)hw->shape[0]);
    if (st != TCF_OK) goto done;
    int cap = 2 * l->n_modules + 2;
    p = calloc((size_t)cap, sizeof *p);
    if (!p) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", wpath);
        goto done;
    }
    int n = tcf_lora_params(l, p, cap);
    for (int i = 0; i < n && st == TCF_OK; i++)
        st = read_tensor(wpath, sf, p[i].name, p[i].ndim, p[i].shape, p[i].w);
    for (int i = 0; i < tcf_safetensors_count(sf) && st == TCF_OK; i++) {
        const char *name = tcf_safetensors_at(sf, i)->name;
        int known = 0;
        for (int k = 0; k < n && !known; k++) known = !strcmp(name, p[k].name);
        if (!known)
            st = tcf_fail(TCF_ERR_FORMAT, "%s: unexpected tensor '%s' (not among the %d tensors that "
                          "%s describes)", wpath, name, n, cpath);
    }
done:
    free(p);
    tcf_safetensors_free(sf);
    if (st != TCF_OK) tcf_lora_free(l);
    else *out = l;
    return st;
}

/* ---- Llama-family decoders (LlamaForSequenceClassification) ---------------------- */

static void llama_targets(FILE *f, const void *ctx) {
    (void)ctx;
    for (int m = 0; m < TCF_LL_N; m++) {
        fprintf(f, "%s\n    ", m ? "," : "");
        json_string(f, tcf_llama_lora_module_names[m]);
    }
}

tcf_status tcf_llama_adapter_save(tcf_llama_lora *lo, const char *dir, const char *base_model_path) {
    if (!lo || !lo->score || !dir || !*dir) return tcf_fail(TCF_ERR_ARG, "adapter save: no adapter, head or directory");
    const int cap = 2 * lo->layers * TCF_LL_N + 1;
    tcf_param *p = calloc((size_t)cap, sizeof *p);
    if (!p) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", dir);
    int n = tcf_llama_lora_params(lo, p, cap);
    config_fields c = {lo->r, 0, lo->scale * (float)lo->r, lo->dropout, llama_targets, NULL};
    tcf_status st = save_files(dir, p, n, &c, base_model_path);
    free(p);
    return st;
}

tcf_status tcf_llama_adapter_load(const char *dir, const tcf_llama_config *cfg, tcf_llama_lora **out) {
    *out = NULL;
    char wpath[4096], cpath[4096], *text = NULL;
    size_t len;
    tcf_status st = tcf_path_join(wpath, sizeof wpath, dir, WEIGHTS_NAME);
    if (!st) st = tcf_path_join(cpath, sizeof cpath, dir, CONFIG_NAME);
    if (!st) st = tcf_read_file(cpath, &text, &len);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    tcf_safetensors *sf = NULL;
    tcf_llama_lora *lo = NULL;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "r"), *a = cJSON_GetObjectItemCaseSensitive(root, "lora_alpha");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(root, "target_modules");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "peft_type");
    if (!cJSON_IsObject(root) || !cJSON_IsString(pt) || strcmp(pt->valuestring, "LORA") || !cJSON_IsNumber(r) ||
        r->valuedouble < 1 || r->valuedouble > 4096 || r->valuedouble != floor(r->valuedouble) ||
        (a && (!cJSON_IsNumber(a) || !(a->valuedouble > 0)))) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: not a PEFT LoRA config with an integer r in [1, 4096] and a positive "
                      "lora_alpha", cpath);
        goto done;
    }
    if (is_true(cJSON_GetObjectItemCaseSensitive(root, "use_rslora")) ||
        is_true(cJSON_GetObjectItemCaseSensitive(root, "use_dora"))) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: rsLoRA / DoRA adapters on decoders are not supported", cpath);
        goto done;
    }
    unsigned seen = 0;
    for (const cJSON *e = cJSON_IsArray(tm) ? tm->child : NULL; e; e = e->next) {
        int k = -1;
        for (int m = 0; cJSON_IsString(e) && m < TCF_LL_N; m++)
            if (!strcmp(e->valuestring, tcf_llama_lora_module_names[m])) k = m;
        if (k < 0) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: target_modules entry %s is not one of q_proj k_proj v_proj o_proj "
                          "gate_proj up_proj down_proj", cpath, cJSON_IsString(e) ? e->valuestring : "(not a string)");
            goto done;
        }
        seen |= 1u << k;
    }
    if (seen != (1u << TCF_LL_N) - 1) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: target_modules must list all of q_proj k_proj v_proj o_proj gate_proj "
                      "up_proj down_proj (tcf adapts every one)", cpath);
        goto done;
    }
    const int rank = (int)r->valuedouble;
    if ((st = tcf_llama_lora_init(cfg, rank, a ? (float)a->valuedouble : 8.0f, &lo))) goto done;
    if ((st = tcf_safetensors_open(wpath, &sf))) goto done;
    const tcf_tensor_view *sc = tcf_safetensors_find(sf, "base_model.model.score.weight");
    if (!sc || sc->n_dims != 2 || sc->shape[1] != cfg->hidden || sc->shape[0] < 1 || sc->shape[0] > 1 << 20) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor 'base_model.model.score.weight' missing or not (n_labels, %d)", wpath,
                      cfg->hidden);
        goto done;
    }
    if ((st = tcf_llama_lora_init_head(lo, (int)sc->shape[0], cfg->hidden))) goto done;
    const int cap = 2 * cfg->layers * TCF_LL_N + 1;
    tcf_param *p = calloc((size_t)cap, sizeof *p);
    if (!p) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", wpath);
        goto done;
    }
    int n = tcf_llama_lora_params(lo, p, cap);
    for (int i = 0; i < n && !st; i++) {
        const tcf_tensor_view *t = tcf_safetensors_find(sf, p[i].name);
        if (!t || t->n_dims != p[i].ndim || t->shape[0] != p[i].shape[0] || t->shape[1] != p[i].shape[1])
            st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' missing or not of shape [%lld, %lld]", wpath, p[i].name,
                          (long long)p[i].shape[0], (long long)p[i].shape[1]);
        else if ((st = tcf_tensor_to_f32(t, p[i].w, p[i].n)))
            tcf_fail_prefix(st, "%s", wpath);
    }
    if (!st && tcf_safetensors_count(sf) != n)
        st = tcf_fail(TCF_ERR_FORMAT, "%s: %d tensors, expected %d (every module of %d layers and the score head)",
                      wpath, tcf_safetensors_count(sf), n, cfg->layers);
    free(p);
done:
    cJSON_Delete(root);
    tcf_safetensors_free(sf);
    if (st) tcf_llama_lora_free(lo);
    else *out = lo;
    return st;
}
