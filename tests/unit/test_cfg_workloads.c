/*
 * test_cfg_workloads — the "workloads" section and migrator's new keys:
 * static workloads with every SPEC 6 field, the Kubernetes credentials
 * (api with a token file; a kubeconfig's current context with its CA as a
 * file or as data and its token inline or as a file; the pod's service
 * account), the kubeconfig parser on its own (every unsupported way of
 * signing in named, YAML errors placed), and every error with its path.
 *
 * Configs are written with single quotes; load() turns them into double
 * quotes and "@DIR@" into the fixture's directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_kubeconfig.h"
#include "config/config.h"
#include "lib/util.h"

#define PEM "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
/* base64 of PEM */
#define PEM_B64                                                                                    \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"

struct fixture {
    char dir[64];
};

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-cfgwl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/kube", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof sub, "%s/sa", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(f->dir, "k8s.token", "  token-from-file\n");
    write_file(f->dir, "ca.crt", PEM);
    write_file(f->dir, "kube/ca.crt", PEM);
    write_file(f->dir, "kube/floe.token", "kube-token-file\n");
    write_file(f->dir, "sa/token", "sa-token\n");
    write_file(f->dir, "sa/ca.crt", PEM);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("FLOE_K8S_SERVICEACCOUNT_DIR");
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("FLOE_K8S_SERVICEACCOUNT_DIR");
    free(f);
    return 0;
}

/* s with "@DIR@" replaced by dir and, if quotes, ' by ". */
static char *expand(const char *s, const char *dir, bool quotes)
{
    size_t cap = strlen(s) * 2 + 512, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = s; *p;) {
        if (strncmp(p, "@DIR@", 5) == 0) {
            size_t dl = strlen(dir);
            if (n + dl + 2 >= cap) {
                cap = cap * 2 + dl;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            memcpy(out + n, dir, dl);
            n += dl;
            p += 5;
            continue;
        }
        if (n + 2 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        out[n++] = quotes && *p == '\'' ? '"' : *p;
        p++;
    }
    out[n] = '\0';
    return out;
}

static struct floe_config *load(const struct fixture *f, const char *q, struct cfg_errors *errs)
{
    char *text = expand(q, f->dir, true);
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), f->dir, errs);
    free(text);
    return cfg;
}

