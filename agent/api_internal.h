/*
 * api_internal — what the api module's files share: the request in flight
 * and the response helpers (api.c), used by the handlers of api_records.c
 * (policies, decisions), and what api.c tells api_http.c (the transport)
 * beyond the response itself. Private to the api module.
 */
#ifndef FLOE_API_INTERNAL_H
#define FLOE_API_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"

/* One request in flight: what the handlers need, in one place. */
struct api_call {
    struct agent *a;
    const struct floe_config *cfg;
    const struct api_request *req;
    struct api_response *resp;
    int64_t now_ms;
    const char *actor;          /* name of the token used; "anonymous" without one */
};

/* Adds item under key (or to an array when key is NULL); on allocation
 * failure clears *ok and returns NULL. */
cJSON *api_jadd(cJSON *parent, const char *key, cJSON *item, bool *ok);
/* root if ok, else frees it and returns NULL. */
cJSON *api_json_finish(cJSON *root, bool ok);
void api_respond_oom(struct api_call *c);
/* Answers with root (consumed; NULL answers 500). */
void api_respond_json(struct api_call *c, int status, cJSON *root);
void api_respond_error(struct api_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
cJSON *api_json_number(double v);
cJSON *api_json_time(int64_t ms);
/* The percent-decoded value of key in the query string: 1 found, 0 not
 * there, -1 malformed. */
int api_query_param(const char *query, const char *key, char *out, size_t outlen);

/* Copies a route parameter (up to the next '/') into out; returns its
 * length, 0 when it does not fit. */
size_t api_param_copy(const char *param, char *out, size_t n);

/* Handlers of api_records.c. */
void api_handle_policies(struct api_call *c, const char *param);
void api_handle_policy_put(struct api_call *c, const char *name);
void api_handle_policy_delete(struct api_call *c, const char *name);
void api_handle_decisions(struct api_call *c, const char *param);
void api_handle_decision(struct api_call *c, const char *id);
void api_handle_decision_approve(struct api_call *c, const char *id);
void api_handle_decision_reject(struct api_call *c, const char *id);
/* Adds "accepting" and "alarms" (from the policy states) to a status
 * object, when a policy loop runs; false when out of memory. */
bool api_status_alarms(struct api_call *c, cJSON *status);
/* Renders floe_policy_state and floe_decisions_total for /metrics: a new
 * string (caller frees), NULL when out of memory. */
char *api_prom_records(struct api_call *c);


/* Writes the methods routed for path ("GET, HEAD") into buf (size n);
 * buf is "" when no route has that path. */
void api_allowed_methods(const char *path, char *buf, size_t n);

#endif
