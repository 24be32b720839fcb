# Simulated sites with their agents, for the migration tests
# (migration.sh, migration_crash.sh, migration_faults.sh). Source it after
# common.sh. Everything listens on 127.0.0.1 at free ports; files are in
# $TMP; processes are started with `bg`, so common.sh's trap stops them.
#
# A site NAME is one floe-sim (facility + cluster + Velero) and one agent
# reading it. Sites share Velero backup storage the way the report's
# warm migration does (storage hosted at the destination): each site's
# own location "default" is the directory $TMP/bsl-NAME, and every other
# site's directory is a location named after that site, so a Backup that
# lulea-1 writes to location "falkenberg-1" lands in falkenberg-1's own
# location, where falkenberg-1's Velero finds it at its next storage sync
# (with spec.storageLocation rewritten to "default").
#
# Peering: each agent accepts "admin-secret" (admin) and, from each peer
# P, the token "peer-P-secret" (role peer); it calls a peer with
# "peer-SELF-secret". The Kubernetes API of site NAME wants "k8s-NAME".
#
# Set SITES (the site names, space-separated) and SITE_INGRESS[NAME] for
# each first.
#
#   site_scenario NAME SYNC_S NAMESPACES_JSON [CHILLER_KW BASE_KW]
#       writes $TMP/NAME.scenario: two chillers of CHILLER_KW (default 300)
#       each, BASE_KW (default 100) of IT load besides the cluster, hydro
#       1000 kW, the cluster (NAMESPACES_JSON, a JSON array) with 1 s pod
#       delays, Velero with storage sync every SYNC_S simulated seconds
#   site_sim NAME SPEEDUP        start floe-sim: SIM[NAME] = its HTTP URL,
#                                SIM_MB[NAME] = its Modbus port
#   site_ports NAME...           pick each agent's port: AGENT_PORT[NAME], AGENT[NAME] (URL)
#   site_agent_config NAME PEERS [POLICIES_JSON [MIGRATOR_JSON]]
#       writes $TMP/NAME.json: PEERS a space-separated list of peer site
#       names (their ports picked already), MIGRATOR_JSON members added to
#       the migrator section (max_parallel 1, delta_interval 1s, tick
#       100ms, retain_source 1h by default); traffic to this PowerDNS
#       (pdns_start first) with TTL $SITES_TTL (default 30)
#   site_agent_start NAME        start (or restart) its agent; waits for /healthz
#   site_agent_kill NAME [SIG]   kill it (default SIGKILL) and reap it
#   sim_set NAME JSON            POST /sim/set to its simulator (prints the answer on failure)
#   api NAME PATH [CURL ARGS]    an admin request to its agent, answer on stdout
#   until_py SECONDS EXPR CMD... until EXPR (Python, d = CMD's JSON output) holds
#   until_ok SECONDS CMD...      until CMD succeeds
#   mig_get NAME ID              GET /v1/migrations/ID at NAME's agent
#   sim_cluster NAME             GET /sim/cluster of its simulator
#   sites_pair_start SPEEDUP NAMESPACES_JSON MIGRATOR_JSON
#       lulea-1 (the namespaces, a JSON array) and an empty falkenberg-1,
#       sims and peered agents, each with MIGRATOR_JSON and no policy;
#       returns once falkenberg-1 offers capacity (its inputs read: a
#       reservation made before then is refused, "capacity input
#       unknown"). Prints a not-ok line and returns 1 on failure.
#   site_wait_accepting NAME     until NAME accepts work, spare kW > 0, nothing reserved

SITES_ZONE=apps.example.org.
SITES_ADMIN="Authorization: Bearer admin-secret"
declare -A SIM SIM_MB AGENT AGENT_PORT AGENT_PID SITE_INGRESS

