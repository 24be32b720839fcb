/*
 * sim_status — Kubernetes `Status` objects, the body of every error the
 * simulated API server answers (and of nothing else): kind Status,
 * apiVersion v1, status Failure, message, reason, details (name, group,
 * kind, causes) and code, in the order and with the omissions of the
 * API server's JSON (empty details members are left out).
 *
 * Used by the Velero API (sim_velero.c) and the schema validator
 * (sim_schema.c), whose 422 answers carry details.causes.
 */
#ifndef FLOE_SIM_STATUS_H
#define FLOE_SIM_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* One entry of details.causes: reason "FieldValueInvalid", message
 * "Invalid value: ...", field "spec.ttl". NULL members are left out. */
struct sim_status_cause {
    const char *reason;
    const char *message;
    const char *field;
};

struct sim_status {
    int code;                        /* 400, 404, ... */
    const char *reason;              /* "NotFound" */
    const char *message;             /* "backups.velero.io \"x\" not found" */
    bool details;                    /* print details (even when all of it is empty: {}) */
    const char *name, *group, *kind; /* details members; NULL = left out */
    const struct sim_status_cause *causes;
    size_t ncauses;
};

/* The Status as JSON text: a new string (caller frees), NULL when out of
 * memory. */
char *sim_status_json(const struct sim_status *st);

/* Convenience: *body = sim_status_json(st); returns st->code. */
int sim_status_reply(char **body, const struct sim_status *st);

#endif
