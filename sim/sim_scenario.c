/*
 * sim_scenario — see sim_scenario.h.
 *
 * The top level is one table of sections, each bound to a parser, walked
 * in table order rather than file order: units exist before the events
 * that name them, whatever order the author wrote the keys in. Model
 * sections are not listed key by key here; their keys are looked up in the
 * model's own value table, so a value added to the model is at once
 * settable from scenarios.
 */
#include "sim/sim_scenario.h"

#include "lib/util.h"
#include "sim/sim_cluster_edit.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256

struct sc_ctx {
    struct sim_scenario *sc;
    const char *file;
    char *err;
    size_t errlen;
};

static int fail(struct sc_ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct sc_ctx *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return errf(c->err, c->errlen, "%s: %s: %s", c->file, path, msg);
}

/* JSON paths for messages; one longer than PATH_MAX_LEN is cut short,
 * which still points the reader at the right place. */
static void path_fmt(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void path_fmt(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PATH_MAX_LEN, fmt, ap);
    va_end(ap);
}

static void join_key(char *out, const char *path, const char *key)
{
    if (!path[0])
        path_fmt(out, "%s", key);
    else
        path_fmt(out, "%s.%s", path, key);
}

/* Every member must be in `allowed` (NULL-terminated) and appear once. */
static int check_keys(struct sc_ctx *c, const cJSON *obj, const char *const *allowed,
                      const char *path)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[PATH_MAX_LEN];
        join_key(p, path, it->string);
        bool known = false;
        for (size_t i = 0; allowed[i]; i++)
            known = known || strcmp(allowed[i], it->string) == 0;
        if (!known)
            return fail(c, p, "unknown key");
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return fail(c, p, "duplicate key");
    }
    return 0;
}

static int need_object(struct sc_ctx *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsObject(v))
        return fail(c, path, "expected an object");
    return 0;
}

static int get_port(struct sc_ctx *c, const cJSON *v, const char *path, int *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 65535)
        return fail(c, path, "expected a port number 0..65535 (0 = any free port)");
    *out = (int)v->valuedouble;
    return 0;
}

/* A model value from JSON: numbers for numeric values, true/false or 0/1
 * for switches. */
static int json_value(struct sc_ctx *c, const cJSON *v, enum sim_vtype type, const char *path,
                      double *out)
{
    if (cJSON_IsBool(v)) {
        if (type != SIM_BOOL)
            return fail(c, path, "expected a number");
        *out = cJSON_IsTrue(v) ? 1.0 : 0.0;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return fail(c, path, type == SIM_BOOL ? "expected true or false" : "expected a number");
    *out = v->valuedouble;
    return 0;
}

/* Applies the members of obj as the values "<prefix>.<key>", in the
 * model's value order; `skip` (may be NULL) names a member that is not a
 * value (a unit's "name"). */
static int apply_values(struct sc_ctx *c, const cJSON *obj, const char *prefix, const char *skip,
                        const char *path)
{
    struct sim_model *m = &c->sc->model;
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[PATH_MAX_LEN], name[SIM_VALUE_NAME_MAX * 2];
        join_key(p, path, it->string);
        if (skip && strcmp(it->string, skip) == 0)
            continue;
        snprintf(name, sizeof name, "%s.%s", prefix, it->string);
        struct sim_ref ref;
        if (sim_model_lookup(m, name, &ref, NULL, 0) < 0)
            return fail(c, p, "unknown key");
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return fail(c, p, "duplicate key");
    }
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < sim_model_value_count(m); i++) {
        struct sim_value val;
        sim_model_value_at(m, i, &val);
        if (strncmp(val.name, prefix, plen) != 0 || val.name[plen] != '.')
            continue;
        const char *key = val.name + plen + 1;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        if (!v)
            continue;
        char p[PATH_MAX_LEN], why[200];
        join_key(p, path, key);
        struct sim_ref ref;
        double x;
        sim_model_lookup(m, val.name, &ref, NULL, 0);
        if (json_value(c, v, val.type, p, &x) < 0)
            return -1;
        if (sim_model_write(m, ref, x, why, sizeof why) < 0)
            return fail(c, p, "%s", why);
    }
    return 0;
}

