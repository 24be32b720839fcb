#!/bin/bash
# The store survives kill -9 of the agent while it writes: after each
# kill the database passes integrity_check, samples seen committed before
# the kill are still there, and the restarted agent goes on writing. A run
# killed a moment after start has already committed its first samples.
. "$(dirname "$0")/lib/common.sh"
LIB=$(cd "$(dirname "$0")/lib" && pwd)

mb_port=$(free_port); http_port=$(free_port)
echo '{ "unit": 1, "holding": { "0": 1, "1": 2, "2": 3 } }' > "$TMP/spec.json"
bg /usr/bin/python3 "$LIB/modbus_server.py" "$mb_port" "$TMP/spec.json"
# The agent's first polls must find the server up, or the short runs
# below see only failed reads.
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mb_port") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$mb_port") 2>/dev/null || { not_ok "the Modbus test server did not start"; finish; }

points=""
for i in $(seq 0 59); do
    points="$points${points:+,} { \"metric\": \"it.rack$i.load_kw\", \"table\": \"holding\", \"address\": $((i % 3)) }"
done
cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-crash" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "modbus": [ { "name": "racks", "host": "127.0.0.1", "port": $mb_port, "interval": "100ms", "points": [ $points ] } ] }
JSON

# Good raw samples only: a failed read is stored too, and a test whose
# Modbus server died must not pass on failed reads. (Compaction moves
# samples from the log into chunks; both are counted.)
count() { /usr/bin/python3 "$LIB/store_good.py" "$TMP/floe.db" 2>/dev/null | tail -1; }

# A crash loop (systemd restarts the agent 5 s after each crash) keeps
# history: each short run's first samples are committed at once, not after
# the first commit interval it never lives to see.
for run in 1 2; do
    before=0
    [ -f "$TMP/floe.db" ] && before=$(count)
    "$BUILD/floe" agent -c "$TMP/floe.json" 2>>"$TMP/agent.log" &
    agent=$!
    PIDS+=("$agent")
    wait_http "http://127.0.0.1:$http_port/healthz" 10 || not_ok "crash loop run $run: agent did not start"
    sleep 1.5
    kill -9 "$agent"; wait "$agent" 2>/dev/null
    after=$(count)
    check "crash loop run $run: a run killed 1.5 s after it answered kept samples (${before:-0} before, $after after)" \
        test "${after:-0}" -gt "${before:-0}"
done
for round in 1 2 3; do
    "$BUILD/floe" agent -c "$TMP/floe.json" 2>>"$TMP/agent.log" &
    agent=$!
    PIDS+=("$agent")
    wait_http "http://127.0.0.1:$http_port/healthz" 10 || not_ok "round $round: agent did not start"
    # The recorder commits every 5 s: wait for this run's first commit,
    # then kill at a random point of the next cycle.
    start_count=$(count)
    for _ in $(seq 150); do [ "$(count)" != "$start_count" ] && break; sleep 0.1; done
    sleep $((RANDOM % 9)).$((RANDOM % 10))
    before=$(count)
    kill -9 "$agent"; wait "$agent" 2>/dev/null
    integrity=$(sqlite3 "$TMP/floe.db" 'PRAGMA integrity_check;')
    after=$(count)
    check "round $round: integrity_check ok after kill -9 ($integrity)" test "$integrity" = ok
    check "round $round: samples committed before the kill are kept ($before before, $after after)" \
        test "${after:-0}" -ge "${before:-1}" -a "${before:-0}" -gt 0
done
finish
