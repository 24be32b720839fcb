/*
 * cfg_workloads — "workloads": where the inventory of movable workloads
 * comes from (SPEC 2, 6): a static list, or the site's own Kubernetes API.
 *
 * For Kubernetes, the credentials are settled here, at load, so that
 * check-config and a reload judge them like any other key: "api" with a
 * token and a CA as given; without "api", the current context of
 * "kubeconfig" (cfg_kubeconfig.c); without either, the pod's service
 * account (KUBERNETES_SERVICE_HOST and _PORT, and the token and CA in
 * /var/run/secrets/kubernetes.io/serviceaccount, or the directory named by
 * FLOE_K8S_SERVICEACCOUNT_DIR, for tests). Whichever way, the loaded
 * config holds one server URL, one CA (a file or PEM text) and one token
 * with, when it came from a file, that file: projected service account
 * tokens rotate, so the client re-reads it while running (kube/).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_kubeconfig.h"
#include "config/cfg_sections.h"
#include "config/cfg_walk.h"
#include "lib/util.h"

#define SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static const struct cfg_enum workload_sources[] = {{"kubernetes", 0}, {"static", 0}, {NULL, 0}};

/* ---- credentials ---------------------------------------------------------- */

/* A FIFO or a terminal would block the load, a device would feed it
 * without end: files named here are regular files only, as secrets are. */
static int not_regular(const char *path, char *msg, size_t n)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return errf(msg, n, "%s: not a regular file", path);
    return 0;
}

/* A token file read now: it must be there at load, like every *_file. */
static int read_token_file(struct cfg_workloads *w, const char *path, char *msg, size_t n)
{
    if (not_regular(path, msg, n) != 0)
        return -1;
    char *token = util_read_secret_file(path, msg, n);
    if (!token)
        return -1;
    cfg_secret_free(w->k8s_token);
    w->k8s_token = token;
    free(w->k8s_token_file);
    w->k8s_token_file = util_strdup(path);
    return 0;
}

static void from_kubeconfig(struct cfg_obj *o, struct cfg_workloads *w)
{
    char msg[768];
    size_t len;
    const char *path = w->k8s_kubeconfig;
    char *text =
        not_regular(path, msg, sizeof msg) ? NULL : util_read_file(path, &len, msg, sizeof msg);
    if (!text) {
        cfg_obj_error(o, "kubeconfig", "%s", msg);
        return;
    }
    char *dir = util_strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    struct cfg_kubeconfig kc;
    int rc = cfg_kubeconfig_parse(text, len, slash ? dir : NULL, &kc, msg, sizeof msg);
    free(text);
    free(dir);
    if (rc != 0) {
        cfg_obj_error(o, "kubeconfig", "%s: %s", path, msg);
        return;
    }
    free(w->k8s_api);
    w->k8s_api = util_strdup(kc.server);
    if (kc.ca_file && access(kc.ca_file, R_OK) != 0) {
        cfg_obj_error(o, "kubeconfig", "%s: certificate-authority %s: %s", path, kc.ca_file,
                      strerror(errno));
    } else if (kc.ca_file) {
        w->k8s_ca_file = util_strdup(kc.ca_file);
    } else if (kc.ca_pem) {
        w->k8s_ca_pem = kc.ca_pem;
        w->k8s_ca_pem_len = kc.ca_pem_len;
        kc.ca_pem = NULL;
    }
    if (kc.token) {
        w->k8s_token = kc.token;
        kc.token = NULL;
    } else if (read_token_file(w, kc.token_file, msg, sizeof msg) != 0) {
        cfg_obj_error(o, "kubeconfig", "%s: tokenFile %s", path, msg);
    }
    char *from;
    if (asprintf(&from, "kubeconfig %s (context %s)", path, kc.context) < 0)
        abort();
    w->k8s_credentials = from;
    cfg_kubeconfig_clear(&kc);
}

/* The pod's own service account, as client-go's rest.InClusterConfig
 * finds it. */
