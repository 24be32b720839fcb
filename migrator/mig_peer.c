/*
 * mig_peer — see mig_peer.h. The request body and the answer parser are
 * pure; the three requests build a URL, run it through lib/httpc with the
 * peer's token and CA, and sort the outcome as placement/peer_client does
 * (unreachable / refused / garbage answer), with its rules for what a
 * usable answer is (peer_answer_object, peer_answer_member,
 * peer_clean_text).
 */
#include "migrator/mig_peer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "lib/util.h"

/* Characters of a peer's text quoted in a reason. */
#define QUOTE_MAX 80
#define ERROR_TEXT_MAX 200
#define ID_NUMBER_MAX 9007199254740992.0 /* 2^53: larger ids do not survive JSON */
#define K8S_NAME_MAX 253
#define K8S_LABEL_MAX 63
/* A restore longer than a hundred days or moving more than an exabyte is
 * a broken peer, not a measurement. */
#define RESTORE_S_MAX 1e7
#define RESTORED_BYTES_MAX 1e18

static const char *const phase_names[] = {
    [MIG_IMPORT_WAITING_BACKUP] = "waiting-backup",
    [MIG_IMPORT_RESTORING] = "restoring",
    [MIG_IMPORT_STARTING] = "starting",
    [MIG_IMPORT_READY] = "ready",
    [MIG_IMPORT_FAILED] = "failed",
};

const char *mig_import_phase_name(enum mig_import_phase p)
{
    if ((unsigned)p < sizeof phase_names / sizeof phase_names[0])
        return phase_names[p];
    return "unknown";
}

int mig_import_phase_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof phase_names / sizeof phase_names[0]; i++)
        if (strcmp(s, phase_names[i]) == 0)
            return (int)i;
    return -1;
}

/* ---- the request ---- */

/* A Kubernetes name: 1..max of [a-z0-9-.] (no '.' when label), starting
 * and ending with a letter or digit. */
static bool k8s_name_valid(const char *s, size_t max, bool label)
{
    size_t len = strlen(s);
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' || (c == '.' && !label)))
            return false;
        if ((i == 0 || i == len - 1) && !alnum)
            return false;
    }
    return true;
}

/* "deployment/NAME" or "statefulset/NAME". */
static bool replica_key_valid(const char *key)
{
    const char *slash = strchr(key, '/');
    if (!slash)
        return false;
    size_t kind = (size_t)(slash - key);
    bool known = (kind == 10 && strncmp(key, "deployment", kind) == 0) ||
                 (kind == 11 && strncmp(key, "statefulset", kind) == 0);
    return known && k8s_name_valid(slash + 1, K8S_NAME_MAX, false);
}

static int check_request(const struct mig_import_request *r, char *err, size_t errlen)
{
    char quoted[QUOTE_MAX + 8];
    if (!r->reservation || !peer_id_valid(r->reservation))
        return errf(err, errlen, "reservation is not a reservation id");
    if (!r->workload || !*r->workload || strlen(r->workload) > K8S_NAME_MAX)
        return errf(err, errlen, "workload is missing or longer than %d", K8S_NAME_MAX);
    if (!r->namespace_ || !k8s_name_valid(r->namespace_, K8S_LABEL_MAX, true)) {
        peer_clean_text(quoted, sizeof quoted, r->namespace_ ? r->namespace_ : "", QUOTE_MAX);
        return errf(err, errlen, "namespace '%s' is not a Kubernetes namespace name", quoted);
    }
    if (!r->backup || !k8s_name_valid(r->backup, K8S_LABEL_MAX, false)) {
        peer_clean_text(quoted, sizeof quoted, r->backup ? r->backup : "", QUOTE_MAX);
        return errf(err, errlen, "backup '%s' is not a Velero object name", quoted);
    }
    if (r->incremental && r->prestage)
        return errf(err, errlen, "an import is either a prestage or an incremental restore");
    if (r->nreplicas > MIG_IMPORT_MAX_REPLICAS || (r->nreplicas && !r->replicas))
        return errf(err, errlen, "%zu replica counts, at most %d", r->nreplicas,
                    MIG_IMPORT_MAX_REPLICAS);
    for (size_t i = 0; i < r->nreplicas; i++) {
        const struct mig_import_replica *x = &r->replicas[i];
        if (!memchr(x->key, '\0', sizeof x->key) || !replica_key_valid(x->key)) {
            peer_clean_text(quoted, sizeof quoted, x->key, QUOTE_MAX);
            return errf(err, errlen,
                        "replicas[%zu] '%s' is not deployment/NAME or statefulset/NAME", i, quoted);
        }
        if (x->replicas < 0)
            return errf(err, errlen, "replicas[%zu] %s is negative (%d)", i, x->key,
                        (int)x->replicas);
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->replicas[j].key, x->key) == 0)
                return errf(err, errlen, "replicas[%zu] %s is given twice", i, x->key);
    }
    return 0;
}

