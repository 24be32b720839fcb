#!/bin/bash
# make demo — one simulated site and an agent watching it.
#
# Starts floe-sim with sim/scenarios/lulea.json (Modbus on 127.0.0.1:1502,
# SNMP on udp 127.0.0.1:1161, its control API on :8480) and `floe agent -c
# etc/demo/lulea.json` (HTTP on 127.0.0.1:8470), then shows `floe status`
# every two seconds. The scenario trips chiller 2 after two minutes; 30 s
# later the cooling-shortfall policy fires and records a decision, and the
# room keeps warming. Ctrl-C (or SIGTERM) stops both.
#
# Environment (all optional):
#   DEMO_SECONDS=N   stop by itself after N seconds. Default: on a terminal,
#                    run until Ctrl-C; without one (a pipe, a log file, CI),
#                    run until the agent has recorded its first decision
#                    (about 2.5 minutes in), show one more screen and stop
#                    (at most 10 minutes).
#   DEMO_DIR=DIR     database, logs and lock file (default /tmp/floe-demo)
#   DEMO_MODBUS_PORT, DEMO_SNMP_PORT (udp), DEMO_AGENT_PORT, DEMO_SIM_PORT
#                    (defaults 1502, 1161, 8470, 8480): when one differs, the
#                    agent runs a copy of etc/demo/lulea.json written to
#                    DEMO_DIR with these ports, so a second demo (or a test)
#                    can run beside the first.
#   DEMO_SPEEDUP=N   run the simulated site N times faster (floe-sim
#                    --speedup); the agent keeps real time, so a policy's
#                    "for" is not shortened.
#
# A demo never touches a database in use: a second demo with the same
# DEMO_DIR, or one whose ports are taken, is refused before anything is
# deleted (the lock is held by the demo and by the agent and simulator it
# started, so it holds as long as any of them runs).
set -u
cd "$(dirname "$0")/../.."
build=$(cd "${1:-build}" && pwd)
dir=${DEMO_DIR:-/tmp/floe-demo}
mb_port=${DEMO_MODBUS_PORT:-1502}
snmp_port=${DEMO_SNMP_PORT:-1161}
agent_port=${DEMO_AGENT_PORT:-8470}
sim_port=${DEMO_SIM_PORT:-8480}
speedup=${DEMO_SPEEDUP:-1}
agent_url=http://127.0.0.1:$agent_port
sim_url=http://127.0.0.1:$sim_port

mkdir -p "$dir" || exit 1
# fd 9 stays open in every process started below, so the lock is released
# only when the demo, the agent and the simulator have all ended.
exec 9>>"$dir/demo.lock"
if ! flock -n 9; then
    holder=$(cat "$dir/demo.pid" 2>/dev/null)
    echo "demo: another demo${holder:+ (pid $holder)} is running with $dir; its database is in use." >&2
    echo "demo: stop it first (Ctrl-C in its terminal${holder:+, or kill $holder}), or set DEMO_DIR and the DEMO_*_PORT variables for a second one." >&2
    exit 1
fi

busy=""
for port in "$mb_port" "$agent_port" "$sim_port"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && busy="$busy $port"
done
if command -v ss >/dev/null && ss -lunH 2>/dev/null | grep -q "127.0.0.1:$snmp_port "; then
    busy="$busy $snmp_port/udp"
fi
if [ -n "$busy" ]; then
    echo "demo: port(s)$busy on 127.0.0.1 already in use (an earlier demo or agent still running?); nothing was changed" >&2
    exit 1
fi

echo $$ >"$dir/demo.pid"
rm -f "$dir"/lulea.db*

