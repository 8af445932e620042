/*
 * test_adapter_io.c — atomic file writes, the safetensors writer, and PEFT
 * adapter save/load (src/base/atomic_file.h, src/io/st_write.h,
 * src/train/adapter_io.h).
 *
 * Truth for names and shapes: tests/fixtures/lora/manifest.json adapter_keys
 * (what PEFT 0.21.2 save_pretrained wrote) and the fixture configs. The
 * writer's byte layout is compared with a file the Python safetensors 0.8
 * writer produced (literal below). Write failures are provoked for real: a
 * forked child lowers RLIMIT_FSIZE and ignores SIGXFSZ, so write(2) fails
 * with EFBIG part-way through the file.
 *
 * `test_adapter_io --save-demo DIR [output-only]` writes a c1-shaped adapter
 * with random values for tests/ref/check_adapter_peft.py; `--resave SRC DST`
 * loads a MiniLM-shaped adapter directory and saves it again.
 */
#include "base/atomic_file.h"
#include "base/base.h"
#include "check.h"
#include "io/st_write.h"
#include "kern/convert.h"
#include "train/adapter_io.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIX "tests/fixtures/lora/"
#define ALL_KINDS ((1u << TCF_LORA_KINDS) - 1)
#define QV ((1u << TCF_LORA_QUERY) | (1u << TCF_LORA_VALUE))

static char root[256]; /* per-run temp dir */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", root, name);
}

static int write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fputs(s, f);
    return fclose(f) == 0;
}

static int same_file(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    if (tcf_read_file(a, &x, &nx) != TCF_OK) return 0;
    if (tcf_read_file(b, &y, &ny) != TCF_OK) return free(x), 0;
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x), free(y);
    return same;
}

static int copy_file(const char *from, const char *to) {
    char *x;
    size_t n;
    if (tcf_read_file(from, &x, &n) != TCF_OK) return 0;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(x, 1, n, f) == n;
    if (f) ok &= fclose(f) == 0;
    free(x);
    return ok;
}

/* Number of directory entries whose name contains ".tmp." */
static int temp_files_in(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static uint64_t rng = 42;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static tcf_lora *make_lora(int n_layers, int hidden, int inter, unsigned targets, int r, float alpha,
                           int rslora, float dropout, int n_classes) {
    tcf_lora *l = NULL;
    if (tcf_lora_init(&l, n_layers, hidden, inter, targets, r, alpha, rslora, dropout, n_classes) !=
        TCF_OK)
        return NULL;
    tcf_param p[512];
    int n = tcf_lora_params(l, p, 512);
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < p[i].n; j++) p[i].w[j] = frand();
    return l;
}

/* ---- atomic file ------------------------------------------------------------- */

/* In a child with RLIMIT_FSIZE = limit, run fn; the exit code is 0 if fn
 * saw TCF_ERR_IO with a message naming `path` and EFBIG's strerror. */
typedef tcf_status (*write_fn)(const char *path, void *ctx);

static int run_limited(long limit, write_fn fn, const char *path, void *ctx) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
        tcf_status st = fn(path, ctx);
        const char *msg = tcf_last_error();
        fprintf(stderr, "  (child under RLIMIT_FSIZE=%ld: %s: %s)\n", limit, tcf_status_name(st), msg);
        if (st != TCF_ERR_IO) _exit(11);
        if (!strstr(msg, path)) _exit(12);
        if (!strstr(msg, strerror(EFBIG))) _exit(13);
        _exit(0);
    }
    int ws;
    if (waitpid(pid, &ws, 0) != pid) return -1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 100 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
}

static tcf_status write_big(const char *path, void *ctx) {
    size_t n = *(size_t *)ctx;
    char *buf = malloc(n);
    if (!buf) return TCF_ERR_NOMEM;
    memset(buf, 'N', n);
    tcf_status st = tcf_atomic_write_file(path, buf, n);
    free(buf);
    return st;
}

