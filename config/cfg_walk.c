/*
 * cfg_walk — see cfg_walk.h. Messages and their positions, the generic
 * readers and validators, defaults, freeing, unknown-key suggestions and
 * the duplicate-name sets; nothing here knows floe's schema.
 *
 * Positions: a message carries a JSON path, not a tree item, because many
 * rules run on the structs after parsing (check hooks, rules across
 * objects). The path is followed through the file's tree again to find
 * the item, and through the tables alongside it to find the labels
 * ("(metric NAME)") of the objects it passes.
 */
#include "config/cfg_walk.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/perm.h"
#include "lib/vec.h"

/* ---- messages ------------------------------------------------------------- */

void cfg_errors_push(struct cfg_errors *errs, char *line)
{
    vec_reserve_or_abort(errs->lines, errs->cap, errs->n + 1); /* see lib/vec.h */
    errs->lines[errs->n++] = line;
}

void cfg_errors_clear(struct cfg_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->lines[i]);
    free(errs->lines);
    errs->lines = NULL;
    errs->cap = 0;
    errs->n = 0;
}

/* Control characters from keys or values must not reach a terminal. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static const struct cfg_source *find_source(const struct cfg_ctx *ctx, const char *file)
{
    for (size_t i = 0; i < ctx->nsources; i++)
        if (strcmp(ctx->sources[i].file, file) == 0)
            return &ctx->sources[i];
    return NULL;
}

static const struct cfg_key *find_key(const struct cfg_table *t, const char *key)
{
    for (size_t i = 0; t && i < t->nkeys; i++)
        if (strcmp(t->keys[i].key, key) == 0)
            return &t->keys[i];
    return NULL;
}

/* What a path leads to in a source. */
struct cfg_place {
    const cJSON *item;     /* the deepest item of the path the file has */
    const char *label_key; /* "metric" */
    const char *label;     /* its value, NULL when none applies */
};

/* The label of item, an object described by table t, if it has one. */
static void take_label(const cJSON *item, const struct cfg_table *t, struct cfg_place *out)
{
    if (!t || !t->label || !cJSON_IsObject(item))
        return;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(item, t->label);
    if (cJSON_IsString(l)) {
        out->label_key = t->label;
        out->label = l->valuestring;
    }
}

/* Follows path ("modbus[0].points[3].order") from the root of src as far
 * as the file has it. The label is dropped when the path ends at the
 * labelling key itself: "points[3].metric (metric x)" says nothing new. */
static void follow_path(const struct cfg_source *src, const char *path, struct cfg_place *out)
{
    const cJSON *item = src->root;
    const struct cfg_table *table = src->table, *elems = NULL;
    bool at_label = false;
    *out = (struct cfg_place){0};
    take_label(item, table, out);
    for (const char *p = path; p && *p;) {
        const cJSON *next = NULL;
        const struct cfg_table *next_table = NULL, *next_elems = NULL;
        bool to_label = false;
        if (*p == '[') {
            char *end;
            unsigned long i = strtoul(p + 1, &end, 10);
            if (*end != ']' || i > INT_MAX || !cJSON_IsArray(item))
                break;
            next = cJSON_GetArrayItem(item, (int)i);
            next_table = elems;
            p = end + 1;
        } else {
            if (*p == '.')
                p++;
            size_t n = strcspn(p, ".[");
            char key[CFG_PATH_MAX];
            if (n == 0 || n >= sizeof key || !cJSON_IsObject(item))
                break;
            memcpy(key, p, n);
            key[n] = '\0';
            p += n;
            next = cJSON_GetObjectItemCaseSensitive(item, key);
            const struct cfg_key *k = find_key(table, key);
            if (k && k->kind == K_OBJ)
                next_table = k->sub;
            if (k && k->kind == K_ARR)
                next_elems = k->sub;
            to_label = table && table->label && strcmp(table->label, key) == 0;
        }
        if (!next)
            break;
        item = next;
        table = next_table;
        elems = next_elems;
        at_label = to_label;
        take_label(item, table, out);
    }
    out->item = item;
    if (at_label)
        out->label = NULL;
}