char *mig_import_request_json(const struct mig_import_request *r, char *err, size_t errlen)
{
    if (!r) {
        errf(err, errlen, "no request");
        return NULL;
    }
    if (check_request(r, err, errlen) != 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *replicas = NULL;
    bool ok = o && cJSON_AddStringToObject(o, "reservation", r->reservation) &&
              cJSON_AddStringToObject(o, "workload", r->workload) &&
              cJSON_AddStringToObject(o, "namespace", r->namespace_) &&
              cJSON_AddStringToObject(o, "backup", r->backup) &&
              cJSON_AddBoolToObject(o, "stateless", r->stateless) &&
              (replicas = cJSON_AddObjectToObject(o, "replicas"));
    for (size_t i = 0; ok && i < r->nreplicas; i++)
        ok = cJSON_AddNumberToObject(replicas, r->replicas[i].key, r->replicas[i].replicas) != NULL;
    /* The additions to SPEC 5 only when asked, so a plain import is exactly
     * SPEC's shape. */
    if (ok && r->incremental)
        ok = cJSON_AddTrueToObject(o, "incremental") != NULL;
    if (ok && r->prestage)
        ok = cJSON_AddTrueToObject(o, "prestage") != NULL;
    if (ok && r->home)
        ok = cJSON_AddStringToObject(o, "home", r->home) != NULL;
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        errf(err, errlen, "out of memory");
    return text;
}

/* ---- the answer ---- */

/* An optional member: 0 with *out NULL when absent, -1 when given twice. */
static int optional_member(const cJSON *o, const char *key, const cJSON **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    for (const cJSON *c = o->child; c; c = c->next)
        if (c->string && strcmp(c->string, key) == 0) {
            if (*out)
                return errf(err, errlen, "%s is given more than once", key);
            *out = c;
        }
    return 0;
}

static int id_member(const cJSON *o, char *out, char *err, size_t errlen)
{
    const cJSON *v = peer_answer_member(o, "id", err, errlen);
    if (!v)
        return -1;
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (!isfinite(x) || x < 0 || x > ID_NUMBER_MAX || floor(x) != x)
            return errf(err, errlen, "id %g is not a whole number from 0 to 2^53", x);
        snprintf(out, PEER_ID_MAX + 1, "%.0f", x);
        return 0;
    }
    if (!cJSON_IsString(v))
        return errf(err, errlen, "id is not a string or number (%s)", peer_json_type_name(v));
    if (!peer_id_valid(v->valuestring)) {
        char quoted[QUOTE_MAX + 8];
        peer_clean_text(quoted, sizeof quoted, v->valuestring, QUOTE_MAX);
        return errf(err, errlen,
                    "id '%s' is not an import id (1 to %d of A-Z a-z 0-9 . _ -, not only dots)",
                    quoted, PEER_ID_MAX);
    }
    util_strlcpy(out, v->valuestring, PEER_ID_MAX + 1);
    return 0;
}

