/*
 * api_migrations — the migration endpoints (SPEC 4): GET /v1/migrations
 * [?active=&limit=], GET /v1/migrations/{id}, POST /v1/migrations (a
 * manual migration), POST /v1/migrations/{id}/abort, and what they add
 * to /v1/status (migrations_active) and /metrics
 * (floe_migrations_total, floe_migration_downtime_seconds). Private to
 * the api folder; api.c routes to them.
 */
#ifndef FLOE_API_MIGRATIONS_H
#define FLOE_API_MIGRATIONS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api_respond.h"

void api_handle_migrations(struct api_call *c, const char *param);
void api_handle_migration(struct api_call *c, const char *id);
void api_handle_migration_post(struct api_call *c, const char *param);
void api_handle_migration_abort(struct api_call *c, const char *id);

/* Adds "migrations_active" to a status object (null when the store cannot
 * say); false when out of memory. */
bool api_status_migrations(struct api_call *c, cJSON *status);

/* The migration families of /metrics: a new string (caller frees), NULL
 * when out of memory. */
char *api_prom_migrations(struct api_call *c);

/* floe_migration_downtime_seconds' buckets (le, seconds): 0 (stateless)
 * to 2 h; the report's 100 GB move is down ~20 min. */
#define API_DOWNTIME_BUCKETS 8
extern const double api_downtime_buckets_s[API_DOWNTIME_BUCKETS];

#endif
