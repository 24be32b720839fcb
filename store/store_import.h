/*
 * store_import — the imports this site carries out for its peers (SPEC 5,
 * POST /v1/imports): which backup of which workload is restored here, how
 * far that has come, and every step it took, kept in the store so that a
 * restarted agent picks each import up where it stood.
 *
 * An import moves waiting-backup → restoring → starting → ready, or ends
 * failed (with error). core/importer.c drives it and writes each step
 * here before it acts on it; the API creates imports and drops them.
 * Every write is one synchronous=FULL transaction with its event row, so
 * what a peer was told survives kill -9 and a power cut alike.
 *
 * Writers do not lock a row: each row carries a revision, and
 * store_import_save writes only over the revision it read (else
 * STORE_CONFLICT: read again and decide again). So a DELETE arriving
 * while the importer works is never overwritten by the importer's next
 * step, and the importer never acts on a step it could not record.
 *
 * The reservation an import runs under (store_resv.h) is confirmed in the
 * transaction that creates the import, and released in the one that ends
 * it failed or dropped: the book and the imports never disagree, whatever
 * moment the agent dies at. A ready import keeps its reservation until
 * the peer releases it (DELETE /v1/reservations/{id}, at the end of its
 * migration). A prestage import and the incremental import restored
 * into its namespace share one reservation: it is released with the last
 * of them to end (while another import of it works or is ready, ending
 * one leaves it alone). Once the incremental import restores into the
 * namespace, it owns it: the prestage import no longer does, so dropping
 * that one never deletes what the incremental import runs.
 *
 * Ids are random whole numbers below 2^40, not a counter: Velero keeps
 * Restore objects, named after the import id (migrator/mig_velero.h), and
 * a counter restarting at 1 after the database was moved aside would name
 * an old Restore again and take it for its own.
 *
 * Time comes in as arguments (wall-clock ms); nothing here reads a clock.
 */
#ifndef FLOE_STORE_IMPORT_H
#define FLOE_STORE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h" /* struct store, STORE_NOT_FOUND, STORE_CONFLICT */

/* store_import_create found the backup imported already (*out is that import). */
#define STORE_IMPORT_EXISTING 3

/* Longest text of an import id (2^40 in decimal), with the NUL. */
#define STORE_IMPORT_ID_SIZE 16

/* SPEC 5's phases; the names are the API's. */
enum store_import_phase {
    STORE_IMPORT_WAITING_BACKUP,
    STORE_IMPORT_RESTORING,
    STORE_IMPORT_STARTING,
    STORE_IMPORT_READY,
    STORE_IMPORT_FAILED,
};
const char *store_import_phase_name(enum store_import_phase p); /* "waiting-backup", ... */
bool store_import_phase_active(enum store_import_phase p);      /* not ready or failed yet */

/* The namespace an ended import leaves behind. */
enum store_import_cleanup {
    STORE_IMPORT_CLEANUP_NONE,    /* nothing of ours to delete */
    STORE_IMPORT_CLEANUP_PENDING, /* the importer deletes it and waits until it is gone */
    STORE_IMPORT_CLEANUP_DONE,    /* it is gone */
};
const char *store_import_cleanup_name(enum store_import_cleanup c); /* "none", "pending", "done" */

struct store_import_request {
    const char *reservation, *workload, *namespace_, *backup;
    bool stateless, incremental, prestage;
    const char *replicas; /* {"deployment/web": 3, ...} as JSON text, checked by the caller */
    const char *caller;   /* the token's name: only a reservation granted to it may be used;
                             NULL (an admin) may use any */
    const char *home;     /* the workload's home as the sender says (a levelled workload's
                             home moves with it); NULL: the sender is its home */
};

struct store_import {
    int64_t id;
    char *reservation;
    char *from_site; /* the token name the reservation was granted to */
    char *workload, *namespace_, *backup;
    bool stateless, incremental, prestage;
    char *replicas; /* JSON text */
    enum store_import_phase phase;
    char *error;         /* why it failed; NULL otherwise */
    int seq;             /* the current Restore's number, 1 for the first; 0 before */
    char *restore;       /* its name; NULL before the first */
    int attempts;        /* Restores created so far */
    bool owns_namespace; /* the namespace did not exist before this import (or was made by a
                            prestage import of the same reservation): ours to delete */
    bool cleaning;       /* restoring: a failed try's namespace is being deleted before the
                            next try */
    enum store_import_cleanup cleanup;
    bool partial;     /* the backup or the restore ended PartiallyFailed */
    char *dropped_by; /* who sent DELETE; NULL if nobody did */
    int64_t created_ms, updated_ms;
    int64_t phase_ms;           /* when the current phase began (its budget runs from here) */
    int64_t ended_ms;           /* ready or failed at; 0 before */
    int64_t ready_ms;           /* 0 unless it became ready (kept when dropped later) */
    int64_t restore_started_ms; /* the current Restore was created at; 0 before */
    double restore_s;           /* its completion minus its start; NAN until known */
    double restored_bytes;      /* bytes its volume restores moved; NAN until known */
    int64_t rev;                /* revision, for store_import_save */
    char *home;                 /* the home the sender gave; NULL: the sender (from_site) */
};

