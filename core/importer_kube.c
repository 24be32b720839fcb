/*
 * importer_kube — see importer_kube.h.
 */
#include "core/importer_kube.h"

#include <stdlib.h>
#include <string.h>

#include "kube/kube_client.h"
#include "lib/log.h"
#include "lib/util.h"
#include "migrator/mig_kube.h"
#include "migrator/mig_velero.h"

struct kube_ops_ctx {
    struct kube_client *client;
    uint64_t generation; /* the config generation the client was built for */
    bool have_generation;
    char velero_ns[MIG_OBJ_NAME_MAX + 1];
};

bool importer_kube_configured(const struct floe_config *cfg, char *why, size_t whylen)
{
    const struct cfg_workloads *w = &cfg->workloads;
    if (!w->source || strcmp(w->source, "kubernetes") != 0) {
        errf(why, whylen,
             "this site has no Kubernetes API to import into (workloads.source is %s%s%s, not "
             "\"kubernetes\")",
             w->source ? "\"" : "", w->source ? w->source : "not set", w->source ? "\"" : "");
        return false;
    }
    if (!w->k8s_api) {
        errf(why, whylen,
             "this site has no Kubernetes API to import into (no workloads.kubernetes "
             "api)");
        return false;
    }
    return true;
}

static int kb_begin(void *vctx, const struct floe_config *cfg, uint64_t generation, char *err,
                    size_t errlen)
{
    struct kube_ops_ctx *ctx = vctx;
    if (!importer_kube_configured(cfg, err, errlen)) {
        kube_client_free(ctx->client);
        ctx->client = NULL;
        ctx->have_generation = false;
        return -1;
    }
    util_strlcpy(ctx->velero_ns,
                 cfg->migrator.velero_namespace ? cfg->migrator.velero_namespace : "velero",
                 sizeof ctx->velero_ns);
    if (ctx->client && ctx->have_generation && ctx->generation == generation)
        return 0;
    kube_client_free(ctx->client);
    const struct cfg_workloads *w = &cfg->workloads;
    struct kube_client_config kcfg = {.server = w->k8s_api,
                                      .ca_file = w->k8s_ca_file,
                                      .ca_pem = w->k8s_ca_pem,
                                      .ca_pem_len = w->k8s_ca_pem_len,
                                      .token = w->k8s_token,
                                      .token_file = w->k8s_token_file};
    ctx->client = kube_client_new(&kcfg, util_mono_ms(), err, errlen);
    if (!ctx->client) {
        ctx->have_generation = false;
        return -1;
    }
    ctx->generation = generation;
    ctx->have_generation = true;
    log_info("imports: restoring into Kubernetes at %s (Velero in namespace %s)", w->k8s_api,
             ctx->velero_ns);
    return 0;
}

static int kb_velero_get(void *vctx, enum mig_vkind kind, const char *name, struct mig_vstatus *out,
                         char *err, size_t errlen)
{
    struct kube_ops_ctx *ctx = vctx;
    return mig_velero_get(ctx->client, ctx->velero_ns, kind, name, util_mono_ms(), out, err,
                          errlen);
}

static int kb_create_restore(void *vctx, const struct mig_restore_spec *r, char *err, size_t errlen)
{
    struct kube_ops_ctx *ctx = vctx;
    return mig_velero_create_restore(ctx->client, ctx->velero_ns, r, util_mono_ms(), err, errlen);
}

static int kb_velero_bytes(void *vctx, enum mig_vkind kind, const char *name, double *bytes,
                           char *err, size_t errlen)
{
    struct kube_ops_ctx *ctx = vctx;
    return mig_velero_bytes(ctx->client, ctx->velero_ns, kind, name, util_mono_ms(), bytes, err,
                            errlen);
}

static int kb_ns_read(void *vctx, const char *ns, struct mig_ns_state *out, char *err,
                      size_t errlen)
{
    struct kube_ops_ctx *ctx = vctx;
    return mig_kube_read(ctx->client, ns, util_mono_ms(), out, err, errlen);
}

static int kb_scale(void *vctx, const char *ns, enum mig_obj_kind kind, const char *name,
                    int32_t replicas, char *err, size_t errlen)
{
    struct kube_ops_ctx *ctx = vctx;
    return mig_kube_scale(ctx->client, ns, kind, name, replicas, util_mono_ms(), err, errlen);
}

static int kb_delete_namespace(void *vctx, const char *ns, char *err, size_t errlen)
{
    struct kube_ops_ctx *ctx = vctx;
    return mig_kube_delete_namespace(ctx->client, ns, util_mono_ms(), err, errlen);
}

static void kb_free(void *vctx)
{
    struct kube_ops_ctx *ctx = vctx;
    if (!ctx)
        return;
    kube_client_free(ctx->client);
    free(ctx);
}

int importer_kube_ops(struct importer_ops *ops, char *err, size_t errlen)
{
    struct kube_ops_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return errf(err, errlen, "imports: out of memory");
    *ops = (struct importer_ops){.begin = kb_begin,
                                 .velero_get = kb_velero_get,
                                 .create_restore = kb_create_restore,
                                 .velero_bytes = kb_velero_bytes,
                                 .ns_read = kb_ns_read,
                                 .scale = kb_scale,
                                 .delete_namespace = kb_delete_namespace,
                                 .free = kb_free,
                                 .ctx = ctx};
    return 0;
}