/* ---- sections ---- */

static int parse_site(struct sc_ctx *c, const cJSON *v, const char *path)
{
    static const char *const keys[] = {"name", NULL};
    if (need_object(c, v, path) < 0 || check_keys(c, v, keys, path) < 0)
        return -1;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (!name)
        return fail(c, "site.name", "missing");
    if (!cJSON_IsString(name) || !name->valuestring[0] ||
        strlen(name->valuestring) >= sizeof c->sc->model.site)
        return fail(c, "site.name", "expected a non-empty string of at most %zu characters",
                    sizeof c->sc->model.site - 1);
    util_strlcpy(c->sc->model.site, name->valuestring, sizeof c->sc->model.site);
    /* The cluster's uids derive from the site name, known from here on. */
    simc_init(&c->sc->cluster, c->sc->model.site);
    return 0;
}

static int parse_listen(struct sc_ctx *c, const cJSON *v, const char *path)
{
    struct in_addr addr;
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof c->sc->listen ||
        inet_pton(AF_INET, v->valuestring, &addr) != 1)
        return fail(c, path, "expected an IPv4 address such as \"127.0.0.1\"");
    util_strlcpy(c->sc->listen, v->valuestring, sizeof c->sc->listen);
    return 0;
}

static int parse_listener(struct sc_ctx *c, const cJSON *v, const char *path, int *port)
{
    static const char *const keys[] = {"port", NULL};
    if (need_object(c, v, path) < 0 || check_keys(c, v, keys, path) < 0)
        return -1;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(v, "port");
    char pp[PATH_MAX_LEN];
    join_key(pp, path, "port");
    return p ? get_port(c, p, pp, port) : 0;
}

static int parse_modbus(struct sc_ctx *c, const cJSON *v, const char *path)
{
    return parse_listener(c, v, path, &c->sc->modbus_port);
}

static int parse_http(struct sc_ctx *c, const cJSON *v, const char *path)
{
    return parse_listener(c, v, path, &c->sc->http_port);
}

/* A string member of at most size-1 characters that net-snmp can take as
 * one word; `min` characters at least. */
static int get_token(struct sc_ctx *c, const cJSON *obj, const char *key, const char *path,
                     size_t min, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return 0;
    char p[PATH_MAX_LEN];
    join_key(p, path, key);
    if (!cJSON_IsString(v) || strlen(v->valuestring) < min || strlen(v->valuestring) >= size ||
        !sim_snmp_token_valid(v->valuestring))
        return fail(c, p,
                    "expected %zu to %zu printable ASCII characters without blanks, quotes, "
                    "backslash or '#'",
                    min, size - 1);
    util_strlcpy(out, v->valuestring, size);
    return 0;
}

static int get_protocol(struct sc_ctx *c, const cJSON *obj, const char *key, const char *path,
                        bool (*known)(const char *), const char *choices, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return 0;
    char p[PATH_MAX_LEN];
    join_key(p, path, key);
    if (!cJSON_IsString(v) || !known(v->valuestring))
        return fail(c, p, "expected one of %s", choices);
    util_strlcpy(out, v->valuestring, size);
    return 0;
}

/* "snmp": the agent's port, the v1/v2c community and at most one SNMPv3
 * user, always authPriv: a user needs both passwords, and passwords
 * need a user. Key names are the agent config's (SPEC 2.2). */
