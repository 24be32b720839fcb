#!/bin/bash
# floe check, the Nagios/Icinga plugin, against a real agent polling
# floe-sim, one exit code at a time: OK on a healthy site (with perfdata,
# URL and token also from FLOE_URL/FLOE_TOKEN); WARNING when a device
# stops answering and the peer site goes away, then also when a warning
# policy fires; CRITICAL when a critical policy fires (listed first);
# --spare-warn/--spare-crit; UNKNOWN for a bad token, no token, an answer
# that is not the agent's (404, not JSON, a status of another shape) and
# a stopped agent. The policies fire through floe-sim's POST /sim/set. On
# the way, /metrics of this agent (policies fired, a decision made, a
# peer) passes promtool and has every SPEC 4 family with a sample, its
# type and its labels.
. "$(dirname "$0")/lib/common.sh"

# The demo site without its scripted chiller trip: the policies fire
# only when this test says so.
cat >"$TMP/site.json" <<'JSON'
{ "site": { "name": "it-check" }, "listen": "127.0.0.1",
  "chillers": [ { "name": "chiller1", "capacity_kw": 250, "supply_c": 7.0 },
                { "name": "chiller2", "capacity_kw": 250, "supply_c": 7.0 } ],
  "crahs": [ { "name": "crah1", "capacity_kw": 60, "supply_c": 18.0 } ],
  "it": { "base_kw": 400 },
  "supply": { "hydro_kw": 380, "wind_kw": 120, "grid_kw": 0 },
  "room": { "setpoint_c": 22.0, "inlet_c": 22.0, "thermal_mass_kj_per_k": 3000 } }
JSON
start_sim() { # NAME: a floe-sim on free ports; its ports in $TMP/NAME.ports
    bg "$BUILD/floe-sim" site -c "$TMP/site.json" --modbus-port 0 --http-port 0 --snmp-port 0 \
        --ports-file "$TMP/$1.ports" >"$TMP/$1.log" 2>&1
    for _ in $(seq 100); do [ -s "$TMP/$1.ports" ] && break; sleep 0.1; done
}
start_sim sim
start_sim meter
meter_pid=$BG_PID
mb_port=$(json_get "$TMP/sim.ports" 'd["modbus"]')
meter_port=$(json_get "$TMP/meter.ports" 'd["modbus"]')
sim="http://127.0.0.1:$(json_get "$TMP/sim.ports" 'd["http"]')"