/* An optional figure: absent or null is NAN; else finite, 0..max. */
static int figure_member(const cJSON *o, const char *key, double max, double *out, char *err,
                         size_t errlen)
{
    const cJSON *v;
    *out = NAN;
    if (optional_member(o, key, &v, err, errlen) != 0)
        return -1;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v))
        return errf(err, errlen, "%s is not a number or null (%s)", key, peer_json_type_name(v));
    double x = v->valuedouble;
    if (!isfinite(x) || x < 0 || x > max)
        return errf(err, errlen, "%s is %g, not within 0..%g", key, x, max);
    *out = x;
    return 0;
}

static int parse_import(const char *text, size_t len, bool need_phase,
                        struct mig_import_status *out, char *err, size_t errlen)
{
    struct mig_import_status st;
    memset(&st, 0, sizeof st);
    st.phase = MIG_IMPORT_WAITING_BACKUP;
    cJSON *j = peer_answer_object(text, len, err, errlen);
    if (!j)
        return -1;
    int rc = -1;
    const cJSON *phase, *error;
    if (id_member(j, st.id, err, errlen) != 0 ||
        optional_member(j, "phase", &phase, err, errlen) != 0 ||
        optional_member(j, "error", &error, err, errlen) != 0)
        goto done;
    if (!phase && need_phase) {
        errf(err, errlen, "phase is missing");
        goto done;
    }
    if (phase) {
        int p = cJSON_IsString(phase) ? mig_import_phase_parse(phase->valuestring) : -1;
        if (!cJSON_IsString(phase)) {
            errf(err, errlen, "phase is not a string (%s)", peer_json_type_name(phase));
            goto done;
        }
        if (p < 0) {
            char quoted[QUOTE_MAX + 8];
            peer_clean_text(quoted, sizeof quoted, phase->valuestring, QUOTE_MAX);
            errf(err, errlen,
                 "phase '%s' is not one of waiting-backup, restoring, starting, ready, failed",
                 quoted);
            goto done;
        }
        st.phase = (enum mig_import_phase)p;
    }
    if (error && !cJSON_IsString(error) && !cJSON_IsNull(error)) {
        errf(err, errlen, "error is not a string or null (%s)", peer_json_type_name(error));
        goto done;
    }
    if (st.phase == MIG_IMPORT_FAILED) {
        if (cJSON_IsString(error) && *error->valuestring)
            peer_clean_text(st.error, sizeof st.error, error->valuestring, ERROR_TEXT_MAX);
        else
            util_strlcpy(st.error, "the target gave no reason", sizeof st.error);
    }
    if (figure_member(j, "restore_s", RESTORE_S_MAX, &st.restore_s, err, errlen) != 0 ||
        figure_member(j, "restored_bytes", RESTORED_BYTES_MAX, &st.restored_bytes, err, errlen) !=
            0)
        goto done;
    *out = st;
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

int mig_import_parse(const char *text, size_t len, struct mig_import_status *out, char *err,
                     size_t errlen)
{
    return parse_import(text, len, false, out, err, errlen);
}

/* ---- the requests ---- */

static char *peer_url(const struct cfg_peer *peer, const char *path)
{
    const char *base = peer->url ? peer->url : "";
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    char *url = NULL;
    if (asprintf(&url, "%.*s%s", (int)blen, base, path) < 0)
        return NULL;
    return url;
}

static void peer_request(struct httpc_req *r, const struct cfg_peer *peer, const char *method,
                         const char *url, int64_t timeout_ms)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->url = url;
    r->bearer = peer->token;
    r->ca_file = peer->ca_file;
    r->timeout_ms = timeout_ms;
    r->max_body = PEER_ANSWER_MAX;
}

/* Sorts a request's outcome; 0 when a 2xx came (its body left to the
 * caller), else -1 with "unreachable: ...", "refused: HTTP N: ..." or
 * "garbage answer: larger than ...". */
