#!/bin/bash
# The client commands read answers from whatever listens on the URL: a
# hostile or malformed answer gives a clear message or a partial screen,
# never a crash (and floe check, the Nagios plugin, UNKNOWN in one line).
# A small Python server serves each case's canned answers.
. "$(dirname "$0")/lib/common.sh"

port=$(free_port)
cat >"$TMP/server.py" <<'PY'
import http.server, json, sys
cases = json.load(open(sys.argv[2]))
state = {"case": None}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/case/"):
            state["case"] = path[len("/case/"):]
            body = b"{}"
        else:
            answers = cases.get(state["case"] or "", {})
            body = answers.get(path, "{}").encode()
        self.send_response(200)
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
json.dump(cases, open(sys.argv[1], "w"))
PY
bg /usr/bin/python3 "$TMP/server.py" "$port" "$TMP/cases.json"
URL=http://127.0.0.1:$port
wait_http "$URL/healthz" 10 || { not_ok "the canned-answer server did not start"; finish; }

for c in huge_counts negative_uptime inputs_array wrong_types not_json deep decisions_odd \
         peers_odd peers_object many_peers; do
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
finish
