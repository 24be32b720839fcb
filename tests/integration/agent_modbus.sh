#!/bin/bash
# The agent against an independent Modbus server (python3-pymodbus): exact
# values of every table and several types/orders in /v1/telemetry and
# /metrics; a dead device (closed port) and a hung one (accepts, never
# answers) beside the live one never delay it nor the HTTP API; SIGHUP
# with an invalid file keeps the running config, with a valid one applies it.
. "$(dirname "$0")/lib/common.sh"
LIB=$(cd "$(dirname "$0")/lib" && pwd)

live_port=$(free_port); dead_port=$(free_port); hung_port=$(free_port); http_port=$(free_port)
# 123.456 as float32 = 0x42F6E979; -1234.5 float32 = 0xC49A5000;
# 305419896 = 0x12345678; -2 int16 = 0xFFFE; 2^40+5 as uint64 = 0x0000010000000005.
cat > "$TMP/spec.json" <<JSON
{ "unit": 1,
  "holding": { "100": 17142, "101": 59769,
               "102": 20480, "103": 50330,
               "104": 30806, "105": 13330,
               "110": 65534, "7": 4,
               "120": 0, "121": 256, "122": 0, "123": 5 },
  "input": { "5": 2215 },
  "coil": { "3": 1 },
  "discrete": { "2": 0 } }
JSON
bg /usr/bin/python3 "$LIB/modbus_server.py" "$live_port" "$TMP/spec.json"
bg /usr/bin/python3 "$LIB/blackhole.py" tcp "$hung_port"

