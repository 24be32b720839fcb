#!/bin/bash
# sim_snmp — floe-sim's SNMP agent, checked from outside: Debian's snmpget,
# snmpwalk and snmpbulkwalk (numeric OIDs, no MIB files) read the SNMP map
# documented in sim/README.md over v1, v2c and v3 authPriv; access rules
# (wrong community, wrong level, wrong password, SET) answer as a real agent
# does; POST /sim/set changes show at once; the cooling-unit table has one
# row per unit; and floe's own SNMP collector (tests/integration/snmp_read.c)
# reads the sim over v3 and through the demo config's "snmp" device
# (etc/demo/lulea.json) with the values the sim states.
#
# usage: tests/integration/sim_snmp.sh BUILD_DIR   (e.g. build)
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SIM=$BUILD/floe-sim
U=.1.3.6.1.2.1.33.1       # UPS-MIB upsObjects
E=.1.3.6.1.4.1.99999.1    # floeSim
T=$E.2.2.1                # floeSimUnitEntry

# The client tools keep state and read snmp.conf; keep both in $TMP so the
# test touches nothing of the host's (/var/lib/snmp, /etc/snmp).
export SNMP_PERSISTENT_DIR=$TMP/snmp-client SNMPCONFPATH=$TMP/snmp-client
# (cert_indexes exists up front: the tools announce its creation on stderr)
mkdir -p "$TMP/snmp-client/cert_indexes"

check_eq() { # check_eq NAME WANT GOT
    if [ "$3" == "$2" ]; then ok "$1"; else not_ok "$1: got '$3', want '$2'"; fi
}

# start_sim SCENARIO [flags...]: floe-sim on free ports; sets SIM_PID, MB,
# HTTP and SNMP. Returns non-zero if it did not come up within 10 s.
start_sim() {
    local scenario=$1; shift
    rm -f "$TMP/ports.json"
    bg "$SIM" site -c "$scenario" --modbus-port 0 --http-port 0 --snmp-port 0 \
        --ports-file "$TMP/ports.json" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    SIM_PID=$BG_PID
    for _ in $(seq 100); do
        [ -s "$TMP/ports.json" ] && break
        kill -0 "$SIM_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    [ -s "$TMP/ports.json" ] || return 1
    MB=$(json_get "$TMP/ports.json" 'd["modbus"]')
    HTTP=$(json_get "$TMP/ports.json" 'd["http"]')
    SNMP=$(json_get "$TMP/ports.json" 'd["snmp"]')
}

stop_sim() {
    kill -TERM "$SIM_PID" 2>/dev/null
    wait "$SIM_PID"
    local rc=$?
    SIM_PID=
    return $rc
}

