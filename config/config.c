/*
 * config — floe.json → struct floe_config, driven by one table per object.
 *
 * Every object of the file (site, store, http, a Modbus device, a point, a
 * policy, ...) has a table below listing its keys: kind, struct field,
 * whether it is required, its default (written as it would be in the file)
 * and its validator. One generic walker applies the defaults, rejects
 * unknown and repeated keys, converts and range-checks values and words
 * every message as "FILE: json.path: message", so adding a key is one line
 * and all messages come from one place. Rules that tie several keys of one
 * object together (transport and host, SNMP v3 levels, register spans) live
 * in the table's check hook; rules across objects (unique metric, device,
 * token, peer and policy names) run once at the end. The same tables free
 * the structs, so a new key needs no cleanup code either.
 *
 * Errors are collected, never stopped at, so check-config shows them all.
 * Expressions (policy when/clear/kw, derive, capacity) stay strings here;
 * the policy language module compiles them and reports their errors.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/json_util.h"
#include "lib/perm.h"
#include "lib/util.h"

/* A config with thousands of mistakes is not worth listing in full. */
#define CFG_MAX_ERRORS 1000
#define CFG_PATH_MAX 512

/* Enum fields are written through an int pointer by the walker. */
_Static_assert(sizeof(enum mb_table) == sizeof(int), "enum size");
_Static_assert(sizeof(enum mb_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum mb_order) == sizeof(int), "enum size");
_Static_assert(sizeof(enum mb_transport) == sizeof(int), "enum size");
_Static_assert(sizeof(enum snmp_version) == sizeof(int), "enum size");
_Static_assert(sizeof(enum snmp_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum snmp_auth) == sizeof(int), "enum size");
_Static_assert(sizeof(enum snmp_priv) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_role) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pol_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pol_severity) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pol_action_type) == sizeof(int), "enum size");

/* ---- error collection ------------------------------------------------ */

struct cfg_ctx {
    const char *file;     /* FILE in messages */
    const char *base_dir; /* for relative *_file paths; NULL = cwd */
    struct cfg_errors *errs;
    size_t first_error; /* errs->n when this load started */
    size_t nerrors;     /* errors found, also those past the cap */
};

static void errors_push(struct cfg_errors *errs, char *line)
{
    char **lines = realloc(errs->lines, (errs->n + 1) * sizeof *lines);
    if (!lines)
        abort(); /* a few hundred bytes: nothing sensible is left to do */
    errs->lines = lines;
    errs->lines[errs->n++] = line;
}

/* Control characters from keys or values must not reach a terminal. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* Adds "file: path: message"; file NULL gives just the message, path NULL
 * or "" gives "file: message". */
static void cfg_verror(struct cfg_ctx *ctx, const char *file, const char *path, const char *fmt,
                       va_list ap)
{
    ctx->nerrors++;
    if (ctx->errs->n - ctx->first_error >= CFG_MAX_ERRORS)
        return;
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    char *line;
    int rc;
    if (!file)
        rc = asprintf(&line, "%s", msg);
    else if (!path || !*path)
        rc = asprintf(&line, "%s: %s", file, msg);
    else
        rc = asprintf(&line, "%s: %s: %s", file, path, msg);
    if (rc < 0)
        abort();
    sanitize(line);
    errors_push(ctx->errs, line);
}

static void cfg_error_in(struct cfg_ctx *ctx, const char *file, const char *path, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
static void cfg_error(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cfg_error_in(struct cfg_ctx *ctx, const char *file, const char *path, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verror(ctx, file, path, fmt, ap);
    va_end(ap);
}

static void cfg_error(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verror(ctx, ctx->file, path, fmt, ap);
    va_end(ap);
}

/* Paths longer than CFG_PATH_MAX (only absurd keys make them) end in "...". */
static void path_truncated(char *out, int written)
{
    if (written >= CFG_PATH_MAX)
        memcpy(out + CFG_PATH_MAX - 4, "...", 4);
}

static void path_key(char *out, const char *parent, const char *key)
{
    path_truncated(out, snprintf(out, CFG_PATH_MAX, "%s%s%s", parent, *parent ? "." : "", key));
}

static void path_index(char *out, const char *parent, size_t i)
{
    path_truncated(out, snprintf(out, CFG_PATH_MAX, "%s[%zu]", parent, i));
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

static int type_error(struct cfg_ctx *ctx, const char *path, const char *want, const cJSON *item)
{
    cfg_error(ctx, path, "must be %s, not %s", want, a_type(item));
    return -1;
}

/* ---- the tables' vocabulary ------------------------------------------ */

enum cfg_kind {
    K_STR,    /* char *; non-empty unless EMPTY_OK; .names limits the values, .check validates */
    K_INT,    /* int within [.min, .max] */
    K_U16,    /* uint16_t within [.min, .max] */
    K_NUM,    /* double; NONNEG rejects negatives */
    K_BOOL,   /* bool */
    K_DUR,    /* int64_t ms from "5s" or a number of seconds; >= .min, <= .max if set */
    K_ENUM,   /* int (or char with CHAR_FIELD) from .names */
    K_SECRET, /* char *; "key" inline or "key_file" read at load time */
    K_FILE,   /* char *; a path, resolved against the config's directory */
    K_OBJ,    /* nested object whose fields live in the same struct (.sub) */
    K_ARR,    /* array of objects: new elements of .elem_size, count at .count_off */
    K_FN,     /* parsed by .parse, which writes into the struct itself */
};

enum {
    REQ = 1u << 0,        /* a missing key is an error */
    EMPTY_OK = 1u << 1,   /* K_STR: "" allowed */
    READABLE = 1u << 2,   /* K_FILE: must be readable now */
    NONNEG = 1u << 3,     /* K_NUM: >= 0 */
    CHAR_FIELD = 1u << 4, /* K_ENUM: the field is a char */
};

struct cfg_enum {
    const char *name;
    int value;
};

struct cfg_ctx;
struct cfg_obj;
struct cfg_table;

/* Returns 0, or -1 with a message (without path) in msg. */
typedef int (*cfg_check_fn)(const char *s, char *msg, size_t msglen);
/* Parses item into the struct at base; returns 0 or -1 after reporting. */
typedef int (*cfg_parse_fn)(struct cfg_ctx *ctx, const cJSON *item, void *base, const char *path);

struct cfg_key {
    const char *key;
    enum cfg_kind kind;
    size_t off; /* field offset in the table's struct */
    unsigned flags;
    const char *def; /* default, in file syntax (strings bare); NULL = none */
    int64_t min, max;
    const struct cfg_enum *names; /* NULL-terminated */
    cfg_check_fn check;
    cfg_parse_fn parse;
    const struct cfg_table *sub;
    size_t elem_size, count_off;
};

/* One object being parsed, as seen by its table's check hook. */
struct cfg_obj {
    struct cfg_ctx *ctx;
    const struct cfg_table *table;
    const cJSON *json;
    void *base;
    const char *path;
    uint64_t present; /* bit i: key i was given */
    uint64_t bad;     /* bit i: key i was given and rejected */
};

struct cfg_table {
    const struct cfg_key *keys;
    size_t nkeys;
    void (*check)(struct cfg_obj *o);
};

#define FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))

static size_t key_index(const struct cfg_table *t, const char *key)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (strcmp(t->keys[i].key, key) == 0)
            return i;
    assert(!"check hook names a key its table does not have");
    return 0;
}

/* The key was given (valid or not). */
static bool present(const struct cfg_obj *o, const char *key)
{
    return o->present & (UINT64_C(1) << key_index(o->table, key));
}

/* The key was given and accepted. */
static bool given(const struct cfg_obj *o, const char *key)
{
    uint64_t bit = UINT64_C(1) << key_index(o->table, key);
    return (o->present & bit) && !(o->bad & bit);
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

/* The field holds a value to rely on: its default, or a given value that
 * was accepted. Check hooks skip rules whose inputs were rejected. */
static bool settled(const struct cfg_obj *o, const char *key)
{
    return !present(o, key) || given(o, key);
}

static void obj_error(struct cfg_obj *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error at o->path.key (key NULL: at the object itself). */
static void obj_error(struct cfg_obj *o, const char *key, const char *fmt, ...)
{
    char path[CFG_PATH_MAX], spelling[64];
    if (key)
        path_key(path, o->path, spelled(o, key, spelling, sizeof spelling));
    else
        snprintf(path, sizeof path, "%s", o->path);
    va_list ap;
    va_start(ap, fmt);
    cfg_verror(o->ctx, o->ctx->file, path, fmt, ap);
    va_end(ap);
}

static int enum_lookup(const struct cfg_enum *names, const char *s, int *value)
{
    for (; names->name; names++)
        if (strcmp(names->name, s) == 0) {
            *value = names->value;
            return 0;
        }
    return -1;
}

static const char *enum_name(const struct cfg_enum *names, int value)
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

static void secret_free(char *s)
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
 * config and its secrets can move together. Returns a new string. */
static char *resolve_path(const char *base_dir, const char *path)
{
    if (path[0] == '/' || !base_dir || !*base_dir)
        return util_strdup(path);
    char *out;
    size_t bl = strlen(base_dir);
    if (asprintf(&out, "%s%s%s", base_dir, base_dir[bl - 1] == '/' ? "" : "/", path) < 0)
        abort();
    return out;
}

/* ---- validators for strings ------------------------------------------ */

static int check_name(const char *s, char *msg, size_t n)
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

static int check_metric(const char *s, char *msg, size_t n)
{
    if (!util_metric_name_valid(s))
        return errf(msg, n,
                    "'%.64s' is not a metric name: use [a-z0-9_]+ segments joined by '.' "
                    "(e.g. cooling.chiller1.capacity_kw)",
                    s);
    return 0;
}

static int check_oid(const char *s, char *msg, size_t n)
{
    const char *p = s;
    int parts = 0;
    for (;;) {
        unsigned long long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (unsigned long long)(*p++ - '0');
            if (++digits > 10)
                break;
        }
        if (digits == 0 || digits > 10 || v > 4294967295ULL)
            goto bad;
        parts++;
        if (*p == '\0')
            break;
        if (*p++ != '.')
            goto bad;
    }
    if (parts >= 2 && parts <= 128)
        return 0;
bad:
    return errf(msg, n,
                "must be a numeric OID: numbers joined by dots, e.g. 1.3.6.1.2.1.33.1.2.4.0");
}

static int check_host(const char *s, char *msg, size_t n)
{
    bool ok = strlen(s) <= 253;
    for (const char *p = s; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && *p != 0x7f && *p != '/';
    if (!ok)
        return errf(msg, n, "must be a host name or an IP address");
    return 0;
}

static int check_url(const char *s, char *msg, size_t n)
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

static int check_listen(const char *s, char *msg, size_t n)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        goto bad;
    const char *port = colon + 1;
    if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
        goto bad;
    long p = strtol(port, NULL, 10);
    if (p < 1 || p > 65535)
        goto bad;
    size_t hl = (size_t)(colon - s);
    memcpy(host, s, hl);
    host[hl] = '\0';
    unsigned char addr[16];
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']')
            goto bad;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, addr) != 1)
            goto bad;
    } else if (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, addr) != 1) {
        goto bad;
    }
    return 0;
