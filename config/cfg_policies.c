/*
 * cfg_policies — what the policy engine evaluates: "derive", "capacity"
 * and "policies" (inline, from policies_dir, or one body from the API).
 *
 * Expressions (when, clear, kw, derive, capacity) stay strings here; the
 * policy language (policies/cfg_expr.c) compiles them after the load and
 * reports their errors, since config/ sits below the language.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/cfg_sections.h"
#include "config/cfg_walk.h"

#include "lib/vec.h"

/* Enum fields are written through an int pointer by the walker. */
_Static_assert(sizeof(enum pol_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pol_severity) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pol_action_type) == sizeof(int), "enum size");

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
static const struct cfg_enum weekdays[] = {
    {"mon", 0}, {"tue", 1}, {"wed", 2}, {"thu", 3}, {"fri", 4}, {"sat", 5}, {"sun", 6}, {NULL, 0},
};

/* ---- schedule ------------------------------------------------------------- */

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
        return cfg_type_error(ctx, path, "a string \"HH:MM-HH:MM\"", item);
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
        return cfg_type_error(ctx, path, "an array of days", item);
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
        cfg_path_index(ipath, path, i++);
        int d;
        if (!cJSON_IsString(day) || cfg_enum_lookup(weekdays, day->valuestring, &d)) {
            cfg_error(ctx, ipath, "must be one of mon, tue, wed, thu, fri, sat, sun");
            rc = -1;
            continue;
        }
        mask |= 1u << d;
    }
    p->schedule.days_mask = mask;
    return rc;
}

/* ---- check hooks: rules across the keys of one object ----------------- */

static void action_check(struct cfg_obj *o)
{
    static const char *const rebalance_only[] = {"min_gain_kw", "max_migrations", "min_residency"};
    struct cfg_policy *p = o->base;
    if (!cfg_settled(o, "type"))
        return;
    const char *type = cfg_enum_name(action_types, (int)p->action.type);
    if (p->action.type == POL_ACTION_SHED && !cfg_present(o, "kw"))
        cfg_obj_error(o, "kw", "missing required key (a shed action needs the kW to move)");
    if (p->action.type != POL_ACTION_SHED && cfg_present(o, "kw"))
        cfg_obj_error(o, "kw", "only for type \"shed\"");
    if (p->action.type == POL_ACTION_NOTIFY && cfg_present(o, "deadline"))
        cfg_obj_error(o, "deadline", "not used by type \"notify\"");
    if (p->action.type != POL_ACTION_REBALANCE)
        for (size_t i = 0; i < ARRAY_LEN(rebalance_only); i++)
            if (cfg_present(o, rebalance_only[i]))
                cfg_obj_error(o, rebalance_only[i],
                              "only for type \"rebalance\" (this action is \"%s\")", type);
}

static void schedule_check(struct cfg_obj *o)
{
    struct cfg_policy *p = o->base;
    p->has_schedule = true;
    if (!cfg_present(o, "days"))
        p->schedule.days_mask = 0x7f;
}

/* ---- the tables -------------------------------------------------------- */

// clang-format off
#define T struct cfg_derive
static const struct cfg_key derive_keys[] = {
    KEY("metric", K_STR, metric, .flags = REQ, .check = cfg_check_metric),
    KEY("expr", K_STR, expr, .flags = REQ),
    KEY("unit", K_STR, unit, .flags = EMPTY_OK, .def = ""),
};
#undef T
const struct cfg_table cfg_derive_table = TABLE(derive_keys, NULL);

#define T struct floe_config
static const struct cfg_key capacity_keys[] = {
    KEY("power_headroom_kw", K_STR, capacity.power_headroom_kw, .def = "power.supply_kw - it.load_kw"),
    KEY("cooling_headroom_kw", K_STR, capacity.cooling_headroom_kw, .def = "cooling.capacity_kw - it.load_kw"),
    KEY("margin_kw", K_NUM, capacity.margin_kw, .flags = NONNEG, .def = "0"),
};
#undef T
const struct cfg_table cfg_capacity_table = TABLE(capacity_keys, NULL);

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
    KEY("name", K_STR, name, .flags = REQ, .check = cfg_check_name),
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
const struct cfg_table cfg_policy_table = TABLE(policy_keys, NULL);
// clang-format on

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
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        vec_reserve_or_abort(names, cap, n + 1);
        names[n++] = cfg_resolve_path(dir, de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, compare_names);
    *out = names;
    *nout = n;
    return 0;
}

void cfg_policies_load_dir(struct cfg_ctx *ctx, struct floe_config *cfg, char ***files)
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
    size_t cap_policies = cfg->npolicies; /* the main file's, allocated exactly */
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
        cJSON *json = cfg_parse_text(ctx, names[i], text, len, &cfg_policy_table);
        free(text);
        if (!json) {
            free(names[i]);
            continue;
        }
        vec_reserve_or_abort(cfg->policies, cap_policies, cfg->npolicies + 1);
        struct cfg_policy *p = &cfg->policies[cfg->npolicies];
        memset(p, 0, sizeof *p);
        cfg_apply_defaults(&cfg_policy_table, p);
        ctx->file = names[i];
        cfg_parse_object(ctx, &cfg_policy_table, json, p, "");
        ctx->file = main_file;
        (*files)[cfg->npolicies++] = names[i];
    }
    free(names);
}

/* ---- a policy from the API ------------------------------------------------------ */

int cfg_parse_policy_json(const char *text, size_t len, const char *path, struct cfg_policy *out,
                          struct cfg_errors *errs)
{
    struct cfg_errors local = {0};
    if (!errs)
        errs = &local;
    /* A request body has no file to point into: no line numbers. */
    struct cfg_ctx ctx = {.file = path ? path : "policy", .errs = errs, .first_error = errs->n};
    memset(out, 0, sizeof *out);
    cJSON *json = cfg_parse_text(&ctx, ctx.file, text, len, &cfg_policy_table);
    if (json) {
        cfg_apply_defaults(&cfg_policy_table, out);
        cfg_parse_object(&ctx, &cfg_policy_table, json, out, "");
    }
    cfg_ctx_release(&ctx);
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
    cfg_free_fields(&cfg_policy_table, p);
    memset(p, 0, sizeof *p);
}