/* Adds "FILE:LINE:COL: path (label): message" to the errors (or, with
 * "warning: " before the message, to the warnings). file NULL gives just
 * the message; path NULL or "" gives "FILE:LINE:COL: message". The
 * position is that of `at` (its key with at_key) when given, else of what
 * path leads to; without a known position the line is "FILE: ...". */
static void report(struct cfg_ctx *ctx, bool warning, const char *file, const char *path,
                   const cJSON *at, bool at_key, const char *fmt, va_list ap)
{
    struct cfg_errors *list = warning ? ctx->warnings : ctx->errs;
    if (!warning) {
        ctx->nerrors++;
        if (ctx->errs->n - ctx->first_error >= CFG_MAX_ERRORS)
            return;
    }
    if (!list)
        return;
    char msg[768], where[48] = "", label[160] = "";
    vsnprintf(msg, sizeof msg, fmt, ap);
    const struct cfg_source *src = file ? find_source(ctx, file) : NULL;
    if (src) {
        struct cfg_place place;
        struct json_pos pos;
        follow_path(src, path, &place);
        if (ctx->positions && ((at && json_position_of(src->positions, at, at_key, &pos) == 0) ||
                               json_position_of(src->positions, place.item, false, &pos) == 0))
            snprintf(where, sizeof where, ":%d:%d", pos.line, pos.col);
        if (place.label && path && *path)
            snprintf(label, sizeof label, " (%s %.100s)", place.label_key, place.label);
    }
    const char *severity = warning ? "warning: " : "";
    char *line;
    int rc;
    if (!file)
        rc = asprintf(&line, "%s%s", severity, msg);
    else if (!path || !*path)
        rc = asprintf(&line, "%s%s: %s%s", file, where, severity, msg);
    else
        rc = asprintf(&line, "%s%s: %s%s: %s%s", file, where, path, label, severity, msg);
    if (rc < 0)
        abort();
    sanitize(line);
    cfg_errors_push(list, line);
}

void cfg_error_in(struct cfg_ctx *ctx, const char *file, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(ctx, false, file, path, NULL, false, fmt, ap);
    va_end(ap);
}

void cfg_error(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(ctx, false, ctx->file, path, NULL, false, fmt, ap);
    va_end(ap);
}

void cfg_warning(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(ctx, true, ctx->file, path, NULL, false, fmt, ap);
    va_end(ap);
}

/* An error about a key itself (unknown, given twice): at the key. */
static void key_error(struct cfg_ctx *ctx, const char *path, const cJSON *member, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static void key_error(struct cfg_ctx *ctx, const char *path, const cJSON *member, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(ctx, false, ctx->file, path, member, true, fmt, ap);
    va_end(ap);
}

static const char *a_type(const cJSON *item)
{
    if (cJSON_IsString(item))
        return "a string";
    if (cJSON_IsNumber(item))
        return "a number";
    if (cJSON_IsBool(item))
        return "a boolean";
    if (cJSON_IsNull(item))
        return "null";
    if (cJSON_IsArray(item))
        return "an array";
    return cJSON_IsObject(item) ? "an object" : "an invalid value";
}

int cfg_type_error(struct cfg_ctx *ctx, const char *path, const char *want, const cJSON *item)
{
    cfg_error(ctx, path, "must be %s, not %s", want, a_type(item));
    return -1;
}

cJSON *cfg_parse_text(struct cfg_ctx *ctx, const char *file, const char *text, size_t len,
                      const struct cfg_table *table)
{
    char msg[512];
    struct json_pos at;
    struct json_positions *positions = NULL;
    cJSON *root = json_parse_located(text ? text : "", text ? len : 0,
                                     ctx->positions ? &positions : NULL, &at, msg, sizeof msg);
    if (!root) {
        if (ctx->positions)
            cfg_error_in(ctx, NULL, NULL, "%s:%d:%d: %s", file, at.line, at.col, msg);
        else
            cfg_error_in(ctx, file, NULL, "line %d column %d: %s", at.line, at.col, msg);
        return NULL;
    }
    vec_reserve_or_abort(ctx->sources, ctx->cap_sources, ctx->nsources + 1);
    ctx->sources[ctx->nsources++] = (struct cfg_source){
        .file = util_strdup(file), .root = root, .positions = positions, .table = table};
    return root;
}

void cfg_ctx_release(struct cfg_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nsources; i++) {
        free(ctx->sources[i].file);
        cJSON_Delete(ctx->sources[i].root);
        json_positions_free(ctx->sources[i].positions);
    }
    free(ctx->sources);
    ctx->sources = NULL;
    ctx->nsources = 0;
}

