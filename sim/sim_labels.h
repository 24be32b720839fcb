/*
 * sim_labels — Kubernetes metadata vocabulary for the simulated cluster:
 * string maps (labels, annotations), the name rules the API server
 * enforces, and label selectors (the labelSelector query parameter).
 *
 * Maps keep their keys sorted, the order in which the API server prints
 * them (Go's encoding/json sorts map keys), so objects come out as a real
 * cluster writes them. The selector grammar is the API server's (equality
 * `k=v`, `k==v`, `k!=v`; sets `k in (a,b)`, `k notin (a)`; existence `k`,
 * `!k`; integers `k>1`, `k<5`; comma = AND), and a selector it would
 * refuse is refused here, with a message in its words.
 */
#ifndef FLOE_SIM_LABELS_H
#define FLOE_SIM_LABELS_H

#include <stdbool.h>
#include <stddef.h>

/* DNS-1123 label (names of namespaces and workloads) and subdomain (the
 * prefix of a label key; names of other objects). */
#define SIMC_DNS_LABEL_MAX 63
#define SIMC_DNS_SUBDOMAIN_MAX 253

struct simc_pair {
    char *key;
    char *value;
};

/* A string map; the zero value is empty. Owns its strings. */
struct simc_map {
    struct simc_pair *pairs; /* sorted by key (strcmp) */
    size_t n, cap;
};

/* The value of key, or NULL. */
const char *simc_map_get(const struct simc_map *m, const char *key);
/* Sets (adds or replaces) key. Returns 0, or -1 when out of memory (the
 * map is unchanged). */
int simc_map_set(struct simc_map *m, const char *key, const char *value);
/* Removes key; true if it was there. */
bool simc_map_del(struct simc_map *m, const char *key);
/* Deep copy into *dst (which holds nothing). Returns 0 or -1 (out of
 * memory; *dst is then empty). */
int simc_map_copy(struct simc_map *dst, const struct simc_map *src);
/* Frees the strings and the array; the map is empty again. */
void simc_map_clear(struct simc_map *m);

/* Name rules, as the API server's validation has them. Each returns 0, or
 * -1 with a message that does not repeat the value's place. */
int simc_dns_label_check(const char *s, char *err, size_t errlen);
/* Label and annotation keys: [DNS subdomain "/"] name, the name at most 63
 * characters of [A-Za-z0-9-_.] starting and ending alphanumeric. */
int simc_qualified_name_check(const char *s, char *err, size_t errlen);
/* Label values: empty, or at most 63 characters of [A-Za-z0-9-_.]
 * starting and ending alphanumeric. (Annotation values are any string.) */
int simc_label_value_check(const char *s, char *err, size_t errlen);

enum simc_sel_op {
    SIMC_SEL_EQUALS,     /* =, == and "in": the label is one of the values */
    SIMC_SEL_NOT_EQUALS, /* != and "notin": absent, or none of the values */
    SIMC_SEL_EXISTS,
    SIMC_SEL_NOT_EXISTS,
    SIMC_SEL_GREATER, /* the label is an integer above the value */
    SIMC_SEL_LESS,
};

struct simc_requirement {
    char *key;
    enum simc_sel_op op;
    char **values;
    size_t nvalues;
};

/* A parsed selector: all requirements must match. The zero value (and an
 * empty selector text) matches everything. */
struct simc_selector {
    struct simc_requirement *reqs;
    size_t n, cap;
};

/* Parses a labelSelector. Returns 0, or -1 with the API server's kind of
 * message ("unable to parse requirement: found '=', expected:
 * identifier"); *sel then holds nothing to free. */
int simc_selector_parse(struct simc_selector *sel, const char *text, char *err, size_t errlen);
bool simc_selector_matches(const struct simc_selector *sel, const struct simc_map *labels);
void simc_selector_free(struct simc_selector *sel);

#endif
