/*
 * config — floe.json → struct floe_config: the top level of the file
 * (site, store, HTTP and tokens, peers, migrator, traffic),
 * the rules across objects, and load and free.
 *
 * Each object has a table of its keys; the generic walker (cfg_walk.c)
 * applies them and words every message. The other sections keep their
 * tables in files of their own (cfg_modbus.c, cfg_snmp.c, cfg_policies.c,
 * cfg_workloads.c), which the root table below nests. Rules that tie several keys of one
 * object together live in the table's check hook; rules across objects
 * (unique metric, device, token, peer and policy names) run once at the
 * end, here.
 *
 * Errors are collected, never stopped at, so check-config shows them all.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/cfg_sections.h"
#include "config/cfg_walk.h"
#include "lib/util.h"

/* Enum fields are written through an int pointer by the walker. */
_Static_assert(sizeof(enum cfg_role) == sizeof(int), "enum size");

static const struct cfg_enum roles[] = {
    {"read", ROLE_READ}, {"operator", ROLE_OPERATOR}, {"admin", ROLE_ADMIN}, {"peer", ROLE_PEER},
    {NULL, 0},
};
static const struct cfg_enum migrator_drivers[] = {{"velero", 0}, {NULL, 0}};
static const struct cfg_enum traffic_drivers[] = {
    {"powerdns", 0}, {"webhook", 0}, {"none", 0}, {NULL, 0}};

/* ---- validators for strings ------------------------------------------ */

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

/* A zone name as PowerDNS's API names it: absolute (the trailing dot)
 * and, since it is also the zone's id in the URL, of host-name characters
 * only, which need no escaping there. */
static int check_zone(const char *s, char *msg, size_t n)
{
    size_t len = strlen(s);
    if (len < 2 || s[len - 1] != '.')
        return errf(msg, n,
                    "must be a canonical zone name ending in '.' (e.g. \"apps.example.org.\")");
    bool ok = len <= 254;
    size_t label = 0;
    for (const char *p = s; ok && *p; p++) {
        if (*p == '.') {
            ok = label > 0;
            label = 0;
        } else {
            ok = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_') &&
                 ++label <= 63;
        }
    }
    if (!ok)
        return errf(msg, n,
                    "must be dot-separated labels of 1 to 63 letters, digits, '-' or '_' "
                    "(e.g. \"apps.example.org.\")");
    return 0;
}

/* ---- check hooks: rules across the keys of one object ----------------- */

static void traffic_check(struct cfg_obj *o)
{
    static const char *const powerdns_keys[] = {"api", "api_key", "zone"};
    static const char *const powerdns_only[] = {"api", "api_key", "server_id", "zone"};
    struct floe_config *cfg = o->base;
    if (!cfg_settled(o, "driver"))
        return;
    if (strcmp(cfg->traffic.driver, "powerdns") == 0) {
        for (size_t i = 0; i < ARRAY_LEN(powerdns_keys); i++)
            if (!cfg_present(o, powerdns_keys[i]))
                cfg_obj_error(o, powerdns_keys[i], "missing required key (driver \"powerdns\"%s)",
                              strcmp(powerdns_keys[i], "api_key") == 0
                                  ? " needs api_key or api_key_file"
                                  : "");
        if (cfg_present(o, "url"))
            cfg_obj_error(o, "url", "only for driver \"webhook\"");
    } else if (strcmp(cfg->traffic.driver, "webhook") == 0) {
        if (!cfg_present(o, "url"))
            cfg_obj_error(o, "url", "missing required key (driver \"webhook\")");
        for (size_t i = 0; i < ARRAY_LEN(powerdns_only); i++)
            if (cfg_present(o, powerdns_only[i]))
                cfg_obj_error(o, powerdns_only[i], "only for driver \"powerdns\"");
    }
    /* driver "none" keeps whatever else is set, so cut-over can be switched
     * off for maintenance without deleting its settings. */
}

/* The migrator creates Velero Backups and scales workloads through this
 * site's own Kubernetes API (SPEC 6): a site without one cannot move
 * anything, and a placement that reserved capacity for it would hold a
 * peer's kW for nothing. Judged only when the section itself is clean. */