static int parse_snmp(struct sc_ctx *c, const cJSON *v, const char *path)
{
    static const char *const keys[] = {
        "port",          "community",     "user",          "auth_protocol",
        "auth_password", "priv_protocol", "priv_password", NULL};
    struct sim_snmp_settings *st = &c->sc->snmp;
    if (need_object(c, v, path) < 0 || check_keys(c, v, keys, path) < 0)
        return -1;
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(v, "port");
    char p[PATH_MAX_LEN];
    join_key(p, path, "port");
    if (port && get_port(c, port, p, &st->port) < 0)
        return -1;
    if (get_token(c, v, "community", path, 1, st->community, sizeof st->community) < 0 ||
        get_token(c, v, "user", path, 1, st->user, sizeof st->user) < 0 ||
        get_protocol(c, v, "auth_protocol", path, sim_snmp_auth_protocol_known,
                     "MD5, SHA, SHA-256, SHA-512", st->auth_protocol,
                     sizeof st->auth_protocol) < 0 ||
        get_token(c, v, "auth_password", path, SIM_SNMP_PASSWORD_MIN, st->auth_password,
                  sizeof st->auth_password) < 0 ||
        get_protocol(c, v, "priv_protocol", path, sim_snmp_priv_protocol_known, "DES, AES, AES-256",
                     st->priv_protocol, sizeof st->priv_protocol) < 0 ||
        get_token(c, v, "priv_password", path, SIM_SNMP_PASSWORD_MIN, st->priv_password,
                  sizeof st->priv_password) < 0)
        return -1;
    static const char *const user_keys[] = {"auth_protocol", "auth_password", "priv_protocol",
                                            "priv_password"};
    for (size_t i = 0; i < ARRAY_LEN(user_keys); i++) {
        if (!st->user[0] && cJSON_GetObjectItemCaseSensitive(v, user_keys[i])) {
            join_key(p, path, user_keys[i]);
            return fail(c, p, "only with \"user\" (the SNMPv3 user it belongs to)");
        }
    }
    if (st->user[0] && (!st->auth_password[0] || !st->priv_password[0])) {
        join_key(p, path, st->auth_password[0] ? "priv_password" : "auth_password");
        return fail(c, p, "missing (the SNMPv3 user is served at authPriv)");
    }
    return 0;
}

static int parse_speedup(struct sc_ctx *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 1e6)
        return fail(c, path, "expected a number above 0 (at most 1000000)");
    c->sc->speedup = v->valuedouble;
    return 0;
}

static int parse_units(struct sc_ctx *c, const cJSON *v, const char *path, enum sim_unit_kind kind)
{
    if (!cJSON_IsArray(v))
        return fail(c, path, "expected an array");
    int i = 0;
    for (const cJSON *u = v->child; u; u = u->next, i++) {
        char p[PATH_MAX_LEN], pk[PATH_MAX_LEN], why[200];
        path_fmt(p, "%s[%d]", path, i);
        if (need_object(c, u, p) < 0)
            return -1;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(u, "name");
        join_key(pk, p, "name");
        if (!name)
            return fail(c, pk, "missing");
        if (!cJSON_IsString(name))
            return fail(c, pk, "expected a string");
        struct sim_unit *unit =
            sim_model_add_unit(&c->sc->model, name->valuestring, kind, why, sizeof why);
        if (!unit)
            return fail(c, pk, "%s", why);
        if (!cJSON_GetObjectItemCaseSensitive(u, "capacity_kw")) {
            join_key(pk, p, "capacity_kw");
            return fail(c, pk, "missing");
        }
        if (apply_values(c, u, unit->name, "name", p) < 0)
            return -1;
        /* A unit stated without a nameplate is running at its rating. */
        if (!cJSON_GetObjectItemCaseSensitive(u, "rated_kw"))
            unit->rated_kw = unit->capacity_kw;
    }
    return 0;
}

static int parse_chillers(struct sc_ctx *c, const cJSON *v, const char *path)
{
    return parse_units(c, v, path, SIM_UNIT_CHILLER);
}

static int parse_crahs(struct sc_ctx *c, const cJSON *v, const char *path)
{
    return parse_units(c, v, path, SIM_UNIT_CRAH);
}