/* Paths longer than CFG_PATH_MAX (only absurd keys make them) end in "...". */
static void path_truncated(char *out, int written)
{
    if (written >= CFG_PATH_MAX)
        memcpy(out + CFG_PATH_MAX - 4, "...", 4);
}

void cfg_path_key(char *out, const char *parent, const char *key)
{
    path_truncated(out, snprintf(out, CFG_PATH_MAX, "%s%s%s", parent, *parent ? "." : "", key));
}

void cfg_path_index(char *out, const char *parent, size_t i)
{
    path_truncated(out, snprintf(out, CFG_PATH_MAX, "%s[%zu]", parent, i));
}

void cfg_path_fmt(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    path_truncated(out, vsnprintf(out, CFG_PATH_MAX, fmt, ap));
    va_end(ap);
}

/* ---- for check hooks ------------------------------------------------------- */

static size_t key_index(const struct cfg_table *t, const char *key)
{
    const struct cfg_key *k = find_key(t, key);
    assert(k && "check hook names a key its table does not have");
    return k ? (size_t)(k - t->keys) : 0;
}

bool cfg_present(const struct cfg_obj *o, const char *key)
{
    return o->present & (UINT64_C(1) << key_index(o->table, key));
}

bool cfg_given(const struct cfg_obj *o, const char *key)
{
    uint64_t bit = UINT64_C(1) << key_index(o->table, key);
    return (o->present & bit) && !(o->bad & bit);
}

bool cfg_settled(const struct cfg_obj *o, const char *key)
{
    return !cfg_present(o, key) || cfg_given(o, key);
}

bool cfg_obj_clean(const struct cfg_obj *o)
{
    return o->ctx->nerrors == o->errors_before;
}

/* The spelling the file used for key ("token" or "token_file"). */
static const char *spelled(const struct cfg_obj *o, const char *key, char *buf, size_t n)
{
    if (o->table->keys[key_index(o->table, key)].kind != K_SECRET ||
        cJSON_GetObjectItemCaseSensitive(o->json, key))
        return key;
    snprintf(buf, n, "%s_file", key);
    return cJSON_GetObjectItemCaseSensitive(o->json, buf) ? buf : key;
}

static void obj_report(struct cfg_obj *o, bool warning, const char *key, const char *fmt,
                       va_list ap)
{
    char path[CFG_PATH_MAX], spelling[64];
    if (key)
        cfg_path_key(path, o->path, spelled(o, key, spelling, sizeof spelling));
    else
        snprintf(path, sizeof path, "%s", o->path);
    report(o->ctx, warning, o->ctx->file, path, NULL, false, fmt, ap);
}

void cfg_obj_error(struct cfg_obj *o, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    obj_report(o, false, key, fmt, ap);
    va_end(ap);
}

void cfg_obj_warning(struct cfg_obj *o, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    obj_report(o, true, key, fmt, ap);
    va_end(ap);
}

int cfg_enum_lookup(const struct cfg_enum *names, const char *s, int *value)
{
    for (; names->name; names++)
        if (strcmp(names->name, s) == 0) {
            *value = names->value;
            return 0;
        }
    return -1;
}

const char *cfg_enum_name(const struct cfg_enum *names, int value)
{
    for (; names->name; names++)
        if (names->value == value)
            return names->name;
    return NULL;
}

