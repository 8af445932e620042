/*
 * file.c — whole-file reads and maps, path joins, mkdir -p, UTF-8 validation,
 * monotonic time.
 */
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <utf8proc.h>

tcf_status tcf_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return tcf_fail(TCF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return tcf_fail(TCF_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return tcf_fail(TCF_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TCF_OK;
}

bool tcf_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

tcf_status tcf_path_join(char *dst, size_t cap, const char *dir, const char *name) {
    size_t dl = strlen(dir);
    int n = snprintf(dst, cap, "%s%s%s", dir, (dl && dir[dl - 1] == '/') ? "" : "/", name);
    if (n < 0 || (size_t)n >= cap) return tcf_fail(TCF_ERR_ARG, "path too long: %s/%s", dir, name);
    return TCF_OK;
}

tcf_status tcf_mkdirs(const char *dir) {
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", dir);
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        struct stat sb;
        if (mkdir(p, 0755) != 0 && !(errno == EEXIST && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))) {
            tcf_status st = tcf_fail(TCF_ERR_IO, "%s: cannot create directory %s: %s", dir, p,
                                     errno == EEXIST ? "exists and is not a directory" : strerror(errno));
            free(p);
            return st;
        }
        p[i] = c;
    }
    free(p);
    return TCF_OK;
}

tcf_status tcf_map_file(const char *path, size_t min_len, const char *why, void **map, size_t *len) {
    *map = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tcf_fail(TCF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return tcf_fail(TCF_ERR_IO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return tcf_fail(TCF_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size < min_len || sb.st_size == 0) { /* mmap of 0 bytes fails */
        close(fd);
        return tcf_fail(TCF_ERR_FORMAT, "%s: file is %lld bytes, too short %s", path, (long long)sb.st_size, why);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return tcf_fail(TCF_ERR_IO, "%s: file too large to map", path);
    }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd); /* the mapping keeps the file */
    if (m == MAP_FAILED) return tcf_fail(TCF_ERR_IO, "%s: cannot mmap: %s", path, strerror(err));
    *map = m, *len = (size_t)sb.st_size;
    return TCF_OK;
}

double tcf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t tcf_utf8_invalid_at(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return (int64_t)i;
        i += (size_t)k;
    }
    return -1;
}
