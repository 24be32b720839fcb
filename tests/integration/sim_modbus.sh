#!/bin/bash
# sim_modbus — floe-sim's facility side, checked from outside with
# independent clients: mbpoll (Debian's Modbus CLI) reads the register
# map documented in sim/README.md, curl drives POST /sim/set and
# GET /sim/state. Starts its own simulators on free loopback ports.
#
# usage: tests/integration/sim_modbus.sh BUILD_DIR   (e.g. build)
set -u
BUILD=${1:?usage: $0 BUILD_DIR}
SIM=$BUILD/floe-sim
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/floe-sim-test.XXXXXX)
SIM_PID=
failed=0

cleanup() {
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1: $2"; failed=1; }
check() { # check NAME WANT GOT
    if [ "$3" == "$2" ]; then ok "$1"; else not_ok "$1" "got '$3', want '$2'"; fi
}

# start_sim SCENARIO [flags...]: runs floe-sim on free ports, sets SIM_PID,
# MB and HTTP. Returns non-zero if it did not come up within 10 s.
start_sim() {
    local scenario=$1; shift
    rm -f "$TMP/ports.json"
    "$SIM" site -c "$scenario" --modbus-port 0 --http-port 0 --snmp-port 0 \
        --ports-file "$TMP/ports.json" "$@" \
        >"$TMP/stdout" 2>"$TMP/stderr" &
    SIM_PID=$!
    for _ in $(seq 100); do
        [ -s "$TMP/ports.json" ] && break
        kill -0 "$SIM_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    [ -s "$TMP/ports.json" ] || return 1
    MB=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["modbus"])' "$TMP/ports.json")
    HTTP=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$TMP/ports.json")
}

stop_sim() {
    kill -TERM "$SIM_PID" 2>/dev/null
    wait "$SIM_PID"
    local rc=$?
    SIM_PID=
    return $rc
}

# mb TYPE REF [mbpoll flags]: values read with mbpoll, one per line. REF is
# mbpoll's 1-based reference: protocol address + 1.
mb() {
    local type=$1 ref=$2; shift 2
    mbpoll -m tcp -a 1 -t "$type" -r "$ref" -1 -o 2 -p "$MB" "$@" 127.0.0.1 2>/dev/null |
        sed -n 's/^\[[0-9]*\]:[[:space:]]*//p' | tr '\n' ' ' | sed 's/ $//'
}

# words ORDER VALUE: the two registers (as mbpoll prints them in hex) of a
# float32 in the given byte order.
words() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys
order, v = sys.argv[1], float(sys.argv[2])
a, b, c, d = struct.pack('>f', v)
by = {'ABCD': (a, b, c, d), 'DCBA': (d, c, b, a), 'BADC': (b, a, d, c), 'CDAB': (c, d, a, b)}[order]
print('0x%02X%02X 0x%02X%02X' % by)
PY
}

# http METHOD PATH [BODY]: prints the status code; the body goes to $TMP/body.
http() {
    curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" ${3:+--data "$3"} "http://127.0.0.1:$HTTP$2"
}

# state NAME: a value from GET /sim/state ("time_s" or a value name).
state() {
    curl -s "http://127.0.0.1:$HTTP/sim/state" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
v = s["time_s"] if sys.argv[1] == "time_s" else s["values"][sys.argv[1]]
print(json.dumps(v))' "$1"
}

# ---- a scenario written for this test: every value exact in float32 ----
cat >"$TMP/site.json" <<'JSON'
// test site; the ports here are overridden by the command line
{
  "site": { "name": "test-site" },
  "modbus": { "port": 1 },
  "http": { "port": 1 },
  "chillers": [
    { "name": "chiller1", "capacity_kw": 250, "supply_c": 6.5 },
    { "name": "chiller2", "capacity_kw": 200, "rated_kw": 250 }
  ],
  "crahs": [ { "name": "crah1", "capacity_kw": 60, "running": false } ],
  "it": { "base_kw": 400 },
  "supply": { "hydro_kw": 380, "wind_kw": 120.5, "grid_kw": 2 },
  "room": { "setpoint_c": 22, "inlet_c": 22, "thermal_mass_kj_per_k": 1000 },
  "ups": { "battery_pct": 100, "output_w": 400000, "capacity_wh": 100000 },
  "events": [ { "at": "60s", "set": { "chiller1.capacity_kw": 0, "chiller1.fault": true } } ]
}
JSON

