/*
 * sim_schema — see sim_schema.h.
 *
 * One walk over the body, led by the schema, does what the API server does
 * in three steps: strict decoding (unknown and duplicate fields, metadata
 * of the wrong JSON type: a 400, before anything is validated), pruning
 * (nulls of fields that are not nullable) and validation (every schema
 * error is one cause of a 422). Messages are the API server's: field paths
 * join object members with '.' and array items with [i], as kube-openapi
 * names them in "in body" errors.
 *
 * The recursion follows the schema, not the body, so its depth is the
 * schema's (about ten for Velero); a body nested deeper than its schema
 * is not descended into.
 */
#include "sim/sim_schema.h"

#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/vec.h"
#include "sim/sim_labels.h"
#include "sim/sim_status.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_LEN 512
/* An object with more members is refused outright: the duplicate check
 * compares members pairwise, and no Velero object comes near this. */
#define MAX_MEMBERS 4096
/* ObjectMeta: the API server's limit on all annotations together. */
#define ANNOTATIONS_MAX_BYTES (256 * 1024)
/* A body echoed into a message ("Object 'Kind' is missing in '...'"). */
#define ECHO_MAX 1000

/* ---- CRDs ---- */

static bool copy_name(const cJSON *obj, const char *key, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0] && util_strlcpy(out, v->valuestring, n) == 0;
}

int sim_crd_load(struct sim_crd *crd, const char *json, char *err, size_t errlen)
{
    memset(crd, 0, sizeof *crd);
    crd->doc = cJSON_Parse(json);
    if (!crd->doc)
        return errf(err, errlen, "CRD: not valid JSON");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(crd->doc, "spec");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(spec, "names");
    const cJSON *versions = cJSON_GetObjectItemCaseSensitive(spec, "versions");
    const cJSON *v0 = cJSON_IsArray(versions) ? versions->child : NULL;
    cJSON *schema = cJSON_GetObjectItemCaseSensitive(v0, "schema");
    crd->schema = cJSON_GetObjectItemCaseSensitive(schema, "openAPIV3Schema");
    if (!copy_name(spec, "group", crd->group, sizeof crd->group) ||
        !copy_name(names, "kind", crd->kind, sizeof crd->kind) ||
        !copy_name(names, "plural", crd->plural, sizeof crd->plural) ||
        !copy_name(v0, "name", crd->version, sizeof crd->version) || !cJSON_IsObject(crd->schema)) {
        sim_crd_free(crd);
        return errf(err, errlen,
                    "CRD: expected spec.group, spec.names.kind and .plural, and "
                    "spec.versions[0] with a name and schema.openAPIV3Schema");
    }
    snprintf(crd->api_version, sizeof crd->api_version, "%s/%s", crd->group, crd->version);
    return 0;
}

void sim_crd_free(struct sim_crd *crd)
{
    cJSON_Delete(crd->doc);
    memset(crd, 0, sizeof *crd);
}

int sim_crd_add_property(struct sim_crd *crd, const char *object, const char *name,
                         const char *schema_json, char *err, size_t errlen)
{
    cJSON *props = cJSON_GetObjectItemCaseSensitive(crd->schema, "properties");
    cJSON *obj = cJSON_GetObjectItemCaseSensitive(props, object);
    cJSON *obj_props = cJSON_GetObjectItemCaseSensitive(obj, "properties");
    if (!cJSON_IsObject(obj_props))
        return errf(err, errlen, "%s: no object schema \"%s\"", crd->kind, object);
    if (cJSON_GetObjectItemCaseSensitive(obj_props, name))
        return errf(err, errlen, "%s: %s.%s is already in the schema", crd->kind, object, name);
    cJSON *schema = cJSON_Parse(schema_json);
    if (!cJSON_IsObject(schema)) {
        cJSON_Delete(schema);
        return errf(err, errlen, "%s.%s: schema is not a JSON object", object, name);
    }
    cJSON_AddItemToObject(obj_props, name, schema);
    return 0;
}

