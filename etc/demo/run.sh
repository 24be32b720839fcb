#!/bin/bash
# make demo — one simulated site and an agent watching it.
#
# Starts floe-sim with sim/scenarios/lulea.json (Modbus on 127.0.0.1:1502,
# SNMP on udp 127.0.0.1:1161, its control API on :8480) and `floe agent -c etc/demo/lulea.json`
# (HTTP on 127.0.0.1:8470), then shows the agent's live telemetry every two
# seconds. The scenario trips chiller 2 after two minutes, so the table shows
# cooling capacity falling and the room warming. Ctrl-C stops both.
# DEMO_SECONDS=N stops by itself after N seconds (default: 30 without a
# terminal, else until Ctrl-C).
set -u
cd "$(dirname "$0")/../.."
build=$(cd "${1:-build}" && pwd)
dir=/tmp/floe-demo
mkdir -p "$dir"
rm -f "$dir"/lulea.db*
agent_url=http://127.0.0.1:8470
sim_url=http://127.0.0.1:8480

busy=""
for port in 1502 8470 8480; do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && busy="$busy $port"
done
if command -v ss >/dev/null && ss -lun 2>/dev/null | grep -q '127.0.0.1:1161 '; then
    busy="$busy 1161/udp"
fi
if [ -n "$busy" ]; then
    echo "demo: port(s)$busy on 127.0.0.1 already in use (an earlier demo still running?)" >&2
    exit 1
fi

sim_pid="" agent_pid=""
stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping the agent and the simulator"
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    echo "logs: $dir/sim.log $dir/agent.log"
    exit 0
}
trap stop INT TERM EXIT

"$build/floe-sim" site -c sim/scenarios/lulea.json >"$dir/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "$sim_url/sim/state" && break; sleep 0.1; done
curl -sf -o /dev/null "$sim_url/sim/state" || { echo "demo: floe-sim did not start:"; cat "$dir/sim.log"; exit 1; }

"$build/floe" agent -c etc/demo/lulea.json 2>"$dir/agent.log" &
agent_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "$agent_url/healthz" && break; sleep 0.1; done
curl -sf -o /dev/null "$agent_url/healthz" || { echo "demo: the agent did not start:"; cat "$dir/agent.log"; exit 1; }
sleep 2

cat <<TXT
floe demo: simulated site "lulea-1" and an agent watching it.

  agent   $agent_url         (floe agent -c etc/demo/lulea.json, log $dir/agent.log)
  sim     $sim_url/sim/state (floe-sim site -c sim/scenarios/lulea.json,
          Modbus 127.0.0.1:1502, SNMP udp 127.0.0.1:1161 community public)

Try, in another terminal:
  curl -s $agent_url/v1/status
  curl -s $agent_url/v1/telemetry/room.inlet_c?step=10s
  curl -s $agent_url/metrics | grep floe_collector_up
  curl -s -X POST $sim_url/sim/set -d '{"chiller1.capacity_kw": 0}'

$ curl -s $agent_url/v1/status
$(curl -s "$agent_url/v1/status")

TXT

limit=${DEMO_SECONDS:-}
[ -z "$limit" ] && [ ! -t 1 ] && limit=30
start=$(date +%s)
while :; do
    if [ -t 1 ]; then clear; fi
    echo "floe demo — $(date -u +%H:%M:%S) UTC — Ctrl-C to stop"
    "$build/floe" status --url "$agent_url"
    echo
    if [ -n "$limit" ] && [ $(( $(date +%s) - start )) -ge "$limit" ]; then break; fi
    sleep "$([ -t 1 ] && echo 2 || echo 5)"
done
stop