static void enum_list(const struct cfg_enum *names, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const struct cfg_enum *e = names; e->name && used < n; e++) {
        int w = snprintf(buf + used, n - used, "%s%s", e == names ? "" : ", ", e->name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

void cfg_secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void set_str(char **dst, char *s)
{
    free(*dst);
    *dst = s;
}

/* Relative paths are taken against the config file's directory, so a
 * config and its secrets can move together. */
char *cfg_resolve_path(const char *base_dir, const char *path)
{
    if (path[0] == '/' || !base_dir || !*base_dir)
        return util_strdup(path);
    char *out;
    size_t bl = strlen(base_dir);
    if (asprintf(&out, "%s%s%s", base_dir, base_dir[bl - 1] == '/' ? "" : "/", path) < 0)
        abort();
    return out;
}

/* ---- validators for strings -------------------------------------------------- */

int cfg_check_name(const char *s, char *msg, size_t n)
{
    size_t len = strlen(s);
    bool ok = len <= 64;
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_' || *p == '-' || *p == '.';
    if (!ok)
        return errf(msg, n, "must be at most 64 letters, digits, '_', '-' or '.'");
    return 0;
}

int cfg_check_metric(const char *s, char *msg, size_t n)
{
    if (!util_metric_name_valid(s))
        return errf(msg, n,
                    "'%.64s' is not a metric name: use [a-z0-9_]+ segments joined by '.' "
                    "(e.g. cooling.chiller1.capacity_kw)",
                    s);
    return 0;
}

int cfg_check_host(const char *s, char *msg, size_t n)
{
    bool ok = strlen(s) <= 253;
    for (const char *p = s; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && *p != 0x7f && *p != '/';
    if (!ok)
        return errf(msg, n, "must be a host name or an IP address");
    return 0;
}

int cfg_check_url(const char *s, char *msg, size_t n)
{
    const char *rest = strncmp(s, "http://", 7) == 0    ? s + 7
                       : strncmp(s, "https://", 8) == 0 ? s + 8
                                                        : NULL;
    bool ok = rest && *rest && *rest != '/';
    for (const char *p = s; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && *p != 0x7f;
    if (!ok)
        return errf(msg, n, "must be an http:// or https:// URL");
    return 0;
}

/* ---- the walker --------------------------------------------------------------- */

/* Defaults come from the tables in file syntax; they are the code's own
 * and skip the range checks (bit's -1 means "no bit"). */
void cfg_apply_defaults(const struct cfg_table *t, void *base)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct cfg_key *k = &t->keys[i];
        void *f = FIELD(base, k->off, char);
        if (k->kind == K_OBJ) {
            cfg_apply_defaults(k->sub, f);
            continue;
        }
        if (!k->def)
            continue;
        int v = 0;
        switch (k->kind) {
        case K_STR:
        case K_FILE:
        case K_SECRET:
            set_str(f, util_strdup(k->def));
            break;
        case K_INT:
            *(int *)f = atoi(k->def);
            break;
        case K_U16:
            *(uint16_t *)f = (uint16_t)atoi(k->def);
            break;
        case K_NUM:
            *(double *)f = strtod(k->def, NULL);
            break;
        case K_BOOL:
            *(bool *)f = strcmp(k->def, "true") == 0;
            break;
        case K_DUR: {
            int rc = util_parse_duration_ms(k->def, f, NULL, 0);
            assert(rc == 0);
            (void)rc;
            break;
        }
        case K_ENUM: {
            int rc = cfg_enum_lookup(k->names, k->def, &v);
            assert(rc == 0);
            (void)rc;
            if (k->flags & CHAR_FIELD)
                *(char *)f = (char)v;
            else
                *(int *)f = v;
            break;
        }
        default:
            assert(!"kind has no defaults");
        }
    }
}

void cfg_free_fields(const struct cfg_table *t, void *base)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct cfg_key *k = &t->keys[i];
        void *f = FIELD(base, k->off, char);
        switch (k->kind) {
        case K_STR:
        case K_FILE:
            set_str(f, NULL);
            break;
        case K_SECRET:
            cfg_secret_free(*(char **)f);
            *(char **)f = NULL;
            break;
        case K_OBJ:
            cfg_free_fields(k->sub, f);
            break;
        case K_STRS: {
            char **strs = *(char ***)f;
            size_t *count = FIELD(base, k->count_off, size_t);
            for (size_t j = 0; strs && j < *count; j++)
                free(strs[j]);
            free(strs);
            *(char ***)f = NULL;
            *count = 0;
            break;
        }
        case K_ARR: {
            char *arr = *(char **)f;
            size_t *count = FIELD(base, k->count_off, size_t);
            for (size_t j = 0; arr && j < *count; j++)
                cfg_free_fields(k->sub, arr + j * k->elem_size);
            free(arr);
            *(char **)f = NULL;
            *count = 0;
            break;
        }
        default:
            break; /* scalars and K_FN fields own no memory */
        }
    }
}

