/*
 * config — floe.json: the whole configuration as plain structs.
 *
 * cfg_load() reads a file (JSON with // and block comments), validates
 * every key against the tables of config/ and returns a new
 * struct floe_config; the caller owns it and frees it with cfg_free().
 * Errors are collected, not stopped at: each one is a line
 * "FILE:LINE:COL: json.path: message" in the cfg_errors list (LINE:COL
 * where the offending value starts; a point's metric follows the path as
 * "(metric NAME)"), so check-config can show them all at once. Warnings
 * (valid, but probably not what was meant) are lines of the same shape
 * with "warning: " before the message.
 *
 * A loaded config is immutable once published: after it is handed to the
 * running agent (core/agent.h agent_config_swap) no field is written
 * again, which is what lets any number of threads read it without a lock.
 * A change is a new config, loaded and validated on the side and swapped
 * in whole. Its lifetime is a reference count (config_ref/config_unref,
 * config/config_ref.c): each reader — a policy tick, an HTTP request, the
 * pollers, later a migration — holds its own reference for as long as it
 * reads, so a reload never frees a config that somebody still uses.
 *
 * Durations are stored in milliseconds (_ms). Secrets given as *_file are
 * read at load time and stored in the same field as an inline secret.
 * Strings are owned by the config (freed by cfg_free). Sections that later
 * steps act on (peers, workloads, migrator, traffic) are validated and kept
 * here so one file serves the whole roadmap.
 *
 * Devices: each protocol has its own section and struct (modbus,
 * snmp), and `devices` lists all of them protocol-neutrally, so that code
 * outside config/ and collectors/ never needs to know which protocols
 * exist.
 */
#ifndef FLOE_CONFIG_H
#define FLOE_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_DEFAULT_PATH "/etc/floe/floe.json"
#define CFG_DEFAULT_STORE_PATH "/var/lib/floe/floe.db"
#define CFG_DEFAULT_LISTEN "127.0.0.1:8470"

/* ---- Modbus (SPEC 2.1) ---- */
enum mb_table { MB_TABLE_HOLDING, MB_TABLE_INPUT, MB_TABLE_COIL, MB_TABLE_DISCRETE };
enum mb_type {
    MB_TYPE_UINT16, MB_TYPE_INT16, MB_TYPE_UINT32, MB_TYPE_INT32, MB_TYPE_FLOAT32,
    MB_TYPE_UINT64, MB_TYPE_INT64, MB_TYPE_FLOAT64, MB_TYPE_BOOL
};
/* Word/byte order, named by where bytes A (most significant) .. D land. */
enum mb_order { MB_ORDER_ABCD, MB_ORDER_DCBA, MB_ORDER_BADC, MB_ORDER_CDAB };
enum mb_transport { MB_TRANSPORT_TCP, MB_TRANSPORT_RTU };

struct cfg_mb_point {
    char *metric;
    enum mb_table table;
    uint16_t address;
    enum mb_type type;      /* BOOL for coils, discretes and `bit` points */
    enum mb_order order;
    int bit;                /* 0..15, or -1 when the point is not a register bit */
    double scale;           /* default 1 */
    double offset;          /* default 0 */
    char *unit;             /* "" when not given */
};

/* Registers a value of type t occupies (1 for bool and 16-bit types). */
unsigned cfg_mb_type_registers(enum mb_type t);

struct cfg_mb_device {
    char *name;
    enum mb_transport transport;
    char *host;             /* tcp */
    int port;               /* tcp, default 502 */
    char *device;           /* rtu: serial device path */
    int baud;               /* rtu, default 9600 */
    char parity;            /* rtu: 'N', 'E', 'O'; default 'N' */
    int data_bits;          /* rtu, default 8 */
    int stop_bits;          /* rtu, default 1 */
    int unit_id;            /* default 1 (0..247, 255 allowed for tcp) */
    int64_t interval_ms;    /* default 5s */
    int64_t timeout_ms;     /* default 1s */
    int retries;            /* default 1 */
    int max_registers;      /* default 125 (1..125) */
    int max_gap;            /* default 8 */
    int64_t pause_after_connect_ms;
    int64_t pause_between_requests_ms;
    bool close_after_poll;
    bool one_request_per_point;
    int busy_retries;       /* default 0 */
    int64_t busy_retry_wait_ms; /* default 500ms */
    struct cfg_mb_point *points;
    size_t npoints;
};

