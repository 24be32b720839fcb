/*
 * cfg_kubeconfig — reads a kubeconfig file (internal to config/): the
 * API server, CA and bearer token of its current context, which
 * workloads.kubernetes uses when it gives no "api" (cfg_workloads.c).
 *
 * floe talks to its cluster with a bearer token over verified https, so
 * of the ways a kubeconfig can authenticate it takes `token` and
 * `tokenFile` only; every other one (exec and auth-provider plugins,
 * client certificates, basic auth, impersonation) and a cluster with
 * `insecure-skip-tls-verify`, a proxy or another TLS server name is
 * refused with its name, rather than ignored into requests that fail
 * later for a reason nobody sees.
 *
 * Parsing is a pure function of the text (no file is opened): relative
 * paths in it are resolved against the directory given, as kubectl
 * resolves them against the kubeconfig's own directory. Uses libyaml.
 */
#ifndef FLOE_CFG_KUBECONFIG_H
#define FLOE_CFG_KUBECONFIG_H

#include <stddef.h>

/* A kubeconfig larger than this is not a kubeconfig. */
#define CFG_KUBECONFIG_MAX (1u << 20)

/* What the current context gives. Every string is owned (freed by
 * cfg_kubeconfig_clear); the token is wiped before it is freed. */
struct cfg_kubeconfig {
    char *context; /* the names, for messages */
    char *cluster;
    char *user;
    char *server;  /* http:// or https:// URL */
    char *ca_file; /* certificate-authority, resolved; NULL = none */
    char *ca_pem;  /* certificate-authority-data, decoded PEM text; NULL = none */
    size_t ca_pem_len;
    char *token;      /* the user's inline token; NULL = none */
    char *token_file; /* the user's tokenFile, resolved; NULL = none */
};

/* Parses text[0..len) as a kubeconfig; dir (NULL = as given) resolves
 * relative paths. Returns 0 with *out filled (exactly one of token and
 * token_file set; at most one of ca_file and ca_pem), or -1 with the
 * reason in err, naming the place: "line 3 column 5: ..." for YAML
 * syntax, "users[0].user.exec (user \"oidc\"): exec credential plugins
 * are not supported ..." for content. *out is left empty on failure. */
int cfg_kubeconfig_parse(const char *text, size_t len, const char *dir, struct cfg_kubeconfig *out,
                         char *err, size_t errlen);

/* Frees the strings and empties k; NULL is a no-op. */
void cfg_kubeconfig_clear(struct cfg_kubeconfig *k);

#endif