int sim_dns_subdomain_check(const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n > SIMC_DNS_SUBDOMAIN_MAX)
        return errf(err, errlen, "must be no more than %d characters", SIMC_DNS_SUBDOMAIN_MAX);
    /* Labels of [a-z0-9-] starting and ending alphanumeric, joined by '.'. */
    bool ok = n > 0;
    bool start = true;
    for (size_t i = 0; ok && i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c == '.')
            ok = !start && s[i - 1] != '-';
        else if (c == '-')
            ok = !start;
        else
            ok = alnum;
        start = c == '.';
    }
    if (!ok || start || s[n - 1] == '-')
        return errf(err, errlen,
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'example.com', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    return 0;
}

/* ---- the walk ---- */

struct vctx {
    const struct sim_crd *crd;
    struct strbuf strict; /* "unknown field \"a\", duplicate field \"b\"" */
    size_t nstrict;
    char decode[600];                /* the first decoding error (metadata types); "" = none */
    struct sim_status_cause *causes; /* message and field malloc'd */
    size_t ncauses, cap;
    bool oom;
};

static void join(char *out, const char *path, const char *key)
{
    if (path[0])
        snprintf(out, PATH_LEN, "%s.%s", path, key);
    else
        snprintf(out, PATH_LEN, "%s", key);
}

static void strict_error(struct vctx *x, const char *what, const char *path)
{
    strbuf_printf(&x->strict, "%s%s field \"%s\"", x->nstrict ? ", " : "", what, path);
    x->nstrict++;
}

static void decode_error(struct vctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void decode_error(struct vctx *x, const char *fmt, ...)
{
    if (x->decode[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->decode, sizeof x->decode, fmt, ap);
    va_end(ap);
}

static void cause(struct vctx *x, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cause(struct vctx *x, const char *reason, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    util_utf8_sanitize(msg);
    if (vec_reserve(x->causes, x->cap, x->ncauses + 1) < 0) {
        x->oom = true;
        return;
    }
    char *m = strdup(msg), *f = strdup(field);
    if (!m || !f) {
        free(m);
        free(f);
        x->oom = true;
        return;
    }
    x->causes[x->ncauses++] = (struct sim_status_cause){reason, m, f};
}

/* The JSON type of a value in kube-openapi's words; a whole number that
 * fits int64 is "integer". */
static const char *json_type(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsObject(v))
        return "object";
    double d = v->valuedouble;
    return isfinite(d) && d == floor(d) && fabs(d) < 9.2e18 ? "integer" : "number";
}

/* A value as Go's field errors print it: strings quoted, numbers plain. */
static void value_text(const cJSON *v, char *out, size_t n)
{
    if (cJSON_IsString(v))
        snprintf(out, n, "\"%.200s\"", v->valuestring);
    else if (cJSON_IsNumber(v) && strcmp(json_type(v), "integer") == 0)
        snprintf(out, n, "%.0f", v->valuedouble);
    else if (cJSON_IsNumber(v))
        snprintf(out, n, "%g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else
        snprintf(out, n, "%s", json_type(v));
}

static bool flag(const cJSON *schema, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(schema, key));
}

static bool number_kw(const cJSON *schema, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(schema, key);
    if (!cJSON_IsNumber(v))
        return false;
    *out = v->valuedouble;
    return true;
}

static bool type_matches(const char *want, const cJSON *v)
{
    const char *have = json_type(v);
    if (strcmp(want, "number") == 0)
        return cJSON_IsNumber(v);
    return strcmp(want, have) == 0;
}

/* RFC 3339 date-time, as strfmt reads it: a date, 'T' (or 't', ' '), a
 * time with optional fraction, 'Z' or an offset. */
static bool is_date_time(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return false;
    int64_t ms;
    return (s[10] == 'T' || s[10] == 't' || s[10] == ' ') && util_parse_time_ms(s, &ms) == 0;
}

/* A Go duration ("72h0m0s", "1.5h", "300ms", "-1m", "0"), as
 * time.ParseDuration (and strfmt's duration) accepts it. */
static bool is_duration(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, "0") == 0)
        return true;
    if (!*s)
        return false;
    static const char *const units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs", "ms", "s", "m", "h"};
    while (*s) {
        size_t digits = strspn(s, "0123456789");
        s += digits;
        if (*s == '.') {
            size_t frac = strspn(s + 1, "0123456789");
            if (digits + frac == 0)
                return false;
            s += 1 + frac;
        } else if (digits == 0) {
            return false;
        }
        size_t best = 0;
        for (size_t i = 0; i < ARRAY_LEN(units); i++) {
            size_t n = strlen(units[i]);
            if (n > best && strncmp(s, units[i], n) == 0)
                best = n;
        }
        if (best == 0)
            return false;
        s += best;
    }
    return true;
}

