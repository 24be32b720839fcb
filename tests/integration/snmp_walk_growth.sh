#!/bin/bash
# A walked table of exactly 100 rows from Net-SNMP's snmpd, which returns at
# most 100 varbinds per GETBULK (maxGetbulkResponses): seeing the table's
# end takes a request of its own, so the collector reads the 100 rows in
# one GETBULK per poll and looks past the end only every walk_growth_check
# (here 2 s). PDUs per poll are counted on the wire by a UDP relay, which
# also switches, in the middle of the run, to a second snmpd that has two
# more rows: they must appear within walk_growth_check + two intervals,
# and every row must read its exact value throughout. With
# walk_growth_check 0 the end is seen on every poll (two PDUs each).
# Drives collectors/snmp_collector.c through tests/integration/snmp_read.c.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

SNMPD=$(command -v snmpd || echo /usr/sbin/snmpd)
[ -x "$SNMPD" ] || { not_ok "snmpd is installed (Debian package snmpd)"; finish; }

san=()
nm "$BUILD/libfloe.a" 2>/dev/null | grep -q __asan_ && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2046
if ! cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${san[@]}" -I. \
        tests/integration/snmp_read.c "$BUILD/libfloe.a" \
        $(pkg-config --cflags --libs netsnmp libcjson) -lpthread -lm -o "$TMP/snmp_read"; then
    not_ok "snmp_read builds against $BUILD/libfloe.a"; finish
fi

E=.1.3.6.1.4.1.99999
small_port=$(free_port udp); big_port=$(free_port udp); relay_port=$(free_port udp)
agent() { # name port rows
    mkdir -p "$TMP/$1-state"
    {
        echo "agentAddress udp:127.0.0.1:$2"
        echo "rocommunity floe-ro 127.0.0.1"
        for ((i = 1; i <= $3; i++)); do echo "override $E.31.1.1.$i integer $((1000 + i))"; done
    } > "$TMP/$1.conf"
    SNMP_PERSISTENT_DIR="$TMP/$1-state" bg "$SNMPD" -f -Lo -C -c "$TMP/$1.conf" -I -smux \
        -M /dev/null -m "" >"$TMP/$1.log" 2>&1
}
agent small "$small_port" 100
agent big "$big_port" 102

# The relay: records when each request passed (CLOCK_MONOTONIC, like
# snmp_read's mono_us) and sends it to the small agent, or to the big one
# once the file "switch" exists (the time it saw it is logged too).
cat > "$TMP/relay.py" <<'PY'
import os, selectors, socket, sys, time
listen_port, small, big, log, flag = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), \
    open(sys.argv[4], "w"), sys.argv[5]
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(("127.0.0.1", listen_port))
backs = {}
sel = selectors.DefaultSelector()
sel.register(front, selectors.EVENT_READ, None)
switched = False
while True:
    for key, _ in sel.select():
        if key.data is None:
            data, client = front.recvfrom(65535)
            now = int(time.monotonic() * 1e6)
            if not switched and os.path.exists(flag):
                switched = True
                log.write("switch %d\n" % now)
            log.write("%d\n" % now); log.flush()
            port = big if switched else small
            if (client, port) not in backs:
                b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                b.connect(("127.0.0.1", port))
                backs[(client, port)] = b
                sel.register(b, selectors.EVENT_READ, client)
            backs[(client, port)].send(data)
        else:
            front.sendto(key.fileobj.recv(65535), key.data)
PY
bg /usr/bin/python3 "$TMP/relay.py" "$relay_port" "$small_port" "$big_port" "$TMP/relay.log" \
    "$TMP/switch"

device() { # name port growth_check_ms
    cat > "$TMP/$1.json" <<JSON
{ "name": "$1", "host": "127.0.0.1", "port": $2, "version": "2c", "community": "floe-ro",
  "timeout_ms": 500, "retries": 1, "walk_growth_check_ms": $3,
  "points": [ { "metric": "pdu.outlet{index}", "walk": "$E.31.1.1" } ] }
JSON
}
device ping "$small_port" 60000
device ping_big "$big_port" 60000
device grow "$relay_port" 2000
device every "$relay_port" 0