static void test_atomic(void) {
    char path[600], bad[700], dir[512];
    tmp_path(dir, sizeof dir, "atomic");
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/target.bin", dir);

    /* success: create, then replace */
    CHECK(tcf_atomic_write_file(path, "old contents", 12) == TCF_OK, "%s", tcf_last_error());
    char *data;
    size_t n;
    CHECK(tcf_read_file(path, &data, &n) == TCF_OK && n == 12 && !memcmp(data, "old contents", 12),
          "first write");
    free(data);
    tcf_atomic_file *h;
    CHECK(tcf_atomic_open(path, &h) == TCF_OK, "%s", tcf_last_error());
    CHECK(tcf_atomic_write(h, "new ", 4) == TCF_OK && tcf_atomic_write(h, "data", 4) == TCF_OK, "write");
    CHECK(temp_files_in(dir) == 1, "temp file exists while writing");
    CHECK(tcf_read_file(path, &data, &n) == TCF_OK && n == 12, "target untouched before commit");
    free(data);
    CHECK(tcf_atomic_commit(h) == TCF_OK, "%s", tcf_last_error());
    CHECK(tcf_read_file(path, &data, &n) == TCF_OK && n == 8 && !memcmp(data, "new data", 8),
          "commit replaced the file");
    free(data);
    CHECK(temp_files_in(dir) == 0, "no temp file after commit");

    /* abort: old file stays, temp removed */
    CHECK(tcf_atomic_open(path, &h) == TCF_OK, "%s", tcf_last_error());
    CHECK(tcf_atomic_write(h, "xxxxxxxxxxxxxxxx", 16) == TCF_OK, "write");
    tcf_atomic_abort(h);
    tcf_atomic_abort(NULL);
    CHECK(tcf_read_file(path, &data, &n) == TCF_OK && n == 8 && !memcmp(data, "new data", 8),
          "abort kept the old file");
    free(data);
    CHECK(temp_files_in(dir) == 0, "no temp file after abort");

    /* open fails: parent of the target is a regular file (ENOTDIR even as root) */
    snprintf(bad, sizeof bad, "%s/sub/x.bin", path);
    tcf_status st = tcf_atomic_write_file(bad, "x", 1);
    CHECK(st == TCF_ERR_IO && strstr(tcf_last_error(), bad) && strstr(tcf_last_error(), strerror(ENOTDIR)),
          "%s: %s", tcf_status_name(st), tcf_last_error());

    /* write fails mid-file (EFBIG from RLIMIT_FSIZE in a child): 1 MiB with a
     * 64 KiB limit, so write(2) succeeds partly and then fails. */
    size_t big = 1 << 20;
    int rc = run_limited(64 * 1024, write_big, path, &big);
    CHECK(rc == 0, "child status %d (10 setrlimit, 11 status, 12 path, 13 strerror)", rc);
    CHECK(tcf_read_file(path, &data, &n) == TCF_OK && n == 8 && !memcmp(data, "new data", 8),
          "failed write kept the old file");
    free(data);
    CHECK(temp_files_in(dir) == 0, "failed write left no temp file");
}

/* ---- safetensors writer -------------------------------------------------------- */