static void migrator_check(struct cfg_obj *o)
{
    struct floe_config *cfg = o->base;
    cfg->migrator.enabled = true;
    const char *source = cfg->workloads.source;
    if (!cfg_obj_clean(o) || (source && strcmp(source, "kubernetes") == 0))
        return;
    cfg_obj_error(o, NULL,
                  "driver \"%s\" moves workloads with Velero through this site's Kubernetes API: "
                  "it needs workloads.source \"kubernetes\" (workloads.source is %s%s%s)",
                  cfg->migrator.driver ? cfg->migrator.driver : "velero", source ? "\"" : "",
                  source ? source : "not set", source ? "\"" : "");
}

/* The tiers nest: raw <= minute <= retention. A tier left at its default
 * shrinks to fit a shorter retention (a config that sets only "retention":
 * "7d", as SPEC's example does with 30d, keeps working); one given
 * explicitly that does not fit is an error naming it. */
static void store_check(struct cfg_obj *o)
{
    struct floe_config *cfg = o->base;
    if (!cfg_settled(o, "retention") || !cfg_settled(o, "raw_retention") ||
        !cfg_settled(o, "minute_retention"))
        return;
    int64_t *raw = &cfg->store.raw_retention_ms, *minute = &cfg->store.minute_retention_ms;
    int64_t all = cfg->store.retention_ms;
    if (!cfg_given(o, "minute_retention") && *minute > all)
        *minute = all;
    if (!cfg_given(o, "raw_retention") && *raw > *minute)
        *raw = *minute;
    if (*minute > all)
        cfg_obj_error(o, "minute_retention", "longer than store.retention: minute rollups are "
                                             "kept at most as long as anything");
    else if (*raw > *minute)
        cfg_obj_error(o, "raw_retention", "longer than store.minute_retention: raw samples are "
                                          "kept at most as long as the minute rollups");
}

/* ---- the tables -------------------------------------------------------- */

/* The tables read best as tables: keep the formatter out of them. */
// clang-format off
#define T struct cfg_token
static const struct cfg_key token_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = cfg_check_name),
    KEY("role", K_ENUM, role, .flags = REQ, .names = roles),
    KEY("token", K_SECRET, token, .flags = REQ),
};
#undef T
static const struct cfg_table token_table = TABLE(token_keys, NULL);

#define T struct cfg_peer
static const struct cfg_key peer_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = cfg_check_name),
    KEY("url", K_STR, url, .flags = REQ, .check = cfg_check_url),
    KEY("token", K_SECRET, token, .flags = REQ),
    KEY("ca_file", K_FILE, ca_file, .flags = READABLE),
    KEY("ingress", K_STR, ingress, .check = cfg_check_host),
    KEY("velero_storage_location", K_STR, velero_storage_location),
};
#undef T
static const struct cfg_table peer_table = TABLE(peer_keys, NULL);

#define T struct floe_config
static const struct cfg_key site_keys[] = {
    KEY("name", K_STR, site.name, .flags = REQ, .check = cfg_check_name),
    KEY("timezone", K_STR, site.timezone, .def = "UTC", .check = check_timezone),
    KEY("ingress", K_STR, site.ingress, .check = cfg_check_host),
};
static const struct cfg_table site_table = TABLE(site_keys, NULL);

static const struct cfg_key store_keys[] = {
    KEY("path", K_STR, store.path, .def = CFG_DEFAULT_STORE_PATH),
    KEY("retention", K_DUR, store.retention_ms, .def = "365d", .min = 1),
    KEY("raw_retention", K_DUR, store.raw_retention_ms, .def = "48h", .min = 60000),
    KEY("minute_retention", K_DUR, store.minute_retention_ms, .def = "30d", .min = 3600000),
};
static const struct cfg_table store_table = TABLE(store_keys, store_check);