if ! start_sim "$TMP/site.json" --speedup 10; then
    not_ok "simulator starts" "$(cat "$TMP/stderr")"
    exit 1
fi
ok "simulator starts on free ports"
check "flags override scenario ports" "yes" "$([ "$MB" != 1 ] && [ "$HTTP" != 1 ] && echo yes)"
check "prints one line per listener" "modbus 127.0.0.1:$MB|http 127.0.0.1:$HTTP" \
    "$(head -2 "$TMP/stdout" | paste -sd'|')"

# Before anything else: the event fires 6 s (wall) after start.
check "chiller1 capacity float32 ABCD (40101)" "250" "$(mb 4:float 101 -B)"
check "map version and unit count (40001-40002)" "1 3" "$(mb 4 1 -c 2)"
check "chiller2 capacity, available, rated" "200 200 250" "$(mb 4:float 121 -B -c 3)"
check "chiller1 supply temp int16 0.1 C (40107)" "65" "$(mb 4 107)"
check "alarm words: none, capacity reduced, stopped" "0 2 1" \
    "$(mb 4 108) $(mb 4 128) $(mb 4 148)"
check "unit kinds: chiller, CRAH" "1 2" "$(mb 4 109) $(mb 4 149)"
check "running coils (00101, 00121, 00141)" "1 1 0" \
    "$(mb 0 101) $(mb 0 121) $(mb 0 141)"
check "alarm discrete inputs (10101, 10121, 10141)" "0 1 1" \
    "$(mb 1 101) $(mb 1 121) $(mb 1 141)"
check "IT load and base float32 ABCD (41001)" "400 400" "$(mb 4:float 1001 -B -c 2)"
check "IT load uint32 W ABCD (41005)" "400000" "$(mb 4:int 1005 -B)"
check "hydro float32 ABCD (41101)" "380" "$(mb 4:float 1101 -B)"
check "wind float32 CDAB (41103)" "120.5" "$(mb 4:float 1103)"
check "grid float32 DCBA (41105)" "$(words DCBA 2)" "$(mb 4:hex 1105 -c 2)"
check "supply total float32 BADC (41107)" "$(words BADC 502.5)" "$(mb 4:hex 1107 -c 2)"
check "hydro int32 W ABCD (41109)" "380000" "$(mb 4:int 1109 -B)"
check "wind int32 W CDAB (41111)" "120500" "$(mb 4:int 1111)"
check "grid uint32 W DCBA (41113)" "0xD007 0x0000" "$(mb 4:hex 1113 -c 2)"
check "room inlet float32 input register (31201)" "22" "$(mb 3:float 1201 -B)"
check "room setpoint int16 0.1 C input register (31203)" "220" "$(mb 3 1203)"
check "UPS battery 0.1 %, runtime min (41301)" "1000 15" "$(mb 4 1301 -c 2)"
check "UPS output uint32 W, status (41303)" "400000 0" "$(mb 4:int 1303 -B) $(mb 4 1305)"

if mbpoll -m tcp -a 1 -t 4 -r 1 -1 -o 2 -p "$MB" 127.0.0.1 7 >/dev/null 2>&1; then
    not_ok "register writes are refused" "mbpoll write succeeded"
else
    check "register writes are refused" "1" "$(mb 4 1)"
fi

# An idle client and one that sends half a request must not stall others.
exec 3<>"/dev/tcp/127.0.0.1/$MB"
exec 4<>"/dev/tcp/127.0.0.1/$MB"
printf '\000\001\000' >&4
check "other clients are served beside idle and half-sent ones" "250" "$(mb 4:float 101 -B)"
exec 3>&- 4>&-

code=$(http POST /sim/set '{"it.base_kw": 300, "supply.wind_kw": 99.5}')
check "POST /sim/set answers 200" "200" "$code"
check "set IT load shows in registers" "300 300" "$(mb 4:float 1001 -B -c 2)"
check "set wind shows in registers (CDAB)" "99.5" "$(mb 4:float 1103)"
check "GET /sim/state shows the set value" "300" "$(state it.base_kw)"

code=$(http POST /sim/set '{"it.base_kw": 100, "chiller9.capacity_kw": 0}')
check "unknown name is 400" "400" "$code"
check "400 names the unknown value" "yes" \
    "$(grep -q "unknown value 'chiller9.capacity_kw'" "$TMP/body" && grep -q unknown_value "$TMP/body" && echo yes)"