site_scenario() { # NAME SYNC_S NAMESPACES_JSON [CHILLER_KW BASE_KW]
    local name=$1 sync=$2 nss=$3 chiller=${4:-300} base=${5:-100} locs="" other
    for other in $SITES; do
        mkdir -p "$TMP/bsl-$other"
        [ "$other" = "$name" ] || locs="$locs, \"$other\": \"$TMP/bsl-$other\""
    done
    cat >"$TMP/$name.scenario" <<JSON
{ "site": { "name": "$name" },
  "chillers": [ { "name": "chiller1", "capacity_kw": $chiller }, { "name": "chiller2", "capacity_kw": $chiller } ],
  "it": { "base_kw": $base },
  "supply": { "hydro_kw": 1000, "wind_kw": 0, "grid_kw": 0 },
  "room": { "thermal_mass_kj_per_k": 100000 },
  "cluster": { "token": "k8s-$name", "ready_delay_s": 1, "stop_delay_s": 1, "terminate_delay_s": 1,
               "namespaces": $nss },
  "velero": { "storage_location": "default", "sync_period": "${sync}s",
              "locations": { "default": "$TMP/bsl-$name"$locs } } }
JSON
}

site_sim() { # NAME SPEEDUP
    local i
    rm -f "$TMP/$1.ports"
    bg "$BUILD/floe-sim" site -c "$TMP/$1.scenario" --speedup "$2" --modbus-port 0 --http-port 0 \
        --snmp-port 0 --ports-file "$TMP/$1.ports" >>"$TMP/$1.sim.log" 2>&1
    wait_file "$TMP/$1.ports"
    [ -s "$TMP/$1.ports" ] || { echo "# floe-sim $1 did not start:"; tail -5 "$TMP/$1.sim.log"; return 1; }
    SIM[$1]=http://127.0.0.1:$(json_get "$TMP/$1.ports" 'd["http"]')
    SIM_MB[$1]=$(json_get "$TMP/$1.ports" 'd["modbus"]')
}

site_ports() {
    local n
    for n in "$@"; do
        AGENT_PORT[$n]=$(free_port)
        AGENT[$n]=http://127.0.0.1:${AGENT_PORT[$n]}
    done
}

site_agent_config() { # NAME PEERS [POLICIES_JSON [MIGRATOR_JSON]]
    local name=$1 peers=$2 policies=${3:-[]} migrator=${4:-} p tokens="" peer_list=""
    for p in $peers; do
        tokens="$tokens, { \"name\": \"$p\", \"role\": \"peer\", \"token\": \"peer-$p-secret\" }"
        peer_list="$peer_list${peer_list:+, }{ \"name\": \"$p\", \"url\": \"${AGENT[$p]}\", \"token\": \"peer-$name-secret\",
               \"ingress\": \"${SITE_INGRESS[$p]}\", \"velero_storage_location\": \"$p\" }"
    done
    cat >"$TMP/$name.json" <<JSON
{ "site": { "name": "$name", "ingress": "${SITE_INGRESS[$name]}" },
  "store": { "path": "$TMP/$name.db" },
  "http": { "listen": "127.0.0.1:${AGENT_PORT[$name]}",
            "tokens": [ { "name": "ops", "role": "admin", "token": "admin-secret" }$tokens ] },
  "policy_tick": "250ms",
  "peers_poll": "1s",
  "modbus": [ { "name": "sim", "host": "127.0.0.1", "port": ${SIM_MB[$name]}, "interval": "250ms", "points": [
      { "metric": "cooling.chiller1.available_kw", "table": "holding", "address": 102, "type": "float32", "unit": "kW" },
      { "metric": "cooling.chiller2.available_kw", "table": "holding", "address": 122, "type": "float32", "unit": "kW" },
      { "metric": "it.load_kw", "table": "holding", "address": 1000, "type": "float32", "unit": "kW" },
      { "metric": "supply.total_kw", "table": "holding", "address": 1106, "type": "float32", "order": "BADC", "unit": "kW" } ] } ],
  "derive": [ { "metric": "cooling.capacity_kw", "expr": "sum(cooling.*.available_kw)", "unit": "kW" } ],
  "capacity": { "power_headroom_kw": "supply.total_kw - it.load_kw",
                "cooling_headroom_kw": "cooling.capacity_kw - it.load_kw", "margin_kw": 20 },
  "policies": $policies,
  "peers": [ $peer_list ],
  "workloads": { "source": "kubernetes", "refresh": "1s",
                 "kubernetes": { "api": "${SIM[$name]}", "token": "k8s-$name" } },
  "migrator": { "velero_namespace": "velero", "delta_interval": "1s", "max_parallel": 1,
                "backup_ttl": "1h", "retain_source": "1h", "retries": 2, "tick": "100ms"${migrator:+, $migrator} },
  "traffic": $(pdns_traffic_json "$SITES_ZONE" "${SITES_TTL:-30}") }
JSON
}

