#!/bin/bash
# The SNMP collector against snmpsimd (Debian package snmpsim) with data the
# test writes: a v2c device of 91 GET points (80 scalars + every value type +
# one missing OID) and two walked tables; PDUs per poll counted on the wire
# by a UDP relay; an agent that limits PDUs to 20 varbinds (answers tooBig);
# SNMPv1 (noSuchName, GETNEXT walk); SNMPv3 authPriv with a context; a slow
# agent read within its timeout and one too slow for it.
# Drives collectors/snmp_collector.c through tests/integration/snmp_read.c.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

SIMD=$(command -v snmpsimd || command -v snmpsim-command-responder || command -v snmpsimd.py) ||
    { not_ok "snmpsimd is installed (Debian package snmpsim)"; finish; }

# A sanitizer build of the library (make BUILD=build/asan SAN=1) needs the
# same instrumentation in the driver; then ASan/UBSan check the collector too.
san=()
nm "$BUILD/libfloe.a" 2>/dev/null | grep -q __asan_ && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2046
if ! cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${san[@]}" -I. \
        tests/integration/snmp_read.c "$BUILD/libfloe.a" \
        $(pkg-config --cflags --libs netsnmp libcjson) -lpthread -lm -o "$TMP/snmp_read"; then
    not_ok "snmp_read builds against $BUILD/libfloe.a"; finish
fi

sim_port=$(free_port udp); relay_port=$(free_port udp)
mkdir -p "$TMP/sim/data" "$TMP/sim/var" "$TMP/sim/cache"

# An agent with a PDU limit, as many embedded SNMP cards have: any request
# of more than `limit` varbinds is answered tooBig (RFC 3416 4.2.1).
cat > "$TMP/sim/var/pdulimit.py" <<'PY'
from pysnmp.smi import error
def init(**context):
    pass
def variate(oid, tag, value, **context):
    if not context['nextFlag'] and not context['exactMatch']:
        return context['origOid'], tag, context['errorStatus']
    settings = dict(item.split('=') for item in value.split(','))
    if context['varsTotal'] > int(settings['limit']):
        raise error.TooBigError(name=oid, idx=0)
    return oid, tag, settings['value']
def shutdown(**context):
    pass
PY

/usr/bin/python3 - "$TMP/sim/data" <<'PY'
import sys
out = sys.argv[1]
E = "1.3.6.1.4.1.99999"
def write(name, records):
    records.sort(key=lambda r: [int(x) for x in r[0].split('.')])
    with open(f"{out}/{name}.snmprec", "w") as f:
        for r in records:
            f.write("%s|%s|%s\n" % r)
pub = [(f"{E}.10.{i}.0", "2", str(i * 3)) for i in range(1, 81)]
pub += [(f"{E}.20.1.0", "2", "-42"),                      # INTEGER
        (f"{E}.20.2.0", "66", "4000000000"),              # Gauge32 / Unsigned32
        (f"{E}.20.3.0", "66", "7"),
        (f"{E}.20.4.0", "65", "4294967295"),              # Counter32
        (f"{E}.20.5.0", "70", "9007199254740993"),        # Counter64 beyond 2^53
        (f"{E}.20.11.0", "70", "123456789012345"),        # Counter64 exact
        (f"{E}.20.6.0", "67", "8640000"),                 # TimeTicks
        (f"{E}.20.7.0", "4", "23.5"),                     # numeric OCTET STRING
        (f"{E}.20.8.0", "4", "n/a"),
        (f"{E}.20.9.0", "64", "10.0.0.1"),                # IpAddress
        (f"{E}.20.10.0", "4x", "32332e3500")]             # "23.5\0"
pub += [(f"{E}.32.1.{i}", "66", str(i * 100)) for i in range(1, 61)]
pub += [(f"{E}.31.1.{a}.{b}", "2", str(a * 10 + b)) for a, b in ((1, 1), (1, 2), (2, 1))]
# A three-phase UPS (UPS-MIB) and a PDU's sensors (ENTITY-SENSOR-MIB) for
# the example config etc/ups-snmp.json.
U = "1.3.6.1.2.1.33.1"
pub += [(f"{U}.2.1.0", "2", "2"), (f"{U}.2.2.0", "2", "0"), (f"{U}.2.3.0", "2", "42"),
        (f"{U}.2.4.0", "2", "100"), (f"{U}.2.7.0", "2", "24"), (f"{U}.4.1.0", "2", "3"),
        (f"{U}.6.1.0", "66", "0")]
