/*
 * inventory — the workloads this site could move (SPEC 2 "workloads",
 * SPEC 6): what each one is (its kW, data, priority, group, hostname,
 * home site, how it is quiesced, its Deployments and StatefulSets), and
 * whether it may move at all and, if not, why.
 *
 * Two sources build it: the config's static list (inv_from_static), or
 * the site's Kubernetes API, whose answers come in here as data — the
 * namespaces matching the label selector with their floe.dev/
 * annotations (inv_add_namespaces) and each namespace's Deployments and
 * StatefulSets (inv_add_controllers). Everything here is a pure function
 * of its inputs: no I/O, no clock (placement/inv_fetch.c asks the API
 * server; core/inv_watch.c keeps the inventory fresh).
 *
 * A namespace is the unit: one bad annotation leaves that namespace out,
 * with the reason in its `error`, and never the rest of the inventory.
 * Annotations (values are strings, as Kubernetes keeps them):
 *
 *   floe.dev/power-kw   required; a number >= 0 (kW drawn at this site)
 *   floe.dev/data-gb    a number >= 0 (volume data to copy); default 0
 *   floe.dev/priority   a whole number 0..1000; default 50; lowest moves first
 *   floe.dev/stateless  "true" or "false"; default false
 *   floe.dev/group      a name; workloads of one group move together
 *   floe.dev/hostname   a DNS name, the traffic record moved at cut-over
 *   floe.dev/pinned     "true" or "false"; a pinned workload never moves
 *   floe.dev/home-site  a site name: where a guest workload belongs
 *   floe.dev/quiesce    a JSON array of strings: the command run in each
 *                       pod before the final backup
 *
 * A stateful workload moves only if it can be quiesced (SPEC 6): a
 * quiesce command, or Velero pre-backup hooks on its pods (every
 * Deployment/StatefulSet whose pods mount a volume claim carries
 * pre.hook.backup.velero.io/command in its pod template), or
 * migrator.data_mover. Otherwise inv_judge marks it unmovable with that
 * reason, which the decision record shows.
 *
 * Memory: an inventory owns all it points to. Once published (core/
 * inv_watch.c) it is immutable and reference counted like a config:
 * inv_ref/inv_unref from any thread. Out of memory while building aborts,
 * as the config loader does: an inventory is small (a site's
 * namespaces), and half of one would misinform placement.
 */
#ifndef FLOE_INVENTORY_H
#define FLOE_INVENTORY_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define INV_DEFAULT_PRIORITY 50
#define INV_MAX_PRIORITY 1000
/* The annotation Velero reads on a pod for its pre-backup hook. */
#define INV_VELERO_PRE_HOOK "pre.hook.backup.velero.io/command"

/* One Deployment or StatefulSet of a workload's namespace. */
struct inv_controller {
    const char *kind; /* "deployment" or "statefulset" (static strings) */
    char *name;
    int replicas;        /* spec.replicas; 1 when absent, as Kubernetes defaults it */
    bool pod_hook;       /* its pod template carries INV_VELERO_PRE_HOOK */
    bool mounts_volumes; /* its pods mount persistent volume claims */
};

struct inv_workload {
    char *name; /* static: as configured; Kubernetes: the namespace's name */
    char *namespace_;
    double power_kw;
    double data_gb;
    int priority;
    bool stateless;
    char *group;    /* NULL = moves alone */
    char *hostname; /* NULL = none */
    bool pinned;
    char *home_site; /* NULL = this site's own */
    char **quiesce;  /* the quiesce command; NULL when none */
    size_t nquiesce;
    bool has_pod_hooks; /* Velero pre-backup hooks cover its pods (inv_judge) */
    struct inv_controller *controllers;
    size_t ncontrollers, cap_controllers;
    char *unmovable; /* why it may not move (inv_judge); NULL = movable */
    char *error;     /* why it is left out (a bad annotation, controllers that could
                        not be read); NULL otherwise. When set, only name and
                        namespace_ are meaningful. */
};

struct inventory {
    const char *source; /* "static" or "kubernetes" */
    int64_t read_ms;    /* wall clock: when it was read */
    struct inv_workload *workloads;
    size_t n, cap;
    atomic_long extra_refs; /* references beyond the creator's (inv_ref) */
};

/* A new, empty inventory with one reference, the caller's. */
struct inventory *inv_new(const char *source, int64_t read_ms);
/* One more reference (NULL gives NULL); inv_unref drops one and frees
 * with the last (NULL: no-op). Safe from any thread. */
struct inventory *inv_ref(struct inventory *inv);
void inv_unref(struct inventory *inv);

/* Not left out and not unmovable. */
bool inv_workload_movable(const struct inv_workload *w);
/* Why w does not move (its error, else its unmovable reason), NULL if it
 * may. */
const char *inv_workload_reason(const struct inv_workload *w);
/* The workload named name, NULL if none. */
const struct inv_workload *inv_find(const struct inventory *inv, const char *name);

/* ---- building ---- */

/* Appends the config's static workloads. */
void inv_from_static(struct inventory *inv, const struct cfg_workloads *w);

/* Appends one workload per namespace of a NamespaceList (the answer to
 * GET /api/v1/namespaces?labelSelector=), its fields from the namespace's
 * annotations; a namespace with a bad annotation, a name that is not one,
 * or that is being deleted is appended with its error. Keeps the
 * inventory sorted by name. Returns 0, or -1 with err when list is not a
 * NamespaceList at all (nothing appended). */
int inv_add_namespaces(struct inventory *inv, const cJSON *list, char *err, size_t errlen);
/* The same from the answer's text (tests, fuzzing). */
int inv_add_namespaces_text(struct inventory *inv, const char *text, size_t len, char *err,
                            size_t errlen);

/* Fills w from a namespace's annotations object (NULL: none). Returns 0,
 * or -1 with w->error set: every bad annotation named, "floe.dev/priority:
 * \"high\" is not a whole number 0..1000; ...". */
int inv_workload_from_annotations(struct inv_workload *w, const cJSON *annotations);

/* Adds to w the Deployments (kind "deployment", a DeploymentList) or
 * StatefulSets ("statefulset", a StatefulSetList) of its namespace.
 * Returns 0, or -1 with err naming the bad item ("items[2].spec.replicas:
 * ..."); w is left as it was then. */
int inv_add_controllers(struct inv_workload *w, const char *kind, const cJSON *list, char *err,
                        size_t errlen);
int inv_add_controllers_text(struct inv_workload *w, const char *kind, const char *text, size_t len,
                             char *err, size_t errlen);

/* Leaves w out with why (a copy), e.g. after its controllers could not be
 * read; an error already set is kept. */
void inv_exclude(struct inv_workload *w, const char *why);

/* Sets has_pod_hooks and unmovable on every workload that is not left
 * out: pinned ones, ones whose quiesce command is longer than floe
 * carries (cfg_quiesce_check), and stateful ones that cannot be quiesced
 * unless data_mover (SPEC 6). Run once the controllers are in. */
void inv_judge(struct inventory *inv, bool data_mover);

#endif