static void check_value(struct vctx *x, const cJSON *schema, cJSON *v, const char *path);

static void check_enum(struct vctx *x, const cJSON *schema, const cJSON *v, const char *path)
{
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    if (!cJSON_IsArray(en))
        return;
    const cJSON *e;
    cJSON_ArrayForEach(e, en) if (cJSON_Compare(e, v, true)) return;
    char val[256];
    struct strbuf allowed = {0};
    cJSON_ArrayForEach(e, en)
    {
        char t[256];
        value_text(e, t, sizeof t);
        strbuf_printf(&allowed, "%s%s", e == en->child ? "" : ", ", t);
    }
    value_text(v, val, sizeof val);
    char *list = strbuf_take(&allowed);
    cause(x, "FieldValueNotSupported", path, "Unsupported value: %s: supported values: %s", val,
          list ? list : "");
    free(list);
}

static void check_string(struct vctx *x, const cJSON *schema, const cJSON *v, const char *path)
{
    const char *s = v->valuestring;
    size_t len = strlen(s);
    double lim;
    if (number_kw(schema, "maxLength", &lim) && (double)len > lim)
        cause(x, "FieldValueTooLong", path, "Too long: may not be longer than %.0f", lim);
    if (number_kw(schema, "minLength", &lim) && (double)len < lim)
        cause(x, "FieldValueInvalid", path,
              "Invalid value: \"%.200s\": %s in body should be at least %.0f chars long", s, path,
              lim);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(schema, "format");
    if (cJSON_IsString(fmt)) {
        bool ok = strcmp(fmt->valuestring, "date-time") == 0  ? is_date_time(s)
                  : strcmp(fmt->valuestring, "duration") == 0 ? is_duration(s)
                                                              : true;
        if (!ok)
            cause(x, "FieldValueInvalid", path,
                  "Invalid value: \"%.200s\": %s in body must be of type %s: \"%.200s\"", s, path,
                  fmt->valuestring, s);
    }
}

static void check_number(struct vctx *x, const cJSON *schema, const cJSON *v, const char *path)
{
    double lim;
    char val[64];
    value_text(v, val, sizeof val);
    if (number_kw(schema, "minimum", &lim) && v->valuedouble < lim)
        cause(x, "FieldValueInvalid", path,
              "Invalid value: %s: %s in body should be greater than or equal to %g", val, path,
              lim);
    if (number_kw(schema, "maximum", &lim) && v->valuedouble > lim)
        cause(x, "FieldValueInvalid", path,
              "Invalid value: %s: %s in body should be less than or equal to %g", val, path, lim);
}

static void check_array(struct vctx *x, const cJSON *schema, cJSON *v, const char *path)
{
    int n = cJSON_GetArraySize(v);
    double lim;
    if (number_kw(schema, "minItems", &lim) && n < lim)
        cause(x, "FieldValueInvalid", path,
              "Invalid value: %d: %s in body should have at least %.0f items", n, path, lim);
    if (number_kw(schema, "maxItems", &lim) && n > lim)
        cause(x, "FieldValueTooMany", path, "Too many: %d: must have at most %.0f items", n, lim);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
    if (!cJSON_IsObject(items))
        return;
    int i = 0;
    cJSON *el;
    cJSON_ArrayForEach(el, v)
    {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%d]", path, i++);
        check_value(x, items, el, p);
    }
}

/* Every member of obj must appear once; reports and returns false
 * otherwise (or when there are too many to compare). */