static int parse_str(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *f,
                     const char *path)
{
    if (!cJSON_IsString(item))
        return cfg_type_error(ctx, path, "a string", item);
    const char *s = item->valuestring;
    char msg[512];
    int v;
    if (!*s && !(k->flags & EMPTY_OK)) {
        cfg_error(ctx, path, "must not be empty");
        return -1;
    }
    if (k->names && cfg_enum_lookup(k->names, s, &v)) {
        enum_list(k->names, msg, sizeof msg);
        cfg_error(ctx, path, "must be one of %s", msg);
        return -1;
    }
    if (k->check && k->check(s, msg, sizeof msg)) {
        cfg_error(ctx, path, "%s", msg);
        return -1;
    }
    set_str(f, util_strdup(s));
    return 0;
}

static int parse_int(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *f,
                     const char *path)
{
    if (!cJSON_IsNumber(item))
        return cfg_type_error(ctx, path, "an integer", item);
    double v = item->valuedouble;
    if (floor(v) != v) {
        cfg_error(ctx, path, "must be an integer, not %g", v);
        return -1;
    }
    if (v < (double)k->min || v > (double)k->max) {
        cfg_error(ctx, path, "must be between %lld and %lld", (long long)k->min, (long long)k->max);
        return -1;
    }
    if (k->kind == K_U16)
        *(uint16_t *)f = (uint16_t)v;
    else
        *(int *)f = (int)v;
    return 0;
}

static int parse_num(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *f,
                     const char *path)
{
    if (!cJSON_IsNumber(item))
        return cfg_type_error(ctx, path, "a number", item);
    if ((k->flags & NONNEG) && item->valuedouble < 0) {
        cfg_error(ctx, path, "must not be negative");
        return -1;
    }
    *(double *)f = item->valuedouble;
    return 0;
}

/* A duration is a string in lib/util's syntax ("5s") or a number of
 * seconds; the table bounds it. */
static int parse_dur(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *f,
                     const char *path)
{
    int64_t ms;
    char msg[256];
    if (cJSON_IsString(item)) {
        if (util_parse_duration_ms(item->valuestring, &ms, msg, sizeof msg)) {
            cfg_error(ctx, path, "%s", msg);
            return -1;
        }
    } else if (cJSON_IsNumber(item)) {
        double v = item->valuedouble * 1000.0; /* a bare number is seconds */
        if (v < 0) {
            cfg_error(ctx, path, "must not be negative");
            return -1;
        }
        if (v > 9.0e15) {
            cfg_error(ctx, path, "is too long");
            return -1;
        }
        ms = (int64_t)llround(v);
    } else {
        return cfg_type_error(ctx, path,
                              "a duration (a string such as \"5s\" or a number of seconds)", item);
    }
    if (ms < k->min) {
        if (k->min == 1) {
            cfg_error(ctx, path, "must be greater than 0");
        } else {
            util_format_duration(k->min, msg, sizeof msg);
            cfg_error(ctx, path, "must be at least %s", msg);
        }
        return -1;
    }
    if (k->max > 0 && ms > k->max) {
        util_format_duration(k->max, msg, sizeof msg);
        cfg_error(ctx, path, "must be at most %s", msg);
        return -1;
    }
    *(int64_t *)f = ms;
    return 0;
}