static int parse_section(struct sc_ctx *c, const cJSON *v, const char *path)
{
    if (need_object(c, v, path) < 0)
        return -1;
    return apply_values(c, v, path, NULL, path);
}

static int parse_ups(struct sc_ctx *c, const cJSON *v, const char *path)
{
    if (need_object(c, v, path) < 0)
        return -1;
    /* Both would state the battery's size twice, possibly differently. */
    if (cJSON_GetObjectItemCaseSensitive(v, "capacity_wh") &&
        cJSON_GetObjectItemCaseSensitive(v, "runtime_min"))
        return fail(c, "ups.runtime_min", "give either capacity_wh or runtime_min, not both");
    return apply_values(c, v, path, NULL, path);
}

static int parse_cluster(struct sc_ctx *c, const cJSON *v, const char *path)
{
    char why[600];
    if (simc_parse_scenario(&c->sc->cluster, v, path, why, sizeof why) < 0)
        return errf(c->err, c->errlen, "%s: %s", c->file, why);
    return 0;
}

static int parse_velero(struct sc_ctx *c, const cJSON *v, const char *path)
{
    char why[600];
    if (sim_velero_parse_config(&c->sc->velero, v, path, why, sizeof why) < 0)
        return errf(c->err, c->errlen, "%s: %s", c->file, why);
    return 0;
}

static int parse_event(struct sc_ctx *c, const cJSON *e, const char *path)
{
    static const char *const keys[] = {"at", "set", NULL};
    char p[PATH_MAX_LEN], why[200];
    if (need_object(c, e, path) < 0 || check_keys(c, e, keys, path) < 0)
        return -1;
    struct sim_event ev = {0};
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "at");
    join_key(p, path, "at");
    if (!at)
        return fail(c, p, "missing");
    if (cJSON_IsString(at)) {
        if (util_parse_duration_ms(at->valuestring, &ev.at_ms, why, sizeof why) < 0)
            return fail(c, p, "%s", why);
    } else if (cJSON_IsNumber(at) && at->valuedouble >= 0 && at->valuedouble < 9e12) {
        ev.at_ms = (int64_t)llround(at->valuedouble * 1000.0);
    } else {
        return fail(c, p, "expected a duration (\"30s\", \"2m\") or a number of seconds");
    }
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(e, "set");
    join_key(p, path, "set");
    if (!set)
        return fail(c, p, "missing");
    if (need_object(c, set, p) < 0)
        return -1;
    if (!set->child)
        return fail(c, p, "sets nothing");
    size_t n = (size_t)cJSON_GetArraySize(set);
    ev.sets = calloc(n, sizeof *ev.sets);
    if (!ev.sets)
        return fail(c, p, "out of memory");
    /* Values are checked against a scratch copy so an event that could
     * never apply is refused at load time, not discovered mid-demo. */
    struct sim_model scratch = c->sc->model;
    for (const cJSON *it = set->child; it; it = it->next) {
        struct sim_assign *a = &ev.sets[ev.nsets];
        char pv[PATH_MAX_LEN];
        path_fmt(pv, "%s[\"%s\"]", p, it->string);
        if (sim_model_lookup(&scratch, it->string, &a->ref, why, sizeof why) < 0) {
            fail(c, pv, "%s", why);
            goto fail;
        }
        if (json_value(c, it, sim_model_ref_type(a->ref), pv, &a->value) < 0)
            goto fail;
        if (sim_model_write(&scratch, a->ref, a->value, why, sizeof why) < 0) {
            fail(c, pv, "%s", why);
            goto fail;
        }
        util_strlcpy(a->name, it->string, sizeof a->name);
        ev.nsets++;
    }
    if (sim_timeline_add(&c->sc->timeline, &ev, why, sizeof why) < 0) {
        fail(c, path, "%s", why);
        goto fail;
    }
    return 0;
fail:
    free(ev.sets);
    return -1;
}

