/*
 * importer_kube — the importer's ops (core/importer.h) over this site's
 * own Kubernetes API: a client built from workloads.kubernetes (the same
 * credentials the inventory reads with: an api with a token, a
 * kubeconfig, or the pod's service account), rebuilt when the config
 * changes, and the migrator's clients (migrator/mig_kube.h,
 * mig_velero.h) with Velero's objects in migrator.velero_namespace.
 *
 * A site whose workloads.source is not "kubernetes" has no cluster to
 * import into: begin says so, and the imports wait (the API refuses new
 * ones before they get here).
 */
#ifndef FLOE_IMPORTER_KUBE_H
#define FLOE_IMPORTER_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/importer.h"

/* Fills *ops with a new context (freed by ops->free). Returns 0, or -1
 * with err when out of memory. */
int importer_kube_ops(struct importer_ops *ops, char *err, size_t errlen);

/* Whether cfg gives this site a Kubernetes API to import into; when not,
 * why in words (into why). */
bool importer_kube_configured(const struct floe_config *cfg, char *why, size_t whylen);

#endif