bad:
    return errf(msg, n,
                "must be IP:PORT, e.g. \"127.0.0.1:8470\", \"0.0.0.0:8470\" or \"[::1]:8470\"");
}

/* glibc falls back to UTC for a zone it cannot find, which would shift
 * every schedule window silently; so check the zone database when the
 * system has one. */
static int check_timezone(const char *s, char *msg, size_t n)
{
    if (strcmp(s, "UTC") == 0)
        return 0;
    bool ok = s[0] != '/' && strlen(s) < 128 && !strstr(s, "..");
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr("_+-/", *p);
    if (!ok)
        return errf(msg, n, "must be an IANA time zone name such as \"Europe/Stockholm\"");
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0; /* no zone database on this system: nothing to check against */
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, s);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return errf(msg, n, "unknown time zone '%s' (not in %s)", s, dir);
    return 0;
}

static int check_zone(const char *s, char *msg, size_t n)
{
    if (strlen(s) < 2 || s[strlen(s) - 1] != '.')
        return errf(msg, n,
                    "must be a canonical zone name ending in '.' (e.g. \"apps.example.org.\")");
    return 0;
}

/* ---- custom parsers --------------------------------------------------- */

static const struct cfg_enum weekdays[] = {
    {"mon", 0}, {"tue", 1}, {"wed", 2}, {"thu", 3}, {"fri", 4}, {"sat", 5}, {"sun", 6}, {NULL, 0},
};

static int two_digits(const char *p)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* "HH:MM" → minutes after midnight; "24:00" only where allow_24. */
static int clock_minutes(const char *p, bool allow_24)
{
    int h = two_digits(p), m = two_digits(p + 3);
    if (p[2] != ':' || h < 0 || m < 0 || m > 59)
        return -1;
    if (h == 24 && m == 0 && allow_24)
        return 24 * 60;
    if (h > 23)
        return -1;
    return h * 60 + m;
}

static int parse_window(struct cfg_ctx *ctx, const cJSON *item, void *base, const char *path)
{
    struct cfg_policy *p = base;
    if (!cJSON_IsString(item))
        return type_error(ctx, path, "a string \"HH:MM-HH:MM\"", item);
    const char *s = item->valuestring;
    int start = -1, end = -1;
    if (strlen(s) == 11 && s[5] == '-') {
        start = clock_minutes(s, false);
        end = clock_minutes(s + 6, true);
    }
    if (start < 0 || end < 0) {
        cfg_error(ctx, path, "must be \"HH:MM-HH:MM\" in 24-hour time, e.g. \"01:00-05:00\"");
        return -1;
    }
    end %= 24 * 60; /* "24:00" is midnight at the end of the day */
    if (start == end) {
        cfg_error(ctx, path,
                  "covers no time or the whole day; leave the schedule out to run at all times");
        return -1;
    }
    p->schedule.start_min = start;
    p->schedule.end_min = end;
    return 0;
}

static int parse_days(struct cfg_ctx *ctx, const cJSON *item, void *base, const char *path)
{
    struct cfg_policy *p = base;
    if (!cJSON_IsArray(item))
        return type_error(ctx, path, "an array of days", item);
    if (!item->child) {
        cfg_error(ctx, path, "must not be empty (leave \"days\" out for every day)");
        return -1;
    }
    unsigned mask = 0;
    size_t i = 0;
    int rc = 0;
    const cJSON *day;
    cJSON_ArrayForEach(day, item)
    {
        char ipath[CFG_PATH_MAX];
        path_index(ipath, path, i++);
        int d;
        if (!cJSON_IsString(day) || enum_lookup(weekdays, day->valuestring, &d)) {
            cfg_error(ctx, ipath, "must be one of mon, tue, wed, thu, fri, sat, sun");
            rc = -1;
            continue;
        }
        mask |= 1u << d;
    }
    p->schedule.days_mask = mask;
    return rc;
}

/* ---- enumerations ----------------------------------------------------- */

