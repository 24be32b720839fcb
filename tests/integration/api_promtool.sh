#!/bin/bash
# The HTTP API over real sockets (libmicrohttpd), without the rest of the
# agent: a small server built here against BUILD/libfloe.a serves
# api_start() with fixed metrics, collectors, stored history, a decision
# awaiting approval and two migrations that ended. Checks: /metrics passes
# `promtool check metrics` and escapes labels, and no counter of it
# decreases when that decision is approved; floe migrations and floe
# abort read and refuse as the API says; auth answers 401 with
# WWW-Authenticate, 405 carries Allow; a 2 MiB body (with Content-Length,
# and chunked) gets 413 without the server keeping it; idle and trickling connections do not delay /healthz for
# anyone else; history still answers while another connection holds the
# database's write lock; HTTPS works with a cert/key pair; tokens never
# reach the log.
. "$(dirname "$0")/lib/common.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

cat > "$TMP/api_testd.c" <<'C'
/* api_testd PORT DB [CERT KEY] — serves the API until SIGTERM. With
 * FLOE_HOLD_WRITE_LOCK set, another SQLite connection holds the database's
 * write lock (BEGIN EXCLUSIVE) the whole time, as a long recorder or
 * retention transaction would. */
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policies/decision.h"
#include "store/store_mig.h"

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: api_testd PORT DB [CERT KEY]\n");
        return 2;
    }
    log_init(LOG_LVL_DEBUG);
    struct cfg_token tokens[] = {
        { "noc", ROLE_READ, "read-secret-1111" },
        { "facility", ROLE_OPERATOR, "operator-secret-2222" },
        { "lulea-2", ROLE_PEER, "peer-secret-3333" },
    };
    struct floe_config cfg = { 0 };
    cfg.site.name = "it-api";
    cfg.http.tokens = tokens;
    cfg.http.ntokens = 3;
    if (argc == 5) {
        cfg.http.tls_cert_file = argv[3];
        cfg.http.tls_key_file = argv[4];
    }
    struct agent a = { 0 };
    /* cfg lives on this stack: main keeps its own reference for good, so
     * the agent's release never frees it. */
    agent_config_init(&a, config_ref(&cfg));
    a.started_ms = util_now_ms();
    a.started_mono_ms = util_mono_ms();
    a.metrics = metrics_new(100000);
    char err[256];
    if (store_open(&a.store, argv[2], err, sizeof err) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    /* History: 2026-01-01T00:00Z + i minutes, value 100 + i, i = 0..59. */
    struct metric_sample hist[60];
    for (int i = 0; i < 60; i++) {
        hist[i] = (struct metric_sample){ .ts_ms = 1767225600000LL + i * 60000LL,
                                          .value = 100 + i, .ok = true };
        util_strlcpy(hist[i].name, "cooling.chiller1.capacity_kw", sizeof hist[i].name);
    }
    if (store_write_samples(a.store, hist, 60, err, sizeof err) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    /* Decision 1, awaiting approval, for the counters of /metrics. */
    struct decision d;
    decision_init(&d);
    d.ts_ms = 1767225600000LL;
    d.kind = POL_ACTION_SHED;
    decision_set_policy(&d, "cooling-shortfall");
    decision_classify(&d, &(struct decision_facts){ .mode = POL_MODE_APPROVE, .kw = 80 });
    char *body = decision_to_text(&d);
    int64_t id;
    if (store_decision_add(a.store, d.ts_ms, d.policy, "shed", "awaiting-approval", body, NULL,
                           &id, err, sizeof err) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    free(body);
    decision_clear(&d);
    /* Three migrations that ended (done after 250 s down, rolled back,
     * rolled back on floe abort), for floe_migrations_total and
     * floe_migration_downtime_seconds. */
    const char *const moved[] = { "shop", "db", "web" };
    for (int i = 0; i < 3; i++) {
        struct store_mig m;
        memset(&m, 0, sizeof m);
        util_strlcpy(m.workload, moved[i], sizeof m.workload);
        util_strlcpy(m.namespace_, moved[i], sizeof m.namespace_);
        util_strlcpy(m.peer, "lulea-2", sizeof m.peer);
        snprintf(m.reservation, sizeof m.reservation, "rsv-%d", i);
        util_strlcpy(m.phase, "reserved", sizeof m.phase);
        m.created_ms = m.updated_ms = 1767225600000LL;
        struct store_hold h = { .peer = m.peer, .id = m.reservation, .workload = m.workload,
                                .kw = 10, .created_ms = m.created_ms,
                                .expires_ms = m.created_ms + 60000 };
        if (store_mig_create(a.store, &m, &h, NULL, &m.id, err, sizeof err) != 0) {
            fprintf(stderr, "store: %s\n", err);
            return 1;
        }
        char why[200];
        if (i == 2 && store_mig_abort(a.store, m.id, "facility", m.created_ms, why, sizeof why,
                                      err, sizeof err) != 0) {
            fprintf(stderr, "store: %s%s\n", err, why);
            return 1;
        }
        util_strlcpy(m.result, i == 0 ? "done" : "rolled-back", sizeof m.result);
        util_strlcpy(m.phase, m.result, sizeof m.phase);
        m.downtime_s = i == 0 ? 250 : NAN;
        if (store_mig_save(a.store, &m, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "store: %s\n", err);
            return 1;
        }
    }
    int64_t now = util_now_ms();
    metrics_set_good(a.metrics, "cooling.chiller1.capacity_kw", 159, "kW", "chiller1", 15000, now);
    metrics_set_good(a.metrics, "room.inlet_c", 21.25, "C", "odd \"dev\" \\ name\nline2", 0, now);
    metrics_declare(a.metrics, "power.supply_kw", "kW", "pdu", 15000);
    metrics_set_error(a.metrics, "cooling.chiller2.capacity_kw", "chiller2", 15000, "timed out",
                      now);
    metrics_collector_declare(a.metrics, "chiller1", "modbus");
    metrics_collector_declare(a.metrics, "chiller2", "modbus");
    metrics_collector_declare(a.metrics, "ups \"a\"", "snmp");
    metrics_collector_report(a.metrics, "chiller1", true, 0.004, NULL, now);
    metrics_collector_report(a.metrics, "chiller1", true, 0.3, NULL, now);
    metrics_collector_report(a.metrics, "chiller2", false, 7.5, "timed out", now);

    sqlite3 *holder = NULL;
    if (getenv("FLOE_HOLD_WRITE_LOCK")) {
        if (sqlite3_open(argv[2], &holder) != SQLITE_OK ||
            sqlite3_exec(holder, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "cannot take the write lock\n");
            return 1;
        }
    }

    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and main alone receives them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%s", argv[1]);
    a.api = api_start(&a, listen, err, sizeof err);
    if (!a.api) {
        fprintf(stderr, "api_start: %s\n", err);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    api_stop(a.api);
    sqlite3_close(holder);
    store_close(a.store);
    metrics_free(a.metrics);
    agent_config_clear(&a);
    return 0;
}
C

# shellcheck disable=SC2046
if ! cc -std=c11 -D_GNU_SOURCE -I"$SRC" -o "$TMP/api_testd" \
        "$TMP/api_testd.c" "$BUILD/libfloe.a" \
        $(pkg-config --libs libmicrohttpd libcurl libcjson sqlite3 yaml-0.1) -lpthread -lm 2>"$TMP/cc.log"; then
    not_ok "build api_testd: $(head -5 "$TMP/cc.log")"
    finish
fi
ok "build api_testd against libfloe.a"

READ="Authorization: Bearer read-secret-1111"
port=$(free_port)
URL="http://127.0.0.1:$port"
bg "$TMP/api_testd" "$port" "$TMP/api.db" >"$TMP/testd.out" 2>"$TMP/testd.log"
if ! wait_http "$URL/healthz" 10; then
    not_ok "server answers: $(tail -3 "$TMP/testd.log")"
    finish
fi

# status DEST_BODY CURL_ARGS... -> prints the HTTP status
status() { local out=$1; shift; curl -s -o "$out" -w '%{http_code}' "$@"; }

code=$(status "$TMP/h.json" "$URL/healthz")
check "healthz is open and answers {\"ok\": true}" \
    test "$code $(json_get "$TMP/h.json" 'd')" = "200 {'ok': True}"

code=$(status "$TMP/m.txt" -H "$READ" "$URL/metrics")
if [ "$code" = 200 ] && promtool check metrics <"$TMP/m.txt" >"$TMP/promtool.log" 2>&1; then
    ok "promtool check metrics accepts /metrics"
else
    not_ok "promtool check metrics accepts /metrics: HTTP $code; $(head -5 "$TMP/promtool.log")"
fi
# A counter never decreases: approving decision 1 moves it from
# awaiting-approval to no-placement; every counter sample of the page
# before is still there after, no lower, and the page still passes promtool.
code=$(status /dev/null -X POST -H "Authorization: Bearer operator-secret-2222" \
    "$URL/v1/decisions/1/approve")
check "approve decision 1: 200" test "$code" = 200
curl -s -o "$TMP/m2.txt" -H "$READ" "$URL/metrics"
if promtool check metrics <"$TMP/m2.txt" >"$TMP/promtool2.log" 2>&1; then
    ok "promtool check metrics accepts /metrics after an approve"
else
    not_ok "promtool check metrics accepts /metrics after an approve: $(head -5 "$TMP/promtool2.log")"
fi
if /usr/bin/python3 - "$TMP/m.txt" "$TMP/m2.txt" >"$TMP/counters.log" 2>&1 <<'PY'
import sys
def counters(path):
    kinds, out = {}, {}
    for line in open(path):
        f = line.split()
        if line.startswith("# TYPE"):
            kinds[f[2]] = f[3]
        elif f and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            if kinds.get(series.split("{")[0]) == "counter":
                out[series] = float(value)
    return out
before, after = counters(sys.argv[1]), counters(sys.argv[2])
bad = [f"{s}: {v} -> {after.get(s)}" for s, v in before.items() if not after.get(s, -1) >= v]
want = {'floe_decisions_total{kind="shed",status="awaiting-approval"}': 1,
        'floe_decisions_total{kind="shed",status="no-placement"}': 1}
bad += [f"{s}: {after.get(s)}, expected {v}" for s, v in want.items() if after.get(s) != v]
print("; ".join(bad) or f"{len(before)} counters, none lower")
sys.exit(1 if bad else 0)
PY
then
    ok "no counter decreased after an approve ($(cat "$TMP/counters.log"))"
else
    not_ok "no counter decreased after an approve: $(cat "$TMP/counters.log")"
fi
check "floe_decisions_in_status: 0 awaiting approval, 1 no-placement after the approve" \
    grep -qzF 'floe_decisions_in_status{kind="shed",status="awaiting-approval"} 0
floe_decisions_in_status{kind="shed",status="no-placement"} 1' "$TMP/m2.txt"

ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "$READ" "$URL/metrics")
check "/metrics is text format 0.0.4" test "$ctype" = "text/plain; version=0.0.4; charset=utf-8"
check "label values are escaped (quote, backslash, newline)" grep -qF \
    'floe_metric_value{metric="room.inlet_c",unit="C",source="odd \"dev\" \\ name\nline2"} 21.25' "$TMP/m.txt"
check "capacity families: floe_spare_kw 0 (no capacity expressions), floe_reserved_kw 0" \
    sh -c "grep -qx 'floe_spare_kw 0' '$TMP/m.txt' && grep -qx 'floe_reserved_kw 0' '$TMP/m.txt'"
check "histogram +Inf bucket equals _count per device" grep -qF \
    'floe_poll_duration_seconds_bucket{device="chiller2",le="+Inf"} 1' "$TMP/m.txt"
check "a collector that never polled is down" grep -qF \
    'floe_collector_up{device="ups \"a\"",protocol="snmp"} 0' "$TMP/m.txt"
check "floe_migrations_total: 1 done, 1 rolled back, 0 failed, 1 aborted (not counted as rolled back)" \
    grep -qzF 'floe_migrations_total{result="done"} 1
floe_migrations_total{result="rolled-back"} 1
floe_migrations_total{result="failed"} 0
floe_migrations_total{result="aborted"} 1' "$TMP/m.txt"
if /usr/bin/python3 "$(dirname "$0")/lib/prom_families.py" "$TMP/m.txt" >"$TMP/families.log" 2>&1; then
    ok "every family SPEC 4 lists, with its type and labels: $(cat "$TMP/families.log")"
else
    not_ok "every family SPEC 4 lists, with its type and labels: $(cat "$TMP/families.log")"
fi
check "floe_migration_downtime_seconds: the 250 s downtime in the 300 s bucket, not the 60 s one" \
    grep -qzF 'floe_migration_downtime_seconds_bucket{le="60"} 0
floe_migration_downtime_seconds_bucket{le="300"} 1' "$TMP/m.txt"
check "floe_migration_downtime_seconds: sum and count" \
    grep -qzF 'floe_migration_downtime_seconds_sum 250
floe_migration_downtime_seconds_count 1' "$TMP/m.txt"

# floe migrations / floe abort, the CLI over this API.
"$BUILD/floe" migrations --url "$URL" --token read-secret-1111 >"$TMP/cli_m.txt" 2>&1
check "floe migrations: one line each, newest first, with phase and downtime" \
    sh -c "sed -n 1p '$TMP/cli_m.txt' | grep -q '^#3 .*web → lulea-2 *rolled-back' &&
           sed -n 2p '$TMP/cli_m.txt' | grep -q '^#2 .*db → lulea-2 *rolled-back' &&
           sed -n 3p '$TMP/cli_m.txt' | grep -q '^#1 .*shop → lulea-2 *done *down 4m10s'"
"$BUILD/floe" migrations 1 --url "$URL" --token read-secret-1111 >"$TMP/cli_m1.txt" 2>&1
check "floe migrations 1: the migration in full" \
    grep -q '^  reservation rsv-0 at lulea-2' "$TMP/cli_m1.txt"
"$BUILD/floe" abort 1 --url "$URL" --token operator-secret-2222 >"$TMP/cli_a.txt" 2>&1
rc=$?
check "floe abort of a migration that ended: exit 1 with the agent's reason" \
    sh -c "test $rc = 1 && grep -q 'HTTP 409.*has ended (done)' '$TMP/cli_a.txt'"
"$BUILD/floe" abort x --url "$URL" --token operator-secret-2222 >"$TMP/cli_a2.txt" 2>&1
rc=$?
check "floe abort x: exit 1, not a migration id" \
    sh -c "test $rc = 1 && grep -q \"'x' is not a migration id\" '$TMP/cli_a2.txt'"

curl -s -D "$TMP/401.h" -o "$TMP/401.json" "$URL/metrics" >/dev/null
check "no token: 401" grep -q '^HTTP/1.1 401' "$TMP/401.h"
check "401 carries WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' "$TMP/401.h"
check "401 body is {error, code}" test "$(json_get "$TMP/401.json" 'd["code"]')" = unauthorized
code=$(status /dev/null -H "Authorization: Bearer peer-secret-3333" "$URL/v1/telemetry")
check "peer token on a read endpoint: 403" test "$code" = 403

curl -s -D "$TMP/405.h" -o /dev/null -X POST -H "$READ" "$URL/v1/status"
check "POST /v1/status: 405 with Allow: GET, HEAD" \
    grep -qi '^Allow: GET, HEAD' "$TMP/405.h"

HOUR="since=2026-01-01T00:00:00Z&until=2026-01-01T00:59:00Z"
code=$(status "$TMP/hist.json" -H "$READ" "$URL/v1/telemetry/cooling.chiller1.capacity_kw?$HOUR&step=10m")
check "history over HTTP with step=10m: 6 buckets, the first the mean of 100..109" \
    test "$code $(json_get "$TMP/hist.json" 'len(d["points"]), d["points"][0]')" = \
    "200 (6, ['2026-01-01T00:00:00Z', 104.5])"
code=$(status "$TMP/bad.json" -H "$READ" "$URL/v1/telemetry/cooling.chiller1.capacity_kw?since=yesterday")
check "bad since: 400 naming since" \
    test "$code $(json_get "$TMP/bad.json" 'd["error"].split(":")[0]')" = "400 since"

# 413: 2 MiB with Content-Length is refused before the body is read.
head -c $((2 * 1024 * 1024)) /dev/zero >"$TMP/big.bin"
code=$(status "$TMP/413.json" -H "$READ" --data-binary @"$TMP/big.bin" "$URL/v1/status")
check "2 MiB body with Content-Length: 413" \
    test "$code $(json_get "$TMP/413.json" 'd["code"]')" = "413 payload_too_large"
code=$(status "$TMP/413c.json" -H "$READ" -H "Transfer-Encoding: chunked" \
    --data-binary @"$TMP/big.bin" "$URL/v1/status")
check "2 MiB chunked body: 413" test "$code" = 413
code=$(status /dev/null -X GET -H "$READ" --data-binary @<(head -c 1000 /dev/zero) "$URL/v1/status")
check "a small body is no reason to refuse: 200" test "$code" = 200

# Slow clients: 20 idle connections and one sending its headers a byte at
# a time must not delay anyone else.
/usr/bin/python3 - "$port" >"$TMP/slow.log" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
trickle = socket.create_connection(("127.0.0.1", port))
for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":
    trickle.send(bytes([ch]))
    time.sleep(0.2)
time.sleep(2)
PY
slow_pid=$!
PIDS+=("$slow_pid")
sleep 0.5
t0=$(date +%s%N)
code=$(status /dev/null --max-time 5 "$URL/healthz")
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check "healthz in ${ms} ms beside 20 idle and 1 trickling connection (< 1000)" \
    test "$code" = 200 -a "$ms" -lt 1000
wait "$slow_pid" 2>/dev/null

kill "$BG_PID" 2>/dev/null
wait "$BG_PID" 2>/dev/null
check "tokens never appear in the log" \
    bash -c "! grep -qE 'secret-(1111|2222|3333)' '$TMP/testd.log'"
check "4xx answers were logged at debug level" grep -q 'debug: api: GET /metrics: 401' "$TMP/testd.log"

# History while another connection holds the write lock (WAL readers do
# not wait for writers).
port=$(free_port)
URL="http://127.0.0.1:$port"
FLOE_HOLD_WRITE_LOCK=1 bg "$TMP/api_testd" "$port" "$TMP/locked.db" >/dev/null 2>"$TMP/testd2.log"
if wait_http "$URL/healthz" 10; then
    code=$(status "$TMP/hist2.json" --max-time 5 -H "$READ" \
        "$URL/v1/telemetry/cooling.chiller1.capacity_kw?$HOUR")
    check "history answers while the database write lock is held elsewhere" \
        test "$code $(json_get "$TMP/hist2.json" 'len(d["points"])')" = "200 60"
else
    not_ok "server with a held write lock answers: $(tail -3 "$TMP/testd2.log")"
fi
kill "$BG_PID" 2>/dev/null
wait "$BG_PID" 2>/dev/null

# HTTPS with a throw-away self-signed certificate.
if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1; then
    port=$(free_port)
    bg "$TMP/api_testd" "$port" "$TMP/tls.db" "$TMP/cert.pem" "$TMP/key.pem" \
        >/dev/null 2>"$TMP/testd3.log"
    for _ in $(seq 50); do
        curl -s --cacert "$TMP/cert.pem" -o /dev/null "https://127.0.0.1:$port/healthz" && break
        sleep 0.1
    done
    code=$(status "$TMP/tls.json" --cacert "$TMP/cert.pem" -H "$READ" "https://127.0.0.1:$port/v1/status")
    check "HTTPS with cert_file/key_file: /v1/status 200" \
        test "$code $(json_get "$TMP/tls.json" 'd["site"]')" = "200 it-api"
    code=$(status /dev/null "http://127.0.0.1:$port/healthz")
    check "plain HTTP to the HTTPS port is not served" test "$code" != 200
else
    not_ok "openssl could not make a test certificate"
fi

finish
