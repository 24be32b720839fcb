#!/bin/bash
# A walked SNMP table that changes size under the running agent: floe-sim's
# plant table (one row per cooling unit) served by a 3-unit site, then by a
# 5-unit one on the same port, then by the 3-unit one again. Every row of
# the current table is read with its exact value (later walks ask for the
# table's last known size: a table that grew must still be read whole),
# rows that went away are no longer updated, and while the agent is away
# every row walked so far is an error.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# Scenarios: lulea's 2 chillers + 1 CRAH, and the same with 2 more chillers.
/usr/bin/python3 - "$ROOT/sim/scenarios/lulea.json" "$TMP" <<'PY'
import json, re, sys
text = re.sub(r"^\s*//.*$", "", open(sys.argv[1]).read(), flags=re.M)
small = json.loads(text)
big = json.loads(text)
big["chillers"] += [{"name": "chiller8", "capacity_kw": 180, "supply_c": 7.0},
                    {"name": "chiller9", "capacity_kw": 190, "supply_c": 7.0}]
json.dump(small, open(sys.argv[2] + "/small.json", "w"))
json.dump(big, open(sys.argv[2] + "/big.json", "w"))
PY

snmp_port=$(free_port udp)
http_port=$(free_port)
base="http://127.0.0.1:$http_port"
SIM_PID=
start_sim() { # scenario
    rm -f "$TMP/ports.json"
    bg "$BUILD/floe-sim" site -c "$TMP/$1.json" --modbus-port 0 --http-port 0 \
        --snmp-port "$snmp_port" --ports-file "$TMP/ports.json" >>"$TMP/sim.log" 2>&1
    SIM_PID=$BG_PID
    wait_file "$TMP/ports.json"
}
stop_sim() { stop_pid "$SIM_PID"; SIM_PID=; }

cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-walk" }, "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "snmp": [ { "name": "plant", "host": "127.0.0.1", "port": $snmp_port, "version": "2c",
              "community": "public", "interval": "200ms", "timeout": "300ms", "retries": 0,
              "points": [ { "metric": "plant.unit{index}.rated_kw",
                            "walk": "1.3.6.1.4.1.99999.1.2.2.1.5", "scale": 0.001 } ] } ] }
JSON

# table WANT_GOOD WANT_ERROR: waits (20 s) until /v1/telemetry shows exactly
# the rows WANT_GOOD ("1=250 2=..." unit=kW) good and updated after now,
# and at least the rows WANT_ERROR (unit numbers) in error; prints what it
# saw last.
table() {
    local since_ms i
    since_ms=$(($(date +%s%3N) + 1))
    for ((i = 0; i < 200; i++)); do
        curl -s "$base/v1/telemetry" > "$TMP/tel.json"
        if /usr/bin/python3 - "$TMP/tel.json" "$since_ms" "$1" "$2" > "$TMP/table.out" <<'PY'
import datetime, json, sys
ms = json.load(open(sys.argv[1]))["metrics"]
def ts_ms(m):
    return datetime.datetime.fromisoformat(m["ts"].replace("Z", "+00:00")).timestamp() * 1000
since = int(sys.argv[2])
want_good = dict(kv.split("=") for kv in sys.argv[3].split())
want_error = set(sys.argv[4].split())
rows = {m["name"].split(".")[1][4:]: m for m in ms if m["name"].startswith("plant.unit")}
fresh = {u: m for u, m in rows.items() if m["quality"] == "good" and ts_ms(m) >= since}
error = {u for u, m in rows.items() if m["quality"] == "error"}
print({u: (m["quality"], m["value"]) for u, m in sorted(rows.items())})
ok_good = set(fresh) == set(want_good) and all(abs(fresh[u]["value"] - float(v)) < 1e-9
                                                for u, v in want_good.items())
# Rows gone from the table keep their last state (good until stale, or
# the error of an outage the agent saw while the simulator restarted).
sys.exit(0 if ok_good and want_error <= error and not error & set(want_good) else 1)
PY
        then return 0; fi
        sleep 0.1
    done
    cat "$TMP/table.out"
    return 1
}

start_sim small || { not_ok "floe-sim starts"; finish; }
bg "$BUILD/floe" agent -c "$TMP/floe.json" 2>"$TMP/agent.log"
check "agent answers /healthz" wait_http "$base/healthz" 20
check "3-unit table: rows 1-3 read" table "1=250 2=250 3=60" ""

stop_sim
check "agent away: every row walked so far is an error" table "" "1 2 3"

start_sim big || not_ok "floe-sim starts again"
check "table grew to 5 rows: all 5 read, past the last walk's size" \
    table "1=250 2=250 3=180 4=190 5=60" ""

stop_sim
start_sim small || not_ok "floe-sim starts a third time"
check "table shrank to 3 rows: rows 1-3 read, rows 4-5 no longer updated" \
    table "1=250 2=250 3=60" ""
finish