static void test_st_write(void) {
    char path[512];
    tmp_path(path, sizeof path, "w.safetensors");
    float b[3] = {0, 0, 0}, ax[2] = {1, 1}, A[1] = {0};
    tcf_st_tensor t[3] = {
        {.name = "b", .dtype = TCF_DTYPE_F32, .n_dims = 1, .shape = {3}, .data = b},
        {.name = "a.x", .dtype = TCF_DTYPE_F32, .n_dims = 2, .shape = {2, 1}, .data = ax},
        {.name = "A", .dtype = TCF_DTYPE_F32, .n_dims = 1, .shape = {1}, .data = A},
    };
    static const char *const meta[2] = {"format", "pt"};
    CHECK(tcf_safetensors_write(path, t, 3, meta, 1) == TCF_OK, "%s", tcf_last_error());
    /* What Python safetensors 0.8 save_file wrote for the same dict
     * {"b": zeros(3), "a.x": ones(2, 1), "A": zeros(1)}, metadata {"format": "pt"}. */
    static const char want_hdr[] =
        "{\"__metadata__\":{\"format\":\"pt\"},\"A\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
        "[0,4]},\"a.x\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[4,12]},\"b\":{\"dtype\":"
        "\"F32\",\"shape\":[3],\"data_offsets\":[12,24]}}  ";
    char *data;
    size_t n;
    CHECK(tcf_read_file(path, &data, &n) == TCF_OK, "%s", tcf_last_error());
    size_t hl = sizeof want_hdr - 1;
    CHECK(hl == 200 && n == 8 + hl + 24, "file size %zu", n);
    if (n == 8 + hl + 24) {
        uint64_t N = 0;
        for (int i = 0; i < 8; i++) N |= (uint64_t)(unsigned char)data[i] << (8 * i);
        CHECK(N == hl, "header length %llu", (unsigned long long)N);
        CHECK(!memcmp(data + 8, want_hdr, hl), "header differs from Python's: %.*s", (int)hl, data + 8);
        float one = 1;
        CHECK(!memcmp(data + 8 + hl + 4, &one, 4) && !memcmp(data + 8 + hl + 8, &one, 4), "data order");
    }
    free(data);

    /* our reader accepts it */
    tcf_safetensors *sf = NULL;
    CHECK(tcf_safetensors_open(path, &sf) == TCF_OK, "%s", tcf_last_error());
    if (sf) {
        CHECK(tcf_safetensors_count(sf) == 3, "count");
        const tcf_tensor_view *v = tcf_safetensors_find(sf, "a.x");
        CHECK(v && v->n_dims == 2 && v->shape[0] == 2 && v->shape[1] == 1 && !memcmp(v->data, ax, 8),
              "a.x");
        const char *fmt = tcf_safetensors_metadata(sf, "format");
        CHECK(fmt && !strcmp(fmt, "pt"), "metadata");
        tcf_safetensors_free(sf);
    }

    /* Mixed dtypes: Python's order is I64, F64, F32, I32, BF16, F16, I16, I8,
     * U8, BOOL, then by name (seen with safetensors 0.8). */
    static const struct { const char *name; tcf_dtype dt; } mix[] = {
        {"a_f32", TCF_DTYPE_F32}, {"b_f16", TCF_DTYPE_F16}, {"c_bf16", TCF_DTYPE_BF16},
        {"d_i32", TCF_DTYPE_I32}, {"e_f64", TCF_DTYPE_F64}, {"f_i64", TCF_DTYPE_I64},
        {"g_u8", TCF_DTYPE_U8},   {"h_i8", TCF_DTYPE_I8},   {"i_bool", TCF_DTYPE_BOOL},
        {"j_i16", TCF_DTYPE_I16}, {"Z_f32", TCF_DTYPE_F32}};
    static const char *const py_order[] = {"f_i64", "e_f64", "Z_f32", "a_f32", "d_i32", "c_bf16",
                                           "b_f16", "j_i16", "h_i8",  "g_u8",  "i_bool"};
    tcf_st_tensor mt[11];
    uint64_t zero = 0;
    for (int i = 0; i < 11; i++)
        mt[i] = (tcf_st_tensor){.name = mix[i].name, .dtype = mix[i].dt, .n_dims = 1, .shape = {1},
                                .data = &zero};
    CHECK(tcf_safetensors_write(path, mt, 11, NULL, 0) == TCF_OK, "%s", tcf_last_error());
    sf = NULL;
    CHECK(tcf_safetensors_open(path, &sf) == TCF_OK, "%s", tcf_last_error());
    if (sf) {
        uint64_t prev = 0;
        int ordered = 1;
        for (int i = 0; i < 11; i++) {
            const tcf_tensor_view *v = tcf_safetensors_find(sf, py_order[i]);
            uint64_t off = v ? (uint64_t)((const char *)v->data - (const char *)tcf_safetensors_at(sf, 0)->data) : 0;
            ordered &= v != NULL && (i == 0 || off > prev || (off >= prev && v->nbytes == 0));
            prev = off;
        }
        CHECK(ordered, "mixed-dtype data order differs from Python's");
        CHECK(tcf_safetensors_metadata(sf, "format") == NULL, "no metadata when none given");
        tcf_safetensors_free(sf);
    }
    CHECK(tcf_read_file(path, &data, &n) == TCF_OK, "read");
    CHECK(n > 8 && !memcmp(data + 8, "{\"f_i64\":", 9), "header order starts with I64: %.20s", data + 8);
    uint64_t N = 0;
    for (int i = 0; i < 8; i++) N |= (uint64_t)(unsigned char)data[i] << (8 * i);
    CHECK(N % 8 == 0, "header padded to 8: %llu", (unsigned long long)N);
    free(data);

    /* argument errors */
    tcf_st_tensor dup[2] = {t[0], t[0]};
    CHECK(tcf_safetensors_write(path, dup, 2, NULL, 0) == TCF_ERR_ARG && strstr(tcf_last_error(), "'b'"),
          "duplicate: %s", tcf_last_error());
    tcf_st_tensor neg = t[0];
    neg.shape[0] = -1;
    CHECK(tcf_safetensors_write(path, &neg, 1, NULL, 0) == TCF_ERR_ARG, "negative dim");
    /* a name that needs escaping survives the round trip */
    tcf_st_tensor esc = t[0];
    esc.name = "we\"ird\\name\n";
    CHECK(tcf_safetensors_write(path, &esc, 1, meta, 1) == TCF_OK, "%s", tcf_last_error());
    sf = NULL;
    CHECK(tcf_safetensors_open(path, &sf) == TCF_OK && tcf_safetensors_find(sf, esc.name),
          "escaped name: %s", tcf_last_error());
    tcf_safetensors_free(sf);
}

