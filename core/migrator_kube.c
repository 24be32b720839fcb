/*
 * migrator_kube — the migrator's real actions (struct migrator_ops):
 * this site's Kubernetes and Velero through migrator/mig_kube and
 * mig_velero with a client built from workloads.kubernetes (rebuilt when
 * the config changes, as core/inv_watch.c does for the inventory), the
 * peers' agents through mig_peer and placement/peer_client, and the
 * traffic driver through mig_traffic.
 */
#include <stdlib.h>
#include <string.h>

#include "core/migrator.h"
#include "kube/kube_client.h"
#include "lib/log.h"
#include "lib/util.h"

struct kube_ops {
    struct kube_client *client;
    uint64_t generation;
    bool have_generation;
    char velero_ns[128];
};

static int k_begin(void *ctx, const struct floe_config *cfg, uint64_t generation, char *err,
                   size_t errlen)
{
    struct kube_ops *k = ctx;
    const struct cfg_workloads *cw = &cfg->workloads;
    util_strlcpy(k->velero_ns,
                 cfg->migrator.velero_namespace ? cfg->migrator.velero_namespace : "velero",
                 sizeof k->velero_ns);
    if (k->client && k->have_generation && k->generation == generation)
        return 0;
    kube_client_free(k->client);
    k->client = NULL;
    k->have_generation = false;
    if (!cw->source || strcmp(cw->source, "kubernetes") != 0 || !cw->k8s_api)
        return errf(err, errlen, "no Kubernetes API: workloads.source is not \"kubernetes\"");
    struct kube_client_config kcfg = {.server = cw->k8s_api,
                                      .ca_file = cw->k8s_ca_file,
                                      .ca_pem = cw->k8s_ca_pem,
                                      .ca_pem_len = cw->k8s_ca_pem_len,
                                      .token = cw->k8s_token,
                                      .token_file = cw->k8s_token_file};
    k->client = kube_client_new(&kcfg, util_mono_ms(), err, errlen);
    if (!k->client)
        return -1;
    k->generation = generation;
    k->have_generation = true;
    log_info("migrations: using Kubernetes at %s (Velero in namespace %s)", cw->k8s_api,
             k->velero_ns);
    return 0;
}

static int k_ns_read(void *ctx, const char *ns, struct mig_ns_state *out, char *err, size_t errlen)
{
    struct kube_ops *k = ctx;
    return mig_kube_read(k->client, ns, util_mono_ms(), out, err, errlen);
}

static int k_scale(void *ctx, const char *ns, enum mig_obj_kind kind, const char *name,
                   int32_t replicas, char *err, size_t errlen)
{
    struct kube_ops *k = ctx;
    return mig_kube_scale(k->client, ns, kind, name, replicas, util_mono_ms(), err, errlen);
}

static int k_delete_ns(void *ctx, const char *ns, char *err, size_t errlen)
{
    struct kube_ops *k = ctx;
    return mig_kube_delete_namespace(k->client, ns, util_mono_ms(), err, errlen);
}

static int k_backup_create(void *ctx, const struct mig_backup_spec *b, char *err, size_t errlen)
{
    struct kube_ops *k = ctx;
    return mig_velero_create_backup(k->client, k->velero_ns, b, util_mono_ms(), err, errlen);
}

static int k_backup_get(void *ctx, const char *name, struct mig_vstatus *out, char *err,
                        size_t errlen)
{
    struct kube_ops *k = ctx;
    return mig_velero_get(k->client, k->velero_ns, MIG_BACKUP, name, util_mono_ms(), out, err,
                          errlen);
}

static int k_backup_bytes(void *ctx, const char *name, double *bytes, char *err, size_t errlen)
{
    struct kube_ops *k = ctx;
    return mig_velero_bytes(k->client, k->velero_ns, MIG_BACKUP, name, util_mono_ms(), bytes, err,
                            errlen);
}

static int k_import_start(void *ctx, const struct cfg_peer *peer,
                          const struct mig_import_request *r, struct mig_import_status *out,
                          long *http_status, char *err, size_t errlen)
{
    (void)ctx;
    return mig_peer_import_start(peer, r, MIGRATOR_PEER_TIMEOUT_MS, out, http_status, err, errlen);
}

static int k_import_get(void *ctx, const struct cfg_peer *peer, const char *id,
                        struct mig_import_status *out, long *http_status, char *err, size_t errlen)
{
    (void)ctx;
    return mig_peer_import_get(peer, id, MIGRATOR_PEER_TIMEOUT_MS, out, http_status, err, errlen);
}

static int k_import_drop(void *ctx, const struct cfg_peer *peer, const char *id, long *http_status,
                         char *err, size_t errlen)
{
    (void)ctx;
    return mig_peer_import_drop(peer, id, MIGRATOR_PEER_TIMEOUT_MS, http_status, err, errlen);
}

static void k_reserve(void *ctx, const struct cfg_peer *peer, const char *from_site,
                      const char *workload, double kw, int64_t ttl_s, struct peer_reservation *out)
{
    (void)ctx;
    peer_reserve(peer, from_site, workload, kw, ttl_s, MIGRATOR_PEER_TIMEOUT_MS, out);
}

static int k_release(void *ctx, const struct cfg_peer *peer, const char *id, char *err,
                     size_t errlen)
{
    (void)ctx;
    return peer_release(peer, id, MIGRATOR_PEER_TIMEOUT_MS, err, errlen);
}

static int k_traffic(void *ctx, const struct cfg_traffic *t, const struct mig_traffic_switch *sw,
                     char *err, size_t errlen)
{
    (void)ctx;
    return mig_traffic_apply(t, sw, MIGRATOR_PEER_TIMEOUT_MS, err, errlen);
}

struct migrator_ops migrator_kube_ops(void)
{
    struct migrator_ops ops = {
        .ctx = calloc(1, sizeof(struct kube_ops)),
        .begin = k_begin,
        .ns_read = k_ns_read,
        .scale = k_scale,
        .delete_ns = k_delete_ns,
        .backup_create = k_backup_create,
        .backup_get = k_backup_get,
        .backup_bytes = k_backup_bytes,
        .import_start = k_import_start,
        .import_get = k_import_get,
        .import_drop = k_import_drop,
        .reserve = k_reserve,
        .release = k_release,
        .traffic = k_traffic,
    };
    return ops;
}

void migrator_kube_free(struct migrator_ops *ops)
{
    struct kube_ops *k = ops->ctx;
    if (k)
        kube_client_free(k->client);
    free(k);
    ops->ctx = NULL;
}
