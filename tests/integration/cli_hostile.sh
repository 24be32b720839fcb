#!/bin/bash
# The client commands read answers from whatever listens on the URL: a
# hostile or malformed answer gives a clear message or a partial screen,
# never a crash (and floe check, the Nagios plugin, UNKNOWN in one line).
# A small Python server serves each case's canned answers.
. "$(dirname "$0")/lib/common.sh"

port=$(free_port)
cat >"$TMP/server.py" <<'PY'
import http.server, json, re, sys, time
cases = json.load(open(sys.argv[2]))
state = {"case": None}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        path = self.path.split("?")[0]
        code = 200
        if path.startswith("/case/"):
            state["case"] = path[len("/case/"):]
            body = b"{}"
        else:
            answers = cases.get(state["case"] or "", {})
            answer = answers.get(path, "{}")
            for key in answers: # "PATH?QUERY": a query that starts so
                if "?" in key and self.path.startswith(key):
                    answer = answers[key]
            if isinstance(answer, list): # [HTTP status, body]
                code, answer = answer
            # "@AGO75@": the time 75 s before this answer
            answer = re.sub(r"@AGO(\d+)@", lambda m: time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - int(m.group(1)))), answer)
            body = answer.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
cat >"$TMP/cases.json" <<'JSON'
{
  "huge_counts": { "/v1/status": "{\"site\":\"x\",\"uptime_s\":1e300,\"collectors\":{\"ok\":1e300,\"failing\":1e300,\"pending\":1e300}}" },
  "negative_uptime": { "/v1/status": "{\"site\":\"x\",\"uptime_s\":-5e20}" },
  "inputs_array": { "/v1/status": "{\"site\":\"x\"}",
                    "/v1/policies": "{\"policies\":[{\"name\":\"p\",\"state\":\"firing\",\"when\":\"a > 1\",\"inputs\":[1,2]}]}",
                    "/v1/telemetry": "{\"metrics\":[{\"name\":\"a\"}]}" },
  "wrong_types": { "/v1/status": "{\"site\":5,\"version\":[],\"collectors\":[],\"alarms\":{}}",
                   "/v1/policies": "{\"policies\":{\"name\":1}}",
                   "/v1/telemetry": "{\"metrics\":[null,1,\"x\",{\"name\":null,\"value\":\"y\"}]}" },
  "not_json": { "/v1/status": "<html>", "/v1/policies": "[", "/v1/telemetry": "nul" },
  "deep": { "/v1/status": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]" },
  "decisions_odd": { "/v1/decisions": "{\"decisions\":[{\"id\":1e300,\"ts\":5,\"policy\":[],\"need_kw\":\"x\"},null,7]}" },
  "peers_odd": { "/v1/status": "{\"site\":\"x\",\"peers\":[null,1,\"x\",{\"name\":5,\"state\":\"ok\",\"spare_kw\":\"x\",\"age_s\":1e300},{\"name\":\"a\",\"state\":\"unreachable\",\"error\":5,\"age_s\":-1e300},{\"state\":\"garbage\",\"error\":\"http://x\"},{\"name\":\"b\",\"state\":\"refused\",\"error\":\"\\u001b[31mred\\nnext\"},{\"name\":\"c\",\"state\":\"ok\",\"spare_kw\":1e308,\"accepting\":\"yes\"}]}" },
  "peers_object": { "/v1/status": "{\"site\":\"x\",\"peers\":{\"name\":\"p\",\"state\":\"ok\"}}" }
}
JSON
# Thirty peers, half of them down: the screen shows what fits and counts the rest.
/usr/bin/python3 - "$TMP/cases.json" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))
peers = [{"name": "peer-%02d" % i, "state": "ok" if i % 2 else "unreachable", "reachable": bool(i % 2),
          "accepting": True, "spare_kw": 10 * i, "age_s": 4,
          "error": None if i % 2 else "unreachable: http://127.0.0.1:1/v1/capacity: connection refused"}
         for i in range(30)]
cases["many_peers"] = {"/v1/status": json.dumps({"site": "x", "peers": peers})}
# Migrations: times relative to the answer (the screen says how long ago).
def at(s_ago): # the server writes the time when it answers
    return "@AGO%d@" % s_ago
