#!/bin/bash
# make demo (etc/demo/run.sh), run as a new user would, on free ports in
# its own directories (DEMO_DIR, DEMO_*_PORT): a second demo while one runs
# is refused with a clear message and leaves the running demo's database
# alone (same directory: the lock; other directory, same ports: the port
# check comes before anything is deleted); without a terminal the demo
# runs until the story has been told (the chiller trip and the decision),
# not 30 s; on a terminal it redraws every 2 s; SIGTERM stops it at once.
. "$(dirname "$0")/lib/common.sh"
demo=etc/demo/run.sh

# demo_env NAME: a directory and four free ports for one demo.
demo_env() {
    echo "DEMO_DIR=$TMP/$1 DEMO_MODBUS_PORT=$(free_port) DEMO_AGENT_PORT=$(free_port)" \
        "DEMO_SIM_PORT=$(free_port) DEMO_SNMP_PORT=$(free_port udp)"
}
env_get() { # env_get "ENV" KEY
    local kv
    for kv in $1; do [ "${kv%%=*}" = "$2" ] && echo "${kv#*=}"; done
}
samples() { sqlite3 "$1" 'SELECT count(*) FROM sample' 2>/dev/null || echo 0; }

# ---- one demo, and a second one beside it ----
env1=$(demo_env d1)
agent1=http://127.0.0.1:$(env_get "$env1" DEMO_AGENT_PORT)
db1=$TMP/d1/lulea.db
# 8x faster: chiller 2 trips 15 s in, the policy fires 30 s later.
bg env $env1 DEMO_SPEEDUP=8 "$demo" "$BUILD" >"$TMP/d1.out" 2>&1 </dev/null
demo1=$BG_PID
start1=$(date +%s)
check "demo 1 starts its agent on the ports it was given" wait_http "$agent1/healthz" 30
for _ in $(seq 30); do [ "$(samples "$db1")" -gt 0 ] && break; sleep 0.5; done
inode1=$(stat -c %i "$db1" 2>/dev/null)
count1=$(samples "$db1")
check "demo 1 writes history to its database ($count1 samples)" test "$count1" -gt 0

env $env1 DEMO_SECONDS=5 "$demo" "$BUILD" >"$TMP/d2.out" 2>&1 </dev/null
rc=$?
check "a second demo in the same directory is refused: exit $rc, '$(head -1 "$TMP/d2.out")'" \
    sh -c "[ $rc != 0 ] && grep -q 'another demo (pid $demo1) is running with $TMP/d1; its database is in use' '$TMP/d2.out'"
check "... and demo 1's database is the same file, not emptied" \
    sh -c "[ '$(stat -c %i "$db1" 2>/dev/null)' = '$inode1' ] && [ \$(sqlite3 '$db1' 'SELECT count(*) FROM sample') -ge $count1 ]"

# Same ports, another directory holding an older database: refused on the
# ports, before that database is touched.
mkdir -p "$TMP/d3"
echo "older demo database" >"$TMP/d3/lulea.db"
env3=$(echo "$env1" | sed "s|$TMP/d1|$TMP/d3|")
env $env3 DEMO_SECONDS=5 "$demo" "$BUILD" >"$TMP/d3.out" 2>&1 </dev/null
rc=$?
check "a second demo on ports in use is refused: exit $rc, '$(head -1 "$TMP/d3.out")'" \
    sh -c "[ $rc != 0 ] && grep -q 'already in use' '$TMP/d3.out' && grep -q 'nothing was changed' '$TMP/d3.out'"
check "... before deleting anything in its directory" grep -qx "older demo database" "$TMP/d3/lulea.db"

sleep 11 # history is written every 10 s
check "demo 1 is still running, its database still growing ($count1 -> $(samples "$db1") samples)" \
    sh -c "kill -0 $demo1 && [ \$(sqlite3 '$db1' 'SELECT count(*) FROM sample') -gt $count1 ]"

# ---- without a terminal: until the decision, not 30 s ----
for _ in $(seq 240); do kill -0 "$demo1" 2>/dev/null || break; sleep 0.5; done
wait "$demo1"
rc=$?
ran=$(( $(date +%s) - start1 ))
check "demo 1 stops by itself after the story (exit $rc, after ${ran}s)" \
    sh -c "[ $rc = 0 ] && ! kill -0 $demo1 2>/dev/null && [ $ran -gt 40 ]"
check "its last screen shows the alarm, its description and the decision" \
    sh -c "grep -q '^FIRING  cooling-shortfall: critical, observe, since' '$TMP/d1.out' && grep -q '^  Cooling can no longer carry the IT load$' '$TMP/d1.out' && grep -qE '^  decision #1 [0-9:]+: shed, observed, need 130 kW' '$TMP/d1.out'"
check "it says where the logs are" grep -q "^logs: $TMP/d1/sim.log $TMP/d1/agent.log$" "$TMP/d1.out"
env $env1 DEMO_SECONDS=1 "$demo" "$BUILD" >"$TMP/d1b.out" 2>&1 </dev/null
check "once demo 1 has ended, a demo in its directory starts again" test $? = 0

# ---- on a terminal: every 2 s; SIGTERM stops it at once ----
env4=$(demo_env d4)
bg script -qfec "env $env4 $demo $BUILD" "$TMP/d4.typescript" >/dev/null 2>&1 </dev/null
check "demo 4 (on a terminal) starts" wait_http "http://127.0.0.1:$(env_get "$env4" DEMO_AGENT_PORT)/healthz" 30
sleep 10.5
screens=$(grep -c 'floe demo, .* Ctrl-C stops' "$TMP/d4.typescript")
check "on a terminal the screen is redrawn every 2 s ($screens screens in about 10 s)" \
    test "$screens" -ge 4
pid4=$(cat "$TMP/d4/demo.pid")
t0=$(date +%s%N)
kill -TERM "$pid4"
for _ in $(seq 50); do kill -0 "$pid4" 2>/dev/null || break; sleep 0.1; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM stops the demo within 3 s (${ms} ms), agent and simulator with it" \
    sh -c "! kill -0 $pid4 2>/dev/null && [ $ms -lt 3000 ] && ! curl -s -o /dev/null http://127.0.0.1:$(env_get "$env4" DEMO_AGENT_PORT)/healthz"
finish
