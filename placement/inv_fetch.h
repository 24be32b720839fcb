/*
 * inv_fetch — reads the inventory from the site's Kubernetes API (SPEC 6,
 * "Kubernetes API used"): the namespaces matching the label selector,
 * then, for each, its Deployments and StatefulSets (several namespaces at
 * once), and judges what may move (placement/inventory.h).
 *
 * What fails where: an API server that cannot be reached or answers 5xx
 * fails the whole read (the caller keeps its last good inventory); a
 * namespace whose own lists are refused (403 from RBAC, 404) or malformed
 * is left out with that reason, and the others are read as usual.
 */
#ifndef FLOE_INV_FETCH_H
#define FLOE_INV_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/kube_client.h"
#include "placement/inventory.h"

/* Namespaces whose lists are asked for at once (two requests each). */
#define INV_FETCH_BATCH 16

/* Reads the inventory with kc. now_ms is the wall clock (the inventory's
 * read_ms), mono_ms the monotonic one (the token's schedule). stop (NULL:
 * none) is checked between batches, so an agent that stops does not wait
 * for a big cluster's every namespace. Returns a new inventory (one
 * reference, the caller's), or NULL with err. */
struct inventory *inv_fetch_kubernetes(struct kube_client *kc, const char *label_selector,
                                       bool data_mover, int64_t now_ms, int64_t mono_ms,
                                       atomic_int *stop, char *err, size_t errlen);

#endif
