/*
 * sim_schema — what the API server does with a custom resource's body
 * before storing it, for Velero's Backup and Restore: strict decoding
 * (fieldValidation=Strict, kubectl's default), pruning, ObjectMeta checks
 * and validation against the CRD's OpenAPI v3 schema, with the API
 * server's answers:
 *
 *   400 BadRequest  "Backup in version \"v1\" cannot be handled as a
 *                   Backup: strict decoding error: unknown field
 *                   \"spec.foo\""  (also duplicate fields and metadata of
 *                   the wrong JSON type, as the decoder words them)
 *   422 Invalid     "Backup.velero.io \"b1\" is invalid: spec.ttl: Invalid
 *                   value: \"integer\": spec.ttl in body must be of type
 *                   string: \"integer\"", one details.causes entry per
 *                   error (reason, message, field); several errors are
 *                   joined in [a, b] as the API server joins them.
 *
 * Schema keywords understood (those of Velero's CRDs and the usual rest):
 * type (object, array, string, integer, number, boolean), properties,
 * required, additionalProperties (a bool or a schema), items, enum,
 * nullable, format (date-time, duration; others are not checked, as the
 * API server ignores unknown formats), minItems, maxItems, minLength,
 * maxLength, minimum, maximum, x-kubernetes-preserve-unknown-fields,
 * x-kubernetes-int-or-string. `pattern` and CEL rules are not checked (no
 * Velero CRD has one). Like the API server, a null in an object field
 * that is not nullable is dropped (pruned) before validation rather than
 * refused.
 *
 * The CRDs (tests/data/velero-crds/, Velero v1.18.1) are built into the
 * binary (Makefile: sim_crd_*_json).
 */
#ifndef FLOE_SIM_SCHEMA_H
#define FLOE_SIM_SCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Velero's CRDs as JSON text, NUL-terminated (generated at build time). */
extern const unsigned char sim_crd_backups_json[];
extern const unsigned char sim_crd_restores_json[];

/* One CRD: its names and its schema (of spec.versions[0]). */
struct sim_crd {
    cJSON *doc;           /* the whole CustomResourceDefinition; owned */
    cJSON *schema;        /* ...schema.openAPIV3Schema, inside doc */
    char group[64];       /* "velero.io" */
    char version[32];     /* "v1" */
    char kind[64];        /* "Backup" */
    char plural[64];      /* "backups" */
    char api_version[96]; /* "velero.io/v1" */
};

/* Parses a CRD document. Returns 0, or -1 with err (not a CRD, no schema,
 * names missing); *crd then holds nothing. */
int sim_crd_load(struct sim_crd *crd, const char *json, char *err, size_t errlen);
void sim_crd_free(struct sim_crd *crd);

/* Adds property `name` with the schema given as JSON text to the object
 * schema at `object` ("spec": a top-level property), for fields a newer
 * Velero has (Restore spec.existingVolumeDataPolicy). Returns 0 or -1
 * with err. */
int sim_crd_add_property(struct sim_crd *crd, const char *object, const char *name,
                         const char *schema_json, char *err, size_t errlen);

/* Checks a create or update body (obj, a JSON object) as the API server
 * does, and drops from it the nulls of fields that are not nullable.
 * Returns 0 when it may be stored, or 400 / 422 with *status the Status
 * JSON (caller frees), or 500 with *status NULL when out of memory. */
int sim_schema_check(const struct sim_crd *crd, cJSON *obj, char **status);

/* A DNS-1123 subdomain check (object names): 0, or -1 with the API
 * server's message. */
int sim_dns_subdomain_check(const char *s, char *err, size_t errlen);

#endif
