#!/bin/bash
# floe status and floe decisions against a running agent polling floe-sim:
# a policy fires (chillers tripped), a bit policy fires (chiller fault), a
# device fails (nothing listens on its port). `floe status` must fit an
# 80x24 terminal with the alarms first (description, `when` and the values
# it reads, since when in the site's time zone, severity, mode, last
# decision), then the failing device and point with their reasons, then headline
# metrics rounded for people, bits as on/off; `--all` lists every metric.
# A peer site (nothing listens at its URL) is listed between the failures
# and the metrics.
# `floe decisions` says so when there are none. Also the API additions
# this needs: /v1/status timezone and collectors.failing_devices,
# /v1/policies description/when/inputs, /v1/telemetry type.
. "$(dirname "$0")/lib/common.sh"

bg "$BUILD/floe-sim" site -c sim/scenarios/lulea.json --modbus-port 0 --http-port 0 \
    --snmp-port 0 --ports-file "$TMP/ports.json" >"$TMP/sim.log" 2>&1
wait_file "$TMP/ports.json"
mb_port=$(json_get "$TMP/ports.json" 'd["modbus"]')
sim="http://127.0.0.1:$(json_get "$TMP/ports.json" 'd["http"]')"
http_port=$(free_port)
dead_port=$(free_port)
base="http://127.0.0.1:$http_port"