/* ---- adapter save / load -------------------------------------------------------- */

static int same_lora(const tcf_lora *a, const tcf_lora *b) {
    if (a->r != b->r || a->alpha != b->alpha || a->dropout != b->dropout ||
        a->use_rslora != b->use_rslora || a->scaling != b->scaling || a->targets != b->targets ||
        a->n_layers != b->n_layers || a->hidden != b->hidden || a->inter != b->inter ||
        a->n_modules != b->n_modules || a->n_classes != b->n_classes)
        return 0;
    tcf_param pa[512], pb[512];
    int na = tcf_lora_params((tcf_lora *)a, pa, 512), nb = tcf_lora_params((tcf_lora *)b, pb, 512);
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(pa[i].name, pb[i].name) || pa[i].n != pb[i].n ||
            memcmp(pa[i].w, pb[i].w, sizeof(float) * (size_t)pa[i].n))
            return 0;
    return 1;
}

static void test_round_trip(void) {
    static const struct {
        const char *what;
        int layers, hidden, inter;
        unsigned targets;
        int r;
        float alpha;
        int rslora;
        float dropout;
        int classes;
    } cfg[] = {
        {"r=1 all kinds", 2, 16, 24, ALL_KINDS, 1, 1, 0, 0, 3},
        {"r=8 c1-like", 3, 32, 64, ALL_KINDS, 8, 16, 0, 0, 5},
        {"r=4 rsLoRA q,v", 2, 16, 24, QV, 4, 8, 1, 0, 2},
        {"output.dense only, alpha 3.5, dropout 0.1", 12, 8, 12, 1u << TCF_LORA_OUTPUT, 2, 3.5f, 0,
         0.1f, 4},
        {"attention.output.dense + intermediate", 2, 8, 12,
         (1u << TCF_LORA_ATTN_OUT) | (1u << TCF_LORA_INTERMEDIATE), 3, 0.3f, 1, 0.05f, 3},
        {"c1 full size", 6, 384, 1536, ALL_KINDS, 8, 16, 0, 0, 15},
    };
    char dir[512];
    for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
        snprintf(dir, sizeof dir, "%s/rt%zu/nested", root, i);
        tcf_lora *a = make_lora(cfg[i].layers, cfg[i].hidden, cfg[i].inter, cfg[i].targets, cfg[i].r,
                                cfg[i].alpha, cfg[i].rslora, cfg[i].dropout, cfg[i].classes);
        CHECK(a != NULL, "init %s", cfg[i].what);
        if (!a) continue;
        tcf_status st = tcf_adapter_save(a, dir, "models/all-MiniLM-L6-v2");
        CHECK(st == TCF_OK, "save %s: %s", cfg[i].what, tcf_last_error());
        tcf_lora *b = NULL;
        st = tcf_adapter_load(dir, cfg[i].layers, cfg[i].hidden, cfg[i].inter, &b);
        CHECK(st == TCF_OK, "load %s: %s", cfg[i].what, tcf_last_error());
        CHECK(b && same_lora(a, b), "round trip not bit-exact: %s", cfg[i].what);
        printf("  round trip %-44s %s\n", cfg[i].what, b && same_lora(a, b) ? "bit-exact" : "DIFFERS");
        CHECK(temp_files_in(dir) == 0, "temp files left in %s", dir);
        tcf_lora_free(a);
        tcf_lora_free(b);
    }
}

