/*
 * cfg_kubeconfig — see cfg_kubeconfig.h. libyaml's document API builds
 * the tree (aliases become shared nodes, not copies, so a hostile file
 * cannot blow up); only the few paths a kubeconfig defines are followed.
 */
#include "config/cfg_kubeconfig.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/cfg_walk.h"
#include "lib/util.h"

/* One document being read, and where the reader is, for messages. */
struct kc_doc {
    yaml_document_t doc;
    char *err;
    size_t errlen;
};

static int kc_fail(struct kc_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int kc_fail(struct kc_doc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (d->err && d->errlen)
        vsnprintf(d->err, d->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static yaml_node_t *kc_node(struct kc_doc *d, int index)
{
    return yaml_document_get_node(&d->doc, index);
}

/* A scalar's text; NULL for anything else and for YAML's null ("null",
 * "~", nothing), which kubeconfig readers treat as a key not given. An
 * empty string is not given either (Go's omitempty). */
static const char *kc_scalar(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.length != strlen(s))
        return NULL; /* a NUL inside: not text floe can use */
    if (!*s)
        return NULL;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0 ||
         strcmp(s, "~") == 0))
        return NULL;
    return s;
}

static bool kc_is_true(const yaml_node_t *n)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                      "on",   "On",   "ON",   "y",   "Y"};
    const char *s = kc_scalar(n);
    for (size_t i = 0; s && i < ARRAY_LEN(yes); i++)
        if (strcmp(s, yes[i]) == 0)
            return true;
    return false;
}

/* The value under key in a mapping; NULL when n is no mapping or has no
 * such key (or the key's value is null). */
static yaml_node_t *kc_get(struct kc_doc *d, const yaml_node_t *n, const char *key)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = kc_scalar(kc_node(d, p->key));
        if (k && strcmp(k, key) == 0) {
            yaml_node_t *v = kc_node(d, p->value);
            if (v && v->type == YAML_SCALAR_NODE && !kc_scalar(v))
                return NULL;
            return v;
        }
    }
    return NULL;
}

/* Finds the entry named `name` in a top-level list ("clusters",
 * "contexts", "users": [{name, <inner>: {...}}]); *index gets its place. */
static yaml_node_t *kc_find(struct kc_doc *d, const yaml_node_t *root, const char *list,
                            const char *inner, const char *name, size_t *index)
{
    yaml_node_t *seq = kc_get(d, root, list);
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    size_t i = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *entry = kc_node(d, *it);
        const char *n = kc_scalar(kc_get(d, entry, "name"));
        if (n && strcmp(n, name) == 0) {
            *index = i;
            yaml_node_t *v = kc_get(d, entry, inner);
            return v ? v : entry; /* an entry without its object is reported by the caller */
        }
    }
    return NULL;
}

static const char *kc_string(struct kc_doc *d, const yaml_node_t *n, const char *key)
{
    return kc_scalar(kc_get(d, n, key));
}

/* ---- base64 (certificate-authority-data) ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64, padding optional, white space ignored. Returns a new
 * NUL-terminated buffer (length in *len), or NULL when s is not base64. */
static char *b64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        abort();
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    bool padding = false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || padding)
            goto bad;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6)
        goto bad; /* a lone sixth of a byte: truncated */
    out[o] = '\0';
    *len = o;
    return out;
bad:
    free(out);
    return NULL;
}

/* ---- the three parts of a context ---- */

static int kc_cluster(struct kc_doc *d, const yaml_node_t *root, const char *dir,
                      struct cfg_kubeconfig *out)
{
    size_t i = 0;
    yaml_node_t *c = kc_find(d, root, "clusters", "cluster", out->cluster, &i);
    if (!c)
        return kc_fail(d, "contexts: context \"%s\" names cluster \"%s\", which is not in clusters",
                       out->context, out->cluster);
    char where[32], who[96];
    snprintf(where, sizeof where, "clusters[%zu].cluster", i);
    snprintf(who, sizeof who, "(cluster \"%.64s\")", out->cluster);
    if (c->type != YAML_MAPPING_NODE || !kc_get(d, c, "server"))
        return kc_fail(d, "%s %s: no server", where, who);
    const char *server = kc_string(d, c, "server");
    char msg[256];
    if (!server || cfg_check_url(server, msg, sizeof msg) != 0)
        return kc_fail(d, "%s.server %s: must be an http:// or https:// URL", where, who);
    if (kc_is_true(kc_get(d, c, "insecure-skip-tls-verify")))
        return kc_fail(d,
                       "%s.insecure-skip-tls-verify %s: not supported: floe always verifies the "
                       "API server's certificate (give certificate-authority or "
                       "certificate-authority-data)",
                       where, who);
    static const char *const unsupported[][2] = {
        {"proxy-url", "a proxy"},
        {"tls-server-name", "a TLS server name other than the server's"},
    };
    for (size_t k = 0; k < ARRAY_LEN(unsupported); k++)
        if (kc_get(d, c, unsupported[k][0]))
            return kc_fail(d, "%s.%s %s: not supported (%s)", where, unsupported[k][0], who,
                           unsupported[k][1]);
    const char *ca_file = kc_string(d, c, "certificate-authority");
    const char *ca_data = kc_string(d, c, "certificate-authority-data");
    if (ca_file && ca_data)
        return kc_fail(d,
                       "%s %s: give certificate-authority or certificate-authority-data, not both",
                       where, who);
    if (ca_data) {
        out->ca_pem = b64_decode(ca_data, &out->ca_pem_len);
        if (!out->ca_pem || !strstr(out->ca_pem, "-----BEGIN CERTIFICATE-----"))
            return kc_fail(d,
                           "%s.certificate-authority-data %s: not a base64-encoded PEM certificate",
                           where, who);
    }
    if (ca_file)
        out->ca_file = cfg_resolve_path(dir, ca_file);
    out->server = util_strdup(server);
    return 0;
}