# Many points, so that one line per metric would not fit a screen; the
# supply temperatures are int16 x 0.1 (70 x 0.1 = 7.000000000000001 in a
# double); running, fault and stopped are bits.
points=""
for u in chiller1:100 chiller2:120 crah1:140; do
    n=${u%%:*} a=${u##*:}
    points="$points
        { \"metric\": \"cooling.$n.capacity_kw\", \"table\": \"holding\", \"address\": $a, \"type\": \"float32\", \"unit\": \"kW\" },
        { \"metric\": \"cooling.$n.available_kw\", \"table\": \"holding\", \"address\": $((a + 2)), \"type\": \"float32\", \"unit\": \"kW\" },
        { \"metric\": \"cooling.$n.rated_kw\", \"table\": \"holding\", \"address\": $((a + 4)), \"type\": \"float32\", \"unit\": \"kW\" },
        { \"metric\": \"cooling.$n.supply_c\", \"table\": \"holding\", \"address\": $((a + 6)), \"type\": \"int16\", \"scale\": 0.1, \"unit\": \"C\" },
        { \"metric\": \"cooling.$n.stopped\", \"table\": \"holding\", \"address\": $((a + 7)), \"bit\": 0 },
        { \"metric\": \"cooling.$n.fault\", \"table\": \"holding\", \"address\": $((a + 7)), \"bit\": 2 },
        { \"metric\": \"cooling.$n.running\", \"table\": \"coil\", \"address\": $a },"
done
cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-status", "timezone": "Asia/Kolkata" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "policy_tick": "500ms",
  "peers": [ { "name": "falkenberg-1", "url": "http://127.0.0.1:$dead_port", "token": "t" } ],
  "modbus": [
    { "name": "sim", "host": "127.0.0.1", "port": $mb_port, "interval": "500ms",
      "points": [ $points
        { "metric": "room.inlet_c", "table": "input", "address": 1200, "type": "float32", "unit": "C" },
        { "metric": "it.load_kw", "table": "holding", "address": 1000, "type": "float32", "unit": "kW" },
        { "metric": "cooling.spare.capacity_kw", "table": "holding", "address": 9000, "type": "float32", "unit": "kW" } ] },
    { "name": "meter-b", "host": "127.0.0.1", "port": $dead_port, "interval": "500ms", "timeout": "300ms",
      "points": [ { "metric": "power.meter_b.kw", "table": "holding", "address": 0, "type": "float32", "unit": "kW" } ] } ],
  "derive": [ { "metric": "cooling.capacity_kw", "expr": "sum(cooling.*.available_kw)", "unit": "kW" } ],
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
wait_http "$base/healthz" 10 || not_ok "agent did not start"
until_json() { # PATH PYTHON_EXPR: until it holds over the JSON of GET PATH (10 s)
    local i
    for ((i = 0; i < 40; i++)); do
        curl -s "$base$1" > "$TMP/until.json"
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
            "$TMP/until.json" "$2" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}
check "policies evaluated (capacity derived) before anything trips" \
    until_json /v1/telemetry '[m for m in d["metrics"] if m["name"] == "cooling.capacity_kw" and m["value"] == 560]'

"$BUILD/floe" decisions --url "$base" >"$TMP/dec.out" 2>&1
rc=$?
check "floe decisions with none recorded says so, exit 0 ($(cat "$TMP/dec.out"))" \
    sh -c "[ $rc = 0 ] && grep -qx 'no decisions recorded' '$TMP/dec.out'"

curl -s -X POST "$sim/sim/set" \
    -d '{"chiller1.capacity_kw": 0, "chiller2.capacity_kw": 0, "chiller2.fault": true}' >/dev/null
check "cooling-shortfall and chiller2-fault fire" \
    until_json /v1/policies 'all(p["state"] == "firing" for p in d["policies"])'
check "a decision is recorded for cooling-shortfall" \
    until_json /v1/policies '[p for p in d["policies"] if p["name"] == "cooling-shortfall" and p["last_decision"]]'
check "meter-b fails" until_json /v1/status 'd["collectors"]["failing"] == 1'
sleep 1 # a tick with every value settled

# ---- the API additions ----
curl -s "$base/v1/status" > "$TMP/status.json"
check "/v1/status has the site's timezone" \
    test "$(json_get "$TMP/status.json" 'd["timezone"]')" = Asia/Kolkata
check "/v1/status lists the failing device with protocol, since and its error" \
    test "$(json_get "$TMP/status.json" '[(x["device"], x["protocol"], x["since"].endswith("Z"), "refused" in x["error"]) for x in d["collectors"]["failing_devices"]]')" \
    = "[('meter-b', 'modbus', True, True)]"
curl -s "$base/v1/policies" > "$TMP/policies.json"
check "/v1/policies: description, when and the inputs it reads now" \
    test "$(json_get "$TMP/policies.json" '[(p["description"], p["when"], p["inputs"]) for p in d["policies"] if p["name"] == "cooling-shortfall"][0]')" \
    = "('Cooling can no longer carry the IT load', 'cooling.capacity_kw < it.load_kw * 1.10', {'cooling.capacity_kw': 60, 'it.load_kw': 400})"
curl -s "$base/v1/telemetry" > "$TMP/telemetry.json"
check "/v1/telemetry: a point in error says why, the others have error null" \
    test "$(json_get "$TMP/telemetry.json" 'sorted((m["name"], m["error"]) for m in d["metrics"] if m["error"] and m["source"] == "sim")')" \
    = "[('cooling.spare.capacity_kw', 'modbus read holding 9000+2: Illegal data address')]"
check "/v1/telemetry: bits have type bool, the rest number" \
    test "$(json_get "$TMP/telemetry.json" 'sorted(set((m["name"].split(".")[-1], m["type"]) for m in d["metrics"] if m["name"].startswith("cooling.chiller1.")))')" \
    = "[('available_kw', 'number'), ('capacity_kw', 'number'), ('fault', 'bool'), ('rated_kw', 'number'), ('running', 'bool'), ('stopped', 'bool'), ('supply_c', 'number')]"
check "the API's values carry float noise (so the rounding below is tested)" \
    grep -qE '"value":[0-9]+\.[0-9]{6,}' "$TMP/telemetry.json"

# ---- floe status ----
"$BUILD/floe" status --url "$base" >"$TMP/status.out" 2>&1
rc=$?
echo "# floe status:"; sed 's/^/#   /' "$TMP/status.out"
check "floe status exits 0" test $rc = 0
lines=$(wc -l < "$TMP/status.out")
check "floe status fits a 24-line terminal with its prompt ($lines lines)" test "$lines" -le 23
widest=$(/usr/bin/python3 -c 'import sys; print(max(len(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")))' "$TMP/status.out")
check "floe status fits 80 columns (widest line $widest)" test "$widest" -le 80
line_of() { grep -n -m1 -E "$1" "$TMP/status.out" | cut -d: -f1; }
first_alarm=$(line_of '^FIRING +cooling-shortfall: critical, observe, since ')
check "the critical alarm comes first, right after the two header lines (line ${first_alarm:-none})" \
    test "${first_alarm:-0}" = 4
check "its description follows it" \
    test "$(sed -n "$((first_alarm + 1))p" "$TMP/status.out")" = "  Cooling can no longer carry the IT load"
check "its when and the values it reads now" \
    sh -c "grep -qx '  when cooling.capacity_kw < it.load_kw \* 1.10' '$TMP/status.out' && grep -qx '  now  cooling.capacity_kw 60 kW, it.load_kw 400 kW' '$TMP/status.out'"
dec_id=$(json_get "$TMP/policies.json" '[p["last_decision"] for p in d["policies"] if p["name"] == "cooling-shortfall"][0]')
check "its last decision: id, kind, status, need" \
    grep -qE "^  decision #$dec_id [0-9:]+: shed, observed, need 380 kW" "$TMP/status.out"
since_utc=$(json_get "$TMP/policies.json" '[p["since"] for p in d["policies"] if p["name"] == "cooling-shortfall"][0]')
since_local=$(TZ=Asia/Kolkata date -d "$since_utc" +%H:%M:%S)
check "since is in the site's time zone (UTC $since_utc = $since_local in Asia/Kolkata)" \
    grep -q "^FIRING  cooling-shortfall: critical, observe, since $since_local (" "$TMP/status.out"
check "the second alarm: the bit reads on" \
    grep -qx '  when cooling.chiller2.fault; now cooling.chiller2.fault on' "$TMP/status.out"
down=$(line_of '^DOWN +meter-b \(modbus\) since ')
check "the failing device comes after the alarms, with its reason (line ${down:-none})" \
    sh -c "[ '${down:-0}' -gt '$first_alarm' ] && sed -n '$down,$((down + 1))p' '$TMP/status.out' | grep -q 'Connection refused'"
point=$(line_of '^ERROR   cooling.spare.capacity_kw \(sim\)')
check "then the point in error on a device that answers, with its reason (line ${point:-none})" \
    sh -c "[ '${point:-0}' -gt '${down:-0}' ] && sed -n '$point,$((point + 1))p' '$TMP/status.out' | grep -q 'Illegal data address'"
peer=$(line_of '^PEER    falkenberg-1 +[0-9]+s ago  UNREACHABLE ')
check "then the peer site, with why it cannot be used (line ${peer:-none})" \
    sh -c "[ '${peer:-0}' -gt '${point:-0}' ] && sed -n '${peer}p' '$TMP/status.out' | grep -q 'Failed to connect'"
metrics=$(line_of '^derived metrics and what the policies read:$')
# As many as the rows left allow (the peer line took the last ones), in
# their order: derived, then what the policies read.
shown=$(sed -n "$((metrics + 1)),\$p" "$TMP/status.out" | sed '$d' | awk '{print $1, $2, $3}' | tr '\n' '|')
check "headline metrics come last: derived first, then the policies' inputs (${shown:-none})" \
    sh -c "[ '${metrics:-0}' -gt '${peer:-0}' ] && [ -n '$shown' ] && case 'cooling.capacity_kw 60 kW|it.load_kw 400 kW|cooling.chiller2.fault on |' in '$shown'*) true;; *) false;; esac"
check "no number with more than two decimals" sh -c "! grep -qE '[0-9]\.[0-9]{3,}' '$TMP/status.out'"
check "no migration ran: no migrations part (and /v1/migrations was read: no line saying it is unknown)" \
    sh -c "! grep -q 'migrations' '$TMP/status.out'"
check "the last line says how to see every metric" \
    sh -c "tail -1 '$TMP/status.out' | grep -q 'floe status --all: all $(json_get "$TMP/telemetry.json" 'len(d["metrics"])') metrics'"

"$BUILD/floe" status --all --url "$base" >"$TMP/all.out" 2>&1
check "floe status --all exits 0" test $? = 0
missing=$(/usr/bin/python3 - "$TMP/telemetry.json" "$TMP/all.out" <<'PY'
import json, sys
names = [m["name"] for m in json.load(open(sys.argv[1]))["metrics"]]
listed = {l.split()[0] for l in open(sys.argv[2]) if l.strip()}
print(" ".join(n for n in names if n not in listed))
PY
)
check "floe status --all lists every metric${missing:+ (missing: $missing)}" test -z "$missing"
check "--all: bits as on/off, 7.000000000000001 as 7" \
    sh -c "grep -qE '^cooling.chiller1.running +on ' '$TMP/all.out' && grep -qE '^cooling.chiller2.fault +on ' '$TMP/all.out' && grep -qE '^cooling.chiller1.supply_c +7 +C ' '$TMP/all.out'"
check "--all: no number with more than two decimals" sh -c "! grep -qE '[0-9]\.[0-9]{3,}' '$TMP/all.out'"

"$BUILD/floe" decisions --url "$base" >"$TMP/dec.out" 2>&1
check "floe decisions lists the decision, without the none line" \
    sh -c "grep -q 'cooling-shortfall.*shed.*observed' '$TMP/dec.out' && ! grep -q 'no decisions' '$TMP/dec.out'"
"$BUILD/floe" status --bogus --url "$base" >/dev/null 2>"$TMP/err.out"
check "floe status with an unknown argument: exit 1 naming it" \
    sh -c "[ $? = 1 ] && grep -q \"unknown argument '--bogus'\" '$TMP/err.out'"
stop_pid "$agent"
rc=$?
check "the agent stops cleanly on SIGTERM (exit $rc; under ASan: no leak, no error)" \
    sh -c "[ $rc = 0 ] && ! grep -q Sanitizer '$TMP/agent.log'"
finish