static struct floe_config *load_ok(const struct fixture *f, const char *q)
{
    struct cfg_errors errs = {0};
    struct floe_config *cfg = load(f, q, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("  got: %s\n", errs.lines[i]);
    assert_int_equal(errs.n, 0);
    assert_non_null(cfg);
    cfg_errors_clear(&errs);
    return cfg;
}

/* Loading q fails with exactly the lines want (NULL-terminated; @DIR@
 * expanded). */
static void load_fails(const struct fixture *f, const char *q, const char *const *want)
{
    struct cfg_errors errs = {0};
    struct floe_config *cfg = load(f, q, &errs);
    size_t nwant = 0;
    while (want[nwant])
        nwant++;
    for (size_t i = 0; i < errs.n; i++)
        print_message("  got: %s\n", errs.lines[i]);
    assert_null(cfg);
    assert_int_equal(errs.n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        char *w = expand(want[i], f->dir, false);
        assert_string_equal(errs.lines[i], w);
        free(w);
    }
    cfg_errors_clear(&errs);
}

// clang-format off
#define SITE "'site': {'name': 'lulea-1'}, 'peers': [{'name': 'falkenberg-1', 'url': 'http://127.0.0.1:9', 'token': 'p'}]"
// clang-format on

/* ---- static workloads ---- */

static void static_workloads_take_every_spec_field(void **state)
{
    struct fixture *f = *state;
    struct floe_config *cfg = load_ok(
        f, "{" SITE ", 'workloads': {'source': 'static', 'static': ["
           "{'name': 'shop', 'power_kw': 40, 'data_gb': 2, 'priority': 10, 'stateless': true,"
           " 'group': 'storefront', 'hostname': 'shop.apps.example.org', 'pinned': true,"
           " 'home_site': 'falkenberg-1'},"
           "{'name': 'db', 'namespace': 'mysql', 'power_kw': 20,"
           " 'quiesce': ['/sbin/fsfreeze', '--freeze', '/var/lib/mysql']}]}}");
    const struct cfg_static_workload *shop = &cfg->workloads.statics[0];
    const struct cfg_static_workload *db = &cfg->workloads.statics[1];
    assert_string_equal(shop->namespace_, "shop");
    assert_string_equal(shop->group, "storefront");
    assert_true(shop->pinned);
    assert_string_equal(shop->home_site, "falkenberg-1");
    assert_null(shop->quiesce);
    assert_int_equal(shop->nquiesce, 0);
    assert_string_equal(db->namespace_, "mysql");
    assert_null(db->group);
    assert_false(db->pinned);
    assert_null(db->home_site);
    assert_int_equal(db->nquiesce, 3);
    assert_string_equal(db->quiesce[0], "/sbin/fsfreeze");
    assert_string_equal(db->quiesce[2], "/var/lib/mysql");
    assert_int_equal(cfg->workloads.refresh_ms, 60000);
    cfg_free(cfg);
}

static void static_workload_errors_name_their_path(void **state)
{
    struct fixture *f = *state;
    const char *const empty[] = {
        "floe.json:1:196: workloads.static[0].quiesce: must hold at least 1 string", NULL};
    load_fails(f,
               "{" SITE ", 'workloads': {'source': 'static', 'static': [{'name': 'a', "
               "'power_kw': 1, 'quiesce': []}]}}",
               empty);
    const char *const blank[] = {
        "floe.json:1:205: workloads.static[0].quiesce[1]: must not be empty",
        "floe.json:1:209: workloads.static[0].quiesce[2]: must be a string, not a number", NULL};
    load_fails(f,
               "{" SITE ", 'workloads': {'source': 'static', 'static': [{'name': 'a', "
               "'power_kw': 1, 'quiesce': ['sync', '', 3]}]}}",
               blank);
    const char *const text[] = {
        "floe.json:1:196: workloads.static[0].quiesce: must be an array of strings, not a string",
        NULL};
    load_fails(f,
               "{" SITE ", 'workloads': {'source': 'static', 'static': [{'name': 'a', "
               "'power_kw': 1, 'quiesce': 'sync'}]}}",
               text);
    const char *const home[] = {
        "floe.json:1:198: workloads.static[0].home_site: 'oslo-3' is not one of the peers "
        "(peers[].name)",
        NULL};
    load_fails(f,
               "{" SITE ", 'workloads': {'source': 'static', 'static': [{'name': 'a', "
               "'power_kw': 1, 'home_site': 'oslo-3'}]}}",
               home);
    const char *const pinned[] = {
        "floe.json:1:195: workloads.static[0].pinned: must be true or false, not a string", NULL};
    load_fails(f,
               "{" SITE ", 'workloads': {'source': 'static', 'static': [{'name': 'a', "
               "'power_kw': 1, 'pinned': 'yes'}]}}",
               pinned);
}

/* A quiesce command longer than the migrator carries is a config error,
 * not a command cut short at the final backup (CFG_QUIESCE_*). */
static void a_static_quiesce_command_too_long_is_refused(void **state)
{
    struct fixture *f = *state;
    char q[1024];
    size_t n = (size_t)snprintf(q, sizeof q,
                                "{" SITE ", 'workloads': {'source': 'static', 'static': [{'name': "
                                "'a', 'power_kw': 1, 'quiesce': [");
    for (int i = 0; i <= CFG_QUIESCE_WORDS; i++)
        n += (size_t)snprintf(q + n, sizeof q - n, "%s'x'", i ? ", " : "");
    snprintf(q + n, sizeof q - n, "]}]}}");
    const char *const many[] = {"floe.json:1:196: workloads.static[0].quiesce: quiesce command too "
                                "long: 65 words; floe carries at most 64",
                                NULL};
    load_fails(f, q, many);
    /* 64 words load */
    char *two = strstr(q, "'x', 'x']");
    memmove(two, two + 5, strlen(two + 5) + 1);
    struct floe_config *cfg = load_ok(f, q);
    assert_int_equal(cfg->workloads.statics[0].nquiesce, CFG_QUIESCE_WORDS);
    cfg_free(cfg);
}

static void refresh_and_migrator_keys_have_defaults_and_bounds(void **state)
{
    struct fixture *f = *state;
    struct floe_config *cfg = load_ok(f, "{" SITE "}");
    assert_int_equal(cfg->workloads.refresh_ms, 60000);
    assert_int_equal(cfg->migrator.retries, 2);
    assert_false(cfg->migrator.data_mover);
    cfg_free(cfg);
    /* A migrator moves workloads through the site's Kubernetes API. */
    cfg = load_ok(f, "{" SITE ", 'workloads': {'refresh': '15s', 'source': 'kubernetes', "
                     "'kubernetes': {'api': 'https://127.0.0.1:6443', 'token': 't'}}, "
                     "'migrator': {'retries': 0, 'data_mover': true}}");
    assert_int_equal(cfg->workloads.refresh_ms, 15000);
    assert_int_equal(cfg->migrator.retries, 0);
    assert_true(cfg->migrator.data_mover);
    cfg_free(cfg);
    const char *const bad[] = {"floe.json:1:136: workloads.refresh: must be at least 1s",
                               "floe.json:1:170: migrator.retries: must be between 0 and 10", NULL};
    load_fails(f, "{" SITE ", 'workloads': {'refresh': '500ms'}, 'migrator': {'retries': 11}}",
               bad);
}

/* ---- Kubernetes: api and token ---- */

#define K8S(obj) "{" SITE ", 'workloads': {'source': 'kubernetes', 'kubernetes': " obj "}}"

static void api_with_a_token_file_keeps_the_file_to_reread(void **state)
{
    struct fixture *f = *state;
    struct floe_config *cfg = load_ok(f, K8S("{'api': 'https://127.0.0.1:6443', "
                                             "'token_file': 'k8s.token', 'ca_file': 'ca.crt'}"));
    const struct cfg_workloads *w = &cfg->workloads;
    assert_string_equal(w->k8s_api, "https://127.0.0.1:6443");
    assert_string_equal(w->k8s_token, "token-from-file");
    char want[128];
    snprintf(want, sizeof want, "%s/k8s.token", f->dir);
    assert_string_equal(w->k8s_token_file, want);
    snprintf(want, sizeof want, "%s/ca.crt", f->dir);
    assert_string_equal(w->k8s_ca_file, want);
    assert_null(w->k8s_ca_pem);
    assert_string_equal(w->k8s_credentials, "workloads.kubernetes");
    cfg_free(cfg);

    cfg = load_ok(f, K8S("{'api': 'https://127.0.0.1:6443', 'token': 'inline-token'}"));
    assert_string_equal(cfg->workloads.k8s_token, "inline-token");
    assert_null(cfg->workloads.k8s_token_file); /* never changes: nothing to re-read */
    cfg_free(cfg);
}

static void kubernetes_key_combinations_are_checked(void **state)
{
    struct fixture *f = *state;
    const char *const no_token[] = {
        "floe.json:1:163: workloads.kubernetes.token: missing required key (give token or "
        "token_file with api)",
        NULL};
    load_fails(f, K8S("{'api': 'https://127.0.0.1:6443'}"), no_token);
    const char *const both[] = {
        "floe.json:1:225: workloads.kubernetes.kubeconfig: give either api (with token and "
        "ca_file) or kubeconfig, not both",
        NULL};
    write_file(f->dir, "kubeconfig", "current-context: x\n");
    load_fails(f,
               K8S("{'api': 'https://127.0.0.1:6443', 'token': 't', 'kubeconfig': 'kubeconfig'}"),
               both);
    const char *const stray[] = {
        "floe.json:1:206: workloads.kubernetes.token_file: only with api (without it, the token "
        "and the CA come from the kubeconfig or the pod's service account)",
        NULL};
    load_fails(f, K8S("{'kubeconfig': 'kubeconfig', 'token_file': 'k8s.token'}"), stray);
}

/* ---- Kubernetes: kubeconfig ---- */

static void kubeconfig_with_ca_data_and_inline_token(void **state)
{
    struct fixture *f = *state;
    write_file(f->dir, "kube/config",
               "apiVersion: v1\n"
               "kind: Config\n"
               "preferences: {}\n"
               "clusters:\n"
               "- name: other\n"
               "  cluster: {server: 'https://10.9.9.9:6443'}\n"
               "- name: site\n"
               "  cluster:\n"
               "    server: https://127.0.0.1:6443\n"
               "    certificate-authority-data: " PEM_B64 "\n"
               "    extensions: [{name: x, extension: {}}]\n"
               "contexts:\n"
               "- name: admin@site\n"
               "  context: {cluster: site, user: admin}\n"
               "- name: floe@site\n"
               "  context:\n"
               "    cluster: site\n"
               "    user: floe\n"
               "    namespace: floe\n"
               "current-context: floe@site\n"
               "users:\n"
               "- name: admin\n"
               "  user:\n"
               "    exec: {command: kubelogin}\n"
               "- name: floe\n"
               "  user:\n"
               "    token: \"eyJhbGciOi.token\"\n");
    struct floe_config *cfg = load_ok(f, K8S("{'kubeconfig': 'kube/config'}"));
    const struct cfg_workloads *w = &cfg->workloads;
    assert_string_equal(w->k8s_api, "https://127.0.0.1:6443");
    assert_string_equal(w->k8s_token, "eyJhbGciOi.token");
    assert_null(w->k8s_token_file);
    assert_null(w->k8s_ca_file);
    assert_non_null(w->k8s_ca_pem);
    assert_int_equal(w->k8s_ca_pem_len, strlen(PEM));
    assert_memory_equal(w->k8s_ca_pem, PEM, strlen(PEM));
    char want[192];
    snprintf(want, sizeof want, "kubeconfig %s/kube/config (context floe@site)", f->dir);
    assert_string_equal(w->k8s_credentials, want);
    assert_string_equal(w->k8s_label_selector, "floe.dev/movable=true");
    cfg_free(cfg);
}

static void kubeconfig_paths_are_taken_from_its_own_directory(void **state)
{
    struct fixture *f = *state;
    write_file(f->dir, "kube/config",
               "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443', "
               "certificate-authority: ca.crt}}]\n"
               "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "current-context: x\n"
               "users: [{name: u, user: {tokenFile: floe.token}}]\n");
    struct floe_config *cfg = load_ok(f, K8S("{'kubeconfig': 'kube/config'}"));
    const struct cfg_workloads *w = &cfg->workloads;
    char want[128];
    snprintf(want, sizeof want, "%s/kube/ca.crt", f->dir);
    assert_string_equal(w->k8s_ca_file, want);
    snprintf(want, sizeof want, "%s/kube/floe.token", f->dir);
    assert_string_equal(w->k8s_token_file, want);
    assert_string_equal(w->k8s_token, "kube-token-file");
    assert_null(w->k8s_ca_pem);
    cfg_free(cfg);

    /* A tokenFile that is not there is an error of the config, now. */
    write_file(f->dir, "kube/config",
               "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
               "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "current-context: x\n"
               "users: [{name: u, user: {tokenFile: gone.token}}]\n");
    const char *const gone[] = {
        "floe.json:1:178: workloads.kubernetes.kubeconfig: @DIR@/kube/config: tokenFile "
        "@DIR@/kube/gone.token: No such file or directory",
        NULL};
    load_fails(f, K8S("{'kubeconfig': 'kube/config'}"), gone);

    /* Only regular files: a FIFO would block the load (a folder stands in
     * for one here, so that a failure cannot hang the test). */
    const char *const folder[] = {
        "floe.json:1:178: workloads.kubernetes.kubeconfig: @DIR@/kube: not a regular file", NULL};
    load_fails(f, K8S("{'kubeconfig': 'kube'}"), folder);
}

static void unsupported_sign_in_is_a_config_error_naming_it(void **state)
{
    struct fixture *f = *state;
    write_file(f->dir, "kube/config",
               "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
               "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "current-context: x\n"
               "users: [{name: u, user: {client-certificate-data: AAAA, client-key-data: "
               "BBBB}}]\n");
    const char *const want[] = {
        "floe.json:1:178: workloads.kubernetes.kubeconfig: @DIR@/kube/config: "
        "users[0].user.client-certificate-data (user \"u\"): client certificates are not "
        "supported: floe signs in with a bearer token (token or tokenFile), e.g. a service "
        "account's",
        NULL};
    load_fails(f, K8S("{'kubeconfig': 'kube/config'}"), want);
}

/* The parser on its own: the current context's parts, each refusal. */
struct kc_case {
    const char *name;
    const char *yaml;
    const char *want_err; /* NULL: parses */
};

// clang-format off
#define KC_HEAD "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n" \
                "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
static const struct kc_case kc_cases[] = {
    {"token", KC_HEAD "users: [{name: u, user: {token: abc}}]\n", NULL},
    {"exec", KC_HEAD "users: [{name: u, user: {exec: {command: aws}}}]\n",
     "users[0].user.exec (user \"u\"): exec credential plugins are not supported: floe signs in "
     "with a bearer token (token or tokenFile), e.g. a service account's"},
    {"auth-provider", KC_HEAD "users: [{name: u, user: {auth-provider: {name: oidc}}}]\n",
     "users[0].user.auth-provider (user \"u\"): auth-provider plugins are not supported: floe "
     "signs in with a bearer token (token or tokenFile), e.g. a service account's"},
    {"client-certificate", KC_HEAD "users: [{name: u, user: {client-certificate: a.crt, client-key: a.key}}]\n",
     "users[0].user.client-certificate (user \"u\"): client certificates are not supported: floe "
     "signs in with a bearer token (token or tokenFile), e.g. a service account's"},
    {"basic", KC_HEAD "users: [{name: u, user: {username: admin, password: x}}]\n",
     "users[0].user.username (user \"u\"): basic authentication is not supported: floe signs in "
     "with a bearer token (token or tokenFile), e.g. a service account's"},
    {"no token", KC_HEAD "users: [{name: u, user: {}}]\n",
     "users[0].user (user \"u\"): no token or tokenFile (floe signs in with a bearer token)"},
    {"token and file", KC_HEAD "users: [{name: u, user: {token: a, tokenFile: b}}]\n",
     "users[0].user (user \"u\"): give token or tokenFile, not both"},
    {"insecure",
     "clusters: [{name: c, cluster: {server: 'https://h:1', insecure-skip-tls-verify: true}}]\n"
     "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
     "users: [{name: u, user: {token: a}}]\n",
     "clusters[0].cluster.insecure-skip-tls-verify (cluster \"c\"): not supported: floe always "
     "verifies the API server's certificate (give certificate-authority or "
     "certificate-authority-data)"},
    {"insecure false is fine",
     "clusters: [{name: c, cluster: {server: 'https://h:1', insecure-skip-tls-verify: false}}]\n"
     "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
     "users: [{name: u, user: {token: a}}]\n", NULL},
    {"proxy",
     "clusters: [{name: c, cluster: {server: 'https://h:1', proxy-url: 'http://p:3128'}}]\n"
     "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
     "users: [{name: u, user: {token: a}}]\n",
     "clusters[0].cluster.proxy-url (cluster \"c\"): not supported (a proxy)"},
    {"ca data not base64",
     "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority-data: '%%%'}}]\n"
     "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
     "users: [{name: u, user: {token: a}}]\n",
     "clusters[0].cluster.certificate-authority-data (cluster \"c\"): not a base64-encoded PEM "
     "certificate"},
    {"server not a URL",
     "clusters: [{name: c, cluster: {server: 'h:6443'}}]\n"
     "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
     "users: [{name: u, user: {token: a}}]\n",
     "clusters[0].cluster.server (cluster \"c\"): must be an http:// or https:// URL"},
    {"no current context", "clusters: []\ncurrent-context: \"\"\n",
     "no current-context (set one with kubectl config use-context NAME)"},
    {"context unknown", "current-context: prod\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n",
     "current-context: \"prod\" is not in contexts"},
    {"cluster unknown", "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n",
     "contexts: context \"x\" names cluster \"c\", which is not in clusters"},
    {"not a mapping", "- a\n- b\n", "not a kubeconfig (no mapping at the top)"},
    {"yaml syntax", "clusters: [\n  {name: c\n", "line 3 column 1: did not find expected ',' or '}' while parsing a flow mapping"},
};
// clang-format on

static void kubeconfig_parser_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof kc_cases / sizeof kc_cases[0]; i++) {
        const struct kc_case *c = &kc_cases[i];
        struct cfg_kubeconfig kc;
        char err[512] = "";
        int rc = cfg_kubeconfig_parse(c->yaml, strlen(c->yaml), "/etc/kube", &kc, err, sizeof err);
        print_message("  %s: %s\n", c->name, rc ? err : "parsed");
        if (!c->want_err) {
            assert_int_equal(rc, 0);
            assert_non_null(kc.server);
            assert_non_null(kc.token);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(err, c->want_err);
            assert_null(kc.server); /* nothing half-filled */
        }
        cfg_kubeconfig_clear(&kc);
    }
}

