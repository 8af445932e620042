/*
 * test_model_errors.c — bad model directories get a clear error naming the
 * file and the cause, never a crash. Builds tiny BERT checkpoints in a temp
 * directory (its own small safetensors writer) and breaks one thing at a time.
 */
#include "base/base.h"
#include "check.h"
#include "model/bert.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Tiny config: V=12 C=8 L=1 H=2 I=16 P=16 types=2 */
enum { V = 12, C = 8, I = 16, P = 16 };

typedef struct {
    const char *name;
    int64_t d0, d1; /* d1 = 0: 1-D */
} tspec;

static const char *layer_names[][2] = {
    {"attention.self.query.weight", "CC"}, {"attention.self.query.bias", "C"},
    {"attention.self.key.weight", "CC"},   {"attention.self.key.bias", "C"},
    {"attention.self.value.weight", "CC"}, {"attention.self.value.bias", "C"},
    {"attention.output.dense.weight", "CC"}, {"attention.output.dense.bias", "C"},
    {"attention.output.LayerNorm.weight", "C"}, {"attention.output.LayerNorm.bias", "C"},
    {"intermediate.dense.weight", "IC"},   {"intermediate.dense.bias", "I"},
    {"output.dense.weight", "CI"},         {"output.dense.bias", "C"},
    {"output.LayerNorm.weight", "C"},      {"output.LayerNorm.bias", "C"},
};

static int64_t dim(char c) { return c == 'C' ? C : c == 'I' ? I : c == 'V' ? V : P; }

static char tmpdir[] = "/tmp/tcf_test_modelXXXXXX";

static void write_file(const char *name, const void *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

/* Write model.safetensors with every tensor, F32, values 0.01*i. `prefix` is
 * put before each name; tensor `skip` is left out; tensor `bad` gets d0+1. */
static void write_checkpoint(const char *prefix, const char *skip, const char *bad) {
    tspec specs[64];
    char names[64][96];
    int n = 0;
    const char *emb[][3] = {{"embeddings.word_embeddings.weight", "V", "C"},
                            {"embeddings.position_embeddings.weight", "P", "C"},
                            {"embeddings.token_type_embeddings.weight", "T", "C"},
                            {"embeddings.LayerNorm.weight", "C", ""},
                            {"embeddings.LayerNorm.bias", "C", ""}};
    for (int i = 0; i < 5; i++) {
        snprintf(names[n], sizeof names[n], "%s%s", prefix, emb[i][0]);
        specs[n] = (tspec){names[n], emb[i][1][0] == 'T' ? 2 : dim(emb[i][1][0]),
                           emb[i][2][0] ? dim(emb[i][2][0]) : 0};
        n++;
    }
    for (size_t i = 0; i < sizeof layer_names / sizeof *layer_names; i++) {
        snprintf(names[n], sizeof names[n], "%sencoder.layer.0.%s", prefix, layer_names[i][0]);
        const char *d = layer_names[i][1];
        specs[n] = (tspec){names[n], dim(d[0]), d[1] ? dim(d[1]) : 0};
        n++;
    }
    char header[8192] = "{";
    size_t off = 0;
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (skip && !strcmp(specs[i].name + strlen(prefix), skip)) continue;
        if (bad && !strcmp(specs[i].name + strlen(prefix), bad)) specs[i].d0++;
        size_t bytes = 4 * (size_t)specs[i].d0 * (size_t)(specs[i].d1 ? specs[i].d1 : 1);
        char shape[64];
        if (specs[i].d1) snprintf(shape, sizeof shape, "[%lld,%lld]", (long long)specs[i].d0, (long long)specs[i].d1);
        else snprintf(shape, sizeof shape, "[%lld]", (long long)specs[i].d0);
        snprintf(header + strlen(header), sizeof header - strlen(header),
                 "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
                 first ? "" : ",", specs[i].name, shape, off, off + bytes);
        off += bytes;
        first = 0;
    }
    strcat(header, "}");
    uint64_t hl = strlen(header);
    size_t total = 8 + hl + off;
    unsigned char *buf = malloc(total);
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, header, hl);
    float *w = (float *)(buf + 8 + hl);
    for (size_t i = 0; i < off / 4; i++) {
        float v = 0.01f * (float)(i % 97);
        memcpy((char *)w + 4 * i, &v, 4);
    }
    write_file("model.safetensors", buf, total);
    free(buf);
}

static const char *good_config =
    "{\"model_type\":\"bert\",\"vocab_size\":12,\"hidden_size\":8,\"num_hidden_layers\":1,"
    "\"num_attention_heads\":2,\"intermediate_size\":16,\"max_position_embeddings\":16,"
    "\"type_vocab_size\":2,\"layer_norm_eps\":1e-12,\"hidden_act\":\"gelu\"}";

static void put_config(const char *text) { write_file("config.json", text, strlen(text)); }