/* The saved key set and shapes equal PEFT's (manifest.json adapter_keys). */
static void test_manifest_keys(void) {
    char *text;
    size_t n;
    CHECK(tcf_read_file(FIX "manifest.json", &text, &n) == TCF_OK, "%s", tcf_last_error());
    cJSON *m = cJSON_Parse(text);
    free(text);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(m, "adapter_keys");
    CHECK(keys != NULL, "manifest has adapter_keys");
    static const struct { const char *cfg; unsigned targets; int r; float alpha; int rslora; } c[] = {
        {"c1", ALL_KINDS, 8, 16, 0}, {"c2", QV, 4, 8, 1}};
    for (int ci = 0; ci < 2 && keys; ci++) {
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(keys, c[ci].cfg);
        tcf_lora *l = make_lora(6, 384, 1536, c[ci].targets, c[ci].r, c[ci].alpha, c[ci].rslora, 0, 15);
        char dir[512], path[600];
        snprintf(dir, sizeof dir, "%s/keys_%s", root, c[ci].cfg);
        CHECK(l && tcf_adapter_save(l, dir, "models/all-MiniLM-L6-v2") == TCF_OK, "%s", tcf_last_error());
        snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
        tcf_safetensors *sf = NULL;
        CHECK(tcf_safetensors_open(path, &sf) == TCF_OK, "%s", tcf_last_error());
        if (sf && want) {
            int n_want = cJSON_GetArraySize(want), bad = 0;
            CHECK(tcf_safetensors_count(sf) == n_want, "%s: %d keys, PEFT saved %d", c[ci].cfg,
                  tcf_safetensors_count(sf), n_want);
            for (const cJSON *e = want->child; e; e = e->next) {
                const tcf_tensor_view *v = tcf_safetensors_find(sf, e->string);
                int ok = v && v->dtype == TCF_DTYPE_F32 && v->n_dims == cJSON_GetArraySize(e);
                for (int d = 0; ok && d < v->n_dims; d++)
                    ok = v->shape[d] == (int64_t)cJSON_GetArrayItem(e, d)->valuedouble;
                if (!ok && bad++ < 3) fprintf(stderr, "  %s: key %s missing or misshapen\n", c[ci].cfg, e->string);
            }
            CHECK(bad == 0, "%s: %d keys differ from PEFT's", c[ci].cfg, bad);
            /* header keys in name order after __metadata__, as PEFT's file */
            int sorted = 1;
            for (int i = 1; i < tcf_safetensors_count(sf); i++)
                sorted &= strcmp(tcf_safetensors_at(sf, i - 1)->name, tcf_safetensors_at(sf, i)->name) < 0;
            CHECK(sorted, "%s: keys not sorted", c[ci].cfg);
            const char *fmt = tcf_safetensors_metadata(sf, "format");
            CHECK(fmt && !strcmp(fmt, "pt"), "format metadata");
            printf("  %s: %d keys, names and shapes equal PEFT's\n", c[ci].cfg, n_want);
        }
        tcf_safetensors_free(sf);

        /* PEFT's own adapter_config.json, with our weights, loads */
        char fixture[128];
        snprintf(fixture, sizeof fixture, FIX "%s_adapter_config.json", c[ci].cfg);
        snprintf(path, sizeof path, "%s/adapter_config.json", dir);
        CHECK(copy_file(fixture, path), "copy %s", fixture);
        tcf_lora *b = NULL;
        tcf_status st = tcf_adapter_load(dir, 6, 384, 1536, &b);
        CHECK(st == TCF_OK, "load with PEFT's %s: %s", fixture, tcf_last_error());
        CHECK(b && same_lora(l, b), "%s: PEFT config + our weights differ from what was saved", c[ci].cfg);
        tcf_lora_free(b);
        tcf_lora_free(l);
    }
    cJSON_Delete(m);
}

/* Expect load(dir) to fail with `st` and a message holding every `want`. */
static void expect_fail(const char *what, const char *dir, tcf_status st, const char *w1, const char *w2) {
    tcf_lora *l = (tcf_lora *)1;
    tcf_status got = tcf_adapter_load(dir, 2, 16, 24, &l);
    const char *msg = tcf_last_error();
    int ok = got == st && l == NULL && (!w1 || strstr(msg, w1)) && (!w2 || strstr(msg, w2));
    CHECK(ok, "%s: got %s \"%s\", want %s with \"%s\" \"%s\"", what, tcf_status_name(got), msg,
          tcf_status_name(st), w1 ? w1 : "", w2 ? w2 : "");
    if (ok) printf("  %-34s -> %s: %s\n", what, tcf_status_name(got), msg);
    if (got == TCF_OK) tcf_lora_free(l);
}

