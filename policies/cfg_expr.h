/*
 * cfg_expr — the second half of validating a configuration: compiles every
 * expression it holds (derive, capacity, policies) with the policy
 * language, and warns about metrics that no device or derive produces.
 *
 * Kept apart from config.c because the config loader must not depend on
 * the policy language (the language's engine depends on config.h).
 * check-config, agent start-up, SIGHUP reload and replay all call it
 * right after cfg_load.
 */
#ifndef FLOE_CFG_EXPR_H
#define FLOE_CFG_EXPR_H

#include "config/config.h"

/* Appends "FILE: path: message" lines to errs for expressions that do not
 * compile, and "FILE: path: warning: ..." lines to warnings for metrics
 * nothing produces (a device may be added later, so these do not make the
 * config invalid). Returns 0 when there were no errors. */
int cfg_check_expressions(const struct floe_config *cfg, struct cfg_errors *errs,
                          struct cfg_errors *warnings);

/* cfg_load_warn followed by cfg_check_expressions: the one way to get a
 * config the agent may run. NULL when invalid (errors in errs); warnings of
 * both steps go to warnings (NULL: dropped). */
struct floe_config *cfg_load_checked(const char *path, struct cfg_errors *errs,
                                     struct cfg_errors *warnings);

#endif