/* Load must fail with `want` and a message containing both needles. */
static void expect_fail(const char *what, tcf_status want, const char *needle1, const char *needle2) {
    tcf_bert *m = NULL;
    tcf_status st = tcf_bert_load(tmpdir, &m);
    const char *e = tcf_last_error();
    CHECK(st == want && !m && strstr(e, needle1) && (!needle2 || strstr(e, needle2)),
          "%s: got status %d, message '%s'", what, st, e);
    tcf_bert_free(m);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;

    expect_fail("no config.json", TCF_ERR_IO, "config.json", "missing");
    put_config("{\"model_type\": \"bert\", ");
    expect_fail("config not JSON", TCF_ERR_FORMAT, "config.json", "not a JSON object");
    put_config("{\"model_type\":\"gpt2\",\"vocab_size\":12}");
    expect_fail("unknown architecture", TCF_ERR_UNSUPPORTED, "config.json", "\"gpt2\"");
    put_config("{\"vocab_size\":12}");
    expect_fail("no model_type", TCF_ERR_FORMAT, "config.json", "model_type");
    put_config("{\"model_type\":\"bert\",\"vocab_size\":12,\"num_hidden_layers\":1}");
    expect_fail("missing hidden_size", TCF_ERR_FORMAT, "config.json", "\"hidden_size\"");
    put_config("{\"model_type\":\"bert\",\"vocab_size\":12,\"hidden_size\":-8,\"num_hidden_layers\":1}");
    expect_fail("negative hidden_size", TCF_ERR_FORMAT, "config.json", "\"hidden_size\"");
    put_config("{\"model_type\":\"bert\",\"vocab_size\":12,\"hidden_size\":9,\"num_hidden_layers\":1,"
               "\"num_attention_heads\":2,\"intermediate_size\":16,\"max_position_embeddings\":16}");
    expect_fail("heads do not divide hidden", TCF_ERR_FORMAT, "config.json", "not a multiple");
    put_config("{\"model_type\":\"bert\",\"vocab_size\":12,\"hidden_size\":8,\"num_hidden_layers\":1,"
               "\"num_attention_heads\":2,\"intermediate_size\":16,\"max_position_embeddings\":16,"
               "\"hidden_act\":\"relu\"}");
    expect_fail("unsupported activation", TCF_ERR_UNSUPPORTED, "config.json", "relu");

    put_config(good_config);
    expect_fail("no model.safetensors", TCF_ERR_IO, "model.safetensors", "missing");

    write_checkpoint("", NULL, NULL);
    tcf_bert *m = NULL;
    CHECK(tcf_bert_load(tmpdir, &m) == TCF_OK, "tiny checkpoint loads: %s", tcf_last_error());
    if (m) {
        int32_t ids[3] = {1, 5, 11};
        uint8_t mask[3] = {1, 1, 1};
        float h[3 * C];
        CHECK(tcf_bert_forward(m, 1, 3, ids, mask, h, 1) == TCF_OK, "tiny forward");
        int32_t long_ids[P + 1] = {0};
        uint8_t long_mask[P + 1];
        memset(long_mask, 1, sizeof long_mask);
        float *hh = malloc(sizeof(float) * (P + 1) * C);
        CHECK(tcf_bert_forward(m, 1, P + 1, long_ids, long_mask, hh, 1) == TCF_ERR_ARG &&
                  strstr(tcf_last_error(), "max_position_embeddings"),
              "too long: %s", tcf_last_error());
        free(hh);
    }
    tcf_bert_free(m);
    m = NULL;
    write_checkpoint("bert.", NULL, NULL);
    CHECK(tcf_bert_load(tmpdir, &m) == TCF_OK, "'bert.' prefix loads: %s", tcf_last_error());
    tcf_bert_free(m);

    write_checkpoint("", "encoder.layer.0.output.dense.bias", NULL);
    expect_fail("missing tensor", TCF_ERR_FORMAT, "model.safetensors",
                "'encoder.layer.0.output.dense.bias' is missing");
    write_checkpoint("", NULL, "encoder.layer.0.intermediate.dense.weight");
    expect_fail("wrong shape", TCF_ERR_FORMAT, "'encoder.layer.0.intermediate.dense.weight' has shape [17, 8]",
                "expected [16, 8]");
    write_checkpoint("roberta.", NULL, NULL);
    expect_fail("not a BERT checkpoint", TCF_ERR_FORMAT, "model.safetensors", "not a BERT checkpoint");

    /* Truncated copy of a valid checkpoint. */
    write_checkpoint("", NULL, NULL);
    char path[512], *data;
    size_t len;
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    if (tcf_read_file(path, &data, &len) == TCF_OK) {
        write_file("model.safetensors", data, len - 100);
        free(data);
        expect_fail("truncated safetensors", TCF_ERR_FORMAT, "model.safetensors", NULL);
    }
    /* Model + config but no tokenizer: tcf_model_load names the tokenizer. */
    write_checkpoint("", NULL, NULL);
    tcf_model *mm = NULL;
    tcf_status st = tcf_model_load(tmpdir, &mm);
    CHECK(st != TCF_OK && !mm && (strstr(tcf_last_error(), "tokenizer") || strstr(tcf_last_error(), "vocab")),
          "no tokenizer: status %d '%s'", st, tcf_last_error());
    tcf_model_free(mm);

    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return check_summary("test_model_errors");
}