static void from_pod(struct cfg_obj *o, struct cfg_workloads *w)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
        cfg_obj_error(o, NULL,
                      "no api and no kubeconfig given, and not inside a Kubernetes pod "
                      "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set): give "
                      "api with token_file and ca_file, or kubeconfig");
        return;
    }
    if (strspn(host, "0123456789abcdefABCDEF.:-_abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(host) ||
        strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || strlen(host) > 253) {
        cfg_obj_error(o, NULL,
                      "KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not a host and a "
                      "port");
        return;
    }
    const char *dir = getenv("FLOE_K8S_SERVICEACCOUNT_DIR");
    if (!dir || !*dir)
        dir = SERVICEACCOUNT_DIR;
    char *api, *token, *ca, *from;
    bool v6 = strchr(host, ':') != NULL;
    if (asprintf(&api, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0 ||
        asprintf(&token, "%s/token", dir) < 0 || asprintf(&ca, "%s/ca.crt", dir) < 0 ||
        asprintf(&from, "in-cluster service account (%s)", dir) < 0)
        abort();
    free(w->k8s_api);
    w->k8s_api = api;
    w->k8s_credentials = from;
    char msg[768];
    if (read_token_file(w, token, msg, sizeof msg) != 0)
        cfg_obj_error(o, NULL, "in-cluster service account token: %s", msg);
    if (access(ca, R_OK) != 0)
        cfg_obj_error(o, NULL, "in-cluster service account CA: %s: %s", ca, strerror(errno));
    else
        w->k8s_ca_file = util_strdup(ca);
    free(ca);
    free(token);
}

static void kubernetes_check(struct cfg_obj *o)
{
    static const char *const with_api_only[] = {"token", "ca_file"};
    struct cfg_workloads *w = &((struct floe_config *)o->base)->workloads;
    bool api = cfg_present(o, "api"), kubeconfig = cfg_present(o, "kubeconfig");
    if (api && kubeconfig) {
        cfg_obj_error(o, "kubeconfig",
                      "give either api (with token and ca_file) or kubeconfig, "
                      "not both");
        return;
    }
    if (api) {
        if (!cfg_present(o, "token"))
            cfg_obj_error(o, "token", "missing required key (give token or token_file with api)");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(o->json, "token_file");
        if (cfg_given(o, "token") && cJSON_IsString(file))
            w->k8s_token_file = cfg_resolve_path(o->ctx->base_dir, file->valuestring);
        w->k8s_credentials = util_strdup("workloads.kubernetes");
        return;
    }
    bool stray = false;
    for (size_t i = 0; i < ARRAY_LEN(with_api_only); i++) {
        if (cfg_present(o, with_api_only[i])) {
            cfg_obj_error(o, with_api_only[i],
                          "only with api (without it, the token and the CA come from the "
                          "kubeconfig or the pod's service account)");
            stray = true;
        }
    }
    if (stray)
        return;
    if (kubeconfig) {
        if (cfg_given(o, "kubeconfig"))
            from_kubeconfig(o, w);
        return;
    }
    from_pod(o, w);
}

/* ---- static workloads ------------------------------------------------------- */

int cfg_quiesce_check(char *const *words, size_t n, char *why, size_t whylen)
{
    if (n > CFG_QUIESCE_WORDS)
        return errf(why, whylen, "quiesce command too long: %zu words; floe carries at most %d",
                    n, CFG_QUIESCE_WORDS);
    /* Measured as the migration will store it (escapes included). */
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString(words[i] ? words[i] : ""))) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!text)
        return errf(why, whylen, "quiesce command: out of memory");
    size_t len = strlen(text);
    free(text);
    if (len >= CFG_QUIESCE_JSON_MAX)
        return errf(why, whylen,
                    "quiesce command too long: %zu bytes as a JSON array; floe carries at most %d",
                    len, CFG_QUIESCE_JSON_MAX - 1);
    return 0;
}