static const struct cfg_enum mb_tables[] = {
    {"holding", MB_TABLE_HOLDING},
    {"input", MB_TABLE_INPUT},
    {"coil", MB_TABLE_COIL},
    {"discrete", MB_TABLE_DISCRETE},
    {NULL, 0},
};
static const struct cfg_enum mb_types[] = {
    {"uint16", MB_TYPE_UINT16},   {"int16", MB_TYPE_INT16},
    {"uint32", MB_TYPE_UINT32},   {"int32", MB_TYPE_INT32},
    {"float32", MB_TYPE_FLOAT32}, {"uint64", MB_TYPE_UINT64},
    {"int64", MB_TYPE_INT64},     {"float64", MB_TYPE_FLOAT64},
    {"bool", MB_TYPE_BOOL},       {NULL, 0},
};
static const struct cfg_enum mb_orders[] = {
    {"ABCD", MB_ORDER_ABCD},
    {"DCBA", MB_ORDER_DCBA},
    {"BADC", MB_ORDER_BADC},
    {"CDAB", MB_ORDER_CDAB},
    {NULL, 0},
};
static const struct cfg_enum mb_transports[] = {
    {"tcp", MB_TRANSPORT_TCP},
    {"rtu", MB_TRANSPORT_RTU},
    {NULL, 0},
};
static const struct cfg_enum mb_parities[] = {{"N", 'N'}, {"E", 'E'}, {"O", 'O'}, {NULL, 0}};
static const struct cfg_enum snmp_versions[] = {
    {"1", SNMP_V1},
    {"2c", SNMP_V2C},
    {"3", SNMP_V3},
    {NULL, 0},
};
static const struct cfg_enum snmp_levels[] = {
    {"noAuthNoPriv", SNMP_NOAUTH_NOPRIV},
    {"authNoPriv", SNMP_AUTH_NOPRIV},
    {"authPriv", SNMP_AUTH_PRIV},
    {NULL, 0},
};
static const struct cfg_enum snmp_auths[] = {
    {"MD5", SNMP_AUTH_MD5},
    {"SHA", SNMP_AUTH_SHA},
    {"SHA-256", SNMP_AUTH_SHA256},
    {"SHA-512", SNMP_AUTH_SHA512},
    {NULL, 0},
};
static const struct cfg_enum snmp_privs[] = {
    {"DES", SNMP_PRIV_DES},
    {"AES", SNMP_PRIV_AES},
    {"AES-256", SNMP_PRIV_AES256},
    {NULL, 0},
};
static const struct cfg_enum roles[] = {
    {"read", ROLE_READ}, {"operator", ROLE_OPERATOR}, {"admin", ROLE_ADMIN}, {"peer", ROLE_PEER},
    {NULL, 0},
};
static const struct cfg_enum severities[] = {
    {"warning", POL_SEV_WARNING},
    {"critical", POL_SEV_CRITICAL},
    {NULL, 0},
};
static const struct cfg_enum modes[] = {
    {"auto", POL_MODE_AUTO},
    {"approve", POL_MODE_APPROVE},
    {"observe", POL_MODE_OBSERVE},
    {NULL, 0},
};
static const struct cfg_enum action_types[] = {
    {"notify", POL_ACTION_NOTIFY},
    {"shed", POL_ACTION_SHED},
    {"rebalance", POL_ACTION_REBALANCE},
    {NULL, 0},
};
static const struct cfg_enum workload_sources[] = {{"kubernetes", 0}, {"static", 0}, {NULL, 0}};
static const struct cfg_enum migrator_drivers[] = {{"velero", 0}, {NULL, 0}};
static const struct cfg_enum traffic_drivers[] = {
    {"powerdns", 0}, {"webhook", 0}, {"none", 0}, {NULL, 0}};

/* ---- check hooks: rules across the keys of one object ----------------- */

static int mb_type_registers(enum mb_type t)
{
    switch (t) {
    case MB_TYPE_UINT32:
    case MB_TYPE_INT32:
    case MB_TYPE_FLOAT32:
        return 2;
    case MB_TYPE_UINT64:
    case MB_TYPE_INT64:
    case MB_TYPE_FLOAT64:
        return 4;
    default:
        return 1;
    }
}

/* Settles the point's type (bool for coils, discretes and register bits,
 * uint16 for other registers unless given) and checks that the registers
 * it spans exist. */
static void mb_point_check(struct cfg_obj *o)
{
    struct cfg_mb_point *pt = o->base;
    if (!given(o, "table"))
        return;
    if (pt->table == MB_TABLE_COIL || pt->table == MB_TABLE_DISCRETE) {
        if (present(o, "bit"))
            obj_error(o, "bit", "only holding and input registers have bits");
        if (given(o, "type") && pt->type != MB_TYPE_BOOL)
            obj_error(o, "type", "coils and discrete inputs are bool");
        pt->type = MB_TYPE_BOOL;
        return;
    }
    if (present(o, "bit")) {
        if (given(o, "type") && pt->type != MB_TYPE_BOOL)
            obj_error(o, "type", "a register bit is bool (leave \"type\" out)");
        pt->type = MB_TYPE_BOOL;
        return;
    }
    if (!present(o, "type"))
        pt->type = MB_TYPE_UINT16;
    else if (!given(o, "type"))
        return;
    if (pt->type == MB_TYPE_BOOL) {
        obj_error(o, "type", "bool on a %s register needs \"bit\" (0-15)",
                  enum_name(mb_tables, (int)pt->table));
        return;
    }
    int nregs = mb_type_registers(pt->type);
    if (given(o, "address") && (long)pt->address + nregs - 1 > 65535)
        obj_error(o, "address", "a %s at %u spans %d registers and runs past 65535",
                  enum_name(mb_types, (int)pt->type), (unsigned)pt->address, nregs);
}

static void mb_device_check(struct cfg_obj *o)
{
    static const char *const rtu_only[] = {"device", "baud", "parity", "data_bits", "stop_bits"};
    static const char *const tcp_only[] = {"host", "port"};
    struct cfg_mb_device *d = o->base;

    if (settled(o, "transport")) {
        bool tcp = d->transport == MB_TRANSPORT_TCP;
        const char *const *other = tcp ? rtu_only : tcp_only;
        size_t nother = tcp ? ARRAY_LEN(rtu_only) : ARRAY_LEN(tcp_only);
        for (size_t i = 0; i < nother; i++)
            if (present(o, other[i]))
                obj_error(o, other[i], "only for transport \"%s\"", tcp ? "rtu" : "tcp");
        if (tcp && !present(o, "host"))
            obj_error(o, "host", "missing required key (transport \"tcp\" needs a host)");
        if (!tcp && !present(o, "device"))
            obj_error(o, "device",
                      "missing required key (transport \"rtu\" needs a serial device)");
        /* 0 and 255 address a TCP gateway itself; on a serial line 0 is
         * broadcast (no replies) and 248..255 are reserved. */
        if (given(o, "unit_id") && tcp && d->unit_id > 247 && d->unit_id != 255)
            obj_error(o, "unit_id", "must be between 0 and 247, or 255");
        if (given(o, "unit_id") && !tcp && (d->unit_id < 1 || d->unit_id > 247))
            obj_error(o, "unit_id", "must be between 1 and 247 on a serial line");
    }

    if (!settled(o, "max_registers") || !given(o, "points"))
        return;
    for (size_t i = 0; i < d->npoints; i++) {
        const struct cfg_mb_point *pt = &d->points[i];
        int nregs = mb_type_registers(pt->type);
        if (pt->table != MB_TABLE_COIL && pt->table != MB_TABLE_DISCRETE &&
            nregs > d->max_registers) {
            char path[CFG_PATH_MAX];
            path_truncated(path, snprintf(path, sizeof path, "%s.points[%zu].type", o->path, i));
            cfg_error(o->ctx, path,
                      "a %s needs %d registers in one request but max_registers is %d",
                      enum_name(mb_types, (int)pt->type), nregs, d->max_registers);
        }
    }
}

/* Replaces every "{index}" with "0" so the rest can be checked as a
 * metric name. Returns a new string. */