static bool check_members(struct vctx *x, const cJSON *obj, const char *path)
{
    if (cJSON_GetArraySize(obj) > MAX_MEMBERS) {
        decode_error(x, "%s: more than %d fields", path[0] ? path : "body", MAX_MEMBERS);
        return false;
    }
    bool ok = true;
    for (const cJSON *m = obj->child; m; m = m->next) {
        for (const cJSON *prev = obj->child; prev != m; prev = prev->next) {
            if (strcmp(prev->string, m->string) == 0) {
                char p[PATH_LEN];
                join(p, path, m->string);
                strict_error(x, "duplicate", p);
                ok = false;
                break;
            }
        }
    }
    return ok;
}

static void check_object(struct vctx *x, const cJSON *schema, cJSON *v, const char *path)
{
    if (!check_members(x, v, path))
        return;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *addl = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
    bool preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    cJSON *m = v->child;
    while (m) {
        cJSON *next = m->next;
        char p[PATH_LEN];
        join(p, path, m->string);
        /* The root's metadata is ObjectMeta (check_meta), whatever the
         * CRD's schema says of it. */
        if (!path[0] && strcmp(m->string, "metadata") == 0) {
            m = next;
            continue;
        }
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(props, m->string);
        if (!sub && cJSON_IsObject(addl))
            sub = addl;
        if (!sub) {
            if (!cJSON_IsTrue(addl) && !preserve)
                strict_error(x, "unknown", p);
        } else if (cJSON_IsNull(m) && !flag(sub, "nullable")) {
            /* Pruned, as the API server drops nulls it may not store. */
            cJSON_Delete(cJSON_DetachItemViaPointer(v, m));
        } else {
            check_value(x, sub, m, p);
        }
        m = next;
    }
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *r;
    cJSON_ArrayForEach(r, req)
    {
        if (cJSON_IsString(r) && !cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
            char p[PATH_LEN];
            join(p, path, r->valuestring);
            cause(x, "FieldValueRequired", p, "Required value");
        }
    }
}

