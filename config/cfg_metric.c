/*
 * cfg_metric — metric name templates of walk points (see config.h): the
 * one definition of what "{index}" becomes, shared by the loader (which
 * checks templates), the SNMP collector (which expands them per row) and
 * the policy checks and replay (which ask whether a name comes from one).
 *
 * A row index is what a walk finds below the walked column: one or more
 * sub-identifiers, written with '_' between them ("7", "1_2") so that the
 * index stays inside one metric segment. Every "{index}" of a template is
 * replaced by the same index.
 */
#include "config/config.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

#define INDEX_TOKEN "{index}"
#define INDEX_TOKEN_LEN (sizeof INDEX_TOKEN - 1)

bool cfg_metric_is_template(const char *metric)
{
    return metric && strstr(metric, INDEX_TOKEN) != NULL;
}

/* [0-9]+ joined by '_', the first len bytes of s. */
static bool is_row_index(const char *s, size_t len)
{
    bool digit_before = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digit_before = true;
        else if (s[i] == '_' && digit_before)
            digit_before = false;
        else
            return false;
    }
    return digit_before;
}

/* Whether tmpl with every {index} replaced by index[0..ilen) is name. */
static bool expands_to(const char *tmpl, const char *index, size_t ilen, const char *name)
{
    while (*tmpl) {
        if (strncmp(tmpl, INDEX_TOKEN, INDEX_TOKEN_LEN) == 0) {
            if (strncmp(name, index, ilen) != 0)
                return false;
            name += ilen;
            tmpl += INDEX_TOKEN_LEN;
        } else if (*tmpl++ != *name++) {
            return false;
        }
    }
    return *name == '\0';
}

int cfg_metric_template_expand(const char *tmpl, const char *index, char *out, size_t outlen,
                               char *err, size_t errlen)
{
    size_t il = strlen(index);
    if (!is_row_index(index, il))
        return errf(err, errlen, "'%.64s' is not a row index (numbers joined by '_')", index);
    if (!cfg_metric_is_template(tmpl))
        return errf(err, errlen, "metric template \"%.100s\" has no {index}", tmpl);
    /* Piece by piece (SNMP walks expand every row of every poll). */
    size_t o = 0;
    for (const char *p = tmpl;;) {
        const char *hole = strstr(p, INDEX_TOKEN);
        size_t lit = hole ? (size_t)(hole - p) : strlen(p);
        if (o + lit + (hole ? il : 0) >= outlen)
            return errf(err, errlen, "metric name for index %s too long", index);
        memcpy(out + o, p, lit);
        o += lit;
        if (!hole)
            break;
        memcpy(out + o, index, il);
        o += il;
        p = hole + INDEX_TOKEN_LEN;
    }
    out[o] = '\0';
    if (!util_metric_name_valid(out))
        return errf(err, errlen, "\"%.100s\" is not a valid metric name", out);
    return 0;
}

int cfg_metric_template_check(const char *tmpl, char *msg, size_t n)
{
    if (!cfg_metric_is_template(tmpl))
        return errf(msg, n,
                    "a walk metric must contain {index} (replaced by each row's OID suffix)");
    /* Every index is digits and '_', never '.', so one sample index tells
     * whether all of them give valid names. */
    char sample[512], why[256];
    if (cfg_metric_template_expand(tmpl, "0", sample, sizeof sample, why, sizeof why) != 0)
        return errf(msg, n,
                    "'%.64s' is not a metric name template: use [a-z0-9_]+ segments "
                    "joined by '.', with {index} (e.g. power.pdu1.outlet{index}_w)",
                    tmpl);
    return 0;
}

bool cfg_metric_template_matches(const char *tmpl, const char *name)
{
    if (!tmpl || !name)
        return false;
    const char *hole = strstr(tmpl, INDEX_TOKEN);
    if (!hole)
        return strcmp(tmpl, name) == 0;
    size_t pre = (size_t)(hole - tmpl);
    if (strncmp(tmpl, name, pre) != 0 || !util_metric_name_valid(name))
        return false;
    /* The index starts where the first {index} was; try each length the
     * name allows, since the text after {index} may itself begin with
     * digits or '_' ("x{index}_1"). */
    const char *index = name + pre;
    for (size_t len = 1; (index[len - 1] >= '0' && index[len - 1] <= '9') || index[len - 1] == '_';
         len++)
        if (is_row_index(index, len) && expands_to(tmpl, index, len, name))
            return true;
    return false;
}