static char *metric_template_sample(const char *metric)
{
    char *out = util_strdup(metric), *w = out;
    for (const char *r = metric; *r;) {
        if (strncmp(r, "{index}", 7) == 0) {
            *w++ = '0';
            r += 7;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return out;
}

static void snmp_point_check(struct cfg_obj *o)
{
    struct cfg_snmp_point *p = o->base;
    bool oid = present(o, "oid"), walk = present(o, "walk");
    if (oid && walk)
        obj_error(o, "walk", "give either \"oid\" or \"walk\", not both");
    else if (!oid && !walk)
        obj_error(o, NULL, "needs \"oid\" (one value) or \"walk\" (a table subtree)");
    if (!given(o, "metric"))
        return;
    char msg[256];
    if (walk && !oid) {
        if (!strstr(p->metric, "{index}")) {
            obj_error(o, "metric",
                      "a walk metric must contain {index} (replaced by each row's OID suffix)");
            return;
        }
        char *sample = metric_template_sample(p->metric);
        if (check_metric(sample, msg, sizeof msg))
            obj_error(o, "metric",
                      "'%.64s' is not a metric name template: use [a-z0-9_]+ segments "
                      "joined by '.', with {index} (e.g. power.pdu1.outlet{index}_w)",
                      p->metric);
        free(sample);
    } else if (strstr(p->metric, "{index}")) {
        obj_error(o, "metric", "{index} is only for walk points");
    } else if (check_metric(p->metric, msg, sizeof msg)) {
        obj_error(o, "metric", "%s", msg);
    }
}

static void snmp_device_check(struct cfg_obj *o)
{
    static const char *const v3_only[] = {"user",          "level",         "auth_protocol",
                                          "auth_password", "priv_protocol", "priv_password",
                                          "context"};
    struct cfg_snmp_device *d = o->base;
    if (!settled(o, "version"))
        return;
    if (d->version != SNMP_V3) {
        for (size_t i = 0; i < ARRAY_LEN(v3_only); i++)
            if (present(o, v3_only[i]))
                obj_error(o, v3_only[i], "only for version 3");
        return;
    }
    if (present(o, "community"))
        obj_error(o, "community", "only for versions 1 and 2c (version 3 uses user and passwords)");
    else {
        secret_free(d->community); /* the table's default is for v1/v2c */
        d->community = NULL;
    }
    if (!present(o, "user"))
        obj_error(o, "user", "missing required key (SNMP version 3 needs a user)");

    bool auth = present(o, "auth_password"), priv = present(o, "priv_password");
    /* Without an explicit level, the passwords given say what is meant. */
    if (!present(o, "level"))
        d->level = priv ? SNMP_AUTH_PRIV : auth ? SNMP_AUTH_NOPRIV : SNMP_NOAUTH_NOPRIV;
    else if (!given(o, "level"))
        return;
    const char *level = enum_name(snmp_levels, (int)d->level);
    if (d->level == SNMP_NOAUTH_NOPRIV) {
        static const char *const unused[] = {"auth_protocol", "auth_password", "priv_protocol",
                                             "priv_password"};
        for (size_t i = 0; i < ARRAY_LEN(unused); i++)
            if (present(o, unused[i]))
                obj_error(o, unused[i], "not used with level noAuthNoPriv");
        return;
    }
    if (!auth)
        obj_error(o, "auth_password",
                  "missing required key (level %s needs auth_password or auth_password_file)",
                  level);
    if (!present(o, "auth_protocol"))
        d->auth_protocol = SNMP_AUTH_SHA;
    if (d->level == SNMP_AUTH_NOPRIV) {
        if (present(o, "priv_protocol"))
            obj_error(o, "priv_protocol", "not used with level authNoPriv");
        if (priv)
            obj_error(o, "priv_password", "not used with level authNoPriv");
    } else {
        if (!priv)
            obj_error(
                o, "priv_password",
                "missing required key (level authPriv needs priv_password or priv_password_file)");
        if (!present(o, "priv_protocol"))
            d->priv_protocol = SNMP_PRIV_AES;
    }
    /* USM derives keys from the password and refuses shorter ones. */
    if (given(o, "auth_password") && d->auth_password && strlen(d->auth_password) < 8)
        obj_error(o, "auth_password", "must be at least 8 characters (SNMPv3 USM)");
    if (given(o, "priv_password") && d->level == SNMP_AUTH_PRIV && d->priv_password &&
        strlen(d->priv_password) < 8)
        obj_error(o, "priv_password", "must be at least 8 characters (SNMPv3 USM)");
}

static void action_check(struct cfg_obj *o)
{
    static const char *const rebalance_only[] = {"min_gain_kw", "max_migrations", "min_residency"};
    struct cfg_policy *p = o->base;
    if (!settled(o, "type"))
        return;
    const char *type = enum_name(action_types, (int)p->action.type);
    if (p->action.type == POL_ACTION_SHED && !present(o, "kw"))
        obj_error(o, "kw", "missing required key (a shed action needs the kW to move)");
    if (p->action.type != POL_ACTION_SHED && present(o, "kw"))
        obj_error(o, "kw", "only for type \"shed\"");
    if (p->action.type == POL_ACTION_NOTIFY && present(o, "deadline"))
        obj_error(o, "deadline", "not used by type \"notify\"");
    if (p->action.type != POL_ACTION_REBALANCE)
        for (size_t i = 0; i < ARRAY_LEN(rebalance_only); i++)
            if (present(o, rebalance_only[i]))
                obj_error(o, rebalance_only[i],
                          "only for type \"rebalance\" (this action is \"%s\")", type);
}

static void schedule_check(struct cfg_obj *o)
{
    struct cfg_policy *p = o->base;
    p->has_schedule = true;
    if (!present(o, "days"))
        p->schedule.days_mask = 0x7f;
}

static void static_workload_check(struct cfg_obj *o)
{
    struct cfg_static_workload *w = o->base;
    if (!present(o, "namespace") && w->name)
        w->namespace_ = util_strdup(w->name);
}

static void workloads_check(struct cfg_obj *o)
{
    struct floe_config *cfg = o->base;
    const char *source = given(o, "source") ? cfg->workloads.source : NULL;
    if (present(o, "source") && !source)
        return;
    bool k8s = source && strcmp(source, "kubernetes") == 0;
    bool statics = source && strcmp(source, "static") == 0;
    if (k8s && !present(o, "kubernetes"))
        obj_error(o, "kubernetes", "missing required key (source \"kubernetes\")");
    if (!k8s && present(o, "kubernetes"))
        obj_error(o, "kubernetes", "only used with source \"kubernetes\"");
    if (!statics && present(o, "static"))
        obj_error(o, "static", "only used with source \"static\"");
}

static void traffic_check(struct cfg_obj *o)
{
    static const char *const powerdns_keys[] = {"api", "api_key", "zone"};
    static const char *const powerdns_only[] = {"api", "api_key", "server_id", "zone"};
    struct floe_config *cfg = o->base;
    if (!settled(o, "driver"))
        return;
    if (strcmp(cfg->traffic.driver, "powerdns") == 0) {
        for (size_t i = 0; i < ARRAY_LEN(powerdns_keys); i++)
            if (!present(o, powerdns_keys[i]))
                obj_error(o, powerdns_keys[i], "missing required key (driver \"powerdns\")");
        if (present(o, "url"))
            obj_error(o, "url", "only for driver \"webhook\"");
    } else if (strcmp(cfg->traffic.driver, "webhook") == 0) {
        if (!present(o, "url"))
            obj_error(o, "url", "missing required key (driver \"webhook\")");
        for (size_t i = 0; i < ARRAY_LEN(powerdns_only); i++)
            if (present(o, powerdns_only[i]))
                obj_error(o, powerdns_only[i], "only for driver \"powerdns\"");
    }
    /* driver "none" keeps whatever else is set, so cut-over can be switched
     * off for maintenance without deleting its settings. */
}

/* ---- the tables -------------------------------------------------------- */

/* The tables read best as tables: keep the formatter out of them. */
// clang-format off
#define KEY(name, kd, fld, ...) { .key = (name), .kind = (kd), .off = offsetof(T, fld), __VA_ARGS__ }
/* A nested object whose fields live in the enclosing struct. */
#define NESTED(name, table_, ...) { .key = (name), .kind = K_OBJ, .off = 0, .sub = &(table_), __VA_ARGS__ }
#define ARRAY(name, fld, elem_type, count_fld, table_, ...)                                       \
    { .key = (name), .kind = K_ARR, .off = offsetof(T, fld), .sub = &(table_),                   \
      .elem_size = sizeof(elem_type), .count_off = offsetof(T, count_fld), __VA_ARGS__ }
#define FN(name, fn, ...) { .key = (name), .kind = K_FN, .parse = (fn), __VA_ARGS__ }
#define TABLE(keys_, check_) { .keys = (keys_), .nkeys = ARRAY_LEN(keys_), .check = (check_) }

#define T struct cfg_mb_point
static const struct cfg_key mb_point_keys[] = {
    KEY("metric", K_STR, metric, .flags = REQ, .check = check_metric),
    KEY("table", K_ENUM, table, .flags = REQ, .names = mb_tables),
    KEY("address", K_U16, address, .flags = REQ, .min = 0, .max = 65535),
    KEY("type", K_ENUM, type, .names = mb_types), /* default set by mb_point_check */
    KEY("order", K_ENUM, order, .def = "ABCD", .names = mb_orders),
    KEY("bit", K_INT, bit, .def = "-1", .min = 0, .max = 15),
    KEY("scale", K_NUM, scale, .def = "1"),
    KEY("offset", K_NUM, offset, .def = "0"),
    KEY("unit", K_STR, unit, .flags = EMPTY_OK, .def = ""),
};
#undef T
static const struct cfg_table mb_point_table = TABLE(mb_point_keys, mb_point_check);

#define T struct cfg_mb_device
static const struct cfg_key mb_device_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = check_name),
    KEY("transport", K_ENUM, transport, .def = "tcp", .names = mb_transports),
    KEY("host", K_STR, host, .check = check_host),
    KEY("port", K_INT, port, .def = "502", .min = 1, .max = 65535),
    KEY("device", K_STR, device),
    KEY("baud", K_INT, baud, .def = "9600", .min = 50, .max = 4000000),
    KEY("parity", K_ENUM, parity, .flags = CHAR_FIELD, .def = "N", .names = mb_parities),
    KEY("data_bits", K_INT, data_bits, .def = "8", .min = 5, .max = 8),
    KEY("stop_bits", K_INT, stop_bits, .def = "1", .min = 1, .max = 2),
    KEY("unit_id", K_INT, unit_id, .def = "1", .min = 0, .max = 255),
    KEY("interval", K_DUR, interval_ms, .def = "5s", .min = 1),
    KEY("timeout", K_DUR, timeout_ms, .def = "1s", .min = 1),
    KEY("retries", K_INT, retries, .def = "1", .min = 0, .max = 10),
    KEY("max_registers", K_INT, max_registers, .def = "125", .min = 1, .max = 125),
    KEY("max_gap", K_INT, max_gap, .def = "8", .min = 0, .max = 2000),
    KEY("pause_after_connect", K_DUR, pause_after_connect_ms, .def = "0s"),
    KEY("pause_between_requests", K_DUR, pause_between_requests_ms, .def = "0s"),
    KEY("close_after_poll", K_BOOL, close_after_poll, .def = "false"),
    KEY("one_request_per_point", K_BOOL, one_request_per_point, .def = "false"),
    KEY("busy_retries", K_INT, busy_retries, .def = "0", .min = 0, .max = 100),
    KEY("busy_retry_wait", K_DUR, busy_retry_wait_ms, .def = "500ms"),
    ARRAY("points", points, struct cfg_mb_point, npoints, mb_point_table, .flags = REQ),
};
#undef T
static const struct cfg_table mb_device_table = TABLE(mb_device_keys, mb_device_check);

