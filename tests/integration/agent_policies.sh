#!/bin/bash
# Policies in the running agent, against floe-sim: derive metrics computed
# each tick, a policy firing when the simulated chillers trip and its
# decision recorded with inputs ("placement not configured": nothing is
# pretended to move), API-managed policies (PUT/DELETE, validated,
# audit-logged, kept across a restart), approve/reject with roles and 409,
# floe_policy_state and floe_decisions_total in /metrics, and policy state
# kept across a restart.
. "$(dirname "$0")/lib/common.sh"

bg "$BUILD/floe-sim" site -c sim/scenarios/lulea.json --modbus-port 0 --http-port 0 \
    --ports-file "$TMP/ports.json"
wait_file "$TMP/ports.json"
mb_port=$(json_get "$TMP/ports.json" 'd["modbus"]')
sim="http://127.0.0.1:$(json_get "$TMP/ports.json" 'd["http"]')"
http_port=$(free_port)
base="http://127.0.0.1:$http_port"
OP="Authorization: Bearer op-secret-1"
RD="Authorization: Bearer read-secret-1"

cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-policies", "timezone": "Europe/Stockholm" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port",
            "tokens": [ { "name": "facility", "role": "operator", "token": "op-secret-1" },
                        { "name": "noc", "role": "read", "token": "read-secret-1" } ] },
  "policy_tick": "500ms",
  "modbus": [ { "name": "sim", "host": "127.0.0.1", "port": $mb_port, "interval": "500ms",
      "points": [
        { "metric": "cooling.chiller1.available_kw", "table": "holding", "address": 102, "type": "float32", "unit": "kW" },
        { "metric": "cooling.chiller2.available_kw", "table": "holding", "address": 122, "type": "float32", "unit": "kW" },
        { "metric": "cooling.crah1.available_kw", "table": "holding", "address": 142, "type": "float32", "unit": "kW" },
        { "metric": "it.load_kw", "table": "holding", "address": 1000, "type": "float32", "unit": "kW" } ] } ],
  "derive": [ { "metric": "cooling.capacity_kw", "expr": "sum(cooling.*.available_kw)", "unit": "kW" } ],
  "policies": [
    { "name": "cooling-shortfall", "when": "cooling.capacity_kw < it.load_kw * 1.10", "for": "1s",
      "severity": "critical", "mode": "auto", "cooldown": "1h",
      "action": { "type": "shed", "kw": "it.load_kw * 1.10 - cooling.capacity_kw" } } ] }
JSON
start_agent() {
    "$BUILD/floe" agent -c "$TMP/floe.json" 2>>"$TMP/agent.log" &
    agent=$!
    PIDS+=("$agent")
    wait_http "$base/healthz" 10 || not_ok "agent did not start"
}
start_agent
get() { curl -s -H "$RD" "$base$1"; }
# waits until python expression over the JSON of GET $1 holds
until_json() {
    local i
    for ((i = 0; i < ${3:-40}; i++)); do
        get "$1" > "$TMP/until.json"
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
            "$TMP/until.json" "$2" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}
check "derived cooling.capacity_kw = 560 kW from three units" \
    until_json /v1/telemetry '[m for m in d["metrics"] if m["name"] == "cooling.capacity_kw" and m["value"] == 560 and m["quality"] == "good" and m["source"] == "derive"]'
check "policy listed with state ok, mode and severity" \
    until_json /v1/policies 'd["policies"][0]["name"] == "cooling-shortfall" and d["policies"][0]["state"] == "ok" and d["policies"][0]["mode"] == "auto" and d["policies"][0]["severity"] == "critical" and d["policies"][0]["source"] == "config"'

# Trip both chillers: capacity 60 kW against 400 kW of IT load.
curl -s -X POST "$sim/sim/set" -d '{"chiller1.capacity_kw": 0, "chiller2.capacity_kw": 0}' >/dev/null
check "policy fires after for=1s" until_json /v1/policies 'd["policies"][0]["state"] == "firing"'
check "/v1/status: not accepting while a critical policy fires, alarm listed" \
    until_json /v1/status 'd["accepting"] is False and d["alarms"][0]["policy"] == "cooling-shortfall" and d["alarms"][0]["severity"] == "critical" and d["alarms"][0]["state"] == "firing" and d["alarms"][0]["since"].endswith("Z")'
