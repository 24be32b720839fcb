/*
 * api_records — the handlers of the record endpoints (policies,
 * decisions) and what they add to /v1/status and /metrics; api.c routes
 * to them. Private to the api folder.
 */
#ifndef FLOE_API_RECORDS_H
#define FLOE_API_RECORDS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/api_respond.h"

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
/* Renders floe_policy_state, floe_decisions_total (decisions that entered
 * each status: a counter) and floe_decisions_in_status (where they are
 * now: a gauge) for /metrics: a new string (caller frees), NULL when out
 * of memory. */
char *api_prom_records(struct api_call *c);

#endif