/* Frees the strings of one row (and zeroes it); of an array and the array. */
void store_import_clear(struct store_import *r);
void store_import_rows_free(struct store_import *rows, size_t n);

/* Creates an import of req at now_ms and confirms its reservation, in one
 * transaction. Returns
 *   0                      created: *out is the new row (waiting-backup);
 *   STORE_IMPORT_EXISTING  req->backup was imported before under the same
 *                          reservation by the same caller: *out is that import;
 *   STORE_CONFLICT         refused: why says why in words (the reservation
 *                          is unknown, not the caller's, ended, past its TTL,
 *                          for another workload; the backup is another's
 *                          import; the namespace is being imported already);
 *   -1                     err.
 * Clear *out with store_import_clear. */
int store_import_create(struct store *s, const struct store_import_request *req, int64_t now_ms,
                        struct store_import *out, char *why, size_t whylen, char *err,
                        size_t errlen);

/* One import: 0, STORE_NOT_FOUND or -1. With owner not NULL, only one
 * whose from_site is owner is found. */
int store_import_get(struct store *s, int64_t id, const char *owner, struct store_import *out,
                     char *err, size_t errlen);

/* Imports, oldest first. work_only: those the importer has work on (an
 * active phase, or a namespace to clean up); otherwise every import,
 * newest first, at most limit (0: no limit). With owner, only its own. */
int store_import_list(struct store *s, bool work_only, const char *owner, size_t limit,
                      struct store_import **rows, size_t *n, char *err, size_t errlen);

/* Writes every changed field of r over revision r->rev, with an event
 * (phase r->phase, detail event; none when NULL) at now_ms; updated_ms
 * becomes now_ms. With release_by not NULL, the import's reservation is
 * released in the same transaction, recorded as by release_by (nothing
 * happens to one that has ended, or that another import of it still
 * holds). An incremental r that owns its namespace takes it over from
 * the prestage import of its reservation in the same transaction. Returns 0 (r->rev and
 * r->updated_ms advanced), STORE_CONFLICT when the row changed since it was read (nothing written),
 * STORE_NOT_FOUND, or -1. */
int store_import_save(struct store *s, struct store_import *r, const char *event,
                      const char *release_by, int64_t now_ms, char *err, size_t errlen);

/* DELETE /v1/imports/{id}: the import ends failed with error "dropped by
 * BY" (one that failed before keeps its error), its namespace goes to
 * cleanup if it owns one, and its reservation is released unless another
 * import of it still holds it, in one transaction. owner as for store_import_get. Returns 0 dropped
 * now, STORE_CONFLICT dropped before (nothing changes), each with the row in *out; STORE_NOT_FOUND,
 * or -1. */
int store_import_drop(struct store *s, int64_t id, const char *owner, const char *by,
                      int64_t now_ms, struct store_import *out, char *err, size_t errlen);

/* The import of reservation's namespace that prestaged it: ready, with
 * prestage set, owning the namespace. 0 with *id, STORE_NOT_FOUND, or -1. */
int store_import_find_prestage(struct store *s, const char *reservation, const char *namespace_,
                               int64_t *id, char *err, size_t errlen);

/* The import that took namespace_ over when its workload came back from
 * from_site (core/importer.h: a failback restores into the namespace this
 * site kept of its own migration there, deleting the old copy first):
 * the newest import of namespace_ from from_site created at or after
 * since_ms that owns the namespace. The caller passes the start of its
 * migration, not its end: an import made while the migration was still
 * ending (waiting out the DNS TTL) takes the kept copy over once the
 * migration is done. 0 with *id, STORE_NOT_FOUND, or -1. */
int store_import_returned(struct store *s, const char *namespace_, const char *from_site,
                          int64_t since_ms, int64_t *id, char *err, size_t errlen);

struct store_import_event {
    int64_t ts_ms;
    char *phase;
    char *detail;
};
/* Events of import id, oldest first; free with store_import_events_free. */
int store_import_events(struct store *s, int64_t id, struct store_import_event **rows, size_t *n,
                        char *err, size_t errlen);
void store_import_events_free(struct store_import_event *rows, size_t n);

/* For /metrics and /v1/status. Imports are never pruned, so the three
 * totals only grow: ready counts those that ever became ready (also when
 * dropped later), failed those that failed on their own, dropped those
 * ended by a DELETE. active: those in an active phase now. */
struct store_import_counts {
    int64_t active, ready, failed, dropped;
};
int store_import_counts(struct store *s, struct store_import_counts *c, char *err, size_t errlen);

#endif