/* Save a good adapter (2 layers, hidden 16, inter 24, q+v, r 2) into dir. */
static tcf_lora *good_adapter(const char *dir) {
    tcf_lora *l = make_lora(2, 16, 24, QV, 2, 4, 0, 0, 3);
    CHECK(l && tcf_adapter_save(l, dir, NULL) == TCF_OK, "save: %s", tcf_last_error());
    return l;
}

/* Replace `from` with `to` in dir/adapter_config.json. */
static void edit_config(const char *dir, const char *from, const char *to) {
    char path[600], *text;
    size_t n;
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    CHECK(tcf_read_file(path, &text, &n) == TCF_OK, "%s", tcf_last_error());
    char *at = strstr(text, from);
    CHECK(at != NULL, "config has no '%s'", from);
    if (at) {
        size_t out_cap = n + strlen(to) + 1;
        char *out = malloc(out_cap);
        snprintf(out, out_cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        CHECK(write_text(path, out), "write %s", path);
        free(out);
    }
    free(text);
}

/* Rewrite dir/adapter_model.safetensors from l's tensors with tensor `drop`
 * left out, `reshape` given a wrong shape, `extra` added, `f16` in F16. */
static void rewrite_weights(const char *dir, tcf_lora *l, const char *drop, const char *reshape,
                            const char *extra, int f16) {
    tcf_param p[64];
    tcf_st_tensor t[65];
    uint16_t *h[65] = {0};
    int n = tcf_lora_params(l, p, 64), m = 0;
    for (int i = 0; i < n; i++) {
        if (drop && !strcmp(p[i].name, drop)) continue;
        t[m] = (tcf_st_tensor){.name = p[i].name, .dtype = TCF_DTYPE_F32, .n_dims = p[i].ndim,
                               .shape = {p[i].shape[0], p[i].shape[1]}, .data = p[i].w};
        if (reshape && !strcmp(p[i].name, reshape)) t[m].shape[0] = 1, t[m].shape[1] = p[i].n;
        if (f16) {
            h[m] = malloc(sizeof(uint16_t) * (size_t)p[i].n);
            for (int64_t j = 0; j < p[i].n; j++) h[m][j] = tcf_f32_to_f16(p[i].w[j]);
            t[m].dtype = TCF_DTYPE_F16, t[m].data = h[m];
        }
        m++;
    }
    if (extra) t[m++] = (tcf_st_tensor){.name = extra, .dtype = TCF_DTYPE_F32, .n_dims = 2,
                                        .shape = {2, 16}, .data = p[0].w};
    char path[600];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    CHECK(tcf_safetensors_write(path, t, m, NULL, 0) == TCF_OK, "%s", tcf_last_error());
    for (int i = 0; i < m; i++) free(h[i]);
}

static void test_bad_inputs(void) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/bad", root);

    expect_fail("missing directory", dir, TCF_ERR_IO, "adapter_config.json", NULL);
    tcf_lora *l = good_adapter(dir);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    CHECK(remove(path) == 0, "remove weights");
    expect_fail("missing weights file", dir, TCF_ERR_IO, "adapter_model.safetensors", NULL);

    tcf_lora_free(good_adapter(dir));
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    write_text(path, "{\"peft_type\": \"LORA\", r: 8");
    expect_fail("config not JSON", dir, TCF_ERR_FORMAT, "adapter_config.json", "JSON");

    struct { const char *what, *from, *to, *w; tcf_status st; } ed[] = {
        {"peft_type IA3", "\"LORA\"", "\"IA3\"", "IA3", TCF_ERR_UNSUPPORTED},
        {"r = 0", "\"r\": 2", "\"r\": 0", "r must", TCF_ERR_FORMAT},
        {"lora_alpha = -1", "\"lora_alpha\": 4", "\"lora_alpha\": -1", "lora_alpha", TCF_ERR_FORMAT},
        {"regex target_modules", "[\n    \"query\",\n    \"value\"\n  ]",
         "\".*\\\\.(query|value)$\"", "target_modules", TCF_ERR_UNSUPPORTED},
        {"unknown target name", "\"value\"\n", "\"vlaue\"\n", "vlaue", TCF_ERR_UNSUPPORTED},
        {"target 'dense' wraps pooler", "\"value\"\n", "\"dense\"\n", "bert.pooler.dense", TCF_ERR_UNSUPPORTED},
        {"target in some layers only", "\"value\"\n", "\"layer.1.attention.self.value\"\n",
         "1 of 2 layers", TCF_ERR_UNSUPPORTED},
        {"rank_pattern set", "\"rank_pattern\": {}", "\"rank_pattern\": {\"query\": 4}", "rank_pattern",
         TCF_ERR_UNSUPPORTED},
        {"alpha_pattern set", "\"alpha_pattern\": {}", "\"alpha_pattern\": {\"query\": 4}",
         "alpha_pattern", TCF_ERR_UNSUPPORTED},
        {"fan_in_fan_out", "\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true", "fan_in_fan_out",
         TCF_ERR_UNSUPPORTED},
        {"use_dora", "\"use_dora\": false", "\"use_dora\": true", "use_dora", TCF_ERR_UNSUPPORTED},
        {"config r disagrees with weights", "\"r\": 2", "\"r\": 3", "expected [3, 16]", TCF_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof ed / sizeof *ed; i++) {
        tcf_lora_free(good_adapter(dir));
        edit_config(dir, ed[i].from, ed[i].to);
        expect_fail(ed[i].what, dir, ed[i].st, "adapter_", ed[i].w);
    }

    /* the spellings that must load: "output.dense" etc. mapped by suffix */
    tcf_lora_free(good_adapter(dir));
    edit_config(dir, "\"value\"\n", "\"encoder.layer.0.attention.self.value\",\"layer.1.attention.self.value\"\n");
    tcf_lora *b = NULL;
    CHECK(tcf_adapter_load(dir, 2, 16, 24, &b) == TCF_OK && b->targets == QV,
          "per-layer spellings covering every layer: %s", tcf_last_error());
    tcf_lora_free(b);

    const char *qa = "base_model.model.bert.encoder.layer.1.attention.self.query.lora_A.weight";
    rewrite_weights(dir, l, qa, NULL, NULL, 0);
    expect_fail("missing tensor", dir, TCF_ERR_FORMAT, qa, "expected shape [2, 16]");
    rewrite_weights(dir, l, NULL, qa, NULL, 0);
    expect_fail("wrong shape", dir, TCF_ERR_FORMAT, qa, "expected [2, 16]");
    rewrite_weights(dir, l, "base_model.model.classifier.weight", NULL, NULL, 0);
    expect_fail("missing head", dir, TCF_ERR_FORMAT, "classifier.weight", "adapter_model.safetensors");
    const char *ka = "base_model.model.bert.encoder.layer.0.attention.self.key.lora_A.weight";
    rewrite_weights(dir, l, NULL, NULL, ka, 0);
    expect_fail("unexpected lora tensor", dir, TCF_ERR_FORMAT, ka, "unexpected");

    /* F16 weights are accepted and widened */
    rewrite_weights(dir, l, NULL, NULL, NULL, 1);
    b = NULL;
    CHECK(tcf_adapter_load(dir, 2, 16, 24, &b) == TCF_OK, "F16 weights: %s", tcf_last_error());
    if (b) {
        tcf_param pa[16], pb[16];
        int n = tcf_lora_params(l, pa, 16);
        tcf_lora_params(b, pb, 16);
        float worst = 0;
        for (int i = 0; i < n; i++)
            for (int64_t j = 0; j < pa[i].n; j++) {
                float d = fabsf(pa[i].w[j] - pb[i].w[j]);
                worst = d > worst ? d : worst;
            }
        CHECK(worst <= 1.0f / 2048, "F16 round trip off by %g", (double)worst);
        tcf_lora_free(b);
    }

    /* truncated file: cut the data short */
    tcf_lora_free(good_adapter(dir));
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && truncate(path, sb.st_size - 10) == 0, "truncate");
    expect_fail("truncated safetensors", dir, TCF_ERR_FORMAT, "adapter_model.safetensors", NULL);
    CHECK(truncate(path, 5) == 0, "truncate");
    expect_fail("safetensors of 5 bytes", dir, TCF_ERR_FORMAT, "adapter_model.safetensors", NULL);
    tcf_lora_free(l);
}

