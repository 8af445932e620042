/*
 * sha256.h — SHA-256 (FIPS 180-4) of memory and of files, for provenance
 * records (the checkpoint an export was made from). Not constant-time; not
 * for secrets.
 */
#ifndef TCF_SHA256_H
#define TCF_SHA256_H

#include "tcf.h"

typedef struct {
    uint32_t h[8];
    uint64_t n;       /* bytes absorbed */
    uint8_t buf[64];
    size_t used;
} tcf_sha256_ctx;

void tcf_sha256_init(tcf_sha256_ctx *c);
void tcf_sha256_update(tcf_sha256_ctx *c, const void *data, size_t n);
void tcf_sha256_final(tcf_sha256_ctx *c, uint8_t out[32]);
/* 64 lowercase hex digits + NUL of data[0..n). */
void tcf_sha256_hex(const void *data, size_t n, char hex[65]);
/* The same for a whole file, read in chunks. TCF_ERR_IO naming the path. */
tcf_status tcf_sha256_file(const char *path, char hex[65]);

#endif /* TCF_SHA256_H */