def mig(i, workload, phase, started, ended=None, result=None, error=None):
    return {"id": i, "workload": workload, "from": "lulea-1", "to": "falkenberg-1", "phase": phase,
            "started": at(started), "ended": ended and at(ended), "result": result, "error": error,
            "events": []}
active = [mig(9, "shop", "rolling-back", 75, error="peer not answering"),
          mig(7, "ledger", "delta", 130)]
ended = [mig(8, "web", "done", 3000, ended=600, result="done"),
         mig(6, "old", "rolled-back", 90000, ended=86000, result="rolled-back", error="abort")]
migs = {"/v1/status": json.dumps({"site": "x"}),
        "/v1/migrations?active=true": json.dumps({"migrations": active}),
        "/v1/migrations": json.dumps({"migrations": active + ended})}
cases["migrations"] = migs
# One answer for both questions: the ended ones are not under way.
cases["migrations_recent"] = {"/v1/status": json.dumps({"site": "x"}),
                              "/v1/migrations": json.dumps({"migrations": [active[1]] + ended})}
cases["migrations_old"] = {"/v1/status": json.dumps({"site": "x"}),
                           "/v1/migrations": json.dumps({"migrations": [ended[1]]})}
cases["migrations_404"] = {"/v1/status": json.dumps({"site": "x"}),
                           "/v1/migrations": [404, '{"error":"no such resource"}']}
cases["migrations_500"] = {"/v1/status": json.dumps({"site": "x"}),
                           "/v1/migrations": [500, '{"error":"migrations unavailable: disk I/O error"}']}
cases["migrations_odd"] = {"/v1/status": json.dumps({"site": "x"}),
                           "/v1/migrations": json.dumps({"migrations": [
                               None, 1, "x", {"id": 1e300, "workload": 5, "phase": [], "started": "never",
                               "error": {"x": 1}},
                               {"id": -1, "workload": "a\u001b[31m\nb" * 40, "from": None, "result": 5,
                                "started": "9999-12-31T23:59:59Z"},
                               {"id": 2, "result": "done", "ended": "0001-01-01T00:00:00Z"},
                               {"id": 3, "result": "weird", "ended": "1e300"}]})}
cases["migrations_object"] = {"/v1/status": json.dumps({"site": "x"}),
                              "/v1/migrations": json.dumps({"migrations": {"id": 1}})}
cases["many_migrations"] = {"/v1/status": json.dumps({"site": "x", "peers": peers}),
                            "/v1/migrations": json.dumps({"migrations": [
                                mig(100 - i, "w%02d" % i, "precopy", 60 + i) for i in range(30)]})}
json.dump(cases, open(sys.argv[1], "w"))
PY
bg /usr/bin/python3 "$TMP/server.py" "$port" "$TMP/cases.json"
URL=http://127.0.0.1:$port
wait_http "$URL/healthz" 10 || { not_ok "the canned-answer server did not start"; finish; }

for c in huge_counts negative_uptime inputs_array wrong_types not_json deep decisions_odd \
         peers_odd peers_object many_peers migrations migrations_recent migrations_old \
         migrations_404 migrations_500 migrations_odd migrations_object many_migrations; do
    curl -s -o /dev/null "$URL/case/$c"
    for cmd in "status" "status --all" "decisions"; do
        # shellcheck disable=SC2086
        "$BUILD/floe" $cmd --url "$URL" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        if [ $rc -le 3 ] && ! grep -qE 'Sanitizer|runtime error' "$TMP/err"; then
            ok "floe $cmd on a $c answer: exit $rc, no crash"
        else
            not_ok "floe $cmd on a $c answer: exit $rc: $(head -5 "$TMP/err")"
        fi
    done
    # The Nagios plugin: none of these is an agent's status, so UNKNOWN,
    # in one line on stdout.
    "$BUILD/floe" check --url "$URL" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc = 3 ] && [ "$(wc -l <"$TMP/out")" = 1 ] && grep -q '^FLOE UNKNOWN - /v1/status: ' "$TMP/out" &&
        ! grep -qE 'Sanitizer|runtime error' "$TMP/err"; then
        ok "floe check on a $c answer: exit 3, $(cat "$TMP/out")"
    else
        not_ok "floe check on a $c answer: exit $rc: $(head -5 "$TMP/out" "$TMP/err")"
    fi
done

