#!/bin/bash
# An idle agent sleeps until something is due, and a new value is decided
# on as soon as it is read (issue 11). One floe-sim Modbus device polled
# every 10 s, one policy that is not firing, no peers:
#   - over 10 s the whole process (every thread) wakes at most 5 times a
#     second (voluntary + involuntary context switches of every task in
#     /proc/PID/task) and uses at most 1 ms of CPU a second (the first
#     field of /proc/PID/task/*/schedstat, in ns: clock ticks of
#     /proc/PID/stat are too coarse for 2 ms over 10 s). The goal is 0.2
#     ms/s, measured on a quiet machine by `make bench` (0.12–0.18 here);
#     this test runs on CI machines of unknown speed and load, so it holds
#     the line 5 times above the goal, still far under the 3.4–5.6 ms/s
#     that waking every 50 ms cost;
#   - a value changed at the device just after a poll (the worst case: the
#     next poll is a whole interval away) is decided on within interval +
#     the policy's `for` + 1 s, measured from the change to the ts of
#     the decision in GET /v1/decisions (10.2–10.9 s here; the goal of
#     interval + for + 100 ms is judged by `make bench` on a quiet
#     machine). Waiting for the next policy tick instead (the 10 s
#     policy_tick) takes at least one more tick: 19.8 s before.
#   - SIGTERM still stops the agent promptly (its threads sleep until
#     their next deadline, up to minutes away).
. "$(dirname "$0")/lib/common.sh"

INTERVAL_MS=10000
FOR_MS=1000

bg "$BUILD/floe-sim" site -c sim/scenarios/lulea.json --modbus-port 0 --http-port 0 \
    --ports-file "$TMP/ports.json"
wait_file "$TMP/ports.json"
mb_port=$(json_get "$TMP/ports.json" 'd["modbus"]')
sim="http://127.0.0.1:$(json_get "$TMP/ports.json" 'd["http"]')"
http_port=$(free_port)
base="http://127.0.0.1:$http_port"

cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-idle" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "modbus": [ { "name": "sim", "host": "127.0.0.1", "port": $mb_port, "interval": "${INTERVAL_MS}ms",
      "points": [
        { "metric": "cooling.chiller1.available_kw", "table": "holding", "address": 102, "type": "float32", "unit": "kW" } ] } ],
  "policies": [
    { "name": "chiller1-lost", "when": "cooling.chiller1.available_kw < 50", "for": "${FOR_MS}ms",
      "severity": "warning", "mode": "observe", "action": { "type": "notify" } } ] }
JSON
"$BUILD/floe" agent -c "$TMP/floe.json" 2>>"$TMP/agent.log" &
agent=$!
PIDS+=("$agent")
wait_http "$base/healthz" 10 || not_ok "agent did not start"
# The first poll and the first samples written; then nothing but the
# 10 s rhythm should run.
for _ in $(seq 100); do grep -q "sim: modbus device answering" "$TMP/agent.log" && break; sleep 0.1; done
sleep 3

# Per task: context switches and CPU ns; summed over the tasks alive at
# both readings (a thread that came or went in between would be missed:
# none should, at idle).
sample() {
    local t
    for t in /proc/"$agent"/task/*; do
        echo "$(basename "$t") $(awk '/ctxt_switches/ { s += $2 } END { print s }' "$t/status") $(cut -d' ' -f1 "$t/schedstat")"
    done 2>/dev/null | sort
}
sample > "$TMP/before"
t0=$(date +%s.%N)
sleep 10
sample > "$TMP/after"
t1=$(date +%s.%N)
read -r wakeups cpu_ms < <(join "$TMP/before" "$TMP/after" | /usr/bin/python3 -c '
import sys
secs = float(sys.argv[2]) - float(sys.argv[1])
w = c = 0
for line in sys.stdin:
    _, s0, c0, s1, c1 = line.split()
    w += int(s1) - int(s0)
    c += int(c1) - int(c0)
print("%.2f %.4f" % (w / secs, c / secs / 1e6))' "$t0" "$t1")
echo "# idle: $wakeups wake-ups/s, $cpu_ms ms CPU/s over $(join "$TMP/before" "$TMP/after" | wc -l) threads"
check "idle: at most 5 wake-ups a second for the whole process ($wakeups/s)" \
    /usr/bin/python3 -c "import sys; sys.exit(0 if $wakeups <= 5 else 1)"
check "idle: at most 1 ms CPU a second ($cpu_ms ms/s; goal 0.2 on a quiet machine)" \
    /usr/bin/python3 -c "import sys; sys.exit(0 if $cpu_ms <= 1.0 else 1)"

# Decision latency. Wait for a poll (the sample's ts moves on), then
# change the value at the device at once.
sample_ts() {
    curl -s "$base/v1/telemetry" | /usr/bin/python3 -c '
import json, sys
print([m["ts"] for m in json.load(sys.stdin)["metrics"] if m["name"] == "cooling.chiller1.available_kw"][0])'
}
first=$(sample_ts)
for _ in $(seq 300); do [ "$(sample_ts)" != "$first" ] && break; sleep 0.05; done
latency_ms=$(/usr/bin/python3 - "$sim" "$base" <<'PY'
import json, sys, time, urllib.request
from datetime import datetime
sim, base = sys.argv[1], sys.argv[2]
# The time before the request: the change is published while it runs,
# so this can only make the latency look longer.
changed = time.time()
urllib.request.urlopen(urllib.request.Request(sim + "/sim/set", method="POST",
                       data=b'{"chiller1.capacity_kw": 0}')).read()
deadline = changed + 30
while time.time() < deadline:
    d = json.load(urllib.request.urlopen(base + "/v1/decisions"))["decisions"]
    if d:
        ts = datetime.strptime(d[0]["ts"].replace("Z", "+0000"),
                               "%Y-%m-%dT%H:%M:%S.%f%z" if "." in d[0]["ts"] else "%Y-%m-%dT%H:%M:%S%z")
        print(round((ts.timestamp() - changed) * 1000))
        break
    time.sleep(0.1)
else:
    print(-1)
PY
)
budget=$((INTERVAL_MS + FOR_MS + 1000))
echo "# decision latency: $latency_ms ms (bound: interval + for + 1 s = $budget ms; goal + 100 ms)"
check "decision within interval + for + 1 s of the change at the device ($latency_ms ms)" \
    test "$latency_ms" -ge "$FOR_MS" -a "$latency_ms" -le "$budget"

t_stop=$(date +%s%N)
stop_pid "$agent"
rc=$?
stop_ms=$((($(date +%s%N) - t_stop) / 1000000))
# Under 2 s: typically 100-200 ms (this script looks every 100 ms), but
# the last store write at stop waits for fsync, which took 800 ms on a
# shared machine with a load of 17; a thread whose sleep the stop did not
# end would hold it up 10 s (the poll interval) or for ever.
check "SIGTERM stops the idle agent promptly (exit $rc in $stop_ms ms)" \
    test "$rc" = 0 -a "$stop_ms" -lt 2000
finish