for name in ping ping_big; do
    ready=no
    for _ in $(seq 1 50); do
        if "$TMP/snmp_read" "$TMP/$name.json" | grep -q '^[a-z_]* pdu.outlet100 1100$'; then
            ready=yes; break
        fi
        sleep 0.1
    done
    [ $ready = yes ] || { not_ok "snmpd ($name) answers"; cat "$TMP"/*.log; finish; }
done

# The end seen on every poll (walk_growth_check 0), through the relay.
"$TMP/snmp_read" -n 4 -i 300 "$TMP/every.json" > "$TMP/every.out" 2>&1
# 16 polls 400 ms apart (6.4 s); the big agent takes over after 2.6 s.
"$TMP/snmp_read" -n 16 -i 400 "$TMP/grow.json" > "$TMP/grow.out" 2>&1 &
reader=$!
sleep 2.6
touch "$TMP/switch"
wait $reader

/usr/bin/python3 - "$TMP" <<'PY'
import sys
tmp = sys.argv[1]
fails = 0
def check(name, cond, why=""):
    global fails
    print(("ok - %s" % name) if cond else ("not ok - %s: %s" % (name, why)))
    fails += 0 if cond else 1

def parse(path):
    polls, cur = [], None
    for line in open(path):
        parts = line.rstrip("\n").split(" ", 3)
        if len(parts) >= 3 and parts[1] == "poll":
            f = dict(p.split("=", 1) for p in line.split(" err=")[0].split()[3:])
            cur = {"rc": int(f["rc"]), "mono": tuple(int(x) for x in f["mono_us"].split(",")),
                   "err": line.split(" err=", 1)[1].strip() if " err=" in line else "", "v": {}}
            polls.append(cur)
        elif cur is not None and len(parts) >= 3:
            rest = line.rstrip("\n").split(" ", 2)
            cur["v"][rest[1]] = rest[2] if rest[2].startswith("ERROR") else float(rest[2])
    return polls

relay, switch = [], None
for line in open(f"{tmp}/relay.log"):
    if line.startswith("switch "):
        switch = int(line.split()[1])
    else:
        relay.append(int(line))
def pdus(p):
    return sum(1 for t in relay if p["mono"][0] <= t <= p["mono"][1])

grow = parse(f"{tmp}/grow.out")
check("16 polls, none failed", len(grow) == 16 and all(p["rc"] == 0 for p in grow),
      str([(p["rc"], p["err"]) for p in grow]))
want = {"pdu.outlet%d" % i: 1000.0 + i for i in range(1, 101)}
bad = [k for k, p in enumerate(grow) if any(p["v"].get(m) != v for m, v in want.items())]
check("every poll reads rows 1..100 with their exact values", not bad, str(bad))
counts = [pdus(p) for p in grow]
print("# PDUs per poll: %s" % counts)
check("the first walk pages 25 rows at a time: 5 GETBULKs", counts[:1] == [5], str(counts))
check("the relay switched to the 102-row agent", switch is not None, "")
before = [c for p, c in zip(grow[1:], counts[1:]) if switch is not None and p["mono"][1] < switch]
check("before the switch, the 100 rows take one GETBULK a poll (two when it looks past the end)",
      len(before) >= 4 and before.count(1) >= len(before) - 2 and all(c <= 2 for c in before),
      str(counts))
check("and the end is looked past within walk_growth_check", 2 in counts[1:7], str(counts))
if switch is not None:
    seen = [p for p in grow if p["v"].get("pdu.outlet101") == 1101.0
            and p["v"].get("pdu.outlet102") == 1102.0]
    check("rows appended at the end appear", bool(seen), "")
    if seen:
        late_ms = (seen[0]["mono"][0] - switch) / 1000.0
        print("# rows 101 and 102 first read %.0f ms after the switch" % late_ms)
        check("within walk_growth_check (2 s) + 2 intervals of the switch", late_ms <= 2800,
              "%.0f ms" % late_ms)
        after = [p for p in grow if p["mono"][0] >= seen[0]["mono"][0]]
        check("and stay in every later poll",
              all(p["v"].get("pdu.outlet102") == 1102.0 for p in after), "")
        n_after = [pdus(p) for p in after[1:]]
        check("102 rows from an agent of 100 at most: 2 GETBULKs a poll",
              n_after and all(c == 2 for c in n_after), str(counts))

every = parse(f"{tmp}/every.out")
ok = len(every) == 4 and all(p["rc"] == 0 and p["v"].get("pdu.outlet100") == 1100.0 for p in every)
check("walk_growth_check 0: every poll reads all 100 rows", ok, str([p["err"] for p in every]))
ecounts = [pdus(p) for p in every]
print("# PDUs per poll with walk_growth_check 0: %s" % ecounts)
check("walk_growth_check 0: the end is seen on every poll (2 GETBULKs after the first walk)",
      ecounts == [5, 2, 2, 2], str(ecounts))
for out in ("grow", "every"):
    text = open(f"{tmp}/{out}.out").read()
    check("no sanitizer report in the output of %s" % out,
          "Sanitizer" not in text and "runtime error" not in text, text[-300:])
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || FAILS=$((FAILS + 1))
finish