static int parse_enum(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *f,
                      const char *path)
{
    char word[32] = "";
    int v;
    if (cJSON_IsString(item))
        snprintf(word, sizeof word, "%s",
                 strlen(item->valuestring) < sizeof word ? item->valuestring : "");
    else if (cJSON_IsNumber(item) && floor(item->valuedouble) == item->valuedouble &&
             fabs(item->valuedouble) < 1e9)
        snprintf(word, sizeof word, "%d", (int)item->valuedouble); /* "version": 3 means "3" */
    if (!word[0] || cfg_enum_lookup(k->names, word, &v)) {
        char list[256];
        enum_list(k->names, list, sizeof list);
        cfg_error(ctx, path, "must be one of %s", list);
        return -1;
    }
    if (k->flags & CHAR_FIELD)
        *(char *)f = (char)v;
    else
        *(int *)f = v;
    return 0;
}

static int parse_file(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *f,
                      const char *path)
{
    if (!cJSON_IsString(item))
        return cfg_type_error(ctx, path, "a string (a file path)", item);
    if (!*item->valuestring) {
        cfg_error(ctx, path, "must not be empty");
        return -1;
    }
    char *resolved = cfg_resolve_path(ctx->base_dir, item->valuestring);
    set_str(f, resolved);
    if ((k->flags & READABLE) && access(resolved, R_OK) != 0) {
        int access_errno = errno;
        char why[512] = "";
        if (access_errno == EACCES)
            perm_explain_unreadable_self(resolved, why, sizeof why);
        cfg_error(ctx, path, "%s: %s%s", resolved, strerror(access_errno), why);
        return -1;
    }
    return 0;
}

static int parse_array(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *base,
                       const char *path)
{
    if (!cJSON_IsArray(item))
        return cfg_type_error(ctx, path, "an array", item);
    int n = cJSON_GetArraySize(item);
    char **arr = FIELD(base, k->off, char *);
    size_t *count = FIELD(base, k->count_off, size_t);
    if (n <= 0)
        return 0;
    char *elems = calloc((size_t)n, k->elem_size);
    if (!elems)
        abort();
    *arr = elems;
    *count = (size_t)n;
    int rc = 0;
    size_t i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, item)
    {
        char ipath[CFG_PATH_MAX];
        void *e = elems + i * k->elem_size;
        cfg_path_index(ipath, path, i++);
        cfg_apply_defaults(k->sub, e);
        if (cfg_parse_object(ctx, k->sub, el, e, ipath))
            rc = -1;
    }
    return rc;
}

static int parse_strings(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item,
                         void *base, const char *path)
{
    if (!cJSON_IsArray(item))
        return cfg_type_error(ctx, path, "an array of strings", item);
    int n = cJSON_GetArraySize(item);
    if (n < k->min) {
        cfg_error(ctx, path, "must hold at least %lld string%s", (long long)k->min,
                  k->min == 1 ? "" : "s");
        return -1;
    }
    int rc = 0;
    size_t i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, item)
    {
        char ipath[CFG_PATH_MAX];
        cfg_path_index(ipath, path, i++);
        if (!cJSON_IsString(el))
            rc = cfg_type_error(ctx, ipath, "a string", el);
        else if (!*el->valuestring) {
            cfg_error(ctx, ipath, "must not be empty");
            rc = -1;
        }
    }
    if (rc != 0 || n <= 0)
        return rc;
    char **strs = calloc((size_t)n, sizeof *strs);
    if (!strs)
        abort();
    i = 0;
    cJSON_ArrayForEach(el, item)
    {
        strs[i++] = util_strdup(el->valuestring);
    }
    *FIELD(base, k->off, char **) = strs;
    *FIELD(base, k->count_off, size_t) = (size_t)n;
    return 0;
}