# Values only, one line: strings keep their quotes, errors show as text.
AGENT() { echo "127.0.0.1:$SNMP"; }
v2() { snmpget -v2c -c floe-test -m '' -On -Oqv -t 1 -r 1 "$(AGENT)" "$@" 2>&1 | paste -sd' '; }
v2typed() { snmpget -v2c -c floe-test -m '' -On -t 1 -r 1 "$(AGENT)" "$@" 2>&1 | sed 's/^[^=]*= //'; }
# Walks; a walk that reaches the end of the agent's objects ends with a
# "No more variables" line, which is not an object.
walk() {
    snmpwalk -v2c -c floe-test -m '' -On -Oqv -t 1 -r 1 "$(AGENT)" "$@" 2>&1 |
        grep -v '^No more variables' | paste -sd' '
}
walk_count() {
    snmpwalk -v2c -c floe-test -m '' -On -t 1 -r 1 "$(AGENT)" "$@" 2>/dev/null |
        grep -v 'No more variables' | grep -c ' = '
}
v3() { # v3 LEVEL AUTHPASS PRIVPASS [USER] OID...
    local level=$1 a=$2 x=$3 user=$4; shift 4
    snmpget -v3 -l "$level" -u "$user" -a SHA -A "$a" -x AES -X "$x" -m '' -On -Oqv -t 1 -r 0 \
        "$(AGENT)" "$@" 2>&1 | paste -sd' '
}
sim_set() { curl -s -o "$TMP/body" -w '%{http_code}' -d "$1" "http://127.0.0.1:$HTTP/sim/set"; }
state() { curl -s "http://127.0.0.1:$HTTP/sim/state" | /usr/bin/python3 -c '
import json, sys
print(json.dumps(json.load(sys.stdin)["values"][sys.argv[1]]))' "$1"; }

cat >"$TMP/site.json" <<'JSON'
// test site; the ports here are overridden by the command line
{
  "site": { "name": "test-site" },
  "snmp": { "port": 1, "community": "floe-test", "user": "floe",
            "auth_password": "test-auth-pass", "priv_password": "test-priv-pass" },
  "chillers": [
    { "name": "chiller1", "capacity_kw": 250, "supply_c": 6.5 },
    { "name": "chiller2", "capacity_kw": 200, "rated_kw": 250 }
  ],
  "crahs": [ { "name": "crah1", "capacity_kw": 60, "running": false } ],
  "it": { "base_kw": 400 },
  "supply": { "hydro_kw": 380, "wind_kw": 120.5, "grid_kw": 2 },
  "room": { "setpoint_c": 22, "inlet_c": 22, "thermal_mass_kj_per_k": 1000 },
  "ups": { "battery_pct": 100, "output_w": 400000, "capacity_wh": 100000 }
}
JSON

if ! start_sim "$TMP/site.json"; then
    not_ok "simulator starts: $(cat "$TMP/stderr")"
    finish
fi
ok "simulator starts with SNMP on a free port"
check_eq "--snmp-port overrides the scenario's port" "yes" "$([ "$SNMP" != 1 ] && echo yes)"
check_eq "prints the SNMP listener after the others" "snmp 127.0.0.1:$SNMP" "$(sed -n 3p "$TMP/stdout")"

# ---- UPS-MIB (RFC 1628) over v2c ----
check_eq "upsIdent manufacturer, model, name" '"floe" "floe-sim UPS" "test-site"' \
    "$(v2 $U.1.1.0 $U.1.2.0 $U.1.5.0)"
check_eq "battery status normal, 0 s on battery, 15 min left, 100 %" "2 0 15 100" \
    "$(v2 $U.2.1.0 $U.2.2.0 $U.2.3.0 $U.2.4.0)"
check_eq "output source normal (3), 3 output lines" "3 3" "$(v2 $U.4.1.0 $U.4.3.0)"
check_eq "upsOutputPower per line in W, adding up to 400000" "133334 133333 133333" \
    "$(walk $U.4.4.1.4)"
check_eq "upsInputTruePower per line on mains" "133334 133333 133333" "$(walk $U.3.3.1.5)"
check_eq "upsAlarmsPresent is a Gauge32, 0 on mains" "Gauge32: 0" "$(v2typed $U.6.1.0)"
check_eq "UPS-MIB subtree has the 17 documented objects" "17" "$(walk_count .1.3.6.1.2.1.33)"

# ---- floeSim enterprise subtree ----
check_eq "map version, site name, unit count" '1 "test-site" 3' "$(v2 $E.1.1.0 $E.1.2.0 $E.1.4.0)"
check_eq "cooling available in W as Gauge32" "Gauge32: 450000" "$(v2typed $E.2.1.0)"
check_eq "IT load and base in W" "400000 400000" "$(v2 $E.3.1.0 $E.3.2.0)"
check_eq "IT energy is a Counter64" "Counter64" "$(v2typed $E.3.3.0 | cut -d: -f1)"
check_eq "hydro, wind, grid, total in W" "380000 120500 2000 502500" \
    "$(v2 $E.4.1.0 $E.4.2.0 $E.4.3.0 $E.4.4.0)"
check_eq "room inlet and setpoint in 0.1 C" "220 220" "$(v2 $E.5.1.0 $E.5.2.0)"
check_eq "unit table: names, one row per unit" '"chiller1" "chiller2" "crah1"' "$(walk $T.1)"
check_eq "unit table: kind" "1 1 2" "$(walk $T.2)"
check_eq "unit table: capacity W" "250000 200000 60000" "$(walk $T.3)"
check_eq "unit table: available W (crah1 stopped)" "250000 200000 0" "$(walk $T.4)"
check_eq "unit table: rated W" "250000 250000 60000" "$(walk $T.5)"
check_eq "unit table: supply temperature 0.1 C" "65 70 180" "$(walk $T.6)"
check_eq "unit table: running TruthValue" "1 1 2" "$(walk $T.7)"
check_eq "unit table: fault TruthValue" "2 2 2" "$(walk $T.8)"
check_eq "unit table: alarm bits" "0 2 1" "$(walk $T.9)"
check_eq "unit table: 9 columns x 3 rows" "27" "$(walk_count $T)"
bulk=$(snmpbulkwalk -v2c -c floe-test -m '' -On -Cr7 -t 1 -r 1 "$(AGENT)" .1 2>/dev/null |
    grep -v 'No more variables' | grep -c ' = ')
check_eq "GETBULK walk of the whole agent sees every object (58)" "58" "$bulk"
check_eq "GETNEXT walk of the whole agent sees the same" "58" "$(walk_count .1)"
check_eq "missing instance and missing object" \
    "No Such Instance currently exists at this OID No Such Object available on this agent at this OID" \
    "$(v2 $T.4.4 .1.3.6.1.2.1.1.1.0)"

if command -v mbpoll >/dev/null; then
    mb_w=$(mbpoll -m tcp -a 1 -t 4:int -B -r 1005 -1 -p "$MB" 127.0.0.1 2>/dev/null |
        sed -n 's/^\[[0-9]*\]:[[:space:]]*//p')
    check_eq "SNMP and Modbus agree on the IT load in W" "$mb_w" "$(v2 $E.3.1.0)"
fi

# ---- access: as a real agent answers ----
check_eq "SNMPv1 with the community" "100" \
    "$(snmpget -v1 -c floe-test -m '' -On -Oqv -t 1 -r 0 "$(AGENT)" $U.2.4.0 2>&1)"
check_eq "wrong community gets no answer" "Timeout: No Response from $(AGENT)." \
    "$(snmpget -v2c -c wrong -m '' -On -t 0.5 -r 0 "$(AGENT)" $U.2.4.0 2>&1)"
set_out=$(snmpset -v2c -c floe-test -m '' -On -t 1 -r 0 "$(AGENT)" $U.2.4.0 i 5 2>&1)
check_eq "SET is refused (noAccess)" "yes" "$(grep -q noAccess <<<"$set_out" && echo yes)"
check_eq "v3 authPriv SHA/AES reads" "100 3" \
    "$(v3 authPriv test-auth-pass test-priv-pass floe $U.2.4.0 $U.4.1.0)"
check_eq "v3 below authPriv is authorizationError" "yes" \
    "$(v3 authNoPriv test-auth-pass test-priv-pass floe $U.2.4.0 | grep -q authorizationError && echo yes)"
check_eq "v3 wrong auth password is an authentication failure" "yes" \
    "$(v3 authPriv wrong-auth-pass test-priv-pass floe $U.2.4.0 | grep -q 'Authentication failure' && echo yes)"
check_eq "v3 unknown user is refused" "yes" \
    "$(v3 authPriv test-auth-pass test-priv-pass ghost $U.2.4.0 | grep -q 'Unknown user name' && echo yes)"

# ---- /sim/set shows in SNMP ----
check_eq "POST /sim/set ups on battery at 42 %" "200" \
    "$(sim_set '{"ups.on_battery": true, "ups.battery_pct": 42}')"
check_eq "on battery: status normal (42 %), charge 42, source battery (5), 1 alarm" "2 42 5 1" \
    "$(v2 $U.2.1.0 $U.2.4.0 $U.4.1.0 $U.6.1.0)"
check_eq "on battery: input lines carry nothing, output unchanged" \
    "0 0 0 | 133334 133333 133333" "$(walk $U.3.3.1.5) | $(walk $U.4.4.1.4)"
check_eq "v3 sees the change too" "5" "$(v3 authPriv test-auth-pass test-priv-pass floe $U.4.1.0)"
t0=$(state sim.time_s)
for _ in $(seq 40); do [ "$(state sim.time_s)" -ge $((t0 + 2)) ] && break; sleep 0.1; done
secs=$(v2 $U.2.2.0)
check_eq "upsSecondsOnBattery counts simulated seconds since the switch" "yes" \
    "$([ "${secs:-0}" -ge 2 ] && [ "$secs" -le $(( $(state sim.time_s) - t0 + 2 )) ] && echo yes)"
sim_set '{"ups.battery_pct": 20}' >/dev/null
check_eq "battery below 25 %: status low (3), 2 alarms" "3 2" "$(v2 $U.2.1.0 $U.6.1.0)"
sim_set '{"ups.battery_pct": 0}' >/dev/null
check_eq "empty battery: status depleted (4), 3 alarms, 0 min" "4 3 0" "$(v2 $U.2.1.0 $U.6.1.0 $U.2.3.0)"
sim_set '{"ups.on_battery": false, "ups.battery_pct": 100}' >/dev/null
check_eq "back on mains: 0 s on battery, source normal" "0 3" "$(v2 $U.2.2.0 $U.4.1.0)"
# A huge thermal mass holds the room still while the test reads it.
sim_set '{"chiller1.capacity_kw": 0, "room.thermal_mass_kj_per_k": 1e12, "room.inlet_c": 27.36}' \
    >/dev/null
check_eq "chiller1 at 0 kW: its row and the site total follow" "0 200000 0 | 200000" \
    "$(walk $T.4) | $(v2 $E.2.1.0)"
check_eq "room inlet 27.36 C reads 274 (0.1 C, rounded)" "274" "$(v2 $E.5.1.0)"

if stop_sim; then ok "SIGTERM stops it with status 0"; else not_ok "SIGTERM stops it with status 0"; fi

# ---- floe's own collector against the sim ----
san=()
nm "$BUILD/libfloe.a" 2>/dev/null | grep -q __asan_ && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2046
if ! cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${san[@]}" -I. \
        tests/integration/snmp_read.c "$BUILD/libfloe.a" \
        $(pkg-config --cflags --libs netsnmp libcjson) -lpthread -lm -o "$TMP/snmp_read"; then
    not_ok "snmp_read builds against $BUILD/libfloe.a"; finish
fi

# SNMPv3 with the strongest protocols floe offers.
sed -e 's/"user": "floe",/"user": "floe", "auth_protocol": "SHA-512", "priv_protocol": "AES-256",/' \
    "$TMP/site.json" >"$TMP/site512.json"
if start_sim "$TMP/site512.json"; then
    cat >"$TMP/v3.json" <<JSON
{ "name": "sim", "host": "127.0.0.1", "port": $SNMP, "version": "3", "user": "floe",
  "level": "authPriv", "auth_protocol": "SHA-512", "auth_password": "test-auth-pass",
  "priv_protocol": "AES-256", "priv_password": "test-priv-pass", "timeout_ms": 1000, "retries": 1,
  "points": [ { "metric": "ups.battery_pct", "oid": "$U.2.4.0" },
              { "metric": "it.energy_wh", "oid": "$E.3.3.0" },
              { "metric": "plant.unit{index}.available_kw", "walk": "$T.4", "scale": 0.001 } ] }
JSON
    out=$("$TMP/snmp_read" "$TMP/v3.json" | grep -v ' poll ' | cut -d' ' -f2- | grep -v energy |
        paste -sd'|')
    check_eq "floe's collector reads the sim over v3 SHA-512/AES-256, table walk included" \
        "ups.battery_pct 100|plant.unit1.available_kw 250|plant.unit2.available_kw 200|plant.unit3.available_kw 0" \
        "$out"
    check_eq "floe's collector reads the Counter64 energy" "yes" \
        "$("$TMP/snmp_read" "$TMP/v3.json" | grep -qE '^sim it.energy_wh [0-9]+$' && echo yes)"
    stop_sim >/dev/null
else
    not_ok "simulator starts with a SHA-512/AES-256 user: $(cat "$TMP/stderr")"
fi

# ---- etc/demo/lulea.json: the "snmp" device reads what the sim states ----
# Its points go through floe's collector unchanged (only the port is the
# test's); each value is compared with GET /sim/state.
if start_sim sim/scenarios/lulea.json; then
    /usr/bin/python3 - etc/demo/lulea.json "$SNMP" >"$TMP/demo.json" <<'PY'
import json, sys
text = ''.join(l for l in open(sys.argv[1]) if not l.lstrip().startswith('//'))
dev = json.loads(text)['snmp'][0]
assert dev['host'] == '127.0.0.1' and dev['port'] == 1161 and dev['version'] == '2c'
dev['port'] = int(sys.argv[2])
for k in ('interval', 'timeout'):
    dev.pop(k, None)
dev['timeout_ms'] = 1000
print(json.dumps(dev))
PY
    curl -s "http://127.0.0.1:$HTTP/sim/state" >"$TMP/state.json"
    "$TMP/snmp_read" "$TMP/demo.json" >"$TMP/demo.out"
    result=$(/usr/bin/python3 - "$TMP/state.json" "$TMP/demo.out" <<'PY'
import json, math, sys
v = json.load(open(sys.argv[1]))['values']
got = {}
for line in open(sys.argv[2]):
    parts = line.split()
    if len(parts) == 3 and parts[1] != 'poll':
        got[parts[1]] = float(parts[2])
status = int(v['ups.status'])
on_battery = v['ups.on_battery']
def share(w, line):
    w = round(w)
    return (w // 3 + (1 if line <= w % 3 else 0)) / 1000
want = {
    'ups.battery_status': 4 if status & 4 else 3 if status & 2 else 2,
    'ups.on_battery_s': 0 if not on_battery else None,
    'ups.runtime_min': math.floor(v['ups.runtime_min']),
    'ups.battery_pct': round(v['ups.battery_pct']),
    'ups.output_source': 5 if on_battery else 3,
    'ups.alarms': bin(status).count('1'),
}
for line in (1, 2, 3):
    want['ups.line%d.output_kw' % line] = share(v['ups.output_w'], line)
    want['ups.line%d.input_kw' % line] = 0 if on_battery else share(v['ups.output_w'], line)
for row, unit in enumerate(('chiller1', 'chiller2', 'crah1'), 1):
    want['plant.unit%d.capacity_kw' % row] = v[unit + '.capacity_kw']
    want['plant.unit%d.available_kw' % row] = v[unit + '.available_kw']
    want['plant.unit%d.running' % row] = 1 if v[unit + '.running'] else 0
bad = ['%s: read %r, sim has %r' % (m, got.get(m), w)
       for m, w in want.items() if m not in got or abs(got[m] - w) > 1e-9]
extra = sorted(set(got) - set(want))
if extra:
    bad.append('unexpected: ' + ', '.join(extra))
print('; '.join(bad) if bad else 'ok')
PY
)
    check_eq "etc/demo/lulea.json: every SNMP point reads the simulator's value" "ok" "$result"
    check_eq "lulea.json scenario's v3 user answers" "100" \
        "$(snmpget -v3 -l authPriv -u floe -a SHA -A lulea-demo-auth -x AES -X lulea-demo-priv \
            -m '' -On -Oqv -t 1 -r 0 "$(AGENT)" $U.2.4.0 2>&1)"
    stop_sim >/dev/null
else
    not_ok "lulea.json starts: $(cat "$TMP/stderr")"
fi

# ---- bad SNMP settings are refused before anything listens ----
cat >"$TMP/bad.json" <<'JSON'
{ "site": { "name": "x" }, "snmp": { "user": "floe", "auth_password": "long-enough" } }
JSON
"$SIM" site -c "$TMP/bad.json" --modbus-port 0 --http-port 0 --snmp-port 0 >/dev/null 2>"$TMP/stderr"
rc=$?
check_eq "v3 user without a priv password exits 1 naming the key" "1 yes" \
    "$rc $(grep -q 'bad.json: snmp.priv_password: missing' "$TMP/stderr" && echo yes)"
busy=$(free_port udp)
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(5)' "$busy" &
holder=$!
sleep 0.3
"$SIM" site -c "$TMP/site.json" --modbus-port 0 --http-port 0 --snmp-port "$busy" >/dev/null 2>"$TMP/stderr"
rc=$?
kill $holder 2>/dev/null; wait $holder 2>/dev/null
check_eq "a taken SNMP port exits 1 with the reason" "1 yes" \
    "$rc $(grep -q "snmp: listen on udp 127.0.0.1:$busy: Address already in use" "$TMP/stderr" && echo yes)"

finish
