/*
 * cfg_walk — the generic walker behind the config tables (internal to
 * config/; the rest of floe sees only config.h).
 *
 * Each object of floe.json (site, a Modbus device, a point, a policy, ...)
 * is described by a table (struct cfg_table) listing its keys: kind,
 * struct field, whether it is required, its default (written as it would
 * be in the file) and its validator. cfg_parse_object() applies a table to
 * a JSON object: it rejects unknown keys (with the closest known key as
 * a suggestion) and repeated ones, converts and
 * range-checks values, reads *_file secrets, then runs the table's check
 * hook for rules that tie several keys together. The same tables apply
 * the defaults and free the structs, so adding a key is one line.
 *
 * Every message comes from here and reads
 *
 *     FILE:LINE:COL: json.path (metric NAME): message
 *
 * LINE:COL is where the offending value starts (files parsed with
 * cfg_parse_text, when ctx->positions is set); "(metric NAME)" names the
 * object for tables with a .label key, so a point is found by its metric
 * as well as by its index. Messages are collected, never stopped at.
 *
 * The schema lives in the section files: cfg_modbus.c, cfg_snmp.c and
 * cfg_devices.c (devices), cfg_policies.c (derive, capacity, policies),
 * cfg_workloads.c (workloads, with cfg_kubeconfig.c),
 * config.c (the top level, HTTP, peers, migrator, traffic; load
 * and free). A new section adds its own table file.
 */
#ifndef FLOE_CFG_WALK_H
#define FLOE_CFG_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "lib/json_util.h"
#include "lib/util.h"

/* A config with thousands of mistakes is not worth listing in full. */
#define CFG_MAX_ERRORS 1000
#define CFG_PATH_MAX 512

struct cfg_table;

/* A parsed file: its tree, and where its values sit in the text. */
struct cfg_source {
    char *file;                       /* FILE in messages */
    cJSON *root;
    struct json_positions *positions; /* NULL: messages give no position */
    const struct cfg_table *table;    /* the table of the root object */
};

/* One load (or one policy body): where messages go and what was read. */
struct cfg_ctx {
    const char *file;               /* FILE in messages */
    const char *base_dir;           /* for relative *_file paths; NULL = cwd */
    bool positions;                 /* messages give LINE:COL (files, not API bodies) */
    struct cfg_errors *errs;
    struct cfg_errors *warnings;    /* NULL: warnings are dropped */
    size_t first_error;             /* errs->n when this load started */
    size_t nerrors;                 /* errors found, also those past the cap */
    struct cfg_source *sources;     /* owned; freed by cfg_ctx_release */
    size_t nsources, cap_sources;
};

/* ---- messages ------------------------------------------------------------ */


/* An error at path (NULL or "" = the file itself) of ctx->file, or of
 * another file read in this load (cfg_error_in; file NULL = the message
 * alone). */
