/*
 * api_peer — the handlers of the peer protocol's capacity and
 * reservation endpoints (SPEC 5), the side that answers other sites'
 * agents, and what capacity adds to /v1/status and /metrics; api.c
 * routes to them. Private to the api folder.
 */
#ifndef FLOE_API_PEER_H
#define FLOE_API_PEER_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/api_respond.h"

void api_handle_capacity(struct api_call *c, const char *param);
void api_handle_reservations(struct api_call *c, const char *param);
void api_handle_reservation_post(struct api_call *c, const char *param);
void api_handle_reservation_delete(struct api_call *c, const char *id);
/* Adds "capacity" (the same object as GET /v1/capacity) to a status
 * object; false when out of memory. */
bool api_status_capacity(struct api_call *c, cJSON *status);
/* Renders floe_spare_kw and floe_reserved_kw for /metrics: a new string
 * (caller frees), NULL when out of memory. */
char *api_prom_capacity(struct api_call *c);

#endif
