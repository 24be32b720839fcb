#!/bin/bash
# make demo — two simulated sites, their floe agents and a real PowerDNS,
# and the story floe is for, told as it happens (about 2.5 minutes):
#
#   lulea-1's chiller2 trips → the cooling-shortfall policy fires →
#   web (stateless), ledger (4 GB) and orders (12 GB) are chosen and
#   capacity reserved at falkenberg-1 → they migrate (Velero warm
#   migration, no write lost) → DNS points at falkenberg-1 → lulea-1's
#   room cools down before it reached the 27 °C limit → the policy clears
#   → chiller2 is repaired → night: falkenberg-1's overnight-rebalance
#   sends the workloads home → DNS points at lulea-1 again.
#
# Then a report (decisions and their reasons, each migration's phases,
# downtime measured and estimated, data versions, the room's peak against
# the limit and against what it would have been without floe), and the
# agents' dashboards stay up until Ctrl-C (or SIGTERM), which stops every
# process the demo started.
#
# Processes, all on 127.0.0.1 (ports below): floe-sim for each site
# (sim/scenarios/demo-*.json: facility over Modbus, Kubernetes cluster and
# Velero over HTTP, Velero's backup storage in DEMO_DIR/bsl-*), a floe
# agent for each (a copy of etc/demo/agent-*.json with these ports and
# paths, in DEMO_DIR), PowerDNS (etc/demo/pdns.sh) serving
# apps.example.org, and a third floe-sim, the shadow site: lulea-1's
# scenario with the same trip and repair and no agent, whose room shows
# what floe saved lulea-1 from. The simulators run 30 times faster than
# real time; the agents keep real time. etc/demo/story.py tells the story.
#
# Environment (all optional):
#   DEMO_UNATTENDED=1  run the story, print the report and exit: 0 when
#                      every step happened, 1 (saying which) when not
#   DEMO_DIR=DIR       databases, logs, configs, backups, lock file
#                      (default /tmp/floe-demo)
#   DEMO_LULEA_PORT, DEMO_FALKENBERG_PORT
#                      the agents' HTTP ports (8470, 8471)
#   DEMO_LULEA_SIM_PORT, DEMO_FALKENBERG_SIM_PORT
#                      the simulators' HTTP ports (8480, 8481)
#   DEMO_LULEA_MODBUS_PORT, DEMO_FALKENBERG_MODBUS_PORT
#                      the simulators' Modbus ports (1502, 1503)
#   DEMO_DNS_PORT      PowerDNS, UDP and TCP (5300): dig @127.0.0.1 -p 5300 web.apps.example.org
#   DEMO_PDNS_API_PORT PowerDNS's HTTP API (8490)
# A second demo beside a running one needs its own DEMO_DIR and ports.
#
# A demo never touches a database in use: a second demo with the same
# DEMO_DIR, or one whose ports are taken, is refused before anything is
# deleted (the lock is held by the demo and every process it started, so
# it holds as long as any of them runs).
set -u
start=$(date +%s.%N)
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
build=$(cd "${1:-build}" && pwd) || exit 1
dir=${DEMO_DIR:-/tmp/floe-demo}
lulea_port=${DEMO_LULEA_PORT:-8470}
falk_port=${DEMO_FALKENBERG_PORT:-8471}
lulea_sim_port=${DEMO_LULEA_SIM_PORT:-8480}
falk_sim_port=${DEMO_FALKENBERG_SIM_PORT:-8481}
lulea_mb_port=${DEMO_LULEA_MODBUS_PORT:-1502}
falk_mb_port=${DEMO_FALKENBERG_MODBUS_PORT:-1503}
dns_port=${DEMO_DNS_PORT:-5300}
pdns_api_port=${DEMO_PDNS_API_PORT:-8490}
unattended=${DEMO_UNATTENDED:-0}
zone=apps.example.org.
pdns_key=floe-demo-pdns          # as in etc/demo/agent-*.json
operator_token=floe-demo-operator
lulea=http://127.0.0.1:$lulea_port
falk=http://127.0.0.1:$falk_port

mkdir -p "$dir" || exit 1
dir=$(cd "$dir" && pwd)
# fd 9 stays open in every process started below, so the lock is released
# only when the demo and everything it started have ended.
exec 9>>"$dir/demo.lock"
if ! flock -n 9; then
    holder=$(cat "$dir/demo.pid" 2>/dev/null)
    echo "demo: another demo${holder:+ (pid $holder)} is running with $dir; its database is in use." >&2
    echo "demo: stop it first (Ctrl-C in its terminal${holder:+, or kill $holder}), or set DEMO_DIR and the DEMO_*_PORT variables for a second one." >&2
    exit 1
fi

busy=""
for port in "$lulea_port" "$falk_port" "$lulea_sim_port" "$falk_sim_port" "$lulea_mb_port" "$falk_mb_port" \
    "$dns_port" "$pdns_api_port"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && busy="$busy $port"
done
if ss -lunH 2>/dev/null | grep -q "127.0.0.1:$dns_port \|0.0.0.0:$dns_port \|\*:$dns_port "; then
    busy="$busy $dns_port/udp"
fi
if [ -n "$busy" ]; then
    echo "demo: port(s)$busy on 127.0.0.1 already in use (an earlier demo or agent still running?); nothing was changed" >&2
    exit 1
fi