/* A failed save (EFBIG on the weights) leaves the previous adapter intact. */
static tcf_status save_ctx(const char *dir, void *ctx) {
    return tcf_adapter_save((const tcf_lora *)ctx, dir, "new");
}

static void test_save_failure(void) {
    char dir[512], keep[512], a[700], b[700];
    snprintf(dir, sizeof dir, "%s/atomic_save", root);
    snprintf(keep, sizeof keep, "%s/atomic_save_copy", root);
    tcf_lora *old = make_lora(2, 64, 128, ALL_KINDS, 4, 8, 0, 0, 3);
    tcf_lora *nw = make_lora(2, 64, 128, ALL_KINDS, 8, 16, 0, 0, 3);
    CHECK(old && nw, "init");
    if (!old || !nw) return;
    CHECK(tcf_adapter_save(old, dir, "old") == TCF_OK, "%s", tcf_last_error());
    CHECK(tcf_adapter_save(old, keep, "old") == TCF_OK, "%s", tcf_last_error());
    /* weights of nw are ~ 100 KiB; the limit cuts them part-way */
    int rc = run_limited(32 * 1024, save_ctx, dir, nw);
    CHECK(rc == 0, "child status %d", rc);
    snprintf(a, sizeof a, "%s/adapter_model.safetensors", dir);
    snprintf(b, sizeof b, "%s/adapter_model.safetensors", keep);
    CHECK(same_file(a, b), "old weights changed by a failed save");
    snprintf(a, sizeof a, "%s/adapter_config.json", dir);
    snprintf(b, sizeof b, "%s/adapter_config.json", keep);
    CHECK(same_file(a, b), "old config changed by a failed save");
    CHECK(temp_files_in(dir) == 0, "temp files left after a failed save");
    tcf_lora *back = NULL;
    CHECK(tcf_adapter_load(dir, 2, 64, 128, &back) == TCF_OK && same_lora(old, back),
          "old adapter still loads: %s", tcf_last_error());
    tcf_lora_free(back);

    /* save into a path whose parent is a regular file */
    snprintf(a, sizeof a, "%s/adapter_config.json/sub", dir);
    CHECK(tcf_adapter_save(nw, a, NULL) == TCF_ERR_IO && strstr(tcf_last_error(), a),
          "save under a file: %s", tcf_last_error());
    tcf_lora_free(old);
    tcf_lora_free(nw);
}

