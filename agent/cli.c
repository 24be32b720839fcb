/*
 * cli — see cli.h. One HTTP GET with libcurl, the answer parsed with cJSON
 * and printed for a person at a terminal.
 */
#include "agent/cli.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct cli_target {
    const char *url;
    const char *token;
};

struct growbuf {
    char *data;
    size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct growbuf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > (8u << 20))
        return 0;
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, ptr, n);
    b->data = nd;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Reads --url and --token; other arguments go to rest (at most nrest,
 * NULL if none are allowed). Returns the number of rest arguments, or -1
 * after printing what was wrong. */
static int parse_target_rest(int argc, char **argv, struct cli_target *t, char **rest, int nrest)
{
    int got = 0;
    t->url = getenv("FLOE_URL");
    t->token = getenv("FLOE_TOKEN");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            t->url = argv[++i];
        else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
            t->token = argv[++i];
        else if (got < nrest)
            rest[got++] = argv[i];
        else {
            fprintf(stderr, "floe %s: unknown argument '%s' (expected --url URL, --token T)\n",
                    argv[0], argv[i]);
            return -1;
        }
    }
    if (!t->url || !*t->url)
        t->url = "http://127.0.0.1:8470";
    return got;
}

static int parse_target(int argc, char **argv, struct cli_target *t)
{
    return parse_target_rest(argc, argv, t, NULL, 0) < 0 ? -1 : 0;
}

/* GETs path; returns the HTTP status (body in *out, caller frees) or -1
 * when the agent could not be reached (message printed). */
static long http_request(const struct cli_target *t, const char *method, const char *path,
                         char **out)
{
    *out = NULL;
    CURL *curl = curl_easy_init();
    if (!curl) {
        fprintf(stderr, "floe: cannot initialise libcurl\n");
        return -1;
    }
    char url[1024];
    size_t ulen = strlen(t->url);
    snprintf(url, sizeof url, "%.*s%s", (int)(ulen && t->url[ulen - 1] == '/' ? ulen - 1 : ulen),
             t->url, path);
    struct growbuf body = { 0 };
    struct curl_slist *headers = NULL;
    char auth[1100];
    if (t->token && *t->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", t->token);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(curl);
    long status = -1;
    if (cc != CURLE_OK) {
        fprintf(stderr, "floe: %s: %s\n", url, curl_easy_strerror(cc));
        free(body.data);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        *out = body.data;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return status;
}

static long http_get(const struct cli_target *t, const char *path, char **out)
{
    return http_request(t, "GET", path, out);
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Prints an API error answer; returns the exit code for it. */
static int report_refusal(long status, const char *body)
{
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    const char *msg = j ? json_str(j, "error") : "no error message";
    fprintf(stderr, "floe: the agent refused (HTTP %ld): %s\n", status, msg);
    cJSON_Delete(j);
    return CLI_EXIT_REFUSED;
}

static void print_policies(const struct cli_target *t)
{
    char *body = NULL;
    if (http_get(t, "/v1/policies", &body) != 200) {
        free(body);
        return;
    }
    cJSON *j = cJSON_Parse(body);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "policies");
    if (cJSON_GetArraySize(list) > 0) {
        printf("\n%-28s %-8s %-8s %-8s %-20s %s\n", "policy", "state", "mode", "severity",
               "since", "last decision");
        const cJSON *p;
        cJSON_ArrayForEach(p, list)
        {
            const cJSON *last = cJSON_GetObjectItemCaseSensitive(p, "last_decision");
            const cJSON *unknown = cJSON_GetObjectItemCaseSensitive(p, "unknown");
            char lastbuf[24] = "—";
            if (cJSON_IsNumber(last))
                snprintf(lastbuf, sizeof lastbuf, "#%.0f", last->valuedouble);
            char state[24];
            snprintf(state, sizeof state, "%s%s", json_str(p, "state"),
                     cJSON_IsTrue(unknown) ? "?" : "");
            const cJSON *since = cJSON_GetObjectItemCaseSensitive(p, "since");
            printf("%-28s %-8s %-8s %-8s %-20s %s\n", json_str(p, "name"), state,
                   json_str(p, "mode"), json_str(p, "severity"),
                   cJSON_IsString(since) ? since->valuestring : "—", lastbuf);
        }
    }
    cJSON_Delete(j);
    free(body);
}

/* One decision as a line: id, time, policy, kind, status, need, and the
 * last reason (the one that says what happened). */
static void print_decision_line(const cJSON *d, const char *indent)
{
    const cJSON *need = cJSON_GetObjectItemCaseSensitive(d, "need_kw");
    const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(d, "reasons");
    const cJSON *why = cJSON_GetArrayItem(reasons, cJSON_GetArraySize(reasons) - 1);
    char needbuf[32] = "";
    if (cJSON_IsNumber(need))
        snprintf(needbuf, sizeof needbuf, " need %.1f kW", need->valuedouble);
    printf("%s#%-5.0f %s %-24s %-9s %-17s%s%s%s\n", indent, json_num(d, "id"), json_str(d, "ts"),
           json_str(d, "policy"), json_str(d, "kind"), json_str(d, "status"), needbuf,
           cJSON_IsString(why) ? " — " : "", cJSON_IsString(why) ? why->valuestring : "");
}

/* GETs /v1/decisions?limit=N and prints a line each. Returns the exit
 * code (quiet: errors are not printed, for the status summary). */
static int print_decisions_from(const struct cli_target *t, int limit, const char *indent,
                                bool quiet)
{
    char path[64], *body = NULL;
    snprintf(path, sizeof path, "/v1/decisions?limit=%d", limit);
    long status = http_get(t, path, &body);
    if (status < 0) {
        free(body);
        return CLI_EXIT_UNREACHABLE;
    }
    if (status != 200) {
        int rc = quiet ? CLI_EXIT_REFUSED : report_refusal(status, body);
        free(body);
        return rc;
    }
    cJSON *j = cJSON_Parse(body);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "decisions");
    int rc = CLI_EXIT_OK;
    if (!cJSON_IsArray(list)) {
        if (!quiet)
            fprintf(stderr, "floe: %s/v1/decisions: answer has no decisions list\n", t->url);
        rc = CLI_EXIT_UNREACHABLE;
    } else if (cJSON_GetArraySize(list) > 0 && quiet) {
        printf("\nlatest decisions:\n");
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, list)
        print_decision_line(d, indent);
    cJSON_Delete(j);
    free(body);
    return rc;
}

static void print_decisions(const struct cli_target *t)
{
    print_decisions_from(t, 5, "  ", true);
}

int cli_status(int argc, char **argv)
{
    struct cli_target t;
    if (parse_target(argc, argv, &t) != 0)
        return CLI_EXIT_REFUSED;
    char *body = NULL;
    long status = http_get(&t, "/v1/status", &body);
    if (status < 0)
        return CLI_EXIT_UNREACHABLE;
    if (status != 200) {
        int rc = report_refusal(status, body);
        free(body);
        return rc;
    }
    int rc = CLI_EXIT_OK;
    cJSON *st = cJSON_Parse(body);
    if (!cJSON_IsObject(st)) {
        fprintf(stderr, "floe: %s/v1/status: answer is not a JSON object\n", t.url);
        rc = CLI_EXIT_UNREACHABLE;
        goto out;
    }
    double up = json_num(st, "uptime_s");
    printf("site %s — floe %s, up %dd %02dh %02dm\n", json_str(st, "site"), json_str(st, "version"),
           (int)(up / 86400), (int)((long)up % 86400 / 3600), (int)((long)up % 3600 / 60));
    const cJSON *col = cJSON_GetObjectItemCaseSensitive(st, "collectors");
    if (cJSON_IsObject(col))
        printf("collectors: %.0f ok, %.0f failing\n", json_num(col, "ok"), json_num(col, "failing"));
    const cJSON *accepting = cJSON_GetObjectItemCaseSensitive(st, "accepting");
    if (cJSON_IsBool(accepting))
        printf("accepting work from peers: %s\n", cJSON_IsTrue(accepting) ? "yes" : "no");
    const cJSON *alarm;
    cJSON_ArrayForEach(alarm, cJSON_GetObjectItemCaseSensitive(st, "alarms"))
        printf("ALARM %s %s: %s since %s\n", json_str(alarm, "severity"), json_str(alarm, "policy"),
               json_str(alarm, "state"), json_str(alarm, "since"));

    print_policies(&t);
    print_decisions(&t);

    free(body);
    body = NULL;
    status = http_get(&t, "/v1/telemetry", &body);
    if (status == 200) {
        cJSON *tel = cJSON_Parse(body);
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(tel, "metrics");
        const cJSON *m;
        printf("\n%-40s %14s %-8s %-7s %8s\n", "metric", "value", "unit", "quality", "age");
        cJSON_ArrayForEach(m, metrics)
        {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "value");
            const cJSON *age = cJSON_GetObjectItemCaseSensitive(m, "age_s");
            char value[32] = "—", agebuf[32] = "—";
            if (cJSON_IsNumber(v))
                snprintf(value, sizeof value, "%.3f", v->valuedouble);
            if (cJSON_IsNumber(age))
                snprintf(agebuf, sizeof agebuf, "%.0fs", age->valuedouble);
            printf("%-40s %14s %-8s %-7s %8s\n", json_str(m, "name"), value, json_str(m, "unit"),
                   json_str(m, "quality"), agebuf);
        }
        cJSON_Delete(tel);
    }
out:
    cJSON_Delete(st);
    free(body);
    return rc;
}