for line, (v, hz, w, ow, load) in enumerate(((230, 500, 12000, 10000, 35), (231, 500, 11500, 9500, 33),
                                             (229, 499, 11800, 9800, 34)), 1):
    pub += [(f"{U}.3.3.1.3.{line}", "2", str(v)), (f"{U}.3.3.1.2.{line}", "2", str(hz)),
            (f"{U}.3.3.1.5.{line}", "2", str(w)), (f"{U}.4.4.1.4.{line}", "2", str(ow)),
            (f"{U}.4.4.1.5.{line}", "2", str(load))]
S = "1.3.6.1.2.1.99.1.1.1"
for idx, value, status in ((1001, 235, 1), (1002, 41, 1), (2001, 3400, 1), (2002, 14500, 2)):
    pub += [(f"{S}.4.{idx}", "2", str(value)), (f"{S}.5.{idx}", "2", str(status))]
write("public", pub)
write("small", [(f"{E}.10.{i}.0", "2:pdulimit", f"limit=20,value={i * 3}") for i in range(1, 81)])
write("slow", [(f"{E}.50.1.0", "2:delay", "value=7,wait=400")])
PY
chmod -R a+rX "$TMP"
chown nobody "$TMP/sim/cache" 2>/dev/null

user_args=()
[ "$(id -u)" = 0 ] && user_args=(--process-user=nobody --process-group=nogroup)
bg "$SIMD" "${user_args[@]}" --data-dir="$TMP/sim/data" --variation-modules-dir="$TMP/sim/var" \
    --cache-dir="$TMP/sim/cache" --agent-udpv4-endpoint="127.0.0.1:$sim_port" \
    --v3-user=simuser --v3-auth-key=sim-auth-secret --v3-auth-proto=SHA \
    --v3-priv-key=sim-priv-secret --v3-priv-proto=AES --logging-method=null
# Readiness through the collector itself (snmpget would write /var/lib/snmp).
cat > "$TMP/ping.json" <<JSON
{ "name": "ping", "host": "127.0.0.1", "port": $sim_port, "version": "2c", "community": "public",
  "timeout_ms": 200, "retries": 0, "points": [ { "metric": "x.y", "oid": "1.3.6.1.4.1.99999.10.1.0" } ] }
JSON
ready=no
for _ in $(seq 1 100); do
    if "$TMP/snmp_read" "$TMP/ping.json" | grep -q '^ping x.y 3$'; then ready=yes; break; fi
    sleep 0.1
done
[ $ready = yes ] || { not_ok "snmpsimd answers on 127.0.0.1:$sim_port"; finish; }

# A relay in front of snmpsimd that records when each request datagram
# passed (CLOCK_MONOTONIC, like snmp_read's mono_us), to count PDUs per poll.
cat > "$TMP/relay.py" <<'PY'
import selectors, socket, sys, time
listen_port, agent_port, log = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "w")
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(("127.0.0.1", listen_port))
backs = {}  # client address -> socket towards the agent
sel = selectors.DefaultSelector()
sel.register(front, selectors.EVENT_READ, None)
while True:
    for key, _ in sel.select():
        if key.data is None:
            data, client = front.recvfrom(65535)
            log.write("%d\n" % int(time.monotonic() * 1e6)); log.flush()
            if client not in backs:
                b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                b.connect(("127.0.0.1", agent_port))
                backs[client] = b
                sel.register(b, selectors.EVENT_READ, client)
            backs[client].send(data)
        else:
            front.sendto(key.fileobj.recv(65535), key.data)
PY
bg /usr/bin/python3 "$TMP/relay.py" "$relay_port" "$sim_port" "$TMP/relay.log"

