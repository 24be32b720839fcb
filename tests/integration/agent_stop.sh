#!/bin/bash
# The agent stopped (SIGTERM) at random moments while five devices are
# polled every 20 ms and a policy runs: each stop exits 0, and under the
# ASan + UBSan build (tests/run.sh runs it there too) no sanitizer report
# appears. A poll that ended while the evaluator was being freed used it
# after free (the pollers stopped after it); 1 stop in 25 hit it.
. "$(dirname "$0")/lib/common.sh"
LIB=$(cd "$(dirname "$0")/lib" && pwd)

mb_port=$(free_port); http_port=$(free_port)
cat > "$TMP/spec.json" <<JSON
{ "unit": 1, "holding": { "100": 17142, "101": 59769 } }
JSON
bg /usr/bin/python3 "$LIB/modbus_server.py" "$mb_port" "$TMP/spec.json" >"$TMP/modbus.log" 2>&1

devices=""
for i in 1 2 3 4 5; do
    devices="$devices${devices:+,}
    { \"name\": \"d$i\", \"host\": \"127.0.0.1\", \"port\": $mb_port, \"interval\": \"20ms\",
      \"timeout\": \"1s\", \"points\": [ { \"metric\": \"cooling.chiller$i.capacity_kw\",
      \"table\": \"holding\", \"address\": 100, \"type\": \"float32\" } ] }"
done
cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-stop" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "modbus": [ $devices ],
  "policies": [ { "name": "cold", "when": "cooling.chiller1.capacity_kw < 10" } ] }
JSON

wait_tcp() { # port
    local i
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
wait_tcp "$mb_port" || { not_ok "the Modbus server listens"; finish; }

bad_exit=0 reports=0 runs=20
for ((r = 1; r <= runs; r++)); do
    "$BUILD/floe" agent -c "$TMP/floe.json" >"$TMP/agent-$r.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$http_port/healthz" 20 >/dev/null
    sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" = 0 ] || { bad_exit=$((bad_exit + 1)); echo "# run $r: exit $rc"; }
    if grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer' "$TMP/agent-$r.log"; then
        reports=$((reports + 1))
        grep -m1 -A8 'AddressSanitizer\|runtime error\|LeakSanitizer' "$TMP/agent-$r.log" | sed 's/^/# /'
    fi
done
check "$runs stops while polls end every few ms: each exits 0" test "$bad_exit" = 0
check "no sanitizer report in any of the $runs runs" test "$reports" = 0
finish