/* ---- SNMP (SPEC 2.2) ---- */
enum snmp_version { SNMP_V1, SNMP_V2C, SNMP_V3 };
enum snmp_level { SNMP_NOAUTH_NOPRIV, SNMP_AUTH_NOPRIV, SNMP_AUTH_PRIV };
enum snmp_auth { SNMP_AUTH_NONE, SNMP_AUTH_MD5, SNMP_AUTH_SHA, SNMP_AUTH_SHA256, SNMP_AUTH_SHA512 };
enum snmp_priv { SNMP_PRIV_NONE, SNMP_PRIV_DES, SNMP_PRIV_AES, SNMP_PRIV_AES256 };

struct cfg_snmp_point {
    char *metric;           /* may contain "{index}" for walk points */
    char *oid;              /* numeric dotted OID for GET points, else NULL */
    char *walk;             /* numeric dotted OID of a subtree, else NULL */
    double scale, offset;
    char *unit;
};

struct cfg_snmp_device {
    char *name;
    char *host;
    int port;               /* default 161 */
    enum snmp_version version; /* default 2c */
    char *community;        /* v1/v2c; default "public" */
    char *user;             /* v3 */
    enum snmp_level level;
    enum snmp_auth auth_protocol;
    char *auth_password;
    enum snmp_priv priv_protocol;
    char *priv_password;
    char *context;
    int64_t interval_ms;    /* default 10s */
    int64_t timeout_ms;     /* default 1s */
    int retries;            /* default 1 */
    int64_t walk_growth_check_ms; /* default 60s; 0: every poll (snmp_collector.c) */
    struct cfg_snmp_point *points;
    size_t npoints;
};

/* ---- devices of every protocol ---- */

/* A metric a device produces, as configured. */
struct cfg_device_metric {
    const char *name;       /* a metric name, or a template with {index} (is_template) */
    const char *unit;
    bool is_template;       /* the device names the rows when polled (SNMP walks) */
};

/* One device, whatever its protocol: what the poller, the policy checks
 * and replay need. Everything is borrowed from the config. */
struct cfg_device {
    const char *name;
    const char *protocol;   /* "modbus", "snmp": its section of floe.json, and the
                               collector that polls it (collector_ops_for) */
    size_t index;           /* its place in that section: modbus[index] */
    int64_t interval_ms;
    int64_t timeout_ms;
    const void *config;     /* the protocol's struct (struct cfg_mb_device *, ...) */
    struct cfg_device_metric *metrics; /* one per point, in the file's order */
    size_t nmetrics;
};

/* Walk templates ("power.pdu1.outlet{index}_w"): every {index} stands for
 * the row index a walk finds, its numbers joined by '_' ("7", "1_2"). */
bool cfg_metric_is_template(const char *metric);
/* 0 when tmpl is a valid walk template (holds {index}, and gives metric
 * names); else -1 with the reason (without path) in msg. */
int cfg_metric_template_check(const char *tmpl, char *msg, size_t n);
/* The metric name of row `index` ("1_2"): every {index} replaced. Returns
 * 0, or -1 with a reason in err (not a row index, no {index} in tmpl, out
 * too small, or not a valid metric name). */
int cfg_metric_template_expand(const char *tmpl, const char *index, char *out, size_t outlen,
                               char *err, size_t errlen);
/* Whether name is the metric of some row of tmpl; a name without {index}
 * matches only itself. */
bool cfg_metric_template_matches(const char *tmpl, const char *name);

/* ---- HTTP ---- */
enum cfg_role { ROLE_NONE = 0, ROLE_READ = 1, ROLE_OPERATOR = 2, ROLE_ADMIN = 3, ROLE_PEER = 10 };

struct cfg_token {
    char *name;
    enum cfg_role role;
    char *token;            /* inline or read from token_file */
};

struct cfg_http {
    char *listen;           /* "host:port"; default 127.0.0.1:8470 */
    char *tls_cert_file;    /* both NULL when TLS is off */
    char *tls_key_file;
    bool anonymous_read;
    int threads;            /* event-loop threads of the HTTP server; read at start */
    struct cfg_token *tokens;
    size_t ntokens;
};

/* ---- derive, capacity, policies ---- */
struct cfg_derive {
    char *metric;
    char *expr;
    char *unit;
};

struct cfg_capacity {
    char *power_headroom_kw;    /* expression; default "power.supply_kw - it.load_kw" */
    char *cooling_headroom_kw;  /* expression; default "cooling.capacity_kw - it.load_kw" */
    double margin_kw;           /* default 0 */
};

enum pol_mode { POL_MODE_AUTO, POL_MODE_APPROVE, POL_MODE_OBSERVE };
enum pol_severity { POL_SEV_WARNING, POL_SEV_CRITICAL };
enum pol_action_type { POL_ACTION_NOTIFY, POL_ACTION_SHED, POL_ACTION_REBALANCE };