check "shed decision recorded: need 380 kW, no-placement, placement not configured, inputs kept" \
    until_json /v1/decisions 'len(d["decisions"]) == 1 and d["decisions"][0]["policy"] == "cooling-shortfall" and d["decisions"][0]["kind"] == "shed" and d["decisions"][0]["status"] == "no-placement" and abs(d["decisions"][0]["need_kw"] - 380) < 1e-6 and "placement not configured: no peers in the config" in d["decisions"][0]["reasons"] and {"cooling.capacity_kw": 60, "it.load_kw": 400}.items() <= {i["name"]: i["value"] for i in d["decisions"][0]["inputs"]}.items()'
id=$(get /v1/decisions | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["decisions"][0]["id"])')
check "GET /v1/decisions/$id returns the same decision" until_json "/v1/decisions/$id" 'd["id"] == '"$id"' and d["status"] == "no-placement"'
check "cooldown 1h: no second decision while still firing" sh -c "sleep 1.5; curl -s -H '$RD' '$base/v1/decisions' | grep -o '\"policy\"' | wc -l | grep -qx 1"

# API-managed policies.
code() { curl -s -o "$TMP/body.json" -w '%{http_code}' "$@"; }
c=$(code -X PUT -H "$OP" "$base/v1/policies/inlet-watch" -d '{"name": "inlet-watch", "when": "avgg(it.load_kw) > 1"}')
check "PUT with an unknown function: 400 naming path and column ($c: $(cat "$TMP/body.json"))" \
    sh -c "[ $c = 400 ] && grep -q \"body.when: unknown function 'avgg' at column 1\" '$TMP/body.json'"
c=$(code -X PUT -H "$OP" "$base/v1/policies/cooling-shortfall" -d '{"name": "cooling-shortfall", "when": "1 > 0"}')
check "PUT over a config-file policy: 409 ($c)" test "$c" = 409
c=$(code -X PUT -H "$RD" "$base/v1/policies/load-watch" -d '{"name": "load-watch", "when": "it.load_kw > 100"}')
check "PUT with a read token: 403 ($c)" test "$c" = 403
c=$(code -X PUT -H "$OP" "$base/v1/policies/load-watch" \
    -d '{"name": "load-watch", "when": "it.load_kw > 100", "mode": "approve", "severity": "warning", "action": {"type": "notify"}}')
check "PUT a valid policy: 200 ($c)" test "$c" = 200
check "API policy runs at once and asks for approval" \
    until_json /v1/decisions '[x for x in d["decisions"] if x["policy"] == "load-watch" and x["status"] == "awaiting-approval"]'
check "GET /v1/policies lists it with source api" \
    until_json /v1/policies '[p for p in d["policies"] if p["name"] == "load-watch" and p["source"] == "api" and p["state"] == "firing"]'
aid=$(get /v1/decisions | /usr/bin/python3 -c 'import json,sys; print([x for x in json.load(sys.stdin)["decisions"] if x["policy"] == "load-watch"][0]["id"])')
c=$(code -X POST -H "$RD" "$base/v1/decisions/$aid/approve")
check "approve with a read token: 403 ($c)" test "$c" = 403
c=$(code -X POST -H "$OP" "$base/v1/decisions/$aid/approve")
check "approve by an operator: 200, notified, reason names the approver ($c: $(cat $TMP/body.json))" \
    sh -c "[ $c = 200 ] && grep -q '\"status\":\"notified\"' '$TMP/body.json' && grep -q 'approved by facility' '$TMP/body.json'"
c=$(code -X POST -H "$OP" "$base/v1/decisions/$aid/reject")
check "reject after approval: 409 ($c)" test "$c" = 409
c=$(code -X POST -H "$OP" "$base/v1/decisions/$id/approve")
check "approve a decision that never waited: 409 ($c)" test "$c" = 409
"$BUILD/floe" approve "$id" --url "$base" --token op-secret-1 >"$TMP/cli.out" 2>&1
rc=$?
check "floe approve of a decision not waiting: exit 1 with the reason ($(cat "$TMP/cli.out"))" \
    sh -c "[ $rc = 1 ] && grep -q 'not awaiting-approval' '$TMP/cli.out'"
FLOE_URL=$base FLOE_TOKEN=read-secret-1 "$BUILD/floe" decisions >"$TMP/cli.out" 2>&1
rc=$?
check "floe decisions lists both decisions (FLOE_URL, FLOE_TOKEN)" \
    sh -c "[ $rc = 0 ] && grep -q 'cooling-shortfall.*shed.*no-placement.*need 380.0 kW' '$TMP/cli.out' && grep -q 'load-watch.*notified' '$TMP/cli.out'"