# The demo config as shipped, or a copy with this demo's ports and dir.
cfg=etc/demo/lulea.json
if [ "$dir" != /tmp/floe-demo ] || [ "$mb_port" != 1502 ] || [ "$snmp_port" != 1161 ] ||
    [ "$agent_port" != 8470 ]; then
    cfg=$dir/lulea.json
    sed -e "s|\"/tmp/floe-demo/lulea.db\"|\"$dir/lulea.db\"|" \
        -e "s|\"127.0.0.1:8470\"|\"127.0.0.1:$agent_port\"|" \
        -e "s|\"port\": 1502,|\"port\": $mb_port,|" \
        -e "s|\"port\": 1161,|\"port\": $snmp_port,|" etc/demo/lulea.json >"$cfg"
    if [ "$(grep -c "\"port\": $mb_port,\|\"port\": $snmp_port,\|127.0.0.1:$agent_port\"\|\"$dir/lulea.db\"" "$cfg")" != 6 ]; then
        echo "demo: etc/demo/lulea.json no longer has the ports and path this script rewrites" >&2
        exit 1
    fi
fi

sim_pid="" agent_pid="" nap_pid=""
stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping the agent and the simulator"
    [ -n "$nap_pid" ] && kill "$nap_pid" 2>/dev/null
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    echo "logs: $dir/sim.log $dir/agent.log"
    exit "$1"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

"$build/floe-sim" site -c sim/scenarios/lulea.json --modbus-port "$mb_port" \
    --snmp-port "$snmp_port" --http-port "$sim_port" --speedup "$speedup" >"$dir/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "$sim_url/sim/state" && break; sleep 0.1; done
curl -sf -o /dev/null "$sim_url/sim/state" || { echo "demo: floe-sim did not start:"; cat "$dir/sim.log"; exit 1; }

"$build/floe" agent -c "$cfg" 2>"$dir/agent.log" &
agent_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "$agent_url/healthz" && break; sleep 0.1; done
curl -sf -o /dev/null "$agent_url/healthz" || { echo "demo: the agent did not start:"; cat "$dir/agent.log"; exit 1; }
start=$(date +%s)
sleep 2

cat <<TXT
floe demo: simulated site "lulea-1" and an agent watching it.

  agent   $agent_url         (floe agent -c $cfg, log $dir/agent.log)
  sim     $sim_url/sim/state (floe-sim site -c sim/scenarios/lulea.json,
          Modbus 127.0.0.1:$mb_port, SNMP udp 127.0.0.1:$snmp_port community public)

Try, in another terminal:
  build/floe status --url $agent_url --all
  curl -s $agent_url/v1/status
  curl -s $agent_url/v1/telemetry/room.inlet_c?step=10s
  curl -s $agent_url/metrics | grep floe_collector_up
  curl -s -X POST $sim_url/sim/set -d '{"chiller1.capacity_kw": 0}'

TXT

# On a terminal the screen is redrawn every 2 s; without one each screen
# is appended, so every 10 s keeps a log readable.
if [ -t 1 ]; then tty=1 refresh=2; else tty=0 refresh=10; fi
limit=${DEMO_SECONDS:-}
until_decision=0
[ -z "$limit" ] && [ "$tty" = 0 ] && { until_decision=1; limit=600; }
last_screen=0
while :; do
    [ "$tty" = 1 ] && clear
    elapsed=$(( $(date +%s) - start ))
    echo "floe demo, $(( elapsed * speedup / 60 ))m $(( elapsed * speedup % 60 ))s of scenario time (chiller 2 trips at 2m) - Ctrl-C stops"
    "$build/floe" status --url "$agent_url"
    [ "$tty" = 0 ] && echo
    [ "$last_screen" = 1 ] && break
    if [ -n "$limit" ] && [ "$elapsed" -ge "$limit" ]; then break; fi
    if [ "$until_decision" = 1 ] && curl -s "$agent_url/v1/decisions?limit=1" | grep -q '"id"'; then
        last_screen=1 # one more screen, showing the decision
    fi
    sleep "$refresh" &
    nap_pid=$!
    wait "$nap_pid"
    nap_pid=""
done
stop 0