static void check_value(struct vctx *x, const cJSON *schema, cJSON *v, const char *path)
{
    if (cJSON_IsNull(v) && flag(schema, "nullable"))
        return;
    if (flag(schema, "x-kubernetes-int-or-string")) {
        if (!cJSON_IsString(v) && strcmp(json_type(v), "integer") != 0)
            cause(x, "FieldValueInvalid", path,
                  "Invalid value: \"%s\": %s in body must be of type int-or-string: \"%s\"",
                  json_type(v), path, json_type(v));
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
    if (!cJSON_IsString(type)) {
        /* No type: only x-kubernetes-preserve-unknown-fields allows that
         * in a structural schema; anything goes, known fields checked. */
        if (cJSON_IsObject(v))
            check_object(x, schema, v, path);
        return;
    }
    if (!type_matches(type->valuestring, v)) {
        cause(x, "FieldValueInvalid", path,
              "Invalid value: \"%s\": %s in body must be of type %s: \"%s\"", json_type(v), path,
              type->valuestring, json_type(v));
        return;
    }
    check_enum(x, schema, v, path);
    if (cJSON_IsObject(v))
        check_object(x, schema, v, path);
    else if (cJSON_IsArray(v))
        check_array(x, schema, v, path);
    else if (cJSON_IsString(v))
        check_string(x, schema, v, path);
    else if (cJSON_IsNumber(v))
        check_number(x, schema, v, path);
}

/* ---- ObjectMeta ---- */

/* Go's names for the decoder's message. */
static const char *go_json_kind(const cJSON *v)
{
    if (cJSON_IsBool(v))
        return "bool";
    if (cJSON_IsNumber(v))
        return "number";
    return json_type(v);
}

static bool meta_type(struct vctx *x, const cJSON *v, const char *key, const char *want,
                      const char *go_type)
{
    if (cJSON_IsNull(v) || type_matches(want, v))
        return true;
    decode_error(x,
                 "json: cannot unmarshal %s into Go struct field ObjectMeta.metadata.%s of type %s",
                 go_json_kind(v), key, go_type);
    return false;
}

static void check_map(struct vctx *x, const cJSON *map, const char *key, bool labels)
{
    char field[64];
    snprintf(field, sizeof field, "metadata.%s", key);
    if (!map || !meta_type(x, map, key, "object", "map[string]string") || !cJSON_IsObject(map) ||
        !check_members(x, map, field))
        return;
    size_t total = 0;
    for (const cJSON *m = map->child; m; m = m->next) {
        if (!cJSON_IsString(m)) {
            decode_error(x,
                         "json: cannot unmarshal %s into Go struct field ObjectMeta.metadata.%s "
                         "of type string",
                         go_json_kind(m), key);
            return;
        }
        char why[256];
        if (simc_qualified_name_check(m->string, why, sizeof why) < 0)
            cause(x, "FieldValueInvalid", field, "Invalid value: \"%.200s\": %s", m->string, why);
        else if (labels && simc_label_value_check(m->valuestring, why, sizeof why) < 0)
            cause(x, "FieldValueInvalid", field, "Invalid value: \"%.200s\": %s", m->valuestring,
                  why);
        total += strlen(m->string) + strlen(m->valuestring);
    }
    if (!labels && total > ANNOTATIONS_MAX_BYTES)
        cause(x, "FieldValueTooLong", field, "Too long: must have at most %d bytes",
              ANNOTATIONS_MAX_BYTES);
}

static void check_meta(struct vctx *x, cJSON *meta)
{
    static const struct {
        const char *key, *type, *go_type;
    } fields[] = {
        {"name", "string", "string"},
        {"generateName", "string", "string"},
        {"namespace", "string", "string"},
        {"selfLink", "string", "string"},
        {"uid", "string", "types.UID"},
        {"resourceVersion", "string", "string"},
        {"generation", "integer", "int64"},
        {"creationTimestamp", "string", "v1.Time"},
        {"deletionTimestamp", "string", "v1.Time"},
        {"deletionGracePeriodSeconds", "integer", "int64"},
        {"labels", "object", "map[string]string"},
        {"annotations", "object", "map[string]string"},
        {"ownerReferences", "array", "[]v1.OwnerReference"},
        {"finalizers", "array", "[]string"},
        {"managedFields", "array", "[]v1.ManagedFieldsEntry"},
    };
    if (!cJSON_IsObject(meta)) {
        decode_error(x,
                     "json: cannot unmarshal %s into Go struct field %s.metadata of type "
                     "v1.ObjectMeta",
                     go_json_kind(meta), x->crd->kind);
        return;
    }
    if (!check_members(x, meta, "metadata"))
        return;
    for (const cJSON *m = meta->child; m; m = m->next) {
        size_t i = 0;
        while (i < ARRAY_LEN(fields) && strcmp(fields[i].key, m->string) != 0)
            i++;
        char p[PATH_LEN];
        join(p, "metadata", m->string);
        if (i == ARRAY_LEN(fields))
            strict_error(x, "unknown", p);
        else
            meta_type(x, m, fields[i].key, fields[i].type, fields[i].go_type);
    }
    if (x->decode[0] || x->nstrict)
        return;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
    char why[512];
    if (!cJSON_IsString(name) || !name->valuestring[0])
        cause(x, "FieldValueRequired", "metadata.name",
              "Required value: name or generateName is required");
    else if (sim_dns_subdomain_check(name->valuestring, why, sizeof why) < 0)
        cause(x, "FieldValueInvalid", "metadata.name", "Invalid value: \"%.260s\": %s",
              name->valuestring, why);
    check_map(x, cJSON_GetObjectItemCaseSensitive(meta, "labels"), "labels", true);
    check_map(x, cJSON_GetObjectItemCaseSensitive(meta, "annotations"), "annotations", false);
}

/* ---- answers ---- */

static int bad_request(const struct sim_crd *crd, const char *why, char **status)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s in version \"%s\" cannot be handled as a %s: %s", crd->kind,
             crd->version, crd->kind, why);
    util_utf8_sanitize(msg);
    return sim_status_reply(
        status, &(struct sim_status){.code = 400, .reason = "BadRequest", .message = msg});
}

static int plain_bad_request(const char *msg, char **status)
{
    return sim_status_reply(
        status, &(struct sim_status){.code = 400, .reason = "BadRequest", .message = msg});
}