#define T struct cfg_snmp_point
static const struct cfg_key snmp_point_keys[] = {
    KEY("metric", K_STR, metric, .flags = REQ), /* checked with oid/walk in snmp_point_check */
    KEY("oid", K_STR, oid, .check = check_oid),
    KEY("walk", K_STR, walk, .check = check_oid),
    KEY("scale", K_NUM, scale, .def = "1"),
    KEY("offset", K_NUM, offset, .def = "0"),
    KEY("unit", K_STR, unit, .flags = EMPTY_OK, .def = ""),
};
#undef T
static const struct cfg_table snmp_point_table = TABLE(snmp_point_keys, snmp_point_check);

#define T struct cfg_snmp_device
static const struct cfg_key snmp_device_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = check_name),
    KEY("host", K_STR, host, .flags = REQ, .check = check_host),
    KEY("port", K_INT, port, .def = "161", .min = 1, .max = 65535),
    KEY("version", K_ENUM, version, .def = "2c", .names = snmp_versions),
    KEY("community", K_SECRET, community, .def = "public"), /* v1/v2c only: snmp_device_check */
    KEY("user", K_STR, user),
    KEY("level", K_ENUM, level, .names = snmp_levels), /* default from the passwords given */
    KEY("auth_protocol", K_ENUM, auth_protocol, .names = snmp_auths), /* default SHA */
    KEY("auth_password", K_SECRET, auth_password),
    KEY("priv_protocol", K_ENUM, priv_protocol, .names = snmp_privs), /* default AES */
    KEY("priv_password", K_SECRET, priv_password),
    KEY("context", K_STR, context, .flags = EMPTY_OK),
    KEY("interval", K_DUR, interval_ms, .def = "10s", .min = 1),
    KEY("timeout", K_DUR, timeout_ms, .def = "1s", .min = 1),
    KEY("retries", K_INT, retries, .def = "1", .min = 0, .max = 10),
    ARRAY("points", points, struct cfg_snmp_point, npoints, snmp_point_table, .flags = REQ),
};
#undef T
static const struct cfg_table snmp_device_table = TABLE(snmp_device_keys, snmp_device_check);

#define T struct cfg_token
static const struct cfg_key token_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = check_name),
    KEY("role", K_ENUM, role, .flags = REQ, .names = roles),
    KEY("token", K_SECRET, token, .flags = REQ),
};
#undef T
static const struct cfg_table token_table = TABLE(token_keys, NULL);

#define T struct cfg_derive
static const struct cfg_key derive_keys[] = {
    KEY("metric", K_STR, metric, .flags = REQ, .check = check_metric),
    KEY("expr", K_STR, expr, .flags = REQ),
    KEY("unit", K_STR, unit, .flags = EMPTY_OK, .def = ""),
};
#undef T
static const struct cfg_table derive_table = TABLE(derive_keys, NULL);

#define T struct cfg_policy
static const struct cfg_key action_keys[] = {
    KEY("type", K_ENUM, action.type, .def = "notify", .names = action_types),
    KEY("kw", K_STR, action.kw),
    KEY("deadline", K_DUR, action.deadline_ms, .def = "0s"),
    KEY("min_gain_kw", K_NUM, action.min_gain_kw, .flags = NONNEG, .def = "0"),
    KEY("max_migrations", K_INT, action.max_migrations, .def = "1", .min = 1, .max = 1000),
    KEY("min_residency", K_DUR, action.min_residency_ms, .def = "24h"),
};
static const struct cfg_table action_table = TABLE(action_keys, action_check);

static const struct cfg_key schedule_keys[] = {
    FN("window", parse_window, .flags = REQ),
    FN("days", parse_days), /* every day when left out: schedule_check */
};
static const struct cfg_table schedule_table = TABLE(schedule_keys, schedule_check);

static const struct cfg_key policy_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = check_name),
    KEY("description", K_STR, description, .flags = EMPTY_OK, .def = ""),
    KEY("when", K_STR, when, .flags = REQ),
    KEY("for", K_DUR, for_ms, .def = "0s"),
    KEY("clear", K_STR, clear),
    KEY("clear_for", K_DUR, clear_for_ms, .def = "0s"),
    KEY("severity", K_ENUM, severity, .def = "warning", .names = severities),
    KEY("mode", K_ENUM, mode, .def = "observe", .names = modes),
    /* 0 would yield a decision on every tick while firing. */
    KEY("cooldown", K_DUR, cooldown_ms, .def = "15m", .min = 1),
    NESTED("action", action_table),
    NESTED("schedule", schedule_table),
};
#undef T
static const struct cfg_table policy_table = TABLE(policy_keys, NULL);