int main(int argc, char **argv) {
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "--save-demo")) {
        /* c1 settings with every value random (B non-zero too); with a third
         * argument "output-only": layer output.dense only, r=4, alpha 8, rsLoRA */
        int oo = argc == 4 && !strcmp(argv[3], "output-only");
        tcf_lora *l = oo ? make_lora(6, 384, 1536, 1u << TCF_LORA_OUTPUT, 4, 8, 1, 0, 15)
                         : make_lora(6, 384, 1536, ALL_KINDS, 8, 16, 0, 0, 15);
        tcf_status st = l ? tcf_adapter_save(l, argv[2], "models/all-MiniLM-L6-v2") : TCF_ERR_NOMEM;
        if (st != TCF_OK) fprintf(stderr, "%s\n", tcf_last_error());
        tcf_lora_free(l);
        return st != TCF_OK;
    }
    if (argc == 4 && !strcmp(argv[1], "--resave")) {
        /* load a (PEFT-written) MiniLM-shaped adapter and save it again */
        tcf_lora *l = NULL;
        tcf_status st = tcf_adapter_load(argv[2], 6, 384, 1536, &l);
        if (st == TCF_OK) st = tcf_adapter_save(l, argv[3], "models/all-MiniLM-L6-v2");
        if (st != TCF_OK) fprintf(stderr, "%s\n", tcf_last_error());
        tcf_lora_free(l);
        return st != TCF_OK;
    }
    snprintf(root, sizeof root, "/tmp/tcf_adapter_io.XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_atomic();
    test_st_write();
    test_round_trip();
    test_manifest_keys();
    test_bad_inputs();
    test_save_failure();
    nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary("test_adapter_io");
}