/* ---- Kubernetes: the pod's service account ---- */

static void in_cluster_credentials_from_the_pod(void **state)
{
    struct fixture *f = *state;
    const char *const outside[] = {
        "floe.json:1:163: workloads.kubernetes: no api and no kubeconfig given, and not inside a "
        "Kubernetes pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set): give "
        "api with token_file and ca_file, or kubeconfig",
        NULL};
    load_fails(f, K8S("{}"), outside);

    char sa[128];
    snprintf(sa, sizeof sa, "%s/sa", f->dir);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    setenv("FLOE_K8S_SERVICEACCOUNT_DIR", sa, 1);
    struct floe_config *cfg = load_ok(f, K8S("{'label_selector': 'tier=movable'}"));
    const struct cfg_workloads *w = &cfg->workloads;
    assert_string_equal(w->k8s_api, "https://10.96.0.1:443");
    assert_string_equal(w->k8s_token, "sa-token");
    char want[160];
    snprintf(want, sizeof want, "%s/token", sa);
    assert_string_equal(w->k8s_token_file, want);
    snprintf(want, sizeof want, "%s/ca.crt", sa);
    assert_string_equal(w->k8s_ca_file, want);
    snprintf(want, sizeof want, "in-cluster service account (%s)", sa);
    assert_string_equal(w->k8s_credentials, want);
    assert_string_equal(w->k8s_label_selector, "tier=movable");
    cfg_free(cfg);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    cfg = load_ok(f, K8S("{}"));
    assert_string_equal(cfg->workloads.k8s_api, "https://[fd00::1]:443");
    cfg_free(cfg);

    /* A pod without its token mounted (automountServiceAccountToken: false). */
    snprintf(want, sizeof want, "%s/token", sa);
    unlink(want);
    const char *const no_token[] = {
        "floe.json:1:163: workloads.kubernetes: in-cluster service account token: "
        "@DIR@/sa/token: No such file or directory",
        NULL};
    load_fails(f, K8S("{}"), no_token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(static_workloads_take_every_spec_field, setup, teardown),
        cmocka_unit_test_setup_teardown(static_workload_errors_name_their_path, setup, teardown),
        cmocka_unit_test_setup_teardown(a_static_quiesce_command_too_long_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refresh_and_migrator_keys_have_defaults_and_bounds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(api_with_a_token_file_keeps_the_file_to_reread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(kubernetes_key_combinations_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(kubeconfig_with_ca_data_and_inline_token, setup, teardown),
        cmocka_unit_test_setup_teardown(kubeconfig_paths_are_taken_from_its_own_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unsupported_sign_in_is_a_config_error_naming_it, setup,
                                        teardown),
        cmocka_unit_test(kubeconfig_parser_cases),
        cmocka_unit_test_setup_teardown(in_cluster_credentials_from_the_pod, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