/* "token" inline or "token_file" read now; exactly one of them. */
static void parse_secret(struct cfg_obj *o, size_t i)
{
    const struct cfg_key *k = &o->table->keys[i];
    struct cfg_ctx *ctx = o->ctx;
    char fkey[64], pin[CFG_PATH_MAX], pfile[CFG_PATH_MAX], msg[768];
    snprintf(fkey, sizeof fkey, "%s_file", k->key);
    cfg_path_key(pin, o->path, k->key);
    cfg_path_key(pfile, o->path, fkey);
    const cJSON *inl = cJSON_GetObjectItemCaseSensitive(o->json, k->key);
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(o->json, fkey);
    char **dst = FIELD(o->base, k->off, char *);
    uint64_t bit = UINT64_C(1) << i;

    if (!inl && !file) {
        if (k->flags & REQ)
            cfg_error(ctx, pin, "missing required key (give %s or %s)", k->key, fkey);
        return;
    }
    o->present |= bit;
    o->bad |= bit; /* until proven good */
    if (inl && file) {
        cfg_error(ctx, pfile, "give either %s or %s, not both", k->key, fkey);
        return;
    }
    if (inl) {
        if (!cJSON_IsString(inl)) {
            cfg_type_error(ctx, pin, "a string", inl);
            return;
        }
        if (!*inl->valuestring) {
            cfg_error(ctx, pin, "must not be empty");
            return;
        }
        cfg_secret_free(*dst);
        *dst = util_strdup(inl->valuestring);
    } else {
        if (!cJSON_IsString(file)) {
            cfg_type_error(ctx, pfile, "a string (a file path)", file);
            return;
        }
        if (!*file->valuestring) {
            cfg_error(ctx, pfile, "must not be empty");
            return;
        }
        char *resolved = cfg_resolve_path(ctx->base_dir, file->valuestring);
        /* A FIFO or a terminal would block the load, a device would feed it
         * without end: secrets come from regular files only. */
        struct stat st;
        char *secret = NULL;
        if (stat(resolved, &st) == 0 && !S_ISREG(st.st_mode))
            snprintf(msg, sizeof msg, "%s: not a regular file", resolved);
        else
            secret = util_read_secret_file(resolved, msg, sizeof msg);
        free(resolved);
        if (!secret) {
            cfg_error(ctx, pfile, "%s", msg);
            return;
        }
        cfg_secret_free(*dst);
        *dst = secret;
    }
    o->bad &= ~bit;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[49];
    if (la > 48 || lb > 48)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known key closest to an unknown one, if it is a plausible typo. */
static bool suggest_key(const struct cfg_table *t, const char *unknown, char *out, size_t n)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < t->nkeys; i++) {
        for (int form = 0; form < (t->keys[i].kind == K_SECRET ? 2 : 1); form++) {
            char cand[64];
            snprintf(cand, sizeof cand, "%s%s", t->keys[i].key, form ? "_file" : "");
            size_t d = edit_distance(unknown, cand);
            size_t limit = strlen(cand) <= 4 ? 1 : 2;
            if (d <= limit && d < best) {
                best = d;
                snprintf(out, n, "%s", cand);
            }
        }
    }
    return best != SIZE_MAX;
}

static bool key_known(const struct cfg_table *t, const char *name)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        const char *key = t->keys[i].key;
        size_t kl = strlen(key);
        if (strcmp(name, key) == 0)
            return true;
        if (t->keys[i].kind == K_SECRET && strncmp(name, key, kl) == 0 &&
            strcmp(name + kl, "_file") == 0)
            return true;
    }
    return false;
}

