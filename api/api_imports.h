/*
 * api_imports — the handlers of SPEC 5's imports, the side that restores
 * other sites' workloads here (POST /v1/imports, GET and DELETE
 * /v1/imports/{id}, GET /v1/imports), and what imports add to /v1/status
 * and /metrics; api.c routes to them. Private to the api folder.
 */
#ifndef FLOE_API_IMPORTS_H
#define FLOE_API_IMPORTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/api_respond.h"

void api_handle_imports(struct api_call *c, const char *param);
void api_handle_import_post(struct api_call *c, const char *param);
void api_handle_import(struct api_call *c, const char *id);
void api_handle_import_delete(struct api_call *c, const char *id);
/* Adds "imports": {"active", "ready", "failed", "dropped"} to a status
 * object (null when the store cannot be read); false when out of memory. */
bool api_status_imports(struct api_call *c, cJSON *status);
/* floe_imports_total{result} and floe_imports_active for /metrics: a new
 * string (caller frees), NULL when out of memory. */
char *api_prom_imports(struct api_call *c);

#endif