"$BUILD/floe" decisions --url "http://127.0.0.1:$(free_port)" >/dev/null 2>&1
check "floe decisions against nothing: exit 3" test $? = 3
c=$(code -X POST -H "$OP" "$base/v1/decisions/99999/approve")
check "approve an unknown decision: 404 ($c)" test "$c" = 404

get /metrics > "$TMP/metrics.txt"
check "/metrics with policies passes promtool" sh -c "promtool check metrics < '$TMP/metrics.txt' >/dev/null 2>&1"
check "floe_policy_state shows cooling-shortfall firing, with its severity" grep -q '^floe_policy_state{policy="cooling-shortfall",state="firing",severity="critical"} 1$' "$TMP/metrics.txt"
check "floe_decisions_total counts the shed decision" grep -q '^floe_decisions_total{kind="shed",status="no-placement"} 1$' "$TMP/metrics.txt"

# A policy deleted while firing and added again under its name starts
# afresh, also after the restart below (its old state is not restored).
code -X PUT -H "$OP" "$base/v1/policies/flip" -d '{"name": "flip", "when": "1 > 0", "severity": "critical"}' >/dev/null
check "flip fires and decides" until_json /v1/decisions '[x for x in d["decisions"] if x["policy"] == "flip"]'
code -X DELETE -H "$OP" "$base/v1/policies/flip" >/dev/null
code -X PUT -H "$OP" "$base/v1/policies/flip" -d '{"name": "flip", "when": "1 < 0", "severity": "critical"}' >/dev/null
check "flip re-added starts ok" until_json /v1/policies '[p for p in d["policies"] if p["name"] == "flip" and p["state"] == "ok"]'
sleep 1

# Restart: the firing state and the API policy survive; no new decision
# for cooling-shortfall (its cooldown runs from the stored decision).
stop_pid "$agent"
check "agent stops cleanly on SIGTERM" test $? -eq 0
start_agent
check "after a restart the API policy is back" until_json /v1/policies '[p for p in d["policies"] if p["name"] == "load-watch" and p["source"] == "api"]'
check "after a restart cooling-shortfall resumes firing without a new decision" \
    sh -c "sleep 1.5; curl -s -H '$RD' '$base/v1/policies' | grep -q '\"name\":\"cooling-shortfall\",\"state\":\"firing\"' && [ \$(curl -s -H '$RD' '$base/v1/decisions' | grep -o '\"policy\":\"cooling-shortfall\"' | wc -l) = 1 ]"

check "after a restart the re-added flip is still ok, with no new decision" \
    sh -c "curl -s -H '$RD' '$base/v1/policies' | grep -q '\"name\":\"flip\",\"state\":\"ok\"' && [ \$(curl -s -H '$RD' '$base/v1/decisions' | grep -o '\"policy\":\"flip\"' | wc -l) = 1 ]"
c=$(code -X DELETE -H "$OP" "$base/v1/policies/flip")
c=$(code -X DELETE -H "$OP" "$base/v1/policies/load-watch")
check "DELETE an API policy: 200 ($c)" test "$c" = 200
c=$(code -X DELETE -H "$OP" "$base/v1/policies/load-watch")
check "DELETE it again: 404 ($c)" test "$c" = 404
check "deleted policy no longer runs" until_json /v1/policies 'not [p for p in d["policies"] if p["name"] == "load-watch"]'
audit=$(sqlite3 "$TMP/floe.db" "SELECT actor || ' ' || action || ' ' || target FROM audit ORDER BY id")
check "audit log names the token for put, approve and delete" \
    sh -c "echo '$audit' | grep -q '^facility put policy load-watch$' && echo '$audit' | grep -q '^facility notified decision $aid$' && echo '$audit' | grep -q '^facility delete policy load-watch$'"

# Recovery: chillers back, policy clears (clear defaults to !when).
curl -s -X POST "$sim/sim/set" -d '{"chiller1.capacity_kw": 250, "chiller2.capacity_kw": 250}' >/dev/null
check "policy clears when cooling is back" until_json /v1/policies 'd["policies"][0]["state"] == "ok"'
check "/v1/status: accepting again, no alarms" until_json /v1/status 'd["accepting"] is True and d["alarms"] == []'
grep -q "policy cooling-shortfall: ok -> pending" "$TMP/agent.log" && grep -q "policy cooling-shortfall: firing -> ok" "$TMP/agent.log"
check "state changes are logged" test $? -eq 0
finish