/* One line per decision, newest first. */
int cli_decisions(int argc, char **argv)
{
    struct cli_target t;
    if (parse_target(argc, argv, &t) != 0)
        return CLI_EXIT_REFUSED;
    return print_decisions_from(&t, 50, "", false);
}

/* POST /v1/decisions/{id}/approve or /reject. */
static int answer(int argc, char **argv, const char *verb)
{
    struct cli_target t;
    char *rest[1];
    int n = parse_target_rest(argc, argv, &t, rest, 1);
    if (n != 1) {
        if (n == 0)
            fprintf(stderr, "usage: floe %s ID [--url URL] [--token T]\n", verb);
        return CLI_EXIT_REFUSED;
    }
    char *end;
    long long id = strtoll(rest[0], &end, 10);
    if (*end || id < 1) {
        fprintf(stderr, "floe %s: '%s' is not a decision id\n", verb, rest[0]);
        return CLI_EXIT_REFUSED;
    }
    char path[96];
    snprintf(path, sizeof path, "/v1/decisions/%lld/%s", id, verb);
    char *body = NULL;
    long status = http_request(&t, "POST", path, &body);
    if (status < 0)
        return CLI_EXIT_UNREACHABLE;
    int rc = CLI_EXIT_OK;
    if (status != 200) {
        rc = report_refusal(status, body);
    } else {
        cJSON *d = cJSON_Parse(body);
        printf("decision %lld (%s): %s\n", id, json_str(d, "policy"), json_str(d, "status"));
        cJSON_Delete(d);
    }
    free(body);
    return rc;
}

int cli_approve(int argc, char **argv)
{
    return answer(argc, argv, "approve");
}

int cli_reject(int argc, char **argv)
{
    return answer(argc, argv, "reject");
}