# The peer site (its capacity answer), and answers that are not an
# agent's: /garbage is not JSON, /odd a status of another shape.
peer_port=$(free_port)
cat >"$TMP/peer.py" <<'PY'
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        if self.path == "/v1/capacity":
            return self.send(200, json.dumps({
                "site": "falkenberg-1", "accepting": True, "spare_kw": 150,
                "power_headroom_kw": 400, "cooling_headroom_kw": 190, "reserved_kw": 20,
                "ingress": "198.51.100.7",
                "as_of": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        if self.path.startswith("/garbage/"):
            return self.send(200, "<html>floe?</html>")
        if self.path.startswith("/odd/v1/status"):
            return self.send(200, '{"site": "x", "alarms": {"cooling-shortfall": "firing"}}')
        self.send(404, '{"error": "no such endpoint", "code": "not_found"}')
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
bg /usr/bin/python3 "$TMP/peer.py" "$peer_port"
peer_pid=$BG_PID
wait_http "http://127.0.0.1:$peer_port/" 10 || { not_ok "the peer server did not start"; finish; }

http_port=$(free_port)
base="http://127.0.0.1:$http_port"
NOC=noc-read-token-4711
cat >"$TMP/floe.json" <<JSON
{ "site": { "name": "it-check" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port",
            "tokens": [ { "name": "noc", "role": "read", "token": "$NOC" } ] },
  "policy_tick": "500ms",
  "peers_poll": "1s",
  "peers": [ { "name": "falkenberg-1", "url": "http://127.0.0.1:$peer_port", "token": "t" } ],
  "modbus": [
    { "name": "sim", "host": "127.0.0.1", "port": $mb_port, "interval": "500ms",
      "points": [
        { "metric": "cooling.chiller1.available_kw", "table": "holding", "address": 102, "type": "float32", "unit": "kW" },
        { "metric": "cooling.chiller2.available_kw", "table": "holding", "address": 122, "type": "float32", "unit": "kW" },
        { "metric": "cooling.crah1.available_kw", "table": "holding", "address": 142, "type": "float32", "unit": "kW" },
        { "metric": "cooling.chiller2.fault", "table": "holding", "address": 127, "bit": 2 },
        { "metric": "it.load_kw", "table": "holding", "address": 1000, "type": "float32", "unit": "kW" },
        { "metric": "power.supply_kw", "table": "holding", "address": 1106, "type": "float32", "order": "BADC", "unit": "kW" } ] },
    { "name": "meter-b", "host": "127.0.0.1", "port": $meter_port, "interval": "500ms", "timeout": "300ms",
      "points": [ { "metric": "power.meter_b.kw", "table": "holding", "address": 1000, "type": "float32", "unit": "kW" } ] } ],
  "derive": [ { "metric": "cooling.capacity_kw", "expr": "sum(cooling.*.available_kw)", "unit": "kW" } ],
  "capacity": { "power_headroom_kw": "power.supply_kw - it.load_kw",
                "cooling_headroom_kw": "cooling.capacity_kw - it.load_kw", "margin_kw": 20 },
  "policies": [
    { "name": "cooling-shortfall", "description": "Cooling can no longer carry the IT load",
      "when": "cooling.capacity_kw < it.load_kw * 1.10", "for": "1s",
      "severity": "critical", "mode": "observe", "cooldown": "1h",
      "action": { "type": "shed", "kw": "it.load_kw * 1.10 - cooling.capacity_kw" } },
    { "name": "chiller2-fault", "description": "Chiller 2 reports a fault",
      "when": "cooling.chiller2.fault", "severity": "warning", "mode": "observe",
      "action": { "type": "notify" } } ] }
JSON
bg "$BUILD/floe" agent -c "$TMP/floe.json" 2>"$TMP/agent.log"
agent=$BG_PID
wait_http "$base/healthz" 10 || { not_ok "agent did not start: $(tail -5 "$TMP/agent.log")"; finish; }

until_status() { # PYTHON_EXPR over /v1/status: until it holds (30 s)
    local i
    for ((i = 0; i < 120; i++)); do
        curl -s -H "Authorization: Bearer $NOC" "$base/v1/status" >"$TMP/status.json"
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
            "$TMP/status.json" "$1" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}
# run_check NAME ARGS...: floe check's line in $TMP/NAME.out, exit code in $rc
run_check() {
    local name=$1
    shift
    "$BUILD/floe" check "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    echo "# floe check $*: exit $rc: $(cat "$TMP/$name.out")"
}
# expect NAME CODE LINE: exit code CODE, and stdout exactly the one line LINE
expect() {
    if [ "$rc" = "$2" ] && [ "$(cat "$TMP/$1.out")" = "$3" ] && [ ! -s "$TMP/$1.err" ]; then
        ok "$1: exit $2, $3"
    else
        not_ok "$1: exit $2, $3 (got exit $rc: $(cat "$TMP/$1.out" "$TMP/$1.err"))"
    fi
}
PERF_OK_TAIL="firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=0;0;;0;2 peers_down=0;0;;0;1 migrations_active=0;;;0"

# ---- OK ----
check "a healthy site: both devices answer, the peer is up, capacity is known" \
    until_status 'd["collectors"]["ok"] == 2 and d["peers"][0]["state"] == "ok" and d["capacity"]["power_headroom_kw"] is not None and d["capacity"]["cooling_headroom_kw"] is not None'
# spare = min(500 - 400, 560 - 400) - 20 = 80 kW
run_check ok --url "$base" --token "$NOC"
expect ok 0 "FLOE OK - it-check: no policy firing, 2 collectors ok, 1 peer ok, 0 migrations active | spare_kw=80;;;0 $PERF_OK_TAIL"
FLOE_URL=$base FLOE_TOKEN=$NOC "$BUILD/floe" check >"$TMP/env.out" 2>&1
rc=$?
check "URL and token from FLOE_URL and FLOE_TOKEN: exit $rc" \
    sh -c "[ $rc = 0 ] && grep -q '^FLOE OK - it-check: ' '$TMP/env.out'"
run_check spare_warn --url "$base" --token "$NOC" --spare-warn 100 --spare-crit 50
expect spare_warn 1 "FLOE WARNING - spare 80 kW below 100 kW | spare_kw=80;100:;50:;0 $PERF_OK_TAIL"
run_check spare_crit --url "$base" --token "$NOC" --spare-warn 200 --spare-crit 90.5
expect spare_crit 2 "FLOE CRITICAL - spare 80 kW below 90.5 kW | spare_kw=80;200:;90.5:;0 $PERF_OK_TAIL"
run_check bad_option --url "$base" --token "$NOC" --spare-warn lots
expect bad_option 3 "FLOE UNKNOWN - --spare-warn: expected kW from 0 to 1000000, not 'lots'"

# ---- WARNING: a device and the peer go away ----
kill "$meter_pid" "$peer_pid"
check "meter-b fails and the peer becomes unreachable" \
    until_status 'd["collectors"]["failing"] == 1 and d["peers"][0]["state"] == "unreachable"'
run_check down --url "$base" --token "$NOC"
expect down 1 "FLOE WARNING - collector meter-b (modbus) down; peer falkenberg-1 unreachable | spare_kw=80;;;0 firing_critical=0;;0;0 firing_warning=0;0;;0 collectors_failing=1;0;;0;2 peers_down=1;0;;0;1 migrations_active=0;;;0"

curl -s -X POST "$sim/sim/set" -d '{"chiller2.fault": true}' >/dev/null
check "chiller2-fault (warning) fires" \
    until_status '[a for a in d["alarms"] if a["policy"] == "chiller2-fault" and a["state"] == "firing"]'
run_check warning --url "$base" --token "$NOC"
expect warning 1 "FLOE WARNING - chiller2-fault firing (warning); collector meter-b (modbus) down; peer falkenberg-1 unreachable | spare_kw=80;;;0 firing_critical=0;;0;0 firing_warning=1;0;;0 collectors_failing=1;0;;0;2 peers_down=1;0;;0;1 migrations_active=0;;;0"

# ---- CRITICAL: both chillers trip ----
curl -s -X POST "$sim/sim/set" -d '{"chiller1.capacity_kw": 0, "chiller2.capacity_kw": 0}' >/dev/null
check "cooling-shortfall (critical) fires" \
    until_status '[a for a in d["alarms"] if a["policy"] == "cooling-shortfall" and a["state"] == "firing"]'
# cooling headroom 60 - 400: no spare
run_check critical --url "$base" --token "$NOC"
expect critical 2 "FLOE CRITICAL - cooling-shortfall firing; chiller2-fault firing (warning); collector meter-b (modbus) down; peer falkenberg-1 unreachable | spare_kw=0;;;0 firing_critical=1;;0;0 firing_warning=1;0;;0 collectors_failing=1;0;;0;2 peers_down=1;0;;0;1 migrations_active=0;;;0"

# ---- /metrics of this agent ----
curl -s -H "Authorization: Bearer $NOC" "$base/metrics" >"$TMP/metrics.txt"
if promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.log" 2>&1; then
    ok "promtool check metrics accepts this agent's /metrics"
else
    not_ok "promtool check metrics: $(head -5 "$TMP/promtool.log")"
fi
if /usr/bin/python3 "$(dirname "$0")/lib/prom_families.py" "$TMP/metrics.txt" --all-samples \
        >"$TMP/families.log" 2>&1; then
    ok "/metrics: every family with samples, its type and labels: $(cat "$TMP/families.log")"
else
    not_ok "/metrics: every family with samples, its type and labels: $(cat "$TMP/families.log")"
fi
check "floe_policy_state carries each policy's severity" sh -c "
    grep -qx 'floe_policy_state{policy=\"cooling-shortfall\",state=\"firing\",severity=\"critical\"} 1' '$TMP/metrics.txt' &&
    grep -qx 'floe_policy_state{policy=\"chiller2-fault\",state=\"firing\",severity=\"warning\"} 1' '$TMP/metrics.txt'"
check "floe_policy_unknown: 0 for a policy whose inputs are known" \
    grep -qx 'floe_policy_unknown{policy="cooling-shortfall"} 0' "$TMP/metrics.txt"

# ---- UNKNOWN ----
run_check bad_token --url "$base" --token wrong-token
expect bad_token 3 "FLOE UNKNOWN - the agent refused: /v1/status: HTTP 401: the bearer token is not valid"
run_check no_token --url "$base"
expect no_token 3 "FLOE UNKNOWN - the agent refused: /v1/status: HTTP 401: a bearer token is required (Authorization: Bearer TOKEN)"
# Not an agent's answers (the peer server is gone: a new one on its port).
bg /usr/bin/python3 "$TMP/peer.py" "$peer_port"
wait_http "http://127.0.0.1:$peer_port/" 10
run_check not_found --url "http://127.0.0.1:$peer_port"
expect not_found 3 "FLOE UNKNOWN - /v1/status: HTTP 404: no such endpoint"
run_check garbage --url "http://127.0.0.1:$peer_port/garbage"
expect garbage 3 "FLOE UNKNOWN - /v1/status: the answer is not JSON"
run_check odd --url "http://127.0.0.1:$peer_port/odd"
expect odd 3 "FLOE UNKNOWN - /v1/status: alarms: expected a list"
stop_pid "$agent"
run_check stopped --url "$base" --token "$NOC"
check "a stopped agent: exit 3, unreachable, naming the URL" \
    sh -c "[ $rc = 3 ] && grep -qx 'FLOE UNKNOWN - agent unreachable: $base/v1/status: .*' '$TMP/stopped.out'"

finish
