/*
 * test_infer.c — tcf_classifier (include/tcf.h) against the training
 * forward (tcf_run_predict: unmerged LoRA, the path checked against PEFT in
 * test_lora_parity), on real all-MiniLM-L6-v2 weights with random non-zero
 * adapters on all six dense kinds: the merged-weight inference gives the
 * same probabilities; chunked, concurrent and single-text calls agree with
 * one batched call; bad run directories and bad text fail with clear errors.
 */
#include "check.h"
#include "base/base.h"
#include "train/adapter_io.h"
#include "train/lora.h"
#include "train/trainer.h"
#include "tcf.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MODEL "models/all-MiniLM-L6-v2"
#define K 5
#define NT 40

static char *texts[NT];

static void load_texts(void) {
    FILE *f = fopen("tests/fixtures/encoder/texts.txt", "r");
    char line[4096];
    int n = 0;
    while (f && n < NT && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        texts[n++] = strdup(line);
    }
    if (f) fclose(f);
    for (; n < NT; n++) texts[n] = strdup("fallback text");
}

static int write_file(const char *dir, const char *name, const char *text) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

/* A LoRA run directory with random adapters (B non-zero, so merging
 * matters) and a random head. */
static int make_run(const char *dir, int max_len) {
    tcf_lora *l = NULL;
    if (tcf_lora_init(&l, 6, 384, 1536, (1u << TCF_LORA_KINDS) - 1, 4, 8.0f, 0, 0.0f, K)) return 0;
    tcf_lora_init_default(l, 7);
    uint64_t s = 12345;
    for (int m = 0; m < l->n_modules; m++)
        for (int64_t i = 0; i < (int64_t)l->mod[m].out * l->mod[m].r; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            l->mod[m].B[i] = ((float)(s >> 40) / (float)(1 << 24) - 0.5f) * 0.2f;
        }
    for (int64_t i = 0; i < (int64_t)K * 384; i++) l->head_w[i] *= 50.0f;
    for (int i = 0; i < K; i++) l->head_b[i] = 0.1f * (float)i;
    char base[4096];
    if (!realpath(MODEL, base)) return 0;
    int ok = tcf_adapter_save(l, dir, base) == TCF_OK;
    tcf_lora_free(l);
    char json[8192];
    snprintf(json, sizeof json,
             "{\"base_model\": \"%s\", \"max_len\": %d, \"labels\": [\"a\", \"b\", \"c\", \"d\", \"e\"], "
             "\"train_config\": {\"mode\": \"lora\"}}",
             base, max_len);
    return ok && write_file(dir, "tcf_run.json", json);
}

typedef struct {
    tcf_classifier *c;
    int first, n;
    float *probs;
    tcf_status st;
} job;

static void *classify_thread(void *arg) {
    job *j = arg;
    for (int rep = 0; rep < 3 && !j->st; rep++)
        j->st = tcf_classifier_classify(j->c, j->n, (const char *const *)texts + j->first, NULL,
                                        j->probs + (int64_t)j->first * K);
    return NULL;
}