#define T struct cfg_peer
static const struct cfg_key peer_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = check_name),
    KEY("url", K_STR, url, .flags = REQ, .check = check_url),
    KEY("token", K_SECRET, token, .flags = REQ),
    KEY("ca_file", K_FILE, ca_file, .flags = READABLE),
    KEY("ingress", K_STR, ingress, .check = check_host),
    KEY("velero_storage_location", K_STR, velero_storage_location),
};
#undef T
static const struct cfg_table peer_table = TABLE(peer_keys, NULL);

#define T struct cfg_static_workload
static const struct cfg_key static_workload_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = check_name),
    KEY("namespace", K_STR, namespace_), /* default: the name (static_workload_check) */
    KEY("power_kw", K_NUM, power_kw, .flags = REQ | NONNEG),
    KEY("data_gb", K_NUM, data_gb, .flags = NONNEG, .def = "0"),
    KEY("priority", K_INT, priority, .def = "50", .min = 0, .max = 1000),
    KEY("stateless", K_BOOL, stateless, .def = "false"),
    KEY("hostname", K_STR, hostname, .check = check_host),
};
#undef T
static const struct cfg_table static_workload_table = TABLE(static_workload_keys, static_workload_check);

#define T struct floe_config
static const struct cfg_key site_keys[] = {
    KEY("name", K_STR, site.name, .flags = REQ, .check = check_name),
    KEY("timezone", K_STR, site.timezone, .def = "UTC", .check = check_timezone),
    KEY("ingress", K_STR, site.ingress, .check = check_host),
};
static const struct cfg_table site_table = TABLE(site_keys, NULL);

static const struct cfg_key store_keys[] = {
    KEY("path", K_STR, store.path, .def = CFG_DEFAULT_STORE_PATH),
    KEY("retention", K_DUR, store.retention_ms, .def = "30d", .min = 1),
};
static const struct cfg_table store_table = TABLE(store_keys, NULL);

static const struct cfg_key tls_keys[] = {
    KEY("cert_file", K_FILE, http.tls_cert_file, .flags = REQ | READABLE),
    KEY("key_file", K_FILE, http.tls_key_file, .flags = REQ | READABLE),
};
static const struct cfg_table tls_table = TABLE(tls_keys, NULL);

static const struct cfg_key http_keys[] = {
    KEY("listen", K_STR, http.listen, .def = CFG_DEFAULT_LISTEN, .check = check_listen),
    NESTED("tls", tls_table),
    KEY("anonymous_read", K_BOOL, http.anonymous_read, .def = "false"),
    ARRAY("tokens", http.tokens, struct cfg_token, http.ntokens, token_table),
};
static const struct cfg_table http_table = TABLE(http_keys, NULL);

static const struct cfg_key capacity_keys[] = {
    KEY("power_headroom_kw", K_STR, capacity.power_headroom_kw, .def = "power.supply_kw - it.load_kw"),
    KEY("cooling_headroom_kw", K_STR, capacity.cooling_headroom_kw, .def = "cooling.capacity_kw - it.load_kw"),
    KEY("margin_kw", K_NUM, capacity.margin_kw, .flags = NONNEG, .def = "0"),
};
static const struct cfg_table capacity_table = TABLE(capacity_keys, NULL);

static const struct cfg_key kubernetes_keys[] = {
    KEY("api", K_STR, workloads.k8s_api, .flags = REQ, .check = check_url),
    KEY("token", K_SECRET, workloads.k8s_token, .flags = REQ),
    KEY("ca_file", K_FILE, workloads.k8s_ca_file, .flags = READABLE),
    KEY("label_selector", K_STR, workloads.k8s_label_selector, .def = "floe.dev/movable=true"),
};
static const struct cfg_table kubernetes_table = TABLE(kubernetes_keys, NULL);

static const struct cfg_key workloads_keys[] = {
    KEY("source", K_STR, workloads.source, .names = workload_sources),
    NESTED("kubernetes", kubernetes_table),
    ARRAY("static", workloads.statics, struct cfg_static_workload, workloads.nstatics, static_workload_table),
};
static const struct cfg_table workloads_table = TABLE(workloads_keys, workloads_check);

static const struct cfg_key migrator_keys[] = {
    KEY("driver", K_STR, migrator.driver, .def = "velero", .names = migrator_drivers),
    KEY("velero_namespace", K_STR, migrator.velero_namespace, .def = "velero", .check = check_name),
    KEY("delta_interval", K_DUR, migrator.delta_interval_ms, .def = "10m", .min = 1),
    KEY("max_parallel", K_INT, migrator.max_parallel, .def = "2", .min = 1, .max = 64),
    KEY("backup_ttl", K_DUR, migrator.backup_ttl_ms, .def = "72h", .min = 1),
    KEY("retain_source", K_DUR, migrator.retain_source_ms, .def = "24h"),
    KEY("incremental_restore", K_BOOL, migrator.incremental_restore, .def = "false"),
};
static const struct cfg_table migrator_table = TABLE(migrator_keys, NULL);

static const struct cfg_key traffic_keys[] = {
    KEY("driver", K_STR, traffic.driver, .def = "none", .names = traffic_drivers),
    KEY("api", K_STR, traffic.api, .check = check_url),
    KEY("api_key", K_SECRET, traffic.api_key),
    KEY("server_id", K_STR, traffic.server_id, .def = "localhost"),
    KEY("zone", K_STR, traffic.zone, .check = check_zone),
    KEY("ttl", K_INT, traffic.ttl, .def = "30", .min = 1, .max = 86400),
    KEY("url", K_STR, traffic.url, .check = check_url),
};
static const struct cfg_table traffic_table = TABLE(traffic_keys, traffic_check);

static const struct cfg_key root_keys[] = {
    NESTED("site", site_table, .flags = REQ),
    NESTED("store", store_table),
    NESTED("http", http_table),
    ARRAY("modbus", modbus, struct cfg_mb_device, nmodbus, mb_device_table),
    ARRAY("snmp", snmp, struct cfg_snmp_device, nsnmp, snmp_device_table),
    ARRAY("derive", derive, struct cfg_derive, nderive, derive_table),
    NESTED("capacity", capacity_table),
    ARRAY("policies", policies, struct cfg_policy, npolicies, policy_table),
    KEY("policies_dir", K_FILE, policies_dir), /* loaded by load_policies_dir */
    KEY("policy_tick", K_DUR, policy_tick_ms, .def = "10s", .min = 100, .max = 3600000),
    ARRAY("peers", peers, struct cfg_peer, npeers, peer_table),
    NESTED("workloads", workloads_table),
    NESTED("migrator", migrator_table),
    NESTED("traffic", traffic_table),
};
#undef T
static const struct cfg_table root_table = TABLE(root_keys, NULL);
// clang-format on

/* ---- the walker --------------------------------------------------------- */

/* Defaults come from the tables in file syntax; they are the code's own
 * and skip the range checks (bit's -1 means "no bit"). */