static const struct cfg_key tls_keys[] = {
    KEY("cert_file", K_FILE, http.tls_cert_file, .flags = REQ | READABLE),
    KEY("key_file", K_FILE, http.tls_key_file, .flags = REQ | READABLE),
};
static const struct cfg_table tls_table = TABLE(tls_keys, NULL);

static const struct cfg_key http_keys[] = {
    KEY("listen", K_STR, http.listen, .def = CFG_DEFAULT_LISTEN, .check = check_listen),
    NESTED("tls", tls_table),
    KEY("anonymous_read", K_BOOL, http.anonymous_read, .def = "false"),
    KEY("threads", K_INT, http.threads, .def = "4", .min = 1, .max = 64),
    ARRAY("tokens", http.tokens, struct cfg_token, http.ntokens, token_table),
};
static const struct cfg_table http_table = TABLE(http_keys, NULL);

static const struct cfg_key migrator_keys[] = {
    KEY("driver", K_STR, migrator.driver, .def = "velero", .names = migrator_drivers),
    KEY("velero_namespace", K_STR, migrator.velero_namespace, .def = "velero", .check = cfg_check_name),
    KEY("delta_interval", K_DUR, migrator.delta_interval_ms, .def = "10m", .min = 1),
    KEY("max_parallel", K_INT, migrator.max_parallel, .def = "2", .min = 1, .max = 64),
    KEY("backup_ttl", K_DUR, migrator.backup_ttl_ms, .def = "72h", .min = 1),
    KEY("retain_source", K_DUR, migrator.retain_source_ms, .def = "24h"),
    KEY("retries", K_INT, migrator.retries, .def = "2", .min = 0, .max = 10),
    KEY("data_mover", K_BOOL, migrator.data_mover, .def = "false"),
    KEY("incremental_restore", K_BOOL, migrator.incremental_restore, .def = "false"),
    KEY("tick", K_DUR, migrator.tick_ms, .def = "1s", .min = 100, .max = 60000),
    KEY("backup_sync_period", K_DUR, migrator.backup_sync_period_ms, .def = "1m", .min = 1000, .max = 86400000),
    KEY("import_ready_timeout", K_DUR, migrator.import_ready_timeout_ms, .def = "10m", .min = 1000, .max = 86400000),
};
static const struct cfg_table migrator_table = TABLE(migrator_keys, migrator_check);

static const struct cfg_key traffic_keys[] = {
    KEY("driver", K_STR, traffic.driver, .def = "none", .names = traffic_drivers),
    KEY("api", K_STR, traffic.api, .check = cfg_check_url),
    KEY("api_key", K_SECRET, traffic.api_key),
    KEY("server_id", K_STR, traffic.server_id, .def = "localhost", .check = cfg_check_name),
    KEY("zone", K_STR, traffic.zone, .check = check_zone),
    KEY("ttl", K_INT, traffic.ttl, .def = "30", .min = 1, .max = 86400),
    KEY("url", K_STR, traffic.url, .check = cfg_check_url),
};
static const struct cfg_table traffic_table = TABLE(traffic_keys, traffic_check);

/* One key per device section (cfg_sections.h), in the place modbus and
 * snmp have always had. */
#define DEVICE_SECTION(key, array, count, type, table, describe, label) \
    ARRAY(key, array, type, count, table),

static const struct cfg_key root_keys[] = {
    NESTED("site", site_table, .flags = REQ),
    NESTED("store", store_table),
    NESTED("http", http_table),
    CFG_DEVICE_SECTIONS(DEVICE_SECTION)
    ARRAY("derive", derive, struct cfg_derive, nderive, cfg_derive_table),
    NESTED("capacity", cfg_capacity_table),
    ARRAY("policies", policies, struct cfg_policy, npolicies, cfg_policy_table),
    KEY("policies_dir", K_FILE, policies_dir), /* loaded by cfg_policies_load_dir */
    KEY("policy_tick", K_DUR, policy_tick_ms, .def = "10s", .min = 100, .max = 3600000),
    ARRAY("peers", peers, struct cfg_peer, npeers, peer_table),
    KEY("peers_poll", K_DUR, peers_poll_ms, .def = "30s", .min = 1000, .max = 3600000),
    NESTED("workloads", cfg_workloads_table),
    NESTED("migrator", migrator_table),
    NESTED("traffic", traffic_table),
};
#undef T
static const struct cfg_table root_table = TABLE(root_keys, NULL);
// clang-format on