static int sort_answer(const struct httpc_req *r, char *err, size_t errlen)
{
    if (r->status == 0 && r->too_large)
        return errf(err, errlen, "garbage answer: larger than the %d KiB an answer may have",
                    PEER_ANSWER_MAX / 1024);
    if (r->status == 0)
        return errf(err, errlen, "unreachable: %s", r->error);
    if (r->status < 200 || r->status > 299) {
        char text[ERROR_TEXT_MAX + 8];
        peer_answer_error(r->answer, r->answer_len, text, sizeof text);
        return errf(err, errlen, "refused: HTTP %ld%s%s", r->status, *text ? ": " : "", text);
    }
    return 0;
}

/* One request with an import answer expected; expect_id: the id the
 * answer must name (NULL: any). */
static int import_call(const struct cfg_peer *peer, const char *method, const char *path,
                       const char *body, const char *expect_id, int64_t timeout_ms,
                       struct mig_import_status *out, long *http_status, char *err, size_t errlen)
{
    char *url = peer_url(peer, path);
    if (!url)
        return errf(err, errlen, "not sent: out of memory");
    struct httpc_req r;
    peer_request(&r, peer, method, url, timeout_ms);
    if (body) {
        r.body = body;
        r.body_len = strlen(body);
    }
    httpc_run(&r);
    if (http_status)
        *http_status = r.status;
    int rc = sort_answer(&r, err, errlen);
    if (rc == 0) {
        char why[PEER_REASON_MAX / 2];
        struct mig_import_status st;
        if (parse_import(r.answer, r.answer_len, expect_id != NULL, &st, why, sizeof why) != 0) {
            rc = errf(err, errlen, "garbage answer: %s", why);
        } else if (expect_id && strcmp(st.id, expect_id) != 0) {
            rc = errf(err, errlen, "garbage answer: id is '%s', asked '%s'", st.id, expect_id);
        } else {
            *out = st;
        }
    }
    httpc_req_clear(&r);
    free(url);
    return rc;
}

int mig_peer_import_start(const struct cfg_peer *peer, const struct mig_import_request *r,
                          int64_t timeout_ms, struct mig_import_status *out, long *http_status,
                          char *err, size_t errlen)
{
    if (http_status)
        *http_status = 0;
    char why[PEER_REASON_MAX / 2];
    char *body = mig_import_request_json(r, why, sizeof why);
    if (!body)
        return errf(err, errlen, "not sent: %s", why);
    int rc = import_call(peer, "POST", "/v1/imports", body, NULL, timeout_ms, out, http_status, err,
                         errlen);
    free(body);
    return rc;
}

int mig_peer_import_get(const struct cfg_peer *peer, const char *id, int64_t timeout_ms,
                        struct mig_import_status *out, long *http_status, char *err, size_t errlen)
{
    if (http_status)
        *http_status = 0;
    if (!id || !peer_id_valid(id))
        return errf(err, errlen, "not sent: not a valid import id");
    char path[sizeof "/v1/imports/" + PEER_ID_MAX];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    return import_call(peer, "GET", path, NULL, id, timeout_ms, out, http_status, err, errlen);
}

int mig_peer_import_drop(const struct cfg_peer *peer, const char *id, int64_t timeout_ms,
                         long *http_status, char *err, size_t errlen)
{
    if (http_status)
        *http_status = 0;
    if (!id || !peer_id_valid(id))
        return errf(err, errlen, "not sent: not a valid import id");
    char path[sizeof "/v1/imports/" + PEER_ID_MAX];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    char *url = peer_url(peer, path);
    if (!url)
        return errf(err, errlen, "not sent: out of memory");
    struct httpc_req r;
    peer_request(&r, peer, "DELETE", url, timeout_ms);
    httpc_run(&r);
    if (http_status)
        *http_status = r.status;
    /* 404: nothing (left) to drop, which is what was asked */
    int rc = r.status == 404 ? 0 : sort_answer(&r, err, errlen);
    httpc_req_clear(&r);
    free(url);
    return rc;
}