curl -s -o /dev/null "$URL/case/many_peers"
"$BUILD/floe" status --url "$URL" >"$TMP/out" 2>"$TMP/err"
check "thirty peers: floe status still fits 23 lines ($(wc -l <"$TMP/out"))" test "$(wc -l <"$TMP/out")" -le 23
check "thirty peers: the ones that do not fit are counted, with how many are not usable" \
    grep -qxE 'and [0-9]+ more peers, [0-9]+ of them not answering usably' "$TMP/out"
check "thirty peers: the first ones are listed" \
    sh -c "grep -qE '^PEER    peer-00 +4s ago  UNREACHABLE connection refused$' '$TMP/out' && grep -qE '^PEER    peer-01 +4s ago  10 kW spare, accepting$' '$TMP/out'"
"$BUILD/floe" status --all --url "$URL" >"$TMP/out" 2>"$TMP/err"
check "thirty peers: --all lists all of them" test "$(grep -c '^PEER    peer-' "$TMP/out")" = 30

# ---- migrations on the status screen ----
status_of() { # CASE [--all]: floe status on that case's answers into $TMP/out
    curl -s -o /dev/null "$URL/case/$1"
    "$BUILD/floe" status ${2:+"$2"} --url "$URL" >"$TMP/out" 2>"$TMP/err"
}
status_of migrations
echo "# floe status:"; sed 's/^/#   /' "$TMP/out"
check "migrations: the title, then those under way, newest first, then the latest ended" \
    sh -c "grep -A3 -x 'migrations (details: floe migrations ID):' '$TMP/out' | sed 1d | cut -c1-12 | tr '\n' '|' | grep -qx '  #9 shop lu|  #7 ledger |  #8 web lul|'"
check "migrations: one under way: workload, from -> to, phase, time since it started" \
    grep -qxE '  #7 ledger lulea-1 -> falkenberg-1  delta  2m 1[0-9]s' "$TMP/out"
check "migrations: a rollback says so, and what is wrong" \
    grep -qxE '  #9 shop lulea-1 -> falkenberg-1  ROLLING BACK  1m 1[5-9]s: peer not answering' "$TMP/out"
check "migrations: the latest ended, how and how long ago" \
    grep -qxE '  #8 web lulea-1 -> falkenberg-1  ended done 10m 0[0-9]s ago' "$TMP/out"
check "migrations: an older ended one is not shown" sh -c "! grep -q '#6' '$TMP/out'"
status_of migrations_recent
check "migrations: ended ones in the answer are not counted as under way" \
    sh -c "[ \$(grep -c '^  #' '$TMP/out') = 2 ] && grep -qE '^  #7 ledger .* delta ' '$TMP/out' && grep -qE '^  #8 web .* ended done ' '$TMP/out'"
status_of migrations_old
check "migrations: none under way and none ended lately: no migrations part" \
    sh -c "! grep -q 'migrations' '$TMP/out' && grep -q '^x ' '$TMP/out'"
status_of migrations_404
check "migrations: an agent without /v1/migrations (404): said in one line, the rest shown, exit 0" \
    sh -c "grep -qx 'migrations: not shown: this agent has no /v1/migrations (HTTP 404)' '$TMP/out' && grep -q '^x  floe' '$TMP/out' && [ \$(grep -c migrations '$TMP/out') = 1 ]"
status_of migrations_500
check "migrations: an error answer: said in one line with the agent's reason" \
    grep -qx 'migrations: unknown (HTTP 500): migrations unavailable: disk I/O error' "$TMP/out"
status_of many_migrations
check "thirty migrations and thirty peers: floe status still fits 23 lines ($(wc -l <"$TMP/out"))" \
    test "$(wc -l <"$TMP/out")" -le 23
check "thirty migrations: the first one is listed, the rest counted" \
    sh -c "grep -qxE '  #100 w00 lulea-1 -> falkenberg-1  precopy  1m 0[0-9]s' '$TMP/out' && grep -qxE '  and 29 more under way \(floe migrations\)' '$TMP/out'"
check "thirty migrations: the peers still get their rows" grep -q '^PEER    peer-00 ' "$TMP/out"
status_of many_migrations --all
check "thirty migrations: --all lists all of them" test "$(grep -c '^  #[0-9]* w[0-9]* ' "$TMP/out")" = 30
finish