/* ---- rules across objects -------------------------------------------------- */

/* policy_files[i] is the file policy i came from, NULL for inline ones. */
static void check_across(struct cfg_ctx *ctx, const struct floe_config *cfg,
                         char *const *policy_files)
{
    char path[CFG_PATH_MAX];
    const char *file = ctx->file;

    /* Collector metrics and derived ones share one name space; device
     * names label metrics and collectors whatever the protocol. */
    struct cfg_seen_set metrics = {.what = "metric"};
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const struct cfg_device *d = &cfg->devices[i];
        for (size_t j = 0; j < d->nmetrics; j++) {
            cfg_path_fmt(path, "%s[%zu].points[%zu].metric", d->protocol, d->index, j);
            cfg_seen_add(ctx, &metrics, d->metrics[j].name, file, path);
        }
    }
    for (size_t i = 0; i < cfg->nderive; i++) {
        cfg_path_fmt(path, "derive[%zu].metric", i);
        cfg_seen_add(ctx, &metrics, cfg->derive[i].metric, file, path);
    }
    cfg_seen_clear(&metrics);

    struct cfg_seen_set devices = {.what = "device name"};
    for (size_t i = 0; i < cfg->ndevices; i++) {
        cfg_path_fmt(path, "%s[%zu].name", cfg->devices[i].protocol, cfg->devices[i].index);
        cfg_seen_add(ctx, &devices, cfg->devices[i].name, file, path);
        /* Derived metrics are the source "derive" (core/evaluator.c): a
         * device of that name would have its metrics forgotten with theirs
         * on a reload, and theirs marked failed when it fails. */
        if (cfg->devices[i].name && strcmp(cfg->devices[i].name, "derive") == 0)
            cfg_error(ctx, path, "'derive' is reserved for derived metrics: name the device "
                                 "after what it is (e.g. chiller1)");
    }
    cfg_seen_clear(&devices);

    struct cfg_seen_set tokens = {.what = "token name"};
    for (size_t i = 0; i < cfg->http.ntokens; i++) {
        cfg_path_fmt(path, "http.tokens[%zu].name", i);
        cfg_seen_add(ctx, &tokens, cfg->http.tokens[i].name, file, path);
        /* One secret, two names: the API could not tell who called. */
        for (size_t j = 0; j < i; j++) {
            const char *a = cfg->http.tokens[i].token, *b = cfg->http.tokens[j].token;
            if (a && b && util_secret_equal(a, b)) {
                cfg_path_fmt(path, "http.tokens[%zu]", i);
                cfg_error(ctx, path, "same token as http.tokens[%zu] (each client needs its own)",
                          j);
                break;
            }
        }
    }
    cfg_seen_clear(&tokens);

    struct cfg_seen_set peers = {.what = "peer name"};
    for (size_t i = 0; i < cfg->npeers; i++) {
        cfg_path_fmt(path, "peers[%zu].name", i);
        cfg_seen_add(ctx, &peers, cfg->peers[i].name, file, path);
        if (cfg->peers[i].name && cfg->site.name && strcmp(cfg->peers[i].name, cfg->site.name) == 0)
            cfg_error(ctx, path, "'%s' is this site's own name", cfg->site.name);
    }
    cfg_seen_clear(&peers);

    struct cfg_seen_set statics = {.what = "workload name"};
    for (size_t i = 0; i < cfg->workloads.nstatics; i++) {
        cfg_path_fmt(path, "workloads.static[%zu].name", i);
        cfg_seen_add(ctx, &statics, cfg->workloads.statics[i].name, file, path);
        /* A guest's home is a peer it can be moved back to (SPEC 3.3). */
        const char *home = cfg->workloads.statics[i].home_site;
        bool peer = false;
        for (size_t p = 0; home && p < cfg->npeers && !peer; p++)
            peer = cfg->peers[p].name && strcmp(cfg->peers[p].name, home) == 0;
        if (home && !peer) {
            cfg_path_fmt(path, "workloads.static[%zu].home_site", i);
            cfg_error(ctx, path, "'%s' is not one of the peers (peers[].name)", home);
        }
    }
    cfg_seen_clear(&statics);

    struct cfg_seen_set policies = {.what = "policy name"};
    for (size_t i = 0; i < cfg->npolicies; i++) {
        if (policy_files && policy_files[i])
            cfg_seen_add(ctx, &policies, cfg->policies[i].name, policy_files[i], "name");
        else {
            cfg_path_fmt(path, "policies[%zu].name", i);
            cfg_seen_add(ctx, &policies, cfg->policies[i].name, file, path);
        }
    }
    cfg_seen_clear(&policies);
}