write_config() { # $1 = extra point JSON (may be empty)
cat > "$TMP/floe.json" <<JSON
// agent_modbus test site
{ "site": { "name": "it-modbus" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "modbus": [
    { "name": "live", "host": "127.0.0.1", "port": $live_port, "interval": "500ms", "timeout": "1s",
      "points": [
        { "metric": "cooling.chiller1.capacity_kw", "table": "holding", "address": 100, "type": "float32", "unit": "kW" },
        { "metric": "cooling.chiller1.supply_c", "table": "holding", "address": 102, "type": "float32", "order": "CDAB", "unit": "C" },
        { "metric": "power.meter.energy_wh", "table": "holding", "address": 104, "type": "uint32", "order": "DCBA" },
        { "metric": "power.meter.delta", "table": "holding", "address": 110, "type": "int16" },
        { "metric": "power.meter.count", "table": "holding", "address": 120, "type": "uint64" },
        { "metric": "cooling.chiller1.alarm", "table": "holding", "address": 7, "bit": 2 },
        { "metric": "cooling.chiller1.running", "table": "coil", "address": 3 },
        { "metric": "cooling.chiller1.fault", "table": "discrete", "address": 2 },
        { "metric": "room.inlet_c", "table": "input", "address": 5, "scale": 0.01, "offset": 0.5, "unit": "C" }
        $1 ] },
    { "name": "dead", "host": "127.0.0.1", "port": $dead_port, "interval": "500ms", "timeout": "500ms",
      "points": [ { "metric": "cooling.chiller2.capacity_kw", "table": "holding", "address": 100, "type": "float32" } ] },
    { "name": "hung", "host": "127.0.0.1", "port": $hung_port, "interval": "500ms", "timeout": "1s", "retries": 1,
      "points": [ { "metric": "cooling.chiller3.capacity_kw", "table": "holding", "address": 100, "type": "float32" } ] } ] }
JSON
}
write_config ""
base="http://127.0.0.1:$http_port"
bg "$BUILD/floe" agent -c "$TMP/floe.json"
agent=$BG_PID
check "agent answers /healthz" wait_http "$base/healthz" 10
sleep 3

curl -s "$base/v1/telemetry" > "$TMP/tel.json"
/usr/bin/python3 - "$TMP/tel.json" <<'PY'
import json, math, sys
d = {m["name"]: m for m in json.load(open(sys.argv[1]))["metrics"]}
want = {
    "cooling.chiller1.capacity_kw": 123.45600128173828,   # float32 ABCD
    "cooling.chiller1.supply_c": -1234.5,                 # float32 CDAB
    "power.meter.energy_wh": 305419896,                   # uint32 DCBA
    "power.meter.delta": -2,                              # int16
    "power.meter.count": 2**40 + 5,                       # uint64 ABCD
    "cooling.chiller1.alarm": 1,                          # bit 2 of 4
    "cooling.chiller1.running": 1,                        # coil
    "cooling.chiller1.fault": 0,                          # discrete input
    "room.inlet_c": 22.65,                                # 2215 * 0.01 + 0.5
}
fails = 0
for name, value in want.items():
    m = d.get(name)
    good = m is not None and m["quality"] == "good" and m["value"] is not None \
        and math.isclose(m["value"], value, rel_tol=0, abs_tol=1e-9)
    print(("ok - " if good else "not ok - ") + "telemetry %s = %r" % (name, value)
          + ("" if good else ": got %r" % (m,)))
    fails += not good
for name in ("cooling.chiller2.capacity_kw", "cooling.chiller3.capacity_kw"):
    m = d.get(name)
    bad = m is not None and m["quality"] == "error" and m["value"] is None
    print(("ok - " if bad else "not ok - ") + "%s of a dead/hung device has quality error" % name
          + ("" if bad else ": got %r" % (m,)))
    fails += not bad
u = d["cooling.chiller1.capacity_kw"]
ok = u["unit"] == "kW" and u["source"] == "live" and u["ts"].endswith("Z") and u["age_s"] < 2
print(("ok - " if ok else "not ok - ") + "telemetry carries unit, source, ts and age_s")
sys.exit(1 if fails or not ok else 0)
PY
[ $? -eq 0 ] || FAILS=$((FAILS + 1))

# The HTTP API keeps answering promptly while the hung device blocks its poller.
slowest=$(for i in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' "$base/v1/telemetry"; done | sort -n | tail -1)
check "HTTP answers within 200 ms while a device hangs (slowest of 20: ${slowest}s)" \
    awk -v t="$slowest" 'BEGIN { exit !(t < 0.2) }'

curl -s "$base/metrics" > "$TMP/metrics.txt"
check "/metrics passes promtool check metrics" sh -c "promtool check metrics < '$TMP/metrics.txt' >/dev/null 2>&1"
check "floe_collector_up is 1 for the live device" grep -q '^floe_collector_up{device="live",protocol="modbus"} 1' "$TMP/metrics.txt"
check "floe_collector_up is 0 for the dead device" grep -q '^floe_collector_up{device="dead",protocol="modbus"} 0' "$TMP/metrics.txt"
check "floe_collector_up is 0 for the hung device" grep -q '^floe_collector_up{device="hung",protocol="modbus"} 0' "$TMP/metrics.txt"

# The live device kept its 500 ms interval beside the hung one: its poll
# count over the run matches the wall time (measured from the histogram).
live_polls=$(sed -n 's/^floe_poll_duration_seconds_count{device="live"[^}]*} //p' "$TMP/metrics.txt")
hung_sum=$(sed -n 's/^floe_poll_duration_seconds_sum{device="hung"[^}]*} //p' "$TMP/metrics.txt")
hung_polls=$(sed -n 's/^floe_poll_duration_seconds_count{device="hung"[^}]*} //p' "$TMP/metrics.txt")
live_sum=$(sed -n 's/^floe_poll_duration_seconds_sum{device="live"[^}]*} //p' "$TMP/metrics.txt")
echo "# live: $live_polls polls, mean $(awk -v s="$live_sum" -v n="$live_polls" 'BEGIN{printf "%.1f", 1000*s/n}') ms; hung: $hung_polls polls, mean $(awk -v s="$hung_sum" -v n="$hung_polls" 'BEGIN{printf "%.0f", 1000*s/n}') ms"
check "live device polled at its interval beside a hung one ($live_polls polls in ~3.5 s)" \
    test "${live_polls:-0}" -ge 6
check "hung device gives up within timeout x (retries+1) + slack" \
    awk -v s="$hung_sum" -v n="$hung_polls" 'BEGIN { exit !(n > 0 && s / n < 2.6) }'

# History of the live metric from the store (the recorder commits every 10 s).
hist_ok() {
    curl -s "$base/v1/telemetry/cooling.chiller1.capacity_kw?since=$(( $(date +%s) - 60 ))" > "$TMP/hist.json"
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
pts = d["points"]
sys.exit(not (d["name"] == "cooling.chiller1.capacity_kw" and len(pts) >= 4
              and all(abs(v - 123.456) < 1e-3 for _, v in pts)))' "$TMP/hist.json"
}
for _ in $(seq 30); do hist_ok && break; sleep 0.5; done
check "history of a metric comes back from the store" hist_ok

# SIGHUP with an invalid file: refused, old config keeps running.
cp "$TMP/floe.json" "$TMP/good.json"
echo '{ "site": { "name": 5 } }' > "$TMP/floe.json"
kill -HUP "$agent"; sleep 1
check "agent survives SIGHUP with an invalid config" kill -0 "$agent"
check "agent still serves the old config after a refused reload" sh -c \
    "curl -s '$base/v1/telemetry' | grep -q cooling.chiller1.capacity_kw"
# SIGHUP with a valid file that adds a point: applied.
write_config ', { "metric": "room.extra_c", "table": "input", "address": 5, "unit": "C" }'
kill -HUP "$agent"; sleep 2
check "a valid config is applied on SIGHUP" sh -c \
    "curl -s '$base/v1/telemetry' | grep -q '\"room.extra_c\"'"

stop_pid "$agent"
check "agent exits 0 on SIGTERM" test $? -eq 0
finish