site_agent_start() { # NAME
    "$BUILD/floe" agent -c "$TMP/$1.json" >>"$TMP/$1.log" 2>&1 &
    AGENT_PID[$1]=$!
    PIDS+=("$!")
    wait_http "${AGENT[$1]}/healthz" 10 || { echo "# agent $1 did not start:"; tail -5 "$TMP/$1.log"; return 1; }
}

site_agent_kill() { # NAME [SIGNAL]
    kill -"${2:-KILL}" "${AGENT_PID[$1]}" 2>/dev/null
    wait "${AGENT_PID[$1]}" 2>/dev/null
    return 0
}

sim_set() { # NAME JSON
    local out
    out=$(curl -s -w ' %{http_code}' -d "$2" "${SIM[$1]}/sim/set")
    [ "${out##* }" = 200 ] || { echo "# /sim/set $2 at $1: $out"; return 1; }
}

api() { # NAME PATH [CURL ARGS...]
    local name=$1 path=$2
    shift 2
    curl -s -m 10 -H "$SITES_ADMIN" "$@" "${AGENT[$name]}$path"
}

# until_py SECONDS EXPR CMD...: runs CMD every 0.1 s until the Python EXPR
# holds with d = CMD's output parsed as JSON; the last output is in
# $TMP/until.json. Returns 1 after SECONDS.
until_py() {
    local secs=$1 expr=$2 end
    shift 2
    end=$(($(date +%s%N) + secs * 1000000000))
    while :; do
        "$@" >"$TMP/until.json" 2>/dev/null
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
            "$TMP/until.json" "$expr" 2>/dev/null && return 0
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# until_ok SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 after SECONDS.
until_ok() {
    local end=$(($(date +%s%N) + $1 * 1000000000))
    shift
    until "$@"; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.1
    done
}

mig_get() { api "$1" "/v1/migrations/$2"; }
sim_cluster() { curl -s -m 10 "${SIM[$1]}/sim/cluster"; }

sites_pair_start() { # SPEEDUP NAMESPACES_JSON MIGRATOR_JSON
    site_scenario lulea-1 10 "$2"
    site_scenario falkenberg-1 10 "[]"
    site_sim lulea-1 "$1" || { not_ok "floe-sim lulea-1 starts"; return 1; }
    site_sim falkenberg-1 "$1" || { not_ok "floe-sim falkenberg-1 starts"; return 1; }
    site_ports lulea-1 falkenberg-1
    site_agent_config lulea-1 falkenberg-1 "[]" "$3"
    site_agent_config falkenberg-1 lulea-1 "[]" "$3"
    site_agent_start falkenberg-1 || { not_ok "falkenberg-1's agent starts"; return 1; }
    site_agent_start lulea-1 || { not_ok "lulea-1's agent starts"; return 1; }
    site_wait_accepting falkenberg-1 || { not_ok "falkenberg-1 offers capacity ($(cat "$TMP/until.json"))"; return 1; }
}

# site_wait_accepting NAME: until NAME's agent accepts work with spare kW
# and nothing reserved (an agent just started has not read its inputs).
site_wait_accepting() {
    until_py 20 'd["accepting"] and d["spare_kw"] > 0 and d["reserved_kw"] == 0' api "$1" /v1/capacity
}
