/*
 * libFuzzer target for migrator/mig_peer.c — mig_import_parse, the parser
 * of what a target site's agent answers to POST /v1/imports and GET
 * /v1/imports/{id}. A peer may be broken or hostile; no answer may crash
 * the agent or move a migration forward with a bad value.
 *
 * The input is the answer (any bytes, not NUL-terminated: the parser must
 * stay within its length). Beyond not crashing, it checks the header's
 * promises: an accepted answer has a valid id (usable in a URL), a known
 * phase, an error that is printable and non-empty exactly when the phase
 * is failed, restore figures NAN or finite and >= 0; a refused one has a
 * non-empty printable message.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrator/mig_peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, bool may_be_empty)
{
    if (!may_be_empty && !*s)
        abort();
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

static void check_figure(double v)
{
    if (!isnan(v) && (!isfinite(v) || v < 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly the answer's bytes, so reading past it is caught. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    struct mig_import_status st;
    char err[256];
    err[0] = '\0';
    if (mig_import_parse(text, size, &st, err, sizeof err) == 0) {
        if (!memchr(st.id, '\0', sizeof st.id) || !peer_id_valid(st.id))
            abort();
        if (mig_import_phase_parse(mig_import_phase_name(st.phase)) != (int)st.phase)
            abort();
        if (!memchr(st.error, '\0', sizeof st.error))
            abort();
        check_text(st.error, st.phase != MIG_IMPORT_FAILED);
        if (st.phase != MIG_IMPORT_FAILED && st.error[0])
            abort();
        check_figure(st.restore_s);
        check_figure(st.restored_bytes);
    } else {
        check_text(err, false);
    }
    free(text);
    return 0;
}