echo $$ >"$dir/demo.pid"
rm -rf "$dir"/*.db "$dir"/*.db-* "$dir"/*.log "$dir"/*.ports "$dir"/bsl-* "$dir/pdns" "$dir/shadow" \
    "$dir/report.txt"
mkdir -p "$dir/bsl-lulea-1" "$dir/bsl-falkenberg-1" "$dir/shadow/bsl-lulea-1" "$dir/shadow/bsl-falkenberg-1"

pids=()
story_pid="" nap_pid="" report=""
stop() {
    trap - INT TERM EXIT
    local p i
    [ -n "$story_pid" ] && kill "$story_pid" 2>/dev/null
    [ -n "$nap_pid" ] && kill "$nap_pid" 2>/dev/null
    # SIGTERM to all at once, so that the whole demo stops within seconds;
    # Ctrl-C's SIGINT reaches them too, but a script's background process
    # starts with SIGINT ignored, and only the agents and simulators catch
    # it again.
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && break; p=""; done
        [ -z "$p" ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    echo "demo: stopped; logs in $dir (*.log, pdns/log)${report:+, the report in $dir/report.txt}" >&2
    exit "$1"
}
trap 'echo; stop 130' INT
trap 'stop 143' TERM
trap 'stop $?' EXIT

fail() { echo "demo: $*" >&2; exit 1; }

# ---- PowerDNS: every hostname starts at lulea-1 ----
. "$root/etc/demo/pdns.sh"
pdns_prepare "$dir/pdns" "$dns_port" "$pdns_api_port" "$pdns_key" || exit 1
"$PDNS_SERVER" --config-dir="$PDNS_DIR" >"$PDNS_DIR/log" 2>&1 &
pids+=($!)
pdns_wait "$!" || exit 1
pdns_create_zone "$zone" || exit 1
for h in web ledger orders; do
    pdns_set_a "$zone" "$h.$zone" 192.0.2.10 5 || exit 1
done

# ---- the simulators, in DEMO_DIR (their Velero storage is relative to it) ----
sim() { # NAME SCENARIO DIR HTTP MODBUS
    rm -f "$dir/$1.ports"
    (cd "$3" && exec "$build/floe-sim" site -c "$root/$2" --http-port "$4" --modbus-port "$5" \
        --snmp-port 0 --ports-file "$dir/$1.ports") >"$dir/$1.sim.log" 2>&1 &
    pids+=($!)
}
sim lulea-1 sim/scenarios/demo-lulea-1.json "$dir" "$lulea_sim_port" "$lulea_mb_port"
sim falkenberg-1 sim/scenarios/demo-falkenberg-1.json "$dir" "$falk_sim_port" "$falk_mb_port"
sim shadow sim/scenarios/demo-lulea-1.json "$dir/shadow" 0 0
for _ in $(seq 100); do
    [ -s "$dir/lulea-1.ports" ] && [ -s "$dir/falkenberg-1.ports" ] && [ -s "$dir/shadow.ports" ] && break
    sleep 0.05
done
for s in lulea-1 falkenberg-1 shadow; do
    [ -s "$dir/$s.ports" ] || fail "floe-sim $s did not start: $(tail -3 "$dir/$s.sim.log")"
done
shadow_sim=http://127.0.0.1:$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' \
    "$dir/shadow.ports")

# ---- the agents ----
agent() { # NAME PORT SIM_PORT MODBUS_PORT PEER PEER_PORT
    /usr/bin/python3 "$root/etc/demo/configure.py" "$root/etc/demo/agent-$1.json" "$dir/$1.json" \
        "store.path=$dir/$1.db" "http.listen=127.0.0.1:$2" "modbus[0].port=$4" \
        "peers[0].url=http://127.0.0.1:$6" "workloads.kubernetes.api=http://127.0.0.1:$3" \
        "traffic.api=$PDNS_API" || exit 1
    "$build/floe" agent -c "$dir/$1.json" 2>"$dir/$1.log" &
    pids+=($!)
}
agent lulea-1 "$lulea_port" "$lulea_sim_port" "$lulea_mb_port" falkenberg-1 "$falk_port"
agent falkenberg-1 "$falk_port" "$falk_sim_port" "$falk_mb_port" lulea-1 "$lulea_port"
for url in "$lulea" "$falk"; do
    for _ in $(seq 100); do curl -sf -m 2 -o /dev/null "$url/healthz" && break; sleep 0.1; done
    curl -sf -m 2 -o /dev/null "$url/healthz" || fail "the agent at $url did not start: $(tail -3 "$dir"/*-1.log)"
done

cat <<TXT
floe demo: two sites on 127.0.0.1 (files in $dir)
  lulea-1       agent $lulea/, simulator :$lulea_sim_port, Modbus :$lulea_mb_port
  falkenberg-1  agent $falk/, simulator :$falk_sim_port, Modbus :$falk_mb_port
  PowerDNS      dig @127.0.0.1 -p $dns_port web.apps.example.org
TXT

PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$root/etc/demo/story.py" --lulea-agent "$lulea" --falkenberg-agent "$falk" \
    --lulea-sim "http://127.0.0.1:$lulea_sim_port" --falkenberg-sim "http://127.0.0.1:$falk_sim_port" \
    --shadow-sim "$shadow_sim" --dns-port "$dns_port" --scenario "$root/sim/scenarios/demo-lulea-1.json" \
    --lulea-config "$dir/lulea-1.json" --falkenberg-config "$dir/falkenberg-1.json" --rebalance "$root/policies/examples/overnight-rebalance.json" \
    --operator-token "$operator_token" --start "$start" --report "$dir/report.txt" &
story_pid=$!
wait "$story_pid"
rc=$?
story_pid=""
[ -s "$dir/report.txt" ] && report=1
[ "$unattended" = 1 ] || [ -z "$report" ] && stop "$rc"

cat <<TXT

The sites keep running; their dashboards: $lulea/  $falk/
  build/floe status --url $lulea --all
  build/floe migrations --url $falk
Ctrl-C stops the demo.
TXT
sleep infinity &
nap_pid=$!
wait "$nap_pid"
stop 0