void cfg_error(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cfg_error_in(struct cfg_ctx *ctx, const char *file, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Something valid but probably not meant: "... path: warning: message"
 * in ctx->warnings. Does not make the load fail. */
void cfg_warning(struct cfg_ctx *ctx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "must be WANT, not a number"; returns -1. */
int cfg_type_error(struct cfg_ctx *ctx, const char *path, const char *want, const cJSON *item);

/* Parses text as file `file` (comments allowed) and keeps the tree as a
 * source of ctx, which owns it (freed by cfg_ctx_release); `table` is the
 * table of its root, for labels. A syntax error is reported as
 * "FILE:LINE:COL: message" (or "FILE: line L column C: message" without
 * ctx->positions) and gives NULL. */
cJSON *cfg_parse_text(struct cfg_ctx *ctx, const char *file, const char *text, size_t len,
                      const struct cfg_table *table);
/* Frees the sources; the errors stay with the caller. */
void cfg_ctx_release(struct cfg_ctx *ctx);

/* Writes parent.key, parent[i] or a formatted path into out
 * (CFG_PATH_MAX bytes); absurdly long ones end in "...". */
void cfg_path_key(char *out, const char *parent, const char *key);
void cfg_path_index(char *out, const char *parent, size_t i);
void cfg_path_fmt(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the tables' vocabulary ------------------------------------------- */

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
    K_STRS,   /* array of non-empty strings (char **), count (size_t) at .count_off; at
                 least .min of them (a command line: "quiesce") */
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

struct cfg_obj;

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
    size_t errors_before; /* ctx->nerrors when the object was entered */
};

struct cfg_table {
    const struct cfg_key *keys;
    size_t nkeys;
    void (*check)(struct cfg_obj *o);
    const char *label; /* a string key that names the object in messages ("metric"), or NULL */
};

#define FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* Table entries; T is the struct the table fills. */
// clang-format off
#define KEY(name, kd, fld, ...) { .key = (name), .kind = (kd), .off = offsetof(T, fld), __VA_ARGS__ }
/* A nested object whose fields live in the enclosing struct. */
#define NESTED(name, table_, ...) { .key = (name), .kind = K_OBJ, .off = 0, .sub = &(table_), __VA_ARGS__ }
#define ARRAY(name, fld, elem_type, count_fld, table_, ...)                                       \
    { .key = (name), .kind = K_ARR, .off = offsetof(T, fld), .sub = &(table_),                   \
      .elem_size = sizeof(elem_type), .count_off = offsetof(T, count_fld), __VA_ARGS__ }
#define STRINGS(name, fld, count_fld, ...)                                                        \
    { .key = (name), .kind = K_STRS, .off = offsetof(T, fld), .count_off = offsetof(T, count_fld),  \
      __VA_ARGS__ }
#define FN(name, fn, ...) { .key = (name), .kind = K_FN, .parse = (fn), __VA_ARGS__ }
#define TABLE(keys_, check_, ...) { .keys = (keys_), .nkeys = ARRAY_LEN(keys_), .check = (check_), __VA_ARGS__ }
// clang-format on

/* ---- for check hooks ----------------------------------------------------- */

/* The key was given (valid or not). */
bool cfg_present(const struct cfg_obj *o, const char *key);
/* The key was given and accepted. */
bool cfg_given(const struct cfg_obj *o, const char *key);
/* The field holds a value to rely on: its default, or a given value that
 * was accepted. Check hooks skip rules whose inputs were rejected. */
bool cfg_settled(const struct cfg_obj *o, const char *key);
/* Nothing in the object (nested objects included) was rejected so far:
 * rules over its parts can trust every field. */
bool cfg_obj_clean(const struct cfg_obj *o);
/* An error (or warning) at o->path.key (key NULL: at the object itself). */
void cfg_obj_error(struct cfg_obj *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cfg_obj_warning(struct cfg_obj *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int cfg_enum_lookup(const struct cfg_enum *names, const char *s, int *value);
/* NULL when value has no name. */
const char *cfg_enum_name(const struct cfg_enum *names, int value);

/* Wipes a secret before freeing it. NULL is a no-op. */
void cfg_secret_free(char *s);

/* Relative paths are taken against base_dir (NULL = as given). Returns a
 * new string. */
char *cfg_resolve_path(const char *base_dir, const char *path);

/* ---- validators for strings (cfg_check_fn) -------------------------------- */

int cfg_check_name(const char *s, char *msg, size_t n);   /* site, device, token, policy, peer */
int cfg_check_metric(const char *s, char *msg, size_t n); /* a metric name */
int cfg_check_host(const char *s, char *msg, size_t n);   /* host name or IP address */
int cfg_check_url(const char *s, char *msg, size_t n);    /* http:// or https:// */

/* ---- the walker ----------------------------------------------------------- */

/* Writes the table's defaults into the struct at base. */
void cfg_apply_defaults(const struct cfg_table *t, void *base);
/* Frees what the table's fields own in the struct at base. */
void cfg_free_fields(const struct cfg_table *t, void *base);
/* Parses json into base (defaults already applied) with table t. Returns
 * 0, or -1 when anything in it was reported. */
int cfg_parse_object(struct cfg_ctx *ctx, const struct cfg_table *t, const cJSON *json, void *base,
                     const char *path);

/* ---- rules across objects ---------------------------------------------- */

struct cfg_seen_name {
    const char *name;
    const char *file;
    char *path;
};

/* Names seen so far of one kind, for "duplicate X" errors. */
struct cfg_seen_set {
    const char *what; /* "metric", "device name", ... */
    struct cfg_seen_name *v;
    size_t n, cap;
};

/* Records name (borrowed; NULL is skipped) at file:path, or reports it as
 * a duplicate of the first. */
void cfg_seen_add(struct cfg_ctx *ctx, struct cfg_seen_set *s, const char *name, const char *file,
                  const char *path);
void cfg_seen_clear(struct cfg_seen_set *s);

#endif