struct cfg_policy {
    char *name;
    char *description;
    char *when;                 /* expression source */
    int64_t for_ms;
    char *clear;                /* expression source, NULL = !(when) */
    int64_t clear_for_ms;
    enum pol_severity severity; /* default warning */
    enum pol_mode mode;         /* default observe */
    int64_t cooldown_ms;        /* default 15m */
    struct {
        enum pol_action_type type;  /* default notify */
        char *kw;                   /* shed: expression */
        int64_t deadline_ms;        /* 0 = none */
        double min_gain_kw;         /* rebalance */
        int max_migrations;         /* rebalance; default 1 */
        int64_t min_residency_ms;   /* rebalance; default 24h */
    } action;
    bool has_schedule;
    struct {
        int start_min, end_min;     /* minutes after local midnight; end may be < start (wraps) */
        unsigned days_mask;         /* bit 0 = Monday .. bit 6 = Sunday; all when not given */
    } schedule;
};

/* ---- peers, workloads, migrator, traffic (later steps) ---- */
struct cfg_peer {
    char *name;
    char *url;
    char *token;
    char *ca_file;
    char *ingress;
    char *velero_storage_location;
};

/* The largest quiesce command floe carries (SPEC 6, floe.dev/quiesce or
 * a static workload's quiesce): at most CFG_QUIESCE_WORDS words, and as
 * a JSON array of strings (how a migration stores it, store_mig.h)
 * shorter than CFG_QUIESCE_JSON_MAX bytes. A longer one is refused, never
 * cut: a final backup without its quiesce hook could miss writes. */
#define CFG_QUIESCE_WORDS 64
#define CFG_QUIESCE_JSON_MAX 2048

/* 0 when the n words fit those limits; -1 with why ("70 words; floe
 * carries at most 64") when not. */
int cfg_quiesce_check(char *const *words, size_t n, char *why, size_t whylen);

struct cfg_static_workload {
    char *name;
    char *namespace_;
    double power_kw;
    double data_gb;
    int priority;               /* default 50 */
    bool stateless;
    char *group;                /* moves together with the others of its group; NULL = alone */
    char *hostname;
    bool pinned;                /* never moved */
    char *home_site;            /* the peer it belongs to (a guest here); NULL = this site */
    char **quiesce;             /* the command run in its pods before the final backup; NULL = none */
    size_t nquiesce;
};

struct cfg_workloads {
    char *source;               /* "kubernetes", "static" or NULL (none) */
    int64_t refresh_ms;         /* how often the inventory is read again; default 1m (an
                                   addition to SPEC 2) */
    /* The site's API server. As given with "api"; without it, filled at
     * load from the kubeconfig or the pod's service account (SPEC 6). */
    char *k8s_api;
    char *k8s_token;            /* the token: inline, or the token file's content at load */
    char *k8s_token_file;       /* the file to re-read while running; NULL for an inline token */
    char *k8s_ca_file;          /* NULL: k8s_ca_pem, or the system's CA bundle */
    char *k8s_ca_pem;           /* a kubeconfig's certificate-authority-data, decoded; or NULL */
    size_t k8s_ca_pem_len;
    char *k8s_kubeconfig;       /* the kubeconfig read, or NULL */
    char *k8s_credentials;      /* where the credentials came from, in words, for logs and
                                   GET /v1/workloads */
    char *k8s_label_selector;   /* default "floe.dev/movable=true" */
    struct cfg_static_workload *statics;
    size_t nstatics;
};

struct cfg_migrator {
    char *driver;               /* "velero" */
    char *velero_namespace;     /* default "velero" */
    int64_t delta_interval_ms;  /* default 10m */
    int max_parallel;           /* default 2 */
    int64_t backup_ttl_ms;      /* default 72h */
    int64_t retain_source_ms;   /* default 24h */
    int retries;                /* a failed backup or restore tried again; default 2 */
    bool data_mover;            /* CSI snapshots and Velero's data mover: stateful workloads
                                   move without a quiesce hook (SPEC 6); default false */
    bool incremental_restore;
    /* Additions to SPEC 2: */
    bool enabled;               /* the section was given: this site moves workloads (it needs
                                   workloads.source "kubernetes") */
    int64_t tick_ms;            /* how often each migration is advanced; default 1s */
    /* Imports run here for peers (an addition to SPEC 2): how often this
     * cluster's Velero syncs its backup storage location (its
     * --backup-sync-period; default 1m), which bounds how long an import
     * waits for a peer's backup to appear; and how long a restored
     * workload may take to become ready (default 10m, a Deployment's
     * progressDeadlineSeconds). */
    int64_t backup_sync_period_ms;
    int64_t import_ready_timeout_ms;
};