/* ---- public functions ------------------------------------------------------- */

struct floe_config *cfg_load_buffer_warn(const char *name, const char *text, size_t len,
                                         const char *base_dir, struct cfg_errors *errs,
                                         struct cfg_errors *warnings)
{
    struct cfg_errors local = {0};
    if (!errs)
        errs = &local;
    struct cfg_ctx ctx = {.file = name ? name : "config",
                          .base_dir = base_dir,
                          .positions = true,
                          .errs = errs,
                          .warnings = warnings,
                          .first_error = errs->n};
    char **policy_files = NULL;
    struct floe_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        cfg_error(&ctx, NULL, "out of memory");
        goto done;
    }
    cfg->path = util_strdup(ctx.file);
    cfg_apply_defaults(&root_table, cfg);

    cJSON *json = cfg_parse_text(&ctx, ctx.file, text, len, &root_table);
    if (!json)
        goto done;
    cfg_parse_object(&ctx, &root_table, json, cfg, "");
    cfg_devices_build(cfg);
    cfg_policies_load_dir(&ctx, cfg, &policy_files);
    check_across(&ctx, cfg, policy_files);

done:
    if (policy_files) {
        for (size_t i = 0; cfg && i < cfg->npolicies; i++)
            free(policy_files[i]);
        free(policy_files);
    }
    cfg_ctx_release(&ctx);
    if (ctx.nerrors > errs->n - ctx.first_error) {
        char *line;
        if (asprintf(&line, "%s: %zu more errors not shown", ctx.file,
                     ctx.nerrors - (errs->n - ctx.first_error)) < 0)
            abort();
        cfg_errors_push(errs, line);
    }
    cfg_errors_clear(&local);
    if (ctx.nerrors) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

struct floe_config *cfg_load_buffer(const char *name, const char *text, size_t len,
                                    const char *base_dir, struct cfg_errors *errs)
{
    return cfg_load_buffer_warn(name, text, len, base_dir, errs, NULL);
}

struct floe_config *cfg_load_warn(const char *path, struct cfg_errors *errs,
                                  struct cfg_errors *warnings)
{
    char msg[768];
    size_t len;
    char *text = util_read_file(path, &len, msg, sizeof msg);
    if (!text) {
        if (errs)
            cfg_errors_push(errs, util_strdup(msg)); /* already "PATH: reason" */
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
    struct floe_config *cfg = cfg_load_buffer_warn(path, text, len, dir, errs, warnings);
    free(dir);
    free(text);
    return cfg;
}

struct floe_config *cfg_load(const char *path, struct cfg_errors *errs)
{
    return cfg_load_warn(path, errs, NULL);
}

void cfg_free(struct floe_config *cfg)
{
    if (!cfg)
        return;
    cfg_devices_free(cfg);
    cfg_workloads_free(cfg);
    cfg_free_fields(&root_table, cfg);
    free(cfg->path);
    free(cfg);
}

const char *cfg_role_name(enum cfg_role role)
{
    if (role == ROLE_NONE)
        return "none";
    const char *name = cfg_enum_name(roles, (int)role);
    return name ? name : "unknown";
}
