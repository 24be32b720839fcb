/*
 * libFuzzer target for HTTP query strings: api_query_param (api/api_respond.c)
 * on the raw input, then the whole history route, GET
 * /v1/telemetry/{metric}?QUERY, through api_handle() on a hand-built agent
 * (as tests/unit/test_api.c builds it: a config with anonymous read, live
 * metrics, a temporary SQLite store holding an hour of samples), so
 * since/until/step parsing, the step cap and the store query all see the
 * input. No server, no socket.
 *
 * Contract checked beyond not crashing:
 *   - api_query_param returns -1, 0 or 1; on 1 the value is NUL-terminated
 *     within the buffer and has no NUL of its own (%00 is refused);
 *   - the route answers 200 or 400 (the metric is known, so never 404);
 *     a 400 is a JSON error naming since, until or step; a 200 is JSON
 *     with at most 10,000 points.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_respond.h"
#include "lib/log.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define METRIC "cooling.chiller1.capacity_kw"
/* 2026-01-01T00:00:00Z */
#define BASE_MS 1767225600000LL

/* The agent every input is served by, built on the first input and
 * kept: a fuzzer runs one process for many inputs. */
static struct floe_config fuzz_cfg;
static struct agent fuzz_agent;
static char fuzz_dir[64];

static void remove_store(void)
{
    store_close(fuzz_agent.store);
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/floe.db%s", fuzz_dir, suffixes[i]);
        unlink(path);
    }
    rmdir(fuzz_dir);
    metrics_free(fuzz_agent.metrics);
}

static void build_agent(void)
{
    log_init(LOG_LVL_ERR);
    fuzz_cfg.site.name = "fuzz";
    fuzz_cfg.http.anonymous_read = true;
    /* The static config keeps its creator's reference: never freed. */
    agent_config_init(&fuzz_agent, config_ref(&fuzz_cfg));
    fuzz_agent.metrics = metrics_new(16);
    strcpy(fuzz_dir, "/tmp/floe-fuzz-query.XXXXXX");
    char err[256] = "";
    if (!fuzz_agent.metrics || !mkdtemp(fuzz_dir))
        abort();
    char db[96];
    snprintf(db, sizeof db, "%s/floe.db", fuzz_dir);
    if (store_open(&fuzz_agent.store, db, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        abort();
    }
    atexit(remove_store);
    /* An hour of samples every 10 s. */
    struct metric_sample samples[360];
    for (size_t i = 0; i < ARRAY_LEN(samples); i++) {
        samples[i] = (struct metric_sample){
            .ts_ms = BASE_MS + (int64_t)i * 10000, .value = (double)i, .ok = true};
        util_strlcpy(samples[i].name, METRIC, sizeof samples[i].name);
    }
    if (store_write_samples(fuzz_agent.store, samples, ARRAY_LEN(samples), err, sizeof err) != 0) {
        fprintf(stderr, "store_write_samples: %s\n", err);
        abort();
    }
    metrics_declare(fuzz_agent.metrics, METRIC, "kW", "chiller1", 15000);
    fuzz_agent.started_ms = BASE_MS;
}

static void check_query_param(const char *query)
{
    static const char *const keys[] = {"since", "until", "step", "limit", ""};
    static const size_t lengths[] = {1, 2, 8, 128};
    for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
        for (size_t l = 0; l < ARRAY_LEN(lengths); l++) {
            char *out = malloc(lengths[l]);
            if (!out)
                return;
            int got = api_query_param(query, keys[k], out, lengths[l]);
            if (got < -1 || got > 1)
                abort();
            if (got == 1 && strnlen(out, lengths[l]) == lengths[l])
                abort(); /* not terminated within the buffer */
            free(out);
        }
    }
}

static void check_history(const char *query)
{
    struct api_request req = {
        .method = "GET", .path = "/v1/telemetry/" METRIC, .query = query};
    struct api_response resp;
    api_handle(&fuzz_agent, &req, &resp);
    if (resp.status != 200 && resp.status != 400)
        abort();
    cJSON *body = resp.body ? cJSON_ParseWithLength(resp.body, resp.body_len) : NULL;
    if (!body)
        abort();
    if (resp.status == 400) {
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(body, "error");
        if (!cJSON_IsString(error) || (strncmp(error->valuestring, "since", 5) != 0 &&
                                       strncmp(error->valuestring, "until", 5) != 0 &&
                                       strncmp(error->valuestring, "step", 4) != 0))
            abort();
    } else {
        const cJSON *points = cJSON_GetObjectItemCaseSensitive(body, "points");
        if (!cJSON_IsArray(points) || cJSON_GetArraySize(points) > 10000)
            abort();
    }
    cJSON_Delete(body);
    api_response_clear(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_agent.store)
        build_agent();
    /* A query string reaches the API as text up to the first NUL. */
    char *query = malloc(size + 1);
    if (!query)
        return 0;
    memcpy(query, data, size);
    query[size] = '\0';
    check_query_param(query);
    check_history(query);
    free(query);
    return 0;
}