static void check_keys(struct cfg_obj *o)
{
    for (const cJSON *c = o->json->child; c; c = c->next) {
        char path[CFG_PATH_MAX], hint[64];
        cfg_path_key(path, o->path, c->string);
        /* Only known keys are looked for earlier: an object has at most
         * one of each, so this stays linear in the object's size, while a
         * scan for every key would be quadratic in a hostile body (100,000
         * distinct unknown keys fit in a 1 MiB PUT). An unknown key given
         * twice is reported twice as unknown. */
        bool known = key_known(o->table, c->string), repeated = false;
        for (const cJSON *prev = o->json->child; known && prev != c && !repeated; prev = prev->next)
            repeated = strcmp(prev->string, c->string) == 0;
        if (repeated)
            key_error(o->ctx, path, c, "key given twice");
        else if (known)
            continue;
        else if (suggest_key(o->table, c->string, hint, sizeof hint))
            key_error(o->ctx, path, c, "unknown key (did you mean '%s'?)", hint);
        else
            key_error(o->ctx, path, c, "unknown key");
    }
}

static int parse_value(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *base,
                       const char *path)
{
    void *f = FIELD(base, k->off, char);
    switch (k->kind) {
    case K_STR:
        return parse_str(ctx, k, item, f, path);
    case K_INT:
    case K_U16:
        return parse_int(ctx, k, item, f, path);
    case K_NUM:
        return parse_num(ctx, k, item, f, path);
    case K_BOOL:
        if (!cJSON_IsBool(item))
            return cfg_type_error(ctx, path, "true or false", item);
        *(bool *)f = cJSON_IsTrue(item);
        return 0;
    case K_DUR:
        return parse_dur(ctx, k, item, f, path);
    case K_ENUM:
        return parse_enum(ctx, k, item, f, path);
    case K_FILE:
        return parse_file(ctx, k, item, f, path);
    case K_OBJ:
        return cfg_parse_object(ctx, k->sub, item, f, path);
    case K_ARR:
        return parse_array(ctx, k, item, base, path);
    case K_STRS:
        return parse_strings(ctx, k, item, base, path);
    case K_FN:
        return k->parse(ctx, item, base, path);
    case K_SECRET:
        break; /* parse_secret: it needs the whole object */
    }
    assert(!"unhandled kind");
    return -1;
}

int cfg_parse_object(struct cfg_ctx *ctx, const struct cfg_table *t, const cJSON *json, void *base,
                     const char *path)
{
    size_t before = ctx->nerrors;
    if (!cJSON_IsObject(json))
        return cfg_type_error(ctx, path, "an object", json);
    assert(t->nkeys <= 64);
    struct cfg_obj o = {
        .ctx = ctx, .table = t, .json = json, .base = base, .path = path, .errors_before = before};
    check_keys(&o);
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct cfg_key *k = &t->keys[i];
        if (k->kind == K_SECRET) {
            parse_secret(&o, i);
            continue;
        }
        char kpath[CFG_PATH_MAX];
        cfg_path_key(kpath, path, k->key);
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, k->key);
        if (!item) {
            if (k->flags & REQ)
                cfg_error(ctx, kpath, "missing required key");
            continue;
        }
        o.present |= UINT64_C(1) << i;
        if (parse_value(ctx, k, item, base, kpath))
            o.bad |= UINT64_C(1) << i;
    }
    if (t->check)
        t->check(&o);
    return ctx->nerrors == before ? 0 : -1;
}

/* ---- rules across objects ------------------------------------------------------ */

void cfg_seen_add(struct cfg_ctx *ctx, struct cfg_seen_set *s, const char *name, const char *file,
                  const char *path)
{
    if (!name)
        return;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].name, name) != 0)
            continue;
        if (strcmp(s->v[i].file, file) == 0)
            cfg_error_in(ctx, file, path, "duplicate %s '%s' (first at %s)", s->what, name,
                         s->v[i].path);
        else
            cfg_error_in(ctx, file, path, "duplicate %s '%s' (first in %s: %s)", s->what, name,
                         s->v[i].file, s->v[i].path);
        return;
    }
    vec_reserve_or_abort(s->v, s->cap, s->n + 1);
    s->v[s->n++] = (struct cfg_seen_name){.name = name, .file = file, .path = util_strdup(path)};
}

void cfg_seen_clear(struct cfg_seen_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}