static void apply_defaults(const struct cfg_table *t, void *base)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct cfg_key *k = &t->keys[i];
        void *f = FIELD(base, k->off, char);
        if (k->kind == K_OBJ) {
            apply_defaults(k->sub, f);
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
            int rc = enum_lookup(k->names, k->def, &v);
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

static void free_fields(const struct cfg_table *t, void *base)
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
            secret_free(*(char **)f);
            *(char **)f = NULL;
            break;
        case K_OBJ:
            free_fields(k->sub, f);
            break;
        case K_ARR: {
            char *arr = *(char **)f;
            size_t *count = FIELD(base, k->count_off, size_t);
            for (size_t j = 0; arr && j < *count; j++)
                free_fields(k->sub, arr + j * k->elem_size);
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

static int parse_object(struct cfg_ctx *ctx, const struct cfg_table *t, const cJSON *json,
                        void *base, const char *path);

static int parse_str(struct cfg_ctx *ctx, const struct cfg_key *k, const cJSON *item, void *f,
                     const char *path)
{
    if (!cJSON_IsString(item))
        return type_error(ctx, path, "a string", item);
    const char *s = item->valuestring;
    char msg[512];
    int v;
    if (!*s && !(k->flags & EMPTY_OK)) {
        cfg_error(ctx, path, "must not be empty");
        return -1;
    }
    if (k->names && enum_lookup(k->names, s, &v)) {
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
        return type_error(ctx, path, "an integer", item);
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
        return type_error(ctx, path, "a number", item);
    if ((k->flags & NONNEG) && item->valuedouble < 0) {
        cfg_error(ctx, path, "must not be negative");
        return -1;
    }
    *(double *)f = item->valuedouble;
    return 0;
}

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
        return type_error(ctx, path, "a duration (a string such as \"5s\" or a number of seconds)",
                          item);
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
    if (!word[0] || enum_lookup(k->names, word, &v)) {
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
        return type_error(ctx, path, "a string (a file path)", item);
    if (!*item->valuestring) {
        cfg_error(ctx, path, "must not be empty");
        return -1;
    }
    char *resolved = resolve_path(ctx->base_dir, item->valuestring);
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
        return type_error(ctx, path, "an array", item);
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
        path_index(ipath, path, i++);
        apply_defaults(k->sub, e);
        if (parse_object(ctx, k->sub, el, e, ipath))
            rc = -1;
    }
    return rc;
}

/* "token" inline or "token_file" read now; exactly one of them. */
static void parse_secret(struct cfg_obj *o, size_t i)
{
    const struct cfg_key *k = &o->table->keys[i];
    struct cfg_ctx *ctx = o->ctx;
    char fkey[64], pin[CFG_PATH_MAX], pfile[CFG_PATH_MAX], msg[768];
    snprintf(fkey, sizeof fkey, "%s_file", k->key);
    path_key(pin, o->path, k->key);
    path_key(pfile, o->path, fkey);
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
            type_error(ctx, pin, "a string", inl);
            return;
        }
        if (!*inl->valuestring) {
            cfg_error(ctx, pin, "must not be empty");
            return;
        }
        secret_free(*dst);
        *dst = util_strdup(inl->valuestring);
    } else {
        if (!cJSON_IsString(file)) {
            type_error(ctx, pfile, "a string (a file path)", file);
            return;
        }
        if (!*file->valuestring) {
            cfg_error(ctx, pfile, "must not be empty");
            return;
        }
        char *resolved = resolve_path(ctx->base_dir, file->valuestring);
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
        secret_free(*dst);
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
        path_key(path, o->path, c->string);
        bool repeated = false;
        for (const cJSON *prev = o->json->child; prev != c && !repeated; prev = prev->next)
            repeated = strcmp(prev->string, c->string) == 0;
        if (repeated)
            cfg_error(o->ctx, path, "key given twice");
        else if (key_known(o->table, c->string))
            continue;
        else if (suggest_key(o->table, c->string, hint, sizeof hint))
            cfg_error(o->ctx, path, "unknown key (did you mean '%s'?)", hint);
        else
            cfg_error(o->ctx, path, "unknown key");
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
            return type_error(ctx, path, "true or false", item);
        *(bool *)f = cJSON_IsTrue(item);
        return 0;
    case K_DUR:
        return parse_dur(ctx, k, item, f, path);
    case K_ENUM:
        return parse_enum(ctx, k, item, f, path);
    case K_FILE:
        return parse_file(ctx, k, item, f, path);
    case K_OBJ:
        return parse_object(ctx, k->sub, item, f, path);
    case K_ARR:
        return parse_array(ctx, k, item, base, path);
    case K_FN:
        return k->parse(ctx, item, base, path);
    case K_SECRET:
        break; /* parse_secret: it needs the whole object */
    }
    assert(!"unhandled kind");
    return -1;
}

/* Parses json into base (defaults already applied) with table t. Returns
 * 0, or -1 when anything in it was reported. */
static int parse_object(struct cfg_ctx *ctx, const struct cfg_table *t, const cJSON *json,
                        void *base, const char *path)
{
    size_t before = ctx->nerrors;
    if (!cJSON_IsObject(json))
        return type_error(ctx, path, "an object", json);
    assert(t->nkeys <= 64);
    struct cfg_obj o = {.ctx = ctx, .table = t, .json = json, .base = base, .path = path};
    check_keys(&o);
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct cfg_key *k = &t->keys[i];
        if (k->kind == K_SECRET) {
            parse_secret(&o, i);
            continue;
        }
        char kpath[CFG_PATH_MAX];
        path_key(kpath, path, k->key);
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

/* ---- rules across objects -------------------------------------------------- */

struct seen_name {
    const char *name;
    const char *file;
    char *path;
};

struct seen_set {
    const char *what; /* "metric", "device name", ... */
    struct seen_name *v;
    size_t n;
};

/* Records name at file:path, or reports it as a duplicate of the first. */
static void seen_add(struct cfg_ctx *ctx, struct seen_set *s, const char *name, const char *file,
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
    struct seen_name *v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v)
        abort();
    s->v = v;
    s->v[s->n++] = (struct seen_name){.name = name, .file = file, .path = util_strdup(path)};
}

