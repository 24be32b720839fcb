/*
 * api_workloads — GET /v1/workloads and POST /v1/workloads/refresh (an
 * addition to SPEC 4): the inventory of workloads the agent could move,
 * each with why it may not, and how fresh the inventory is. api.c routes
 * to them. Private to the api folder.
 */
#ifndef FLOE_API_WORKLOADS_H
#define FLOE_API_WORKLOADS_H

#include "api/api_respond.h"

void api_handle_workloads(struct api_call *c, const char *param);
void api_handle_workloads_refresh(struct api_call *c, const char *param);

#endif
