#!/bin/bash
# make demo (etc/demo/run.sh) run as a new user would, on free ports in
# its own directories (DEMO_DIR, DEMO_*_PORT):
#   * DEMO_UNATTENDED=1 tells the whole story and exits 0 within 5
#     minutes; its report has every step, each stateful
#     migration with no write lost both ways, the room's peak below the
#     policy's limit while the shadow site (no floe) passed it; its
#     timeline and report fit 80 columns; once it has exited nothing it
#     started runs (the lock, which each of them holds, is free);
#   * a second demo while one runs is refused with a clear message and
#     leaves the running demo's files alone (same directory: the lock;
#     other directory, same ports: the port check comes before anything is
#     deleted);
#   * SIGTERM stops a demo and everything it started within seconds.
# The first demo's output is kept in this test's log (lines "# ...").
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/pdns.sh"
demo=$ROOT/etc/demo/run.sh

# demo_env NAME: a directory and eight free ports for one demo.
demo_env() {
    echo "DEMO_DIR=$TMP/$1 DEMO_LULEA_PORT=$(free_port) DEMO_FALKENBERG_PORT=$(free_port)" \
        "DEMO_LULEA_SIM_PORT=$(free_port) DEMO_FALKENBERG_SIM_PORT=$(free_port)" \
        "DEMO_LULEA_MODBUS_PORT=$(free_port) DEMO_FALKENBERG_MODBUS_PORT=$(free_port)" \
        "DEMO_DNS_PORT=$(pdns_free_dns_port) DEMO_PDNS_API_PORT=$(free_port)"
}
env_get() { # env_get "ENV" KEY
    local kv
    for kv in $1; do [ "${kv%%=*}" = "$2" ] && echo "${kv#*=}"; done
}
lock_free() { flock -n "$1/demo.lock" true; }

# ---- the story, unattended ----
env1=$(demo_env d1)
agent1=http://127.0.0.1:$(env_get "$env1" DEMO_LULEA_PORT)
start1=$(date +%s)
bg env $env1 DEMO_UNATTENDED=1 "$demo" "$BUILD" >"$TMP/d1.out" 2>&1 </dev/null
demo1=$BG_PID
check "demo 1 starts lulea-1's agent on the port it was given" wait_http "$agent1/healthz" 30
inode1=$(stat -c %i "$TMP/d1/lulea-1.db" 2>/dev/null)

env $env1 "$demo" "$BUILD" >"$TMP/d2.out" 2>&1 </dev/null
rc=$?
check "a second demo in the same directory is refused: exit $rc, '$(head -1 "$TMP/d2.out")'" \
    sh -c "[ $rc != 0 ] && grep -q 'another demo (pid $demo1) is running with $TMP/d1; its database is in use' '$TMP/d2.out'"
check "... and demo 1's database is the same file" test "$(stat -c %i "$TMP/d1/lulea-1.db" 2>/dev/null)" = "$inode1"

# Same ports, another directory holding an older database: refused on the
# ports, before that database is touched.
mkdir -p "$TMP/d3"
echo "older demo database" >"$TMP/d3/lulea-1.db"
env3=$(echo "$env1" | sed "s|$TMP/d1|$TMP/d3|")
env $env3 "$demo" "$BUILD" >"$TMP/d3.out" 2>&1 </dev/null
rc=$?
check "a second demo on ports in use is refused: exit $rc, '$(head -1 "$TMP/d3.out")'" \
    sh -c "[ $rc != 0 ] && grep -q 'already in use' '$TMP/d3.out' && grep -q 'nothing was changed' '$TMP/d3.out'"
check "... before deleting anything in its directory" grep -qx "older demo database" "$TMP/d3/lulea-1.db"

for _ in $(seq 600); do kill -0 "$demo1" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$demo1" 2>/dev/null; then   # stuck: stop it, and fail below
    kill -TERM "$demo1" 2>/dev/null; sleep 5; kill -KILL "$demo1" 2>/dev/null
fi
wait "$demo1"
rc=$?
took=$(($(date +%s) - start1))
sed 's/^/# /' "$TMP/d1.out"
check "DEMO_UNATTENDED=1: the demo exits 0 after ${took} s (under 5 minutes)" \
    sh -c "[ $rc = 0 ] && [ $took -lt 300 ]"
check "... and nothing it started still runs (its lock is free)" lock_free "$TMP/d1"
check "... nor answers on its ports" sh -c "! curl -s -o /dev/null $agent1/healthz"
check "it says where its report is" grep -q "the report in $TMP/d1/report.txt" "$TMP/d1.out"