E=1.3.6.1.4.1.99999
device() { # name port version timeout_ms extra-json points-json
    cat > "$TMP/$1.json" <<JSON
{ "name": "$1", "host": "127.0.0.1", "port": $2, "version": "$3", "timeout_ms": $4, "retries": 1 $5,
  "points": [ $6 ] }
JSON
}
bulk_points=$(for i in $(seq 1 80); do printf '{"metric":"sim.bulk.p%d","oid":"%s.10.%d.0"},' "$i" $E "$i"; done)
type_points='
 {"metric":"sim.type.integer","oid":"'$E'.20.1.0"},
 {"metric":"sim.type.gauge32","oid":"'$E'.20.2.0"},
 {"metric":"sim.type.unsigned32","oid":"'$E'.20.3.0"},
 {"metric":"sim.type.counter32","oid":"'$E'.20.4.0"},
 {"metric":"sim.type.counter64_big","oid":"'$E'.20.5.0"},
 {"metric":"sim.type.counter64","oid":"'$E'.20.11.0"},
 {"metric":"sim.type.timeticks_s","oid":"'$E'.20.6.0","scale":0.01},
 {"metric":"sim.type.string_c","oid":"'$E'.20.7.0","scale":2,"offset":1},
 {"metric":"sim.type.string_na","oid":"'$E'.20.8.0"},
 {"metric":"sim.type.ipaddress","oid":"'$E'.20.9.0"},
 {"metric":"sim.type.string_nul","oid":"'$E'.20.10.0"},
 {"metric":"sim.type.missing","oid":"'$E'.20.99.0"}'
walk_points='
 {"metric":"sim.outlet{index}_w","walk":"'$E'.32.1","scale":0.5},
 {"metric":"sim.sensor{index}_c","walk":"'$E'.31.1"}'
device bulk "$relay_port" 2c 1000 ', "community": "public"' "$bulk_points $type_points, $walk_points"
device small "$relay_port" 2c 1000 ', "community": "small"' "${bulk_points%,}"
device v1 "$sim_port" 1 1000 ', "community": "public"' '
 {"metric":"sim.v1.p1","oid":"'$E'.10.1.0"},
 {"metric":"sim.v1.missing","oid":"'$E'.20.99.0"},
 {"metric":"sim.v1.p2","oid":"'$E'.10.2.0"},
 {"metric":"sim.v1.outlet{index}_w","walk":"'$E'.32.1"}'
device v3ctx "$sim_port" 3 1000 ', "user": "simuser", "level": "authPriv", "auth_protocol": "SHA",
  "auth_password": "sim-auth-secret", "priv_protocol": "AES", "priv_password": "sim-priv-secret",
  "context": "public"' '
 {"metric":"sim.v3.p1","oid":"'$E'.10.1.0"}, {"metric":"sim.v3.counter64","oid":"'$E'.20.11.0"}'
device slow "$sim_port" 2c 1000 ', "community": "slow"' '{"metric":"sim.slow.value","oid":"'$E'.50.1.0"}'
device impatient "$sim_port" 2c 150 ', "community": "slow"' '{"metric":"sim.slow.value","oid":"'$E'.50.1.0"}'

# The example config, pointed at the simulator: same points, v2c.
/usr/bin/python3 - "$ROOT/etc/ups-snmp.json" "$TMP" "$sim_port" <<'PY'
import json, re, sys
text = re.sub(r"^\s*//.*$", "", open(sys.argv[1]).read(), flags=re.M)
for dev in json.loads(text)["snmp"]:
    dev.update(host="127.0.0.1", port=int(sys.argv[3]), version="2c", community="public")
    json.dump(dev, open("%s/example-%s.json" % (sys.argv[2], dev["name"]), "w"))
PY
"$TMP/snmp_read" -n 3 -i 700 "$TMP/bulk.json" "$TMP/v1.json" "$TMP/v3ctx.json" \
    "$TMP/example-ups-a.json" "$TMP/example-pdu1-sensors.json" > "$TMP/main.out" 2>&1
"$TMP/snmp_read" -n 2 -i 500 "$TMP/small.json" > "$TMP/small.out" 2>&1
"$TMP/snmp_read" -n 1 "$TMP/slow.json" > "$TMP/slow.out" 2>&1
"$TMP/snmp_read" -n 1 "$TMP/impatient.json" > "$TMP/impatient.out" 2>&1

/usr/bin/python3 - "$TMP" <<'PY'
import math, sys
tmp = sys.argv[1]
fails = 0
def check(name, cond, why=""):
    global fails
    print(("ok - %s" % name) if cond else ("not ok - %s: %s" % (name, why)))
    fails += 0 if cond else 1