struct cfg_traffic {
    char *driver;               /* "powerdns", "webhook", "none" (default) */
    char *api;
    char *api_key;
    char *server_id;            /* default "localhost" */
    char *zone;
    int ttl;                    /* default 30 */
    char *url;                  /* webhook */
};

struct floe_config {
    char *path;                 /* the file this was loaded from */
    struct {
        char *name;
        char *timezone;         /* default "UTC" */
        char *ingress;
    } site;
    struct {
        char *path;             /* default /var/lib/floe/floe.db */
        int64_t retention_ms;   /* default 365d: nothing older is kept */
        int64_t raw_retention_ms;    /* default 48h (at most retention) */
        int64_t minute_retention_ms; /* default 30d (at most retention) */
    } store;
    struct cfg_http http;
    struct cfg_mb_device *modbus;
    size_t nmodbus;
    struct cfg_snmp_device *snmp;
    size_t nsnmp;
    struct cfg_device *devices; /* every device above, section by section */
    size_t ndevices;
    struct cfg_derive *derive;
    size_t nderive;
    struct cfg_capacity capacity;
    struct cfg_policy *policies;
    size_t npolicies;
    char *policies_dir;
    int64_t policy_tick_ms;     /* how often derives and policies are evaluated; default 10s
                                   (an addition to SPEC 2) */
    struct cfg_peer *peers;
    size_t npeers;
    int64_t peers_poll_ms;      /* how often every peer's capacity is asked for the status
                                   screens; default 30s (an addition to SPEC 2) */
    struct cfg_workloads workloads;
    struct cfg_migrator migrator;
    struct cfg_traffic traffic;
    /* References beyond the creator's, so that a zeroed config (calloc in
     * cfg_load_buffer, a test's struct) starts with exactly one owner.
     * Only config_ref/config_unref touch it. */
    atomic_long extra_refs;
};

/* A list of error lines, each "FILE:LINE:COL: json.path: message". */
struct cfg_errors {
    char **lines;
    size_t n, cap;
};

/* Loads and validates path. Returns a new config (caller frees with
 * cfg_free) when there were no errors; NULL otherwise, with every problem
 * appended to errs (free with cfg_errors_clear). Warnings are appended to
 * warnings (NULL: dropped); they never make the load fail. */
struct floe_config *cfg_load_warn(const char *path, struct cfg_errors *errs,
                                  struct cfg_errors *warnings);
/* cfg_load_warn without the warnings. */
struct floe_config *cfg_load(const char *path, struct cfg_errors *errs);

/* The same from a buffer already in memory; `name` is used as FILE in
 * messages and relative *_file paths are resolved against base_dir (NULL =
 * current directory). Used by cfg_load, the fuzz target and the tests. */
struct floe_config *cfg_load_buffer_warn(const char *name, const char *text, size_t len,
                                         const char *base_dir, struct cfg_errors *errs,
                                         struct cfg_errors *warnings);
struct floe_config *cfg_load_buffer(const char *name, const char *text, size_t len,
                                    const char *base_dir, struct cfg_errors *errs);

/* Parses one policy object (the body of PUT /v1/policies/{name}) with the
 * same rules as an entry of "policies". `path` prefixes messages
 * (e.g. "body: mode: must be ...", without line and column). Returns 0
 * and fills *out (free with cfg_policy_clear), or -1 with errors appended. */
int cfg_parse_policy_json(const char *text, size_t len, const char *path, struct cfg_policy *out,
                          struct cfg_errors *errs);

void cfg_policy_clear(struct cfg_policy *p);
/* Frees cfg whatever its reference count: for a config nobody else has
 * seen (check-config, replay). A published config is released with
 * config_unref instead. */
void cfg_free(struct floe_config *cfg);

/* ---- references (config_ref.c) ----
 * A new config has one reference, its creator's. config_ref returns cfg
 * with one more (the caller owns it; NULL gives NULL); config_unref drops
 * one and frees the config with the last, returning true then (NULL: no-op,
 * false). Both are safe from any thread. After config_unref the caller
 * must not touch cfg nor anything it pointed into. */
struct floe_config *config_ref(struct floe_config *cfg);
bool config_unref(struct floe_config *cfg);
/* The number of references held now (diagnostics and tests; it may change
 * as soon as it is read). */
long config_refcount(struct floe_config *cfg);
void cfg_errors_clear(struct cfg_errors *errs);
/* Appends line (taken over) to errs; aborts when out of memory (lib/vec.h). */
void cfg_errors_push(struct cfg_errors *errs, char *line);

const char *cfg_role_name(enum cfg_role role);
const char *cfg_mb_table_name(enum mb_table t);

/* "2 Modbus and 1 SNMP devices": how many devices of each protocol. */
void cfg_devices_summary(const struct floe_config *cfg, char *buf, size_t n);

#endif