int main(void) {
    if (access(MODEL "/model.safetensors", R_OK) != 0) {
        printf("SKIP: %s missing (scripts/fetch_models.sh)\n", MODEL);
        return check_summary("test_infer");
    }
    load_texts();
    char dir[] = "/tmp/tcf_test_infer_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(make_run(dir, 64), "make run: %s", tcf_last_error());

    /* reference: the training forward with the adapters unmerged */
    static float ref[NT * K], got[NT * K], one[K];
    tcf_run *r = NULL;
    CHECK(tcf_run_load(dir, 2, &r) == TCF_OK, "tcf_run_load: %s", tcf_last_error());
    CHECK(r && tcf_run_predict(r, NT, (const char *const *)texts, ref) == TCF_OK, "predict: %s", tcf_last_error());
    tcf_run_free(r);

    tcf_classifier *c = NULL;
    tcf_classifier_opts o = {2, 8, 0, 0, 0};
    CHECK(tcf_classifier_load(dir, &o, &c) == TCF_OK, "load: %s", tcf_last_error());
    if (!c) return check_summary("test_infer");
    CHECK(tcf_classifier_n_classes(c) == K, "K");
    CHECK(!strcmp(tcf_classifier_label(c, 2), "c") && tcf_classifier_label(c, K) == NULL, "labels");
    CHECK(tcf_classifier_max_len(c) == 64, "max_len %d", tcf_classifier_max_len(c));

    /* 40 texts in chunks of 8, merged LoRA vs unmerged training forward */
    CHECK(tcf_classifier_classify(c, NT, (const char *const *)texts, NULL, got) == TCF_OK, "%s", tcf_last_error());
    check_close("merged vs unmerged probabilities", got, ref, NT * K, 2e-6, 1e-5);
    float maxdev = 0;
    for (int i = 0; i < NT; i++) {
        float sum = 0;
        for (int k = 0; k < K; k++) sum += got[i * K + k];
        if (fabsf(sum - 1) > maxdev) maxdev = fabsf(sum - 1);
    }
    CHECK(maxdev < 1e-5f, "rows sum to 1 (max dev %g)", maxdev);
    /* the predictions must not be degenerate (the adapters change them) */
    int distinct = 0;
    for (int k = 0; k < K; k++) {
        int seen = 0;
        for (int i = 0; i < NT && !seen; i++) {
            int best = 0;
            for (int j = 1; j < K; j++)
                if (got[i * K + j] > got[i * K + best]) best = j;
            seen = best == k;
        }
        distinct += seen;
    }
    CHECK(distinct >= 2, "predicted classes: %d distinct", distinct);

    /* one text at a time gives the same as in a batch */
    float maxd = 0;
    for (int i = 0; i < NT; i += 7) {
        CHECK(tcf_classifier_classify(c, 1, (const char *const *)texts + i, NULL, one) == TCF_OK, "single");
        for (int k = 0; k < K; k++) maxd = fmaxf(maxd, fabsf(one[k] - got[i * K + k]));
    }
    printf("  single vs batched max diff %.3g\n", maxd);
    CHECK(maxd <= 2e-6f, "single vs batched %g", maxd);

    /* explicit lengths (not NUL-terminated) */
    size_t lens[2] = {5, 5};
    const char *pre[2] = {"hello world", "helloXXXX"};
    float a[2 * K];
    CHECK(tcf_classifier_classify(c, 2, pre, lens, a) == TCF_OK, "lens");
    float dl = 0;
    for (int k = 0; k < K; k++) dl = fmaxf(dl, fabsf(a[k] - a[K + k]));
    CHECK(dl <= 1e-6f, "lens: 'hello' twice differs by %g", dl);

    /* four threads at once on one classifier */
    static float conc[NT * K];
    pthread_t th[4];
    job jobs[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (job){c, t * 10, 10, conc, TCF_OK};
        pthread_create(&th[t], NULL, classify_thread, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK(jobs[t].st == TCF_OK, "thread %d: %s", t, tcf_last_error());
    }
    check_close("4 concurrent threads vs one call", conc, got, NT * K, 2e-6, 0);

    /* invalid UTF-8 names the text */
    const char *bad[3] = {"fine", "also fine", "bad \xff byte"};
    float pb[3 * K];
    CHECK(tcf_classifier_classify(c, 3, bad, NULL, pb) == TCF_ERR_UTF8, "utf8 status");
    CHECK(strstr(tcf_last_error(), "text 3") != NULL, "utf8 message: %s", tcf_last_error());
    CHECK(tcf_classifier_classify(c, 0, NULL, NULL, NULL) == TCF_OK, "n = 0");
    tcf_classifier_free(c);
    tcf_classifier_free(NULL);

    /* max_len option caps the length */
    o.max_len = 16;
    CHECK(tcf_classifier_load(dir, &o, &c) == TCF_OK && tcf_classifier_max_len(c) == 16, "max_len opt");
    tcf_classifier_free(c);

    /* bad run directories */
    CHECK(tcf_classifier_load("/nonexistent/run", NULL, &c) == TCF_ERR_IO && c == NULL, "missing dir");
    CHECK(strstr(tcf_last_error(), "not a tcf run directory") != NULL, "msg: %s", tcf_last_error());
    CHECK(write_file(dir, "tcf_run.json", "{\"base_model\": 3}"), "write");
    CHECK(tcf_classifier_load(dir, NULL, &c) == TCF_ERR_FORMAT, "bad json");
    CHECK(strstr(tcf_last_error(), "tcf_run.json") != NULL, "msg: %s", tcf_last_error());
    char json[8192], base[4096];
    CHECK(realpath(MODEL, base) != NULL, "realpath");
    snprintf(json, sizeof json, "{\"base_model\": \"%s\", \"max_len\": 64, \"labels\": [\"a\", \"b\", \"c\"]}", base);
    CHECK(write_file(dir, "tcf_run.json", json), "write");
    CHECK(tcf_classifier_load(dir, NULL, &c) == TCF_ERR_FORMAT, "label count mismatch");
    CHECK(strstr(tcf_last_error(), "3 labels but the classifier head has 5") != NULL, "msg: %s", tcf_last_error());
    CHECK(tcf_classifier_load("", NULL, &c) == TCF_ERR_ARG, "empty path");

    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    for (int i = 0; i < NT; i++) free(texts[i]);
    return check_summary("test_infer");
}
