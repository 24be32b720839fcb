/*
 * cmd_check — see cmd_check.h. Two GETs and a print; the judging is
 * agent/check.c. Whatever goes wrong before there is a status to judge
 * (a bad option, no answer, a refused token, an answer that is not JSON)
 * is the plugin's UNKNOWN with the reason on the same one line, since a
 * monitoring system shows stdout and the exit code, not stderr.
 */
#include "agent/cmd_check.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/check.h"
#include "lib/httpc.h"
#include "lib/util.h"

/* Enough migrations to see every one that failed within the window on a
 * busy site, without the answer (events included) growing large. */
#define CHECK_MIGRATIONS_LIMIT "100"
/* Each request; two of them stay well inside a monitoring system's
 * usual check timeout (Icinga 60 s, Nagios 60 s). */
#define CHECK_HTTP_TIMEOUT_MS 10000
/* Thresholds past 1 GW are typing errors. */
#define CHECK_KW_MAX 1e6

static const char usage[] =
    "usage: floe check [--url URL] [--token T] [--spare-warn KW] [--spare-crit KW]\n"
    "                  [--failed-within DURATION]\n"
    "Nagios/Icinga plugin: one line with perfdata; exit 0 OK, 1 WARNING, 2 CRITICAL,\n"
    "3 UNKNOWN (agent unreachable, token refused, answer unreadable).\n"
    "  --spare-warn KW, --spare-crit KW  WARNING / CRITICAL when the site's spare kW\n"
    "                                    for peers is below KW (default: no threshold)\n"
    "  --failed-within DURATION          a migration that rolled back or failed this\n"
    "                                    long ago or less is CRITICAL (default 1h; 0: only\n"
    "                                    one rolling back now)\n";

struct check_args {
    const char *url, *token;
    struct check_opts opts;
};

/* Prints the UNKNOWN line for why; returns CHECK_UNKNOWN. */
static int unknown(const char *why)
{
    char *line = check_unknown_line(why);
    puts(line ? line : "FLOE UNKNOWN - out of memory");
    free(line);
    return CHECK_UNKNOWN;
}

static int parse_kw(const char *opt, const char *text, double *out, char *err, size_t errlen)
{
    char *end;
    double kw = strtod(text, &end);
    if (end == text || *end || !isfinite(kw) || kw < 0 || kw > CHECK_KW_MAX)
        return errf(err, errlen, "%s: expected kW from 0 to %.0f, not '%s'", opt, CHECK_KW_MAX,
                    text);
    *out = kw;
    return 0;
}

/* Returns 0, 1 for --help, or -1 with err. */
static int parse_args(int argc, char **argv, struct check_args *a, char *err, size_t errlen)
{
    a->url = getenv("FLOE_URL");
    a->token = getenv("FLOE_TOKEN");
    a->opts = (struct check_opts){.spare_warn_kw = NAN,
                                  .spare_crit_kw = NAN,
                                  .failed_within_ms = CHECK_FAILED_WITHIN_DEFAULT_MS};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0)
            return 1;
        if (i + 1 == argc)
            return errf(err, errlen, "unknown argument '%s' (see floe check --help)", opt);
        const char *val = argv[++i];
        if (strcmp(opt, "--url") == 0) {
            a->url = val;
        } else if (strcmp(opt, "--token") == 0) {
            a->token = val;
        } else if (strcmp(opt, "--spare-warn") == 0) {
            if (parse_kw(opt, val, &a->opts.spare_warn_kw, err, errlen) != 0)
                return -1;
        } else if (strcmp(opt, "--spare-crit") == 0) {
            if (parse_kw(opt, val, &a->opts.spare_crit_kw, err, errlen) != 0)
                return -1;
        } else if (strcmp(opt, "--failed-within") == 0) {
            char why[160];
            if (strcmp(val, "0") == 0)
                a->opts.failed_within_ms = 0;
            else if (util_parse_duration_ms(val, &a->opts.failed_within_ms, why, sizeof why) != 0)
                return errf(err, errlen, "--failed-within: %s", why);
        } else {
            return errf(err, errlen, "unknown argument '%s' (see floe check --help)", opt);
        }
    }
    if (!a->url || !*a->url)
        a->url = "http://127.0.0.1:8470";
    return 0;
}

/* GET path; returns the parsed answer of a 200, or NULL with why in err. */
static cJSON *get_json(const struct check_args *a, const char *path, char *err, size_t errlen)
{
    char url[1024];
    size_t ulen = strlen(a->url);
    if (ulen && a->url[ulen - 1] == '/')
        ulen--;
    snprintf(url, sizeof url, "%.*s%s", (int)ulen, a->url, path);
    struct httpc_req r = {.method = "GET",
                          .url = url,
                          .bearer = a->token,
                          .timeout_ms = CHECK_HTTP_TIMEOUT_MS,
                          .max_body = 8u << 20};
    cJSON *j = NULL;
    if (httpc_run(&r) < 0) {
        errf(err, errlen, "%s%s", r.too_large ? "" : "agent unreachable: ", r.error);
        goto out;
    }
    if (r.status != 200) {
        cJSON *e = cJSON_Parse(r.answer);
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "error");
        bool refused = r.status == 401 || r.status == 403;
        errf(err, errlen, "%s%s: HTTP %ld: %s", refused ? "the agent refused: " : "", path,
             r.status, cJSON_IsString(msg) ? msg->valuestring : "no error message");
        cJSON_Delete(e);
        goto out;
    }
    j = cJSON_Parse(r.answer);
    if (!j)
        errf(err, errlen, "%s: the answer is not JSON", path);
out:
    httpc_req_clear(&r);
    return j;
}

int cmd_check(int argc, char **argv)
{
    struct check_args a;
    char err[512];
    int rc = parse_args(argc, argv, &a, err, sizeof err);
    if (rc == 1) {
        fputs(usage, stdout);
        return CHECK_UNKNOWN;
    }
    if (rc < 0)
        return unknown(err);
    cJSON *status = get_json(&a, "/v1/status", err, sizeof err);
    if (!status)
        return unknown(err);
    char merr[512];
    cJSON *migrations =
        get_json(&a, "/v1/migrations?limit=" CHECK_MIGRATIONS_LIMIT, merr, sizeof merr);
    struct check_answers in = {.status = status,
                               .migrations = migrations,
                               .migrations_error = merr,
                               .now_ms = util_now_ms()};
    char *line;
    enum check_code code = check_verdict(&in, &a.opts, &line);
    puts(line ? line : "FLOE UNKNOWN - out of memory");
    free(line);
    cJSON_Delete(migrations);
    cJSON_Delete(status);
    return code;
}
