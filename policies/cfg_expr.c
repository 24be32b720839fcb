/*
 * cfg_expr — see cfg_expr.h.
 */
#include "policies/cfg_expr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "policies/pol_engine.h"
#include "policies/pol_lang.h"

static void add_line(struct cfg_errors *list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_line(struct cfg_errors *list, const char *fmt, ...)
{
    if (!list)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cfg_errors_push(list, util_strdup(buf));
}

struct produced {
    const char **names; /* metric names or walk templates, borrowed */
    size_t n, cap;
};

static void produced_add(struct produced *p, const char *name)
{
    /* One per configured point: bounded by the configuration. */
    vec_reserve_or_abort(p->names, p->cap, p->n + 1);
    p->names[p->n++] = name;
}

static bool is_produced(const struct produced *p, const char *name, bool glob)
{
    for (size_t i = 0; i < p->n; i++) {
        if (glob) {
            /* A glob matches a walk's rows if it matches row 1's name. */
            char sample[256], why[160];
            if (!cfg_metric_is_template(p->names[i]))
                util_strlcpy(sample, p->names[i], sizeof sample);
            else if (cfg_metric_template_expand(p->names[i], "1", sample, sizeof sample, why,
                                                sizeof why) != 0)
                continue;
            if (pol_glob_match(name, sample))
                return true;
        } else if (cfg_metric_template_matches(p->names[i], name)) {
            return true;
        }
    }
    return false;
}

/* Compiles one expression; warns about unproduced metrics when p != NULL. */
static int check_one(const struct floe_config *cfg, const char *path, const char *src,
                     const struct produced *p, struct cfg_errors *errs,
                     struct cfg_errors *warnings)
{
    if (!src)
        return 0;
    char err[256];
    struct pol_expr *e = pol_parse(src, err, sizeof err);
    if (!e) {
        add_line(errs, "%s: %s: %s", cfg->path, path, err);
        return -1;
    }
    const struct pol_input *in;
    size_t n = p ? pol_expr_inputs(e, &in) : 0;
    for (size_t i = 0; i < n; i++) {
        bool glob = (in[i].uses & POL_USE_GLOB) != 0;
        if (!is_produced(p, in[i].name, glob))
            add_line(warnings,
                     "%s: %s: warning: %s '%s' %s no device or derive in this file (it stays "
                     "unknown until one does)",
                     cfg->path, path, glob ? "pattern" : "metric", in[i].name,
                     glob ? "matches" : "comes from");
    }
    pol_free(e);
    return 0;
}

int cfg_check_expressions(const struct floe_config *cfg, struct cfg_errors *errs,
                          struct cfg_errors *warnings)
{
    int rc = 0;
    struct produced prod = { 0 };
    for (size_t i = 0; i < cfg->ndevices; i++)
        for (size_t j = 0; j < cfg->devices[i].nmetrics; j++)
            produced_add(&prod, cfg->devices[i].metrics[j].name);

    char path[160];
    for (size_t i = 0; i < cfg->nderive; i++) {
        snprintf(path, sizeof path, "derive[%zu].expr", i);
        /* Derives see the devices and the derives before them. */
        if (check_one(cfg, path, cfg->derive[i].expr, &prod, errs, warnings) != 0)
            rc = -1;
        produced_add(&prod, cfg->derive[i].metric);
    }
    /* Capacity expressions have defaults, so a site without them would be
     * warned about lines it never wrote: compile them, warn not. */
    if (check_one(cfg, "capacity.power_headroom_kw", cfg->capacity.power_headroom_kw, NULL, errs,
                  warnings) != 0)
        rc = -1;
    if (check_one(cfg, "capacity.cooling_headroom_kw", cfg->capacity.cooling_headroom_kw, NULL,
                  errs, warnings) != 0)
        rc = -1;
    for (size_t i = 0; i < cfg->npolicies; i++) {
        const struct cfg_policy *pol = &cfg->policies[i];
        char base[96], err[512];
        snprintf(base, sizeof base, "policies[%zu]", i);
        if (pol_policy_check(pol, base, err, sizeof err) != 0) {
            add_line(errs, "%s: %s", cfg->path, err);
            rc = -1;
            continue;
        }
        snprintf(path, sizeof path, "%s.when", base);
        check_one(cfg, path, pol->when, &prod, errs, warnings);
        snprintf(path, sizeof path, "%s.clear", base);
        check_one(cfg, path, pol->clear, &prod, errs, warnings);
        snprintf(path, sizeof path, "%s.action.kw", base);
        check_one(cfg, path, pol->action.kw, &prod, errs, warnings);
    }
    free(prod.names);
    return rc;
}

struct floe_config *cfg_load_checked(const char *path, struct cfg_errors *errs,
                                     struct cfg_errors *warnings)
{
    struct floe_config *cfg = cfg_load_warn(path, errs, warnings);
    if (cfg && cfg_check_expressions(cfg, errs, warnings) != 0) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}