check "a refused set changes nothing" "300" "$(mb 4:float 1003 -B)"
code=$(http POST /sim/set '{"it.base_kw": ')
check "bad JSON is 400 bad_json" "400 yes" "$code $(grep -q bad_json "$TMP/body" && echo yes)"
code=$(http POST /sim/set '{"it.load_kw": 5}')
check "derived value is 400" "400" "$code"
check "GET /sim/set is 405" "405" "$(http GET /sim/set)"
check "unknown path is 404" "404" "$(http GET /sim/nothing)"

# The scripted event: 60 simulated seconds at speedup 10.
for _ in $(seq 150); do
    t=$(state time_s)
    [ "${t:-0}" -ge 62 ] && break
    sleep 0.1
done
check "event fired: chiller1 capacity 0" "0" "$(mb 4:float 101 -B)"
check "event fired: chiller1 alarm = capacity reduced + fault" "6" "$(mb 4 108)"
check "event fired: chiller1 alarm discrete input" "1" "$(mb 1 101)"
check "simulated time register counts at speedup 10" "yes" \
    "$(t=$(mb 4:int 3 -B); [ "${t:-0}" -ge 62 ] && [ "$t" -lt 400 ] && echo yes)"
inlet=$(mb 3:float 1201 -B)
check "room warms once cooling (200 kW) is below load (300 kW)" "yes" \
    "$(/usr/bin/python3 -c 'import sys; print("yes" if 22 < float(sys.argv[1]) < 40 else "no")' "${inlet:-0}")"

if stop_sim; then ok "SIGTERM stops it with status 0"; else not_ok "SIGTERM stops it with status 0" "status $?"; fi
check "ports file removed on exit" "gone" "$([ -e "$TMP/ports.json" ] || echo gone)"

# ---- the shipped scenarios load and serve the values they state ----
for name in lulea falkenberg; do
    file=$ROOT/sim/scenarios/$name.json
    if ! start_sim "$file"; then
        not_ok "$name.json starts" "$(cat "$TMP/stderr")"
        continue
    fi
    want=$(/usr/bin/python3 - "$file" <<'PY'
import json, sys
text = ''.join(l for l in open(sys.argv[1]) if not l.lstrip().startswith('//'))
s = json.loads(text)
units = s.get('chillers', []) + s.get('crahs', [])
print(' '.join('%g' % u['capacity_kw'] for u in units), '|', '%g' % s['it']['base_kw'])
PY
)
    caps=()
    for i in $(seq 0 $(( $(mb 4 2) - 1 ))); do caps+=("$(mb 4:float $((101 + 20 * i)) -B)"); done
    check "$name.json: unit capacities and IT base in registers" "$want" "${caps[*]} | $(mb 4:float 1003 -B)"
    stop_sim >/dev/null
done