def parse(path):
    polls, cur = {}, None
    for line in open(path):
        parts = line.rstrip("\n").split(" ", 3)
        if len(parts) >= 3 and parts[1] == "poll":
            f = dict(p.split("=", 1) for p in line.split(" err=")[0].split()[3:])
            cur = polls[(parts[0], int(parts[2]))] = {
                "rc": int(f["rc"]), "start": int(f["start_ms"]), "dur": int(f["dur_ms"]),
                "mono": tuple(int(x) for x in f["mono_us"].split(",")),
                "err": line.split(" err=", 1)[1].strip() if " err=" in line else "", "v": {}}
        elif cur is not None and len(parts) >= 3:
            rest = line.rstrip("\n").split(" ", 2)
            cur["v"][rest[1]] = ("ERROR", rest[2][6:]) if rest[2].startswith("ERROR ") else float(rest[2])
    return polls

relay = [int(x) for x in open(f"{tmp}/relay.log")]
def pdus(p):
    return sum(1 for t in relay if p["mono"][0] <= t <= p["mono"][1])

main = parse(f"{tmp}/main.out")
bulk = [main.get(("bulk", k)) for k in range(3)]
check("bulk device polled 3 times without device error",
      all(p and p["rc"] == 0 for p in bulk), str([p and p["err"] for p in bulk]))
bulk = [p for p in bulk if p]
wrong = [(k, i, p["v"].get("sim.bulk.p%d" % i)) for k, p in enumerate(bulk) for i in range(1, 81)
         if p["v"].get("sim.bulk.p%d" % i) != i * 3]
check("v2c GET of 80 OIDs reads every value exactly", not wrong, str(wrong[:5]))

want = {"sim.type.integer": -42.0, "sim.type.gauge32": 4000000000.0, "sim.type.unsigned32": 7.0,
        "sim.type.counter32": 4294967295.0, "sim.type.counter64_big": 9007199254740992.0,
        "sim.type.counter64": 123456789012345.0, "sim.type.timeticks_s": 8640000 * 0.01,
        "sim.type.string_c": 23.5 * 2 + 1, "sim.type.string_nul": 23.5,
        "sim.type.string_na": ("ERROR", 'OCTET STRING "n/a" is not a number'),
        "sim.type.ipaddress": ("ERROR", "IpAddress is not a number"),
        "sim.type.missing": ("ERROR", "noSuchInstance")}
for metric, value in want.items():
    got = [p["v"].get(metric) for p in bulk]
    check("value type %s -> %r" % (metric.split(".")[-1], value), all(g == value for g in got), str(got))

rows = {"sim.outlet%d_w" % i: i * 100 * 0.5 for i in range(1, 61)}
got = {m: v for m, v in bulk[0]["v"].items() if m.startswith("sim.outlet")}
check("GETBULK walk of a 60-row table gives every row with {index} and scale", got == rows,
      "%d rows, first diffs %s" % (len(got), [m for m in rows if got.get(m) != rows[m]][:3]))
got = {m: v for m, v in bulk[0]["v"].items() if m.startswith("sim.sensor")}
check("two-part table index becomes one metric segment (1.2 -> 1_2)",
      got == {"sim.sensor1_1_c": 11.0, "sim.sensor1_2_c": 12.0, "sim.sensor2_1_c": 21.0}, str(got))

counts = [pdus(p) for p in bulk]
print("# PDUs per poll, 91 GET points + 60-row and 3-row walks: %s" % counts)
# The first walk of a table reads 25 rows a request; later ones know its
# size and ask for all of it plus one row, to see its end, at once.
check("91 GET points in 2 PDUs and walks in 3+1 GETBULKs, then 1+1 once the tables' sizes are "
      "known: 6, 4, 4 PDUs per poll", counts == [6, 4, 4], str(counts))

v1 = [main.get(("v1", k)) for k in range(3)]
check("SNMPv1 device answers", all(p and p["rc"] == 0 for p in v1), str([p and p["err"] for p in v1]))
if all(v1):
    check("SNMPv1 noSuchName fails only that point; the others are read",
          all(p["v"].get("sim.v1.missing") == ("ERROR", "(noSuchName) There is no such variable name in this MIB.")
              and p["v"].get("sim.v1.p1") == 3 and p["v"].get("sim.v1.p2") == 6 for p in v1),
          str(v1[0]["v"].get("sim.v1.missing")))
    got = {m: v for m, v in v1[0]["v"].items() if m.startswith("sim.v1.outlet")}
    check("SNMPv1 walk with GETNEXT reads all 60 rows",
          got == {"sim.v1.outlet%d_w" % i: i * 100.0 for i in range(1, 61)}, "%d rows" % len(got))