static int parse_events(struct sc_ctx *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsArray(v))
        return fail(c, path, "expected an array");
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char p[PATH_MAX_LEN];
        path_fmt(p, "%s[%d]", path, i);
        if (parse_event(c, e, p) < 0)
            return -1;
    }
    return 0;
}

struct sc_section {
    const char *key;
    int (*parse)(struct sc_ctx *c, const cJSON *v, const char *path);
    bool required;
};

/* Parse order, not file order: units must exist before the events that
 * name them. */
static const struct sc_section sections[] = {
    {"site", parse_site, true},          {"listen", parse_listen, false},
    {"modbus", parse_modbus, false},     {"http", parse_http, false},
    {"snmp", parse_snmp, false},         {"speedup", parse_speedup, false},
    {"chillers", parse_chillers, false}, {"crahs", parse_crahs, false},
    {"it", parse_section, false},        {"supply", parse_section, false},
    {"room", parse_section, false},      {"ups", parse_ups, false},
    {"cluster", parse_cluster, false},   {"velero", parse_velero, false},
    {"events", parse_events, false},
};

int sim_scenario_parse(struct sim_scenario *sc, const char *name, const char *text, size_t len,
                       char *err, size_t errlen)
{
    memset(sc, 0, sizeof *sc);
    util_strlcpy(sc->listen, SIM_DEFAULT_LISTEN, sizeof sc->listen);
    sc->speedup = 1.0;
    sim_snmp_settings_init(&sc->snmp);
    sim_model_init(&sc->model);

    struct sc_ctx c = {.sc = sc, .file = name, .err = err, .errlen = errlen};
    cJSON *root = NULL;
    /* cJSON_Minify strips comments in place, so work on a copy. */
    char *copy = malloc(len + 1);
    if (!copy)
        return errf(err, errlen, "%s: out of memory", name);
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (strlen(copy) != len) {
        errf(err, errlen, "%s: contains a NUL byte", name);
        goto fail;
    }
    cJSON_Minify(copy);
    const char *parse_end = NULL;
    root = cJSON_ParseWithOpts(copy, &parse_end, true);
    if (!root) {
        /* Comments and blanks are gone by now, so show the text instead of
         * a line number. */
        errf(err, errlen, "%s: not valid JSON near '%.24s'", name, parse_end ? parse_end : copy);
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        errf(err, errlen, "%s: the top level must be an object", name);
        goto fail;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        bool known = false;
        for (size_t i = 0; i < ARRAY_LEN(sections); i++)
            known = known || strcmp(sections[i].key, it->string) == 0;
        if (!known) {
            fail(&c, it->string, "unknown key");
            goto fail;
        }
        for (const cJSON *prev = root->child; prev != it; prev = prev->next) {
            if (strcmp(prev->string, it->string) == 0) {
                fail(&c, it->string, "duplicate key");
                goto fail;
            }
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(sections); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, sections[i].key);
        if (!v) {
            if (sections[i].required) {
                fail(&c, sections[i].key, "missing");
                goto fail;
            }
            continue;
        }
        if (sections[i].parse(&c, v, sections[i].key) < 0)
            goto fail;
    }
    sc->model.it_cluster_kw = simc_running_kw(&sc->cluster);
    cJSON_Delete(root);
    free(copy);
    return 0;
fail:
    cJSON_Delete(root);
    free(copy);
    sim_scenario_clear(sc);
    return -1;
}

int sim_scenario_load(struct sim_scenario *sc, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = util_read_file(path, &len, err, errlen);
    if (!text) {
        memset(sc, 0, sizeof *sc);
        return -1;
    }
    int rc = sim_scenario_parse(sc, path, text, len, err, errlen);
    free(text);
    return rc;
}

void sim_scenario_clear(struct sim_scenario *sc)
{
    sim_timeline_clear(&sc->timeline);
    simc_clear(&sc->cluster);
}
