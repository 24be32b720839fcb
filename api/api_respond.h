/*
 * api_respond — the request in flight and the answers every handler
 * builds (api_respond.c). Private to the api folder.
 */
#ifndef FLOE_API_RESPOND_H
#define FLOE_API_RESPOND_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

/* One request in flight: what the handlers need, in one place. */
struct api_call {
    struct agent *a;
    const struct floe_config *cfg; /* the request's own reference (api_handle releases it) */
    uint64_t cfg_gen;              /* its generation (agent_config_get_gen) */
    const struct api_request *req;
    struct api_response *resp;
    int64_t now_ms;
    const char *actor;          /* name of the token used; "anonymous" without one */
    enum cfg_role role;         /* its role; ROLE_NONE without one */
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

#endif