static void seen_clear(struct seen_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* policy_files[i] is the file policy i came from, NULL for inline ones. */
static void check_across(struct cfg_ctx *ctx, const struct floe_config *cfg,
                         char *const *policy_files)
{
    char path[CFG_PATH_MAX];
    const char *file = ctx->file;

    /* Collector metrics and derived ones share one name space. */
    struct seen_set metrics = {.what = "metric"};
    for (size_t i = 0; i < cfg->nmodbus; i++)
        for (size_t j = 0; j < cfg->modbus[i].npoints; j++) {
            snprintf(path, sizeof path, "modbus[%zu].points[%zu].metric", i, j);
            seen_add(ctx, &metrics, cfg->modbus[i].points[j].metric, file, path);
        }
    for (size_t i = 0; i < cfg->nsnmp; i++)
        for (size_t j = 0; j < cfg->snmp[i].npoints; j++) {
            snprintf(path, sizeof path, "snmp[%zu].points[%zu].metric", i, j);
            seen_add(ctx, &metrics, cfg->snmp[i].points[j].metric, file, path);
        }
    for (size_t i = 0; i < cfg->nderive; i++) {
        snprintf(path, sizeof path, "derive[%zu].metric", i);
        seen_add(ctx, &metrics, cfg->derive[i].metric, file, path);
    }
    seen_clear(&metrics);

    /* Device names label metrics and collectors whatever the protocol. */
    struct seen_set devices = {.what = "device name"};
    for (size_t i = 0; i < cfg->nmodbus; i++) {
        snprintf(path, sizeof path, "modbus[%zu].name", i);
        seen_add(ctx, &devices, cfg->modbus[i].name, file, path);
    }
    for (size_t i = 0; i < cfg->nsnmp; i++) {
        snprintf(path, sizeof path, "snmp[%zu].name", i);
        seen_add(ctx, &devices, cfg->snmp[i].name, file, path);
    }
    seen_clear(&devices);

    struct seen_set tokens = {.what = "token name"};
    for (size_t i = 0; i < cfg->http.ntokens; i++) {
        snprintf(path, sizeof path, "http.tokens[%zu].name", i);
        seen_add(ctx, &tokens, cfg->http.tokens[i].name, file, path);
        /* One secret, two names: the API could not tell who called. */
        for (size_t j = 0; j < i; j++) {
            const char *a = cfg->http.tokens[i].token, *b = cfg->http.tokens[j].token;
            if (a && b && util_secret_equal(a, b)) {
                snprintf(path, sizeof path, "http.tokens[%zu]", i);
                cfg_error(ctx, path, "same token as http.tokens[%zu] (each client needs its own)",
                          j);
                break;
            }
        }
    }
    seen_clear(&tokens);

    struct seen_set peers = {.what = "peer name"};
    for (size_t i = 0; i < cfg->npeers; i++) {
        snprintf(path, sizeof path, "peers[%zu].name", i);
        seen_add(ctx, &peers, cfg->peers[i].name, file, path);
        if (cfg->peers[i].name && cfg->site.name && strcmp(cfg->peers[i].name, cfg->site.name) == 0)
            cfg_error(ctx, path, "'%s' is this site's own name", cfg->site.name);
    }
    seen_clear(&peers);

    struct seen_set statics = {.what = "workload name"};
    for (size_t i = 0; i < cfg->workloads.nstatics; i++) {
        snprintf(path, sizeof path, "workloads.static[%zu].name", i);
        seen_add(ctx, &statics, cfg->workloads.statics[i].name, file, path);
    }
    seen_clear(&statics);

    struct seen_set policies = {.what = "policy name"};
    for (size_t i = 0; i < cfg->npolicies; i++) {
        if (policy_files && policy_files[i])
            seen_add(ctx, &policies, cfg->policies[i].name, policy_files[i], "name");
        else {
            snprintf(path, sizeof path, "policies[%zu].name", i);
            seen_add(ctx, &policies, cfg->policies[i].name, file, path);
        }
    }
    seen_clear(&policies);
}

/* ---- policies_dir ------------------------------------------------------------ */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the *.json files of dir, sorted, so policies load in a stable
 * order. Returns 0 with a new array (caller frees each and the array). */
static int list_json_files(const char *dir, char ***out, size_t *nout, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return errf(err, errlen, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown)
            abort();
        names = grown;
        names[n++] = resolve_path(dir, de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, compare_names);
    *out = names;
    *nout = n;
    return 0;
}

/* Appends one policy per file of cfg->policies_dir. *files gets, per
 * policy, the file it came from (NULL for inline ones); caller frees. */
static void load_policies_dir(struct cfg_ctx *ctx, struct floe_config *cfg, char ***files)
{
    char msg[768];
    char **names = NULL;
    size_t nnames = 0;
    *files = NULL;
    if (!cfg->policies_dir)
        return;
    if (list_json_files(cfg->policies_dir, &names, &nnames, msg, sizeof msg)) {
        cfg_error(ctx, "policies_dir", "%s", msg);
        return;
    }
    *files = calloc(cfg->npolicies + nnames + 1, sizeof **files);
    if (!*files)
        abort();
    const char *main_file = ctx->file;
    for (size_t i = 0; i < nnames; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            free(names[i]);
            continue;
        }
        size_t len;
        char *text = util_read_file(names[i], &len, msg, sizeof msg);
        if (!text) {
            cfg_error_in(ctx, NULL, NULL, "%s", msg);
            free(names[i]);
            continue;
        }
        cJSON *json = json_parse_commented(text, len, msg, sizeof msg);
        free(text);
        if (!json) {
            cfg_error_in(ctx, names[i], NULL, "%s", msg);
            free(names[i]);
            continue;
        }
        struct cfg_policy *grown = realloc(cfg->policies, (cfg->npolicies + 1) * sizeof *grown);
        if (!grown)
            abort();
        cfg->policies = grown;
        struct cfg_policy *p = &cfg->policies[cfg->npolicies];
        memset(p, 0, sizeof *p);
        apply_defaults(&policy_table, p);
        ctx->file = names[i];
        parse_object(ctx, &policy_table, json, p, "");
        ctx->file = main_file;
        cJSON_Delete(json);
        (*files)[cfg->npolicies++] = names[i];
    }
    free(names);
}

/* ---- public functions ------------------------------------------------------- */

struct floe_config *cfg_load_buffer(const char *name, const char *text, size_t len,
                                    const char *base_dir, struct cfg_errors *errs)
{
    struct cfg_errors local = {0};
    if (!errs)
        errs = &local;
    struct cfg_ctx ctx = {
        .file = name ? name : "config", .base_dir = base_dir, .errs = errs, .first_error = errs->n};
    char msg[512];
    char **policy_files = NULL;
    struct floe_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        cfg_error(&ctx, NULL, "out of memory");
        goto done;
    }
    cfg->path = util_strdup(ctx.file);
    apply_defaults(&root_table, cfg);

    cJSON *json = json_parse_commented(text ? text : "", text ? len : 0, msg, sizeof msg);
    if (!json) {
        cfg_error(&ctx, NULL, "%s", msg);
        goto done;
    }
    parse_object(&ctx, &root_table, json, cfg, "");
    cJSON_Delete(json);

    load_policies_dir(&ctx, cfg, &policy_files);
    check_across(&ctx, cfg, policy_files);

done:
    if (policy_files) {
        for (size_t i = 0; cfg && i < cfg->npolicies; i++)
            free(policy_files[i]);
        free(policy_files);
    }
    if (ctx.nerrors > errs->n - ctx.first_error) {
        char *line;
        if (asprintf(&line, "%s: %zu more errors not shown", ctx.file,
                     ctx.nerrors - (errs->n - ctx.first_error)) < 0)
            abort();
        errors_push(errs, line);
    }
    cfg_errors_clear(&local);
    if (ctx.nerrors) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

struct floe_config *cfg_load(const char *path, struct cfg_errors *errs)
{
    char msg[768];
    size_t len;
    char *text = util_read_file(path, &len, msg, sizeof msg);
    if (!text) {
        if (errs)
            errors_push(errs, util_strdup(msg)); /* already "PATH: reason" */
        return NULL;
    }
    /* *_file paths and policies_dir are relative to the config's directory. */
    char *dir = util_strdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        free(dir);
        dir = NULL;
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    struct floe_config *cfg = cfg_load_buffer(path, text, len, dir, errs);
    free(dir);
    free(text);
    return cfg;
}

int cfg_parse_policy_json(const char *text, size_t len, const char *path, struct cfg_policy *out,
                          struct cfg_errors *errs)
{
    struct cfg_errors local = {0};
    if (!errs)
        errs = &local;
    struct cfg_ctx ctx = {.file = path ? path : "policy", .errs = errs, .first_error = errs->n};
    char msg[512];
    memset(out, 0, sizeof *out);
    cJSON *json = json_parse_commented(text ? text : "", text ? len : 0, msg, sizeof msg);
    if (!json) {
        cfg_error(&ctx, NULL, "%s", msg);
    } else {
        apply_defaults(&policy_table, out);
        parse_object(&ctx, &policy_table, json, out, "");
        cJSON_Delete(json);
    }
    cfg_errors_clear(&local);
    if (ctx.nerrors) {
        cfg_policy_clear(out);
        return -1;
    }
    return 0;
}

void cfg_policy_clear(struct cfg_policy *p)
{
    if (!p)
        return;
    free_fields(&policy_table, p);
    memset(p, 0, sizeof *p);
}

void cfg_free(struct floe_config *cfg)
{
    if (!cfg)
        return;
    free_fields(&root_table, cfg);
    free(cfg->path);
    free(cfg);
}

void cfg_errors_clear(struct cfg_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->lines[i]);
    free(errs->lines);
    errs->lines = NULL;
    errs->n = 0;
}

const char *cfg_role_name(enum cfg_role role)
{
    if (role == ROLE_NONE)
        return "none";
    const char *name = enum_name(roles, (int)role);
    return name ? name : "unknown";
}

const char *cfg_mb_table_name(enum mb_table t)
{
    const char *name = enum_name(mb_tables, (int)t);
    return name ? name : "unknown";
}