v3 = [main.get(("v3ctx", k)) for k in range(3)]
check("SNMPv3 authPriv SHA/AES with context \"public\" reads exact values",
      all(p and p["rc"] == 0 and p["v"] == {"sim.v3.p1": 3.0, "sim.v3.counter64": 123456789012345.0}
          for p in v3), str([p and (p["err"], p["v"]) for p in v3]))

ups = main.get(("ups-a", 0))
want = {"power.ups_a.battery_status": 2.0, "power.ups_a.on_battery_s": 0.0,
        "power.ups_a.runtime_min": 42.0, "power.ups_a.battery_pct": 100.0,
        "power.ups_a.battery_temp_c": 24.0, "power.ups_a.output_source": 3.0, "power.ups_a.alarms": 0.0}
for line, (v, hz, w, ow, load) in enumerate(((230, 500, 12000, 10000, 35), (231, 500, 11500, 9500, 33),
                                             (229, 499, 11800, 9800, 34)), 1):
    want.update({"power.ups_a.input%d_v" % line: float(v), "power.ups_a.input%d_hz" % line: hz * 0.1,
                 "power.ups_a.input%d_kw" % line: w * 0.001, "power.ups_a.output%d_kw" % line: ow * 0.001,
                 "power.ups_a.output%d_load_pct" % line: float(load)})
check("example etc/ups-snmp.json reads a simulated 3-phase UPS-MIB UPS",
      ups and ups["rc"] == 0 and ups["v"] == want,
      ups and str({k: (ups["v"].get(k), want.get(k)) for k in set(ups["v"]) | set(want)
                   if ups["v"].get(k) != want.get(k)}))
pdu = main.get(("pdu1-sensors", 0))
want = {"room.row1.inlet_c": 235 * 0.1, "room.row1.humidity_pct": 41.0, "power.pdu1.inlet_kw": 3400 * 0.001,
        "power.pdu1.inlet_a": 14500 * 0.001, "power.pdu1.sensor1001_status": 1.0,
        "power.pdu1.sensor1002_status": 1.0, "power.pdu1.sensor2001_status": 1.0,
        "power.pdu1.sensor2002_status": 2.0}
check("example etc/ups-snmp.json reads simulated ENTITY-SENSOR-MIB sensors with scale/precision",
      pdu and pdu["rc"] == 0 and pdu["v"] == want, str(pdu and pdu["v"]))

small = parse(f"{tmp}/small.out")
sp = [small.get(("small", k)) for k in range(2)]
check("agent limited to 20 varbinds: all 80 values read", all(
    p and p["rc"] == 0 and all(p["v"].get("sim.bulk.p%d" % i) == i * 3 for i in range(1, 81)) for p in sp),
    str([p and (p["err"], len(p["v"])) for p in sp]))
if all(sp):
    counts = [pdus(p) for p in sp]
    print("# PDUs per poll against the 20-varbind agent: %s (60 tooBig, 30 tooBig, 6 x 15)" % counts)
    check("tooBig halves the batch (60, 30, 15) and the next poll starts at 15: 8 then 6 PDUs",
          counts == [8, 6], str(counts))

slow = parse(f"{tmp}/slow.out").get(("slow", 0))
check("a slow agent (400 ms) within the 1 s timeout is read",
      slow and slow["rc"] == 0 and slow["v"] == {"sim.slow.value": 7.0} and slow["dur"] >= 380,
      str(slow))
imp = parse(f"{tmp}/impatient.out").get(("impatient", 0))
check("an agent slower than timeout x tries fails the poll with a timeout message",
      imp and imp["rc"] == -1 and "no response from 127.0.0.1:" in imp["err"]
      and "150 ms x 2 tries" in imp["err"], str(imp))
check("the failed poll returns within timeout x tries + 100 ms",
      imp and 290 <= imp["dur"] <= 400, str(imp and imp["dur"]))
for out in ("main", "small", "slow", "impatient"):
    text = open(f"{tmp}/{out}.out").read()
    check("no secret in the output of %s" % out,
          all(s not in text for s in ("sim-auth-secret", "sim-priv-secret", "public")), "")
    check("no sanitizer report in the output of %s" % out,
          "Sanitizer" not in text and "runtime error" not in text, text[-300:])
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || FAILS=$((FAILS + 1))
finish