static void static_workload_check(struct cfg_obj *o)
{
    struct cfg_static_workload *w = o->base;
    if (!cfg_present(o, "namespace") && w->name)
        w->namespace_ = util_strdup(w->name);
    char why[160];
    if (w->nquiesce && cfg_quiesce_check(w->quiesce, w->nquiesce, why, sizeof why) != 0)
        cfg_obj_error(o, "quiesce", "%s", why);
}

static void workloads_check(struct cfg_obj *o)
{
    struct floe_config *cfg = o->base;
    const char *source = cfg_given(o, "source") ? cfg->workloads.source : NULL;
    if (cfg_present(o, "source") && !source)
        return;
    bool k8s = source && strcmp(source, "kubernetes") == 0;
    bool statics = source && strcmp(source, "static") == 0;
    if (k8s && !cfg_present(o, "kubernetes"))
        cfg_obj_error(o, "kubernetes", "missing required key (source \"kubernetes\")");
    if (!k8s && cfg_present(o, "kubernetes"))
        cfg_obj_error(o, "kubernetes", "only used with source \"kubernetes\"");
    if (!statics && cfg_present(o, "static"))
        cfg_obj_error(o, "static", "only used with source \"static\"");
}

/* ---- the tables -------------------------------------------------------------- */

// clang-format off
#define T struct cfg_static_workload
static const struct cfg_key static_workload_keys[] = {
    KEY("name", K_STR, name, .flags = REQ, .check = cfg_check_name),
    KEY("namespace", K_STR, namespace_), /* default: the name (static_workload_check) */
    KEY("power_kw", K_NUM, power_kw, .flags = REQ | NONNEG),
    KEY("data_gb", K_NUM, data_gb, .flags = NONNEG, .def = "0"),
    KEY("priority", K_INT, priority, .def = "50", .min = 0, .max = 1000),
    KEY("stateless", K_BOOL, stateless, .def = "false"),
    KEY("group", K_STR, group, .check = cfg_check_name),
    KEY("hostname", K_STR, hostname, .check = cfg_check_host),
    KEY("pinned", K_BOOL, pinned, .def = "false"),
    KEY("home_site", K_STR, home_site, .check = cfg_check_name),
    STRINGS("quiesce", quiesce, nquiesce, .min = 1),
};
#undef T
static const struct cfg_table static_workload_table = TABLE(static_workload_keys, static_workload_check);

#define T struct floe_config
static const struct cfg_key kubernetes_keys[] = {
    KEY("api", K_STR, workloads.k8s_api, .check = cfg_check_url),
    KEY("token", K_SECRET, workloads.k8s_token),
    KEY("ca_file", K_FILE, workloads.k8s_ca_file, .flags = READABLE),
    KEY("kubeconfig", K_FILE, workloads.k8s_kubeconfig, .flags = READABLE),
    KEY("label_selector", K_STR, workloads.k8s_label_selector, .def = "floe.dev/movable=true"),
};
static const struct cfg_table kubernetes_table = TABLE(kubernetes_keys, kubernetes_check);

static const struct cfg_key workloads_keys[] = {
    KEY("source", K_STR, workloads.source, .names = workload_sources),
    KEY("refresh", K_DUR, workloads.refresh_ms, .def = "1m", .min = 1000, .max = 86400000),
    NESTED("kubernetes", kubernetes_table),
    ARRAY("static", workloads.statics, struct cfg_static_workload, workloads.nstatics, static_workload_table),
};
#undef T
const struct cfg_table cfg_workloads_table = TABLE(workloads_keys, workloads_check);
// clang-format on

void cfg_workloads_free(struct floe_config *cfg)
{
    struct cfg_workloads *w = &cfg->workloads;
    free(w->k8s_token_file);
    free(w->k8s_ca_pem);
    free(w->k8s_credentials);
    w->k8s_token_file = w->k8s_ca_pem = w->k8s_credentials = NULL;
    w->k8s_ca_pem_len = 0;
}