# ---- etc/demo/lulea.json: every point decodes to the simulator's value ----
# Each point is read raw with mbpoll and decoded here by its configured
# type, order, scale and bit, so a wrong address or order in the demo
# config shows up without the agent.
if start_sim "$ROOT/sim/scenarios/lulea.json"; then
    curl -s "http://127.0.0.1:$HTTP/sim/state" >"$TMP/state.json"
    result=$(/usr/bin/python3 - "$ROOT/etc/demo/lulea.json" "$TMP/state.json" "$MB" 2>&1 <<'PY'
import json, struct, subprocess, sys
cfg_text = ''.join(l for l in open(sys.argv[1]) if not l.lstrip().startswith('//'))
cfg = json.loads(cfg_text)
v = json.load(open(sys.argv[2]))['values']
port = sys.argv[3]
units = ['chiller1', 'chiller2', 'crah1']
want = {
    'sim.map_version': 1, 'sim.cooling_units': 3, 'sim.time_s': v['sim.time_s'],
    'it.load_kw': v['it.load_kw'], 'it.base_kw': v['it.base_kw'], 'it.load_w': v['it.load_kw'] * 1000,
    'it.energy_kwh': v['it.energy_kwh'], 'it.energy_wh': v['it.energy_kwh'] * 1000,
    'power.hydro_kw': v['supply.hydro_kw'], 'power.wind_kw': v['supply.wind_kw'],
    'power.grid_kw': v['supply.grid_kw'], 'power.supply_kw': v['supply.total_kw'],
    'power.hydro_w': v['supply.hydro_kw'] * 1000, 'power.wind_w': v['supply.wind_kw'] * 1000,
    'power.grid_w': v['supply.grid_kw'] * 1000,
    'power.ups.battery_pct': v['ups.battery_pct'], 'power.ups.runtime_min': int(v['ups.runtime_min']),
    'power.ups.output_w': v['ups.output_w'], 'power.ups.on_battery': int(v['ups.on_battery']),
    'power.ups.battery_low': v['ups.status'] >> 1 & 1, 'power.ups.depleted': v['ups.status'] >> 2 & 1,
    'room.inlet_c': v['room.inlet_c'], 'room.setpoint_c': v['room.setpoint_c'],
}
for u in units:
    for k in ('capacity_kw', 'available_kw', 'rated_kw', 'supply_c', 'fault', 'kind', 'running'):
        want['cooling.%s.%s' % (u, k)] = float(v['%s.%s' % (u, k)])
    want['cooling.%s.stopped' % u] = v[u + '.alarm'] & 1
    want['cooling.%s.capacity_reduced' % u] = v[u + '.alarm'] >> 1 & 1
    want['cooling.%s.alarm' % u] = int(v[u + '.alarm'] != 0)
# Quantities that move while the test reads them.
drifting = {'sim.time_s': 10, 'it.energy_kwh': 1.5, 'it.energy_wh': 1500}
nregs = {'uint16': 1, 'int16': 1, 'uint32': 2, 'int32': 2, 'float32': 2, 'uint64': 4, 'int64': 4, 'float64': 4}
fmt = {'uint16': '>H', 'int16': '>h', 'uint32': '>I', 'int32': '>i', 'float32': '>f',
       'uint64': '>Q', 'int64': '>q', 'float64': '>d'}

def mbpoll(t, ref, count):
    out = subprocess.run(['mbpoll', '-m', 'tcp', '-a', '1', '-t', t, '-r', str(ref), '-c', str(count),
                          '-1', '-o', '2', '-p', port, '127.0.0.1'], capture_output=True, text=True).stdout
    return [l.split(':', 1)[1].strip() for l in out.splitlines() if l.startswith('[')]

def raw_bytes(words, order):
    b = b''.join(struct.pack('>H', w) for w in words)
    pairs = [b[i:i + 2] for i in range(0, len(b), 2)]
    if order in ('CDAB', 'DCBA'):
        pairs.reverse()
    if order in ('BADC', 'DCBA'):
        pairs = [p[::-1] for p in pairs]
    return b''.join(pairs)

bad, seen = [], set()
for dev in cfg['modbus']:
    assert dev['host'] == '127.0.0.1' and dev['port'] == 1502
    for p in dev['points']:
        m, table, addr = p['metric'], p['table'], p['address']
        seen.add(m)
        if table in ('coil', 'discrete'):
            got = float(mbpoll('0' if table == 'coil' else '1', addr + 1, 1)[0])
        else:
            t = '4:hex' if table == 'holding' else '3:hex'
            typ = p.get('type', 'uint16')
            words = [int(x, 16) for x in mbpoll(t, addr + 1, 1 if 'bit' in p else nregs[typ])]
            if 'bit' in p:
                got = float(words[0] >> p['bit'] & 1)
            else:
                got = struct.unpack(fmt[typ], raw_bytes(words, p.get('order', 'ABCD')))[0]
                got = got * p.get('scale', 1) + p.get('offset', 0)
        if m not in want:
            bad.append('%s: no expected value' % m)
        elif abs(got - want[m]) > drifting.get(m, 1e-3):
            bad.append('%s: read %r, sim has %r' % (m, got, want[m]))
missing = sorted(set(want) - seen)
if missing:
    bad.append('not mapped: ' + ', '.join(missing))
print('; '.join(bad) if bad else 'ok')
PY
)
    check "etc/demo/lulea.json: every point decodes to the simulator's value" "ok" "$result"
    stop_sim >/dev/null
else
    not_ok "lulea.json starts for the demo config check" "$(cat "$TMP/stderr")"
fi

# ---- a bad scenario is refused with the path of the mistake ----
cat >"$TMP/bad.json" <<'JSON'
{ "site": { "name": "x" }, "chillers": [ { "name": "c1", "capacity_kw": 1, "colour": "red" } ] }
JSON
"$SIM" site -c "$TMP/bad.json" --modbus-port 0 --http-port 0 >/dev/null 2>"$TMP/stderr"
rc=$?
check "unknown scenario key exits 1 naming its path" "1 yes" \
    "$rc $(grep -q "bad.json: chillers\[0\].colour: unknown key" "$TMP/stderr" && echo yes)"

exit $failed
