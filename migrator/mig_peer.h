/*
 * mig_peer — the source asking the target's agent to import a workload
 * (SPEC 5: POST /v1/imports, GET /v1/imports/{id}) and, on rollback, to
 * drop it again (DELETE /v1/imports/{id}, an addition to SPEC: the target
 * deletes what it restored and releases the reservation).
 *
 * As with placement/peer_client (whose rules it shares: strict parsing,
 * answers capped at PEER_ANSWER_MAX, strings cleaned before they reach a
 * log), an answer that cannot be used is an error naming what is wrong;
 * it never moves a migration forward.
 *
 * Ownership: the peer is borrowed; results are plain structs.
 */
#ifndef FLOE_MIG_PEER_H
#define FLOE_MIG_PEER_H

#include "config/config.h"
#include "placement/peer_client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_IMPORT_MAX_REPLICAS 64

/* The import phases of SPEC 5. */
enum mig_import_phase {
    MIG_IMPORT_WAITING_BACKUP,
    MIG_IMPORT_RESTORING,
    MIG_IMPORT_STARTING,
    MIG_IMPORT_READY,
    MIG_IMPORT_FAILED,
};
const char *mig_import_phase_name(enum mig_import_phase p); /* "waiting-backup", ... */
/* -1 when s is none of them. */
int mig_import_phase_parse(const char *s);

struct mig_import_replica {
    char key[12 + 253 + 1];     /* "deployment/web", "statefulset/db": "statefulset/" and a
                                   253-character name fit */
    int32_t replicas;
};

struct mig_import_request {
    const char *reservation; /* the reservation id the target granted */
    const char *workload;
    const char *namespace_;
    const char *backup;      /* the Backup's name (the last one, or the initial one when
                                prestage) */
    bool stateless;
    bool incremental;        /* an addition to SPEC 5, for migrator.incremental_restore:
                                restore into the namespace a prestage import left, with
                                existingVolumeDataPolicy incremental */
    bool prestage;           /* an addition likewise: restore the initial backup and scale
                                every object to 0 (the workload stays stopped) */
    const char *home;        /* an addition likewise: the workload's home when it is not
                                this site (a levelled workload's home moves with it);
                                NULL: not sent, this site is its home */
    const struct mig_import_replica *replicas;
    size_t nreplicas;
};

/* The request body (malloc'd; caller frees), or NULL with err. Pure. */
char *mig_import_request_json(const struct mig_import_request *r, char *err, size_t errlen);

struct mig_import_status {
    char id[PEER_ID_MAX + 1];
    enum mig_import_phase phase;
    char error[PEER_REASON_MAX]; /* with MIG_IMPORT_FAILED; "" otherwise */
    double restore_s;            /* how long the target's restore took; NAN when unsaid */
    double restored_bytes;       /* bytes the target's restore moved; NAN when unsaid */
};

/* Parses the answer to POST (202 {"id"}) or GET ({"id","phase",...}).
 * Pure; -1 with err naming what is wrong. */
int mig_import_parse(const char *text, size_t len, struct mig_import_status *out, char *err,
                     size_t errlen);

/* POST /v1/imports. Returns 0 with out->id (phase as the target said, or
 * waiting-backup when only the id came), or -1 with err ("unreachable:
 * ...", "refused: HTTP 409: ...", "garbage answer: ..."); *http_status
 * gets the status (0 without an answer), so a caller can tell a 4xx
 * refusal (roll back) from a peer that is down (try again). */
int mig_peer_import_start(const struct cfg_peer *peer, const struct mig_import_request *r,
                          int64_t timeout_ms, struct mig_import_status *out, long *http_status,
                          char *err, size_t errlen);
/* GET /v1/imports/{id}. Same conventions. */
int mig_peer_import_get(const struct cfg_peer *peer, const char *id, int64_t timeout_ms,
                        struct mig_import_status *out, long *http_status, char *err,
                        size_t errlen);
/* DELETE /v1/imports/{id}; 404 counts as done. */
int mig_peer_import_drop(const struct cfg_peer *peer, const char *id, int64_t timeout_ms,
                         long *http_status, char *err, size_t errlen);

#endif