static int kc_user(struct kc_doc *d, const yaml_node_t *root, const char *dir,
                   struct cfg_kubeconfig *out)
{
    size_t i = 0;
    yaml_node_t *u = kc_find(d, root, "users", "user", out->user, &i);
    if (!u)
        return kc_fail(d, "contexts: context \"%s\" names user \"%s\", which is not in users",
                       out->context, out->user);
    char where[32], who[96];
    snprintf(where, sizeof where, "users[%zu].user", i);
    snprintf(who, sizeof who, "(user \"%.64s\")", out->user);
    /* Each way of signing in that floe does not do, by the key that asks for it. */
    static const char *const unsupported[][2] = {
        {"exec", "exec credential plugins are"},
        {"auth-provider", "auth-provider plugins are"},
        {"client-certificate", "client certificates are"},
        {"client-certificate-data", "client certificates are"},
        {"client-key", "client certificates are"},
        {"client-key-data", "client certificates are"},
        {"username", "basic authentication is"},
        {"password", "basic authentication is"},
        {"as", "impersonation is"},
        {"as-groups", "impersonation is"},
        {"as-uid", "impersonation is"},
    };
    for (size_t k = 0; k < ARRAY_LEN(unsupported); k++)
        if (kc_get(d, u, unsupported[k][0]))
            return kc_fail(d,
                           "%s.%s %s: %s not supported: floe signs in with a bearer token "
                           "(token or tokenFile), e.g. a service account's",
                           where, unsupported[k][0], who, unsupported[k][1]);
    const char *token = kc_string(d, u, "token");
    const char *token_file = kc_string(d, u, "tokenFile");
    if (token && token_file)
        return kc_fail(d, "%s %s: give token or tokenFile, not both", where, who);
    if (!token && !token_file)
        return kc_fail(d, "%s %s: no token or tokenFile (floe signs in with a bearer token)", where,
                       who);
    if (token)
        out->token = util_strdup(token);
    else
        out->token_file = cfg_resolve_path(dir, token_file);
    return 0;
}

static int kc_read(struct kc_doc *d, const char *dir, struct cfg_kubeconfig *out)
{
    yaml_node_t *root = yaml_document_get_root_node(&d->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return kc_fail(d, "not a kubeconfig (no mapping at the top)");
    const char *current = kc_string(d, root, "current-context");
    if (!current)
        return kc_fail(d, "no current-context (set one with kubectl config use-context NAME)");
    out->context = util_strdup(current);
    size_t i = 0;
    yaml_node_t *ctx = kc_find(d, root, "contexts", "context", current, &i);
    if (!ctx)
        return kc_fail(d, "current-context: \"%s\" is not in contexts", current);
    const char *cluster = kc_string(d, ctx, "cluster");
    const char *user = kc_string(d, ctx, "user");
    if (!cluster || !user)
        return kc_fail(d, "contexts[%zu].context (context \"%.64s\"): needs a cluster and a user",
                       i, current);
    out->cluster = util_strdup(cluster);
    out->user = util_strdup(user);
    if (kc_cluster(d, root, dir, out) != 0 || kc_user(d, root, dir, out) != 0)
        return -1;
    return 0;
}

int cfg_kubeconfig_parse(const char *text, size_t len, const char *dir, struct cfg_kubeconfig *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > CFG_KUBECONFIG_MAX)
        return errf(err, errlen, "larger than %u bytes: not a kubeconfig", CFG_KUBECONFIG_MAX);
    struct kc_doc d = {.err = err, .errlen = errlen};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = -1;
    if (!yaml_parser_load(&parser, &d.doc)) {
        errf(err, errlen, "line %zu column %zu: %s%s%s", parser.problem_mark.line + 1,
             parser.problem_mark.column + 1, parser.problem ? parser.problem : "YAML error",
             parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    rc = kc_read(&d, dir, out);
    yaml_document_delete(&d.doc);
    yaml_parser_delete(&parser);
    if (rc != 0)
        cfg_kubeconfig_clear(out);
    return rc;
}

void cfg_kubeconfig_clear(struct cfg_kubeconfig *k)
{
    if (!k)
        return;
    free(k->context);
    free(k->cluster);
    free(k->user);
    free(k->server);
    free(k->ca_file);
    free(k->ca_pem);
    cfg_secret_free(k->token);
    free(k->token_file);
    memset(k, 0, sizeof *k);
}
