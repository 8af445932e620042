/*
 * export.c — one-file exported classifiers (.gguf written by `tcf export`).
 * Reading them is not implemented in this build yet: loading one fails
 * with TCF_ERR_UNSUPPORTED.
 */
#include "model/infer.h"
#include "base/base.h"

tcf_status tcf_classifier_load_gguf(const char *path, const tcf_classifier_opts *opts, tcf_classifier **out) {
    (void)opts;
    *out = NULL;
    return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: exported .gguf classifiers cannot be read by this build yet", path);
}