/* 422 with every cause, message "Kind.group \"name\" is invalid: ..." */
static int invalid(const struct vctx *x, const cJSON *obj, char **status)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
    const char *nm = cJSON_IsString(name) ? name->valuestring : "";
    struct strbuf msg = {0};
    strbuf_printf(&msg, "%s.%s \"%.260s\" is invalid: %s", x->crd->kind, x->crd->group, nm,
                  x->ncauses > 1 ? "[" : "");
    for (size_t i = 0; i < x->ncauses; i++)
        strbuf_printf(&msg, "%s%s: %s", i ? ", " : "", x->causes[i].field, x->causes[i].message);
    strbuf_puts(&msg, x->ncauses > 1 ? "]" : "");
    char *text = strbuf_take(&msg);
    if (!text) {
        *status = NULL;
        return 422;
    }
    util_utf8_sanitize(text);
    int code = sim_status_reply(status, &(struct sim_status){.code = 422,
                                                             .reason = "Invalid",
                                                             .message = text,
                                                             .details = true,
                                                             .name = nm,
                                                             .group = x->crd->group,
                                                             .kind = x->crd->kind,
                                                             .causes = x->causes,
                                                             .ncauses = x->ncauses});
    free(text);
    return code;
}

/* The kind and apiVersion a body must name; 0 or 400. */
static int check_type(const struct sim_crd *crd, const cJSON *obj, char **status)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    const cJSON *api = cJSON_GetObjectItemCaseSensitive(obj, "apiVersion");
    char msg[ECHO_MAX + 200];
    if (!cJSON_IsString(kind) || !kind->valuestring[0] || !cJSON_IsString(api) ||
        !api->valuestring[0]) {
        char *text = cJSON_PrintUnformatted(obj);
        snprintf(msg, sizeof msg, "Object '%s' is missing in '%.*s'",
                 cJSON_IsString(kind) && kind->valuestring[0] ? "apiVersion" : "Kind", ECHO_MAX,
                 text ? text : "");
        free(text);
        util_utf8_sanitize(msg);
        return plain_bad_request(msg, status);
    }
    if (strcmp(api->valuestring, crd->api_version) != 0) {
        snprintf(msg, sizeof msg,
                 "the API version in the data (%.200s) does not match the expected API version "
                 "(%s)",
                 api->valuestring, crd->api_version);
        util_utf8_sanitize(msg);
        return plain_bad_request(msg, status);
    }
    if (strcmp(kind->valuestring, crd->kind) != 0) {
        snprintf(msg, sizeof msg,
                 "the kind in the data (%.200s) does not match the expected kind (%s)",
                 kind->valuestring, crd->kind);
        util_utf8_sanitize(msg);
        return plain_bad_request(msg, status);
    }
    return 0;
}

int sim_schema_check(const struct sim_crd *crd, cJSON *obj, char **status)
{
    *status = NULL;
    if (!cJSON_IsObject(obj))
        return bad_request(crd, "the body is not a JSON object", status);
    int code = check_type(crd, obj, status);
    if (code)
        return code;
    struct vctx x = {.crd = crd};
    /* The root: ObjectMeta for metadata, the schema for the rest. */
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!meta)
        cause(&x, "FieldValueRequired", "metadata.name",
              "Required value: name or generateName is required");
    check_object(&x, crd->schema, obj, "");
    if (meta)
        check_meta(&x, meta);
    if (x.oom || x.strict.failed) {
        code = 500;
    } else if (x.decode[0]) {
        code = bad_request(crd, x.decode, status);
    } else if (x.nstrict) {
        char *list = strbuf_take(&x.strict);
        char why[1800];
        snprintf(why, sizeof why, "strict decoding error: %s", list ? list : "");
        free(list);
        code = bad_request(crd, why, status);
    } else if (x.ncauses) {
        code = invalid(&x, obj, status);
    }
    strbuf_free(&x.strict);
    for (size_t i = 0; i < x.ncauses; i++) {
        free((char *)x.causes[i].message);
        free((char *)x.causes[i].field);
    }
    free(x.causes);
    return code;
}