# The report: every step, the data versions, the room.
/usr/bin/python3 - "$TMP/d1/report.txt" "$TMP/d1.out" "$TMP/d1" <<'PY' | tee "$TMP/checks.out"
import re, sys
report, out, d = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
flat = " ".join(report.split())  # the report's words, whatever its line breaks
def check(name, cond):
    print(("ok - " if cond else "not ok - ") + name)
steps = ["lulea-1's chiller2 trips", "cooling-shortfall fires at lulea-1",
         "workloads chosen and reserved at falkenberg-1", "migrated to falkenberg-1: 1 stateless, 2 stateful",
         "DNS answers falkenberg-1 for all three", "no write lost on the way out",
         "room inlet stayed below the limit", "lulea-1's room back at its setpoint",
         "cooling-shortfall clears at lulea-1", "without floe the room would have passed the limit",
         "chiller2 repaired, lulea-1 accepts work again", "night: overnight-rebalance fires at falkenberg-1"]
home = ["workloads fail back to lulea-1", "DNS answers lulea-1 again", "no write lost on the way home"]
result = {m.group(2): m.group(1) for m in re.finditer(r"^  (ok|FAILED|not reached) +(.+?)(?: +\d+:\d\d)?$",
                                                       report, re.M)}
for s in steps:
    check(f"report: {s}: {result.get(s, 'missing')}", result.get(s) == "ok")
for s in home:
    check(f"report: {s}: {result.get(s, 'missing')}", result.get(s) == "ok")
lost = re.findall(r"writes stopped at (\d+), final backup holds (\d+), \S+ restored (\d+) \(writes on: (\d+)\): "
                  r"no write lost", flat)
legs = 2
check(f"report: each stateful migration's versions agree, {legs} way(s): {lost}",
      len(lost) == 2 * legs and all(a == b == c and int(n) >= int(c) for a, b, c, n in lost)
      and "WRITES LOST" not in report)
peak = re.search(r"peak ([\d.]+) °C at [\d:]+: limit ([\d.]+) °C \(room-inlet-high: never fired\)", flat)
shadow = re.search(r"nobody moving load\): ([\d.]+) °C", flat)
check(f"report: the room's peak {peak and peak.group(1)} °C is below the limit {peak and peak.group(2)} °C, "
      f"which the shadow site (no floe) passed ({shadow and shadow.group(1)} °C)",
      peak and shadow and float(peak.group(1)) < float(peak.group(2)) < float(shadow.group(1)))
check("report: decisions with their reasons (placed 120 kW of 95 kW needed)",
      re.search(r"lulea-1 #1 [\d:]+ cooling-shortfall \(shed\): placed, need 95 kW, placed 120 kW", flat)
      and "- placed 120 kW of 95 kW needed: web -> falkenberg-1" in flat)
check("report: each migration's phases and downtime, measured and estimated",
      len(re.findall(r"reserved [\d:]+, precopy [\d:]+, ", flat)) >= 3
      and len(re.findall(r"downtime [\d.]+s, x30 = \S+ on the site's clock; estimated \S+", flat)) >= 2)
timeline = [l for l in out.splitlines() if re.match(r" *\d+:\d\d (demo|dig|lulea-1|falkenberg-1) ", l)]
kinds = {k: sum(1 for l in timeline if k in l) for k in ("policy cooling-shortfall: pending -> firing",
         "decision 1 cooling-shortfall: placed", ": switchover: ", " dig ", " room ")}
check(f"the timeline has policy states, decisions, phases, DNS answers, the room ({kinds})",
      all(kinds.values()))
wide = [l for l in out.splitlines() if len(l) > 80 and d not in l]
check(f"every line fits 80 columns ({len(wide)} do not{': ' + wide[0] if wide else ''})", not wide)
PY
py_rc=${PIPESTATUS[0]}
FAILS=$((FAILS + $(grep -c '^not ok' "$TMP/checks.out")))
check "the report could be read (its checker exited $py_rc)" [ "$py_rc" = 0 ]

# ---- SIGTERM stops a demo, and everything it started, at once ----
env4=$(demo_env d4)
bg env $env4 "$demo" "$BUILD" >"$TMP/d4.out" 2>&1 </dev/null
demo4=$BG_PID
check "demo 4 starts" wait_http "http://127.0.0.1:$(env_get "$env4" DEMO_FALKENBERG_PORT)/healthz" 30
for _ in $(seq 100); do grep -q 'chiller2 trips' "$TMP/d4.out" && break; sleep 0.1; done
t0=$(date +%s%N)
kill -TERM "$demo4"
for _ in $(seq 100); do lock_free "$TMP/d4" && ! kill -0 "$demo4" 2>/dev/null && break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
check "SIGTERM stops the demo and every process it started within 5 s (${ms} ms)" \
    sh -c "! kill -0 $demo4 2>/dev/null && flock -n '$TMP/d4/demo.lock' true && [ $ms -lt 5000 ]"
finish
