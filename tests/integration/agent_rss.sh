#!/bin/bash
# The agent's memory stays flat while it polls: 1,000 points (10 floe-sim
# devices x 100 float32) every 200 ms, 5,000 samples a second. Once the
# first commits have passed, resident memory may still grow by SQLite's
# page cache filling and the sample queue reaching the size of one commit
# interval, a few MiB; a queue that became resident as it filled
# (216 bytes a sample, 42.7 MiB preallocated) grew 1 MiB a second here.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

bg "$BUILD/floe-sim" site -c "$ROOT/sim/scenarios/lulea.json" --modbus-port 0 --http-port 0 --snmp-port 0 \
    --ports-file "$TMP/ports.json" >"$TMP/sim.log" 2>&1
wait_file "$TMP/ports.json" || { not_ok "floe-sim starts"; finish; }
mb_port=$(json_get "$TMP/ports.json" 'd["modbus"]')
http_port=$(free_port)
base="http://127.0.0.1:$http_port"

/usr/bin/python3 - "$TMP" "$mb_port" "$http_port" > "$TMP/floe.json" <<'PY'
import json, sys
tmp, mb, http = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
devices = [{"name": "dev%d" % d, "host": "127.0.0.1", "port": mb, "interval": "200ms",
            "timeout": "2s",
            "points": [{"metric": "rss.dev%d.p%d" % (d, p), "table": "holding",
                        "address": 2 * p, "type": "float32"} for p in range(100)]}
           for d in range(10)]
print(json.dumps({"site": {"name": "it-rss"}, "store": {"path": tmp + "/floe.db"},
                  "http": {"listen": "127.0.0.1:%d" % http, "anonymous_read": True},
                  "modbus": devices}))
PY
bg "$BUILD/floe" agent -c "$TMP/floe.json" 2>"$TMP/agent.log"
agent=$BG_PID
check "agent answers /healthz" wait_http "$base/healthz" 20

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$agent/status"; }
# polls_total: polls finished by all devices (from /metrics).
polls_total() {
    curl -s "$base/metrics" | awk '/^floe_collector_polls_total/ { s += $2 } END { print s + 0 }'
}

# Past the first two 10 s commits, so the queue has held a whole interval.
sleep 22
rss_a=$(rss_kb); polls_a=$(polls_total)
sleep 15
rss_b=$(rss_kb); polls_b=$(polls_total)
samples=$(( (polls_b - polls_a) * 100 ))
growth=$((rss_b - rss_a))
echo "# VmRSS ${rss_a} kB -> ${rss_b} kB over 15 s, $samples samples"
# A loaded machine polls less often, which only lowers the growth of a
# leak; without samples the check would prove nothing.
if [ "$samples" -ge 20000 ]; then ok "polled $samples samples in 15 s"
else not_ok "polled $samples samples in 15 s (want >= 20000)"; fi
if [ "$growth" -lt 4096 ]; then ok "RSS grew ${growth} kB in 15 s (< 4 MiB)"
else not_ok "RSS grew ${growth} kB in 15 s (want < 4 MiB)"; fi
check "agent still running" kill -0 "$agent"
finish
