#!/bin/bash
# make bench: floe against collectd and nginx on this machine, side by side,
# same device map and interval, and one table of figures, ratios and goals
# (issue 11). About 7 minutes on 2 cores; not part of `make check`.
#
#   bench/run.sh [BUILD]          (default build; builds what it runs; `make bench`
#                                  installs the packages first)
#
# Every server runs on a free port of 127.0.0.1; every process started is
# stopped and the temporary folder removed on exit (tests/integration/lib/
# common.sh). The configurations of each scenario come from one device map
# (bench/gen.py), so floe and its peer poll the same points by
# construction; bench/measure.py reads /proc and writes the rows.
#
# Environment (defaults in brackets):
#   BENCH_ONLY       the scenarios to run, of: store mb1 mb10 snmp walk idle http latency [all]
#   BENCH_WARMUP     seconds before CPU is measured [10]
#   BENCH_WINDOWS, BENCH_WINDOW_S   CPU windows, the best one counts [3, 10]
#   BENCH_RSS_S      RSS is read at 60 s and at this many seconds [120]
#   BENCH_HTTP_S     seconds of wrk per endpoint and server [10]
#   BENCH_LAT_CHANGES  value changes timed for the decision latency [5]
#   BENCH_POLICY_TICK  policy_tick of the latency scenario [floe's default]
#
# Exit 0 when every scenario ran (a goal missed or a row "not measured" is
# in the table, not in the exit code); 1 when the harness itself failed
# (build, a tool of its own), naming what.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD_ARG=${1:-build}
[ -d "$BUILD_ARG" ] || mkdir -p "$BUILD_ARG"
# shellcheck source=../tests/integration/lib/common.sh
. tests/integration/lib/common.sh "$BUILD_ARG"
set -u

ONLY=${BENCH_ONLY:-store mb1 mb10 snmp walk idle http latency}
WARMUP=${BENCH_WARMUP:-10}
WINDOWS=${BENCH_WINDOWS:-3}
WINDOW_S=${BENCH_WINDOW_S:-10}
RSS_S=${BENCH_RSS_S:-120}
HTTP_S=${BENCH_HTTP_S:-10}
LAT_CHANGES=${BENCH_LAT_CHANGES:-5}
POLICY_TICK=${BENCH_POLICY_TICK:-}

PY=/usr/bin/python3
GEN="$PY $ROOT/bench/gen.py"
MEASURE="$PY $ROOT/bench/measure.py"
RES=$TMP/results.jsonl
: >"$RES"
START=$(date +%s)

harness_fail() { echo "make bench: harness failed: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }
wants() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
# A scenario that cannot run writes each of its rows, in SCEN_ROWS
# ("LABEL<tab>GOAL" each), as not measured, saying why.
SCEN_ROWS=()
fail_rows() {
    local r
    for r in "${SCEN_ROWS[@]}"; do
        $MEASURE fail "$RES" label="${r%%$'\t'*}" goal="${r#*$'\t'}" why="$1"
        say "${r%%$'\t'*}: not measured: $1"
    done
}
now() { date +%s.%N; }

[ -x "$PY" ] || harness_fail "/usr/bin/python3 is missing (make deps)"
command -v curl >/dev/null || harness_fail "curl is missing (make deps)"

# ---- build ------------------------------------------------------------------
say "building floe, floe-sim and bench/store_write in $BUILD"
make --no-print-directory -j2 BUILD="$BUILD" all >"$TMP/build.log" 2>&1 ||
    { tail -20 "$TMP/build.log" >&2; harness_fail "make all failed (log above)"; }
# store_write links the agent's library; its libraries are the agent's.
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. bench/store_write.c \
    "$BUILD/libfloe.a" $(pkg-config --libs libmodbus libmicrohttpd libcurl libcjson sqlite3 netsnmp yaml-0.1) \
    -lpthread -lm -o "$BUILD/store_write" >"$TMP/store_write.build" 2>&1 ||
    harness_fail "bench/store_write does not build: $(head -5 "$TMP/store_write.build")"

# ---- processes ----------------------------------------------------------------
# The starters run in this shell (their pids must reach the cleanup) and
# say why they failed in $WHY.
WHY=""
# start_floe DIR PORT: floe agent on DIR/floe.json; $FLOE_PID.
start_floe() {
    bg "$BUILD/floe" agent -c "$1/floe.json" 2>"$1/floe.log"
    FLOE_PID=$BG_PID
    wait_http "http://127.0.0.1:$2/healthz" 30 && return 0
    WHY="floe did not answer on 127.0.0.1:$2: $(tail -3 "$1/floe.log" | tr '\n' ' ')"
    return 1
}
# start_collectd DIR: collectd in the foreground on DIR/collectd.conf; $PEER_PID.
start_collectd() {
    command -v collectd >/dev/null || { WHY="collectd is not installed (make deps-bench)"; return 1; }
    bg collectd -f -C "$1/collectd.conf" >"$1/collectd.out" 2>&1
    PEER_PID=$BG_PID
    local i
    for ((i = 0; i < 100; i++)); do
        [ -S "$1/collectd.sock" ] && return 0
        kill -0 "$PEER_PID" 2>/dev/null || break
        sleep 0.1
    done
    WHY="collectd did not start: $(tail -3 "$1/collectd.log" "$1/collectd.out" 2>/dev/null | tr '\n' ' ')"
    return 1
}
stop_all() { local p; for p in "$@"; do [ -n "$p" ] && stop_pid "$p" >/dev/null 2>&1; done; return 0; }

# SQLite's page cache floe may hold: its connections to the database (open
# descriptors of floe.db) × the cache_size each gets: store/ sets it with
# PRAGMA cache_size when it does, else SQLite's default (PRAGMA cache_size
# of a fresh connection: -2000 = 2000 KiB).
page_cache() { # DB PID -> "KIB NOTE"
    local conns size src="SQLite's default cache_size"
    conns=$(for f in /proc/"$2"/fd/*; do readlink "$f"; done 2>/dev/null | grep -c "^$1\$")
    size=$(grep -hoE 'cache_size *= *-?[0-9]+' store/*.c 2>/dev/null | head -1 | grep -oE -- '-?[0-9]+$')
    if [ -n "$size" ]; then
        src="cache_size=$size set in store/"
    else
        size=$(sqlite3 "$1" 'PRAGMA cache_size' 2>/dev/null) || size=-2000
    fi
    local kib
    if [ "$size" -lt 0 ]; then kib=$((-size)); else
        kib=$((size * $(sqlite3 "$1" 'PRAGMA page_size' 2>/dev/null || echo 4096) / 1024)); fi
    echo "$((conns * kib)) $conns connections × $kib KiB ($src)"
}

SIM_MB=""; SIM_HTTP=""; SIM_PID=""
start_sim() {
    [ -n "$SIM_PID" ] && return 0
    mkdir -p "$TMP/sim"
    $GEN sim "$TMP/sim" || { WHY="bench/gen.py sim failed"; return 1; }
    bg "$BUILD/floe-sim" site -c "$TMP/sim/sim.json" --ports-file "$TMP/sim/ports.json" \
        >"$TMP/sim/out" 2>"$TMP/sim/log"
    SIM_PID=$BG_PID
    wait_file "$TMP/sim/ports.json" 20 || { WHY="floe-sim did not start: $(tail -3 "$TMP/sim/log")"; return 1; }
    SIM_MB=$(json_get "$TMP/sim/ports.json" 'd["modbus"]')
    SIM_HTTP=$(json_get "$TMP/sim/ports.json" 'd["http"]')
}

# ---- scenarios ----------------------------------------------------------------
# cpu_side_by_side ID LABEL GEN_SCENARIO GEN_ARGS [RSS_LABEL]: floe and collectd
# on one map at once; CPU per 1,000 points, and RSS with a RSS_LABEL.
cpu_side_by_side() {
    local id=$1 label=$2 scen=$3 args=$4 rss_label=${5:-} d=$TMP/$1 http
    http=$(free_port)
    # shellcheck disable=SC2086
    $GEN "$scen" "$d" $args http="$http" || { fail_rows "bench/gen.py failed"; return; }
    FLOE_PID=""; PEER_PID=""
    if ! start_floe "$d" "$http"; then fail_rows "$WHY"; stop_all "$FLOE_PID"; return; fi
    # Without collectd, floe's figures alone, and the row says why.
    local extra=()
    if ! start_collectd "$d"; then
        say "$label: collectd not run: $WHY"
        stop_all "$PEER_PID"; PEER_PID=""
        extra+=(peer_missing="$WHY")
    fi
    if [ -n "$rss_label" ]; then
        local pc
        pc=$(page_cache "$d/floe.db" "$FLOE_PID")
        extra+=(rss_at="60,$RSS_S" rss_label="$rss_label" cache_kib="${pc%% *}" cache_note="${pc#* }")
    fi
    $MEASURE cpu "$RES" label="$label" map="$d/map.json" floe_pid="$FLOE_PID" \
        floe_url="http://127.0.0.1:$http" peer_pid="${PEER_PID:-$FLOE_PID}" peer_sock="$d/collectd.sock" \
        warmup="$WARMUP" windows="$WINDOWS" window_s="$WINDOW_S" "${extra[@]}"
    stop_all "$FLOE_PID" "$PEER_PID"
}

run_mb() { # ID DEVICES [RSS]
    local dev=$2 label
    if [ "$dev" = 1 ]; then label="Modbus CPU per 1,000 points, 1 device × 100 float32 at 1 s"
    else label="Modbus CPU per 1,000 points, $dev devices × 100 points (1,000 points/s)"; fi
    local rss_label=${3:+"RSS at 1,000 points (60 s, ${RSS_S} s)"}
    SCEN_ROWS=("$label"$'\t'"≤ 0.33")
    [ -n "$rss_label" ] && SCEN_ROWS+=("$rss_label"$'\t'"≤ 2 × peer + page cache; flat")
    start_sim || { fail_rows "$WHY"; return; }
    cpu_side_by_side "$1" "$label" modbus "devices=$dev points=100 interval=1 port=$SIM_MB" "$rss_label"
}

run_snmp() { # ID SCALARS ROWS LABEL
    local id=$1 label=$4 d=$TMP/$1-agent port
    SCEN_ROWS=("$label"$'\t'"≤ 0.33")
    command -v snmpd >/dev/null || { fail_rows "snmpd is not installed (make deps)"; return; }
    port=$(free_port udp)
    mkdir -p "$d/state"
    $GEN snmp "$d" scalars="$2" rows="$3" interval=1 port="$port" http=1 ||
        { fail_rows "bench/gen.py failed"; return; }
    SNMP_PERSISTENT_DIR="$d/state" bg snmpd -f -Lo -C -c "$d/snmpd.conf" -I -smux -M /dev/null -m "" \
        >"$d/snmpd.log" 2>&1
    local snmpd_pid=$BG_PID
    sleep 0.5
    kill -0 "$snmpd_pid" 2>/dev/null || { fail_rows "snmpd did not start: $(tail -2 "$d/snmpd.log")"; return; }
    cpu_side_by_side "$id" "$label" snmp "scalars=$2 rows=$3 interval=1 port=$port"
    stop_all "$snmpd_pid"
}

run_idle() {
    local label="Idle, 1 device × 100 points at 10 s, 1 policy" d=$TMP/idle http
    SCEN_ROWS=("$label: wake-ups/s"$'\t'"≤ 5" "$label: CPU ms/s"$'\t'"≤ 0.2")
    start_sim || { fail_rows "$WHY"; return; }
    http=$(free_port)
    $GEN modbus "$d" devices=1 points=100 interval=10 port="$SIM_MB" http="$http" policy=1 ||
        { fail_rows "bench/gen.py failed"; return; }
    FLOE_PID=""; PEER_PID=""
    if ! start_floe "$d" "$http"; then fail_rows "$WHY"; stop_all "$FLOE_PID"; return; fi
    local peer=()
    if start_collectd "$d"; then
        peer=(peer_pid="$PEER_PID" peer_sock="$d/collectd.sock" peer_values=100)
    else
        say "idle: collectd not run: $WHY"
        stop_all "$PEER_PID"; PEER_PID=""
        peer=(peer_pid="$FLOE_PID" peer_missing="$WHY")
    fi
    # Nothing touches either process while it is measured: no scrape.
    $MEASURE idle "$RES" label="$label" floe_pid="$FLOE_PID" "${peer[@]}" interval=10 \
        warmup=12 windows=2 window_s=20
    stop_all "$FLOE_PID" "$PEER_PID"
}

run_http() {
    local d=$TMP/http http
    local eps=(/v1/telemetry /v1/status /metrics)
    local lab="polling on time during the HTTP load (3 devices × 100 points at 1 s)"
    SCEN_ROWS=("$lab"$'\t'"≥ 95 % of due polls")
    for ep in "${eps[@]}"; do SCEN_ROWS+=("GET $ep (wrk -t2 -c50, ${HTTP_S} s)"$'\t'"≥ 0.5, p99 < 10 ms"); done
    start_sim || { fail_rows "$WHY"; return; }
    command -v wrk >/dev/null || { fail_rows "wrk is not installed (make deps-bench)"; return; }
    http=$(free_port)
    $GEN modbus "$d" devices=3 points=100 interval=1 port="$SIM_MB" http="$http" ||
        { fail_rows "bench/gen.py failed"; return; }
    FLOE_PID=""
    if ! start_floe "$d" "$http"; then fail_rows "$WHY"; stop_all "$FLOE_PID"; return; fi
    local base="http://127.0.0.1:$http" i
    # Every metric read once before the load.
    for ((i = 0; i < 100; i++)); do
        [ "$(curl -s "$base/v1/telemetry" | grep -o '"quality":"good"' | wc -l)" -ge 300 ] && break
        sleep 0.2
    done
    mkdir -p "$d/www/v1"
    $MEASURE polls "$base" >"$d/polls-before.json"
    local t0 t1 ep name
    t0=$(now)
    for ep in "${eps[@]}"; do
        name=${ep##*/}
        wrk -t2 -c50 -d"${HTTP_S}s" --latency "$base$ep" >"$d/wrk-floe-$name.txt" 2>&1
    done
    t1=$(now)
    $MEASURE polls "$base" >"$d/polls-after.json"
    # The bytes floe answered, for nginx to serve; then floe stops, so each
    # server has the machine to itself.
    for ep in "${eps[@]}"; do
        curl -s -o "$d/www$ep" -w '%{content_type}' "$base$ep" >"$d/ctype-${ep##*/}"
    done
    stop_all "$FLOE_PID"
    $MEASURE polling "$RES" label="$lab" map="$d/map.json" before="$d/polls-before.json" \
        after="$d/polls-after.json" span_s="$($PY -c "print($t1 - $t0)")"

    local nginx_port ngx_pid="" ngx_why=""
    if ! command -v nginx >/dev/null; then ngx_why="nginx is not installed (make deps-bench)"; else
        nginx_port=$(free_port)
        mkdir -p "$d/ngx"
        # nginx's workers run as nobody when started as root: they must reach the files.
        chmod o+x "$TMP" "$d"; chmod -R o+rX "$d/www"
        {
            echo "worker_processes auto; daemon off; pid $d/ngx/nginx.pid;"
            echo "error_log $d/ngx/error.log warn;"
            echo "events { worker_connections 1024; }"
            echo "http { access_log off; types { }"
            for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $d/ngx/$t;"; done
            echo "  server { listen 127.0.0.1:$nginx_port; root $d/www;"
            for ep in "${eps[@]}"; do
                echo "    location = $ep { default_type \"$(cat "$d/ctype-${ep##*/}")\"; }"
            done
            echo "  } }"
        } >"$d/ngx/nginx.conf"
        bg nginx -p "$d/ngx" -c "$d/ngx/nginx.conf" -e "$d/ngx/error.log"
        ngx_pid=$BG_PID
        wait_http "http://127.0.0.1:$nginx_port/metrics" 10 ||
            ngx_why="nginx did not start: $(tail -2 "$d/ngx/error.log" 2>/dev/null | tr '\n' ' ')"
    fi
    local pm=()
    [ -n "$ngx_why" ] && pm=(peer_missing="$ngx_why")
    for ep in "${eps[@]}"; do
        name=${ep##*/}
        [ -z "$ngx_why" ] &&
            wrk -t2 -c50 -d"${HTTP_S}s" --latency "http://127.0.0.1:$nginx_port$ep" >"$d/wrk-nginx-$name.txt" 2>&1
        $MEASURE http "$RES" label="GET $ep (wrk -t2 -c50, ${HTTP_S} s)" floe_out="$d/wrk-floe-$name.txt" \
            peer_out="$d/wrk-nginx-$name.txt" "${pm[@]}" \
            bytes="$(stat -c %s "$d/www$ep")" ctype="$(cat "$d/ctype-$name")"
    done
    stop_all "$ngx_pid"
}

run_store() {
    local label="Store: bytes written per sample at 1,000 points/s (bench/store_write)"
    SCEN_ROWS=("$label"$'\t'"≤ 200")
    mkdir -p "$TMP/store"
    # 600 batches of 1,000 samples of 1,000 metrics: 10 minutes of 1,000 points at 1 s.
    if ! timeout 300 "$BUILD/store_write" "$TMP/store" 600 1000 >"$TMP/store/out" 2>&1; then
        fail_rows "store_write failed: $(tail -2 "$TMP/store/out" | tr '\n' ' ')"; return
    fi
    $MEASURE store "$RES" label="$label" out="$TMP/store/out" \
        note="600 batches of 1,000 samples of 1,000 metrics (10 min at 1 s), database on $(df --output=fstype "$TMP" | tail -1) in $(dirname "$TMP")"
}

run_latency() {
    local interval=1 for_s=2 d=$TMP/latency http
    local label="Decision latency, value change to decision (interval 1 s, for 2 s, policy_tick ${POLICY_TICK:-default})"
    SCEN_ROWS=("$label"$'\t'"≤ 3,100 ms")
    start_sim || { fail_rows "$WHY"; return; }
    http=$(free_port)
    $GEN latency "$d" interval=$interval for=$for_s port="$SIM_MB" http="$http" ${POLICY_TICK:+tick=$POLICY_TICK} ||
        { fail_rows "bench/gen.py failed"; return; }
    FLOE_PID=""
    if ! start_floe "$d" "$http"; then fail_rows "$WHY"; stop_all "$FLOE_PID"; return; fi
    $MEASURE latency "$RES" label="$label" floe_url="http://127.0.0.1:$http" \
        sim_url="http://127.0.0.1:$SIM_HTTP" policy=bench-trip value=chiller1.capacity_kw normal=200 \
        interval=$interval for=$for_s changes="$LAT_CHANGES" budget_s=150
    stop_all "$FLOE_PID"
}

# ---- run ----------------------------------------------------------------------
n=0
step() { n=$((n + 1)); say "[$n] $* ($(($(date +%s) - START)) s so far)"; }
wants store && { step "store write amplification"; run_store; }
wants mb1 && { step "Modbus, 1 device × 100 float32"; run_mb mb1 1; }
wants mb10 && { step "Modbus, 10 devices × 100 points, and RSS"; run_mb mb10 10 rss; }
wants snmp && { step "SNMP, 100 scalar OIDs"; run_snmp snmp 100 0 "SNMP CPU per 1,000 points, 100 scalar OIDs at 1 s"; }
wants walk && { step "SNMP, walk of 100 rows"; run_snmp walk 0 100 "SNMP CPU per 1,000 points, walk of 100 rows at 1 s (collectd BulkSize 25)"; }
wants idle && { step "idle"; run_idle; }
wants http && { step "HTTP against nginx"; run_http; }
wants latency && { step "decision latency"; run_latency; }
stop_all "$SIM_PID"

[ -s "$RES" ] || harness_fail "no scenario wrote a row (BENCH_ONLY='$ONLY')"
echo
cd_v=$(collectd -h 2>/dev/null | grep -oE 'collectd [0-9]+(\.[0-9]+)+' | head -1 | cut -d' ' -f2)
ngx_v=$(nginx -v 2>&1 | grep -oE '[0-9]+\.[0-9.]+$')
echo "floe $(git describe --always --dirty 2>/dev/null) vs collectd ${cd_v:-(not installed)}, nginx ${ngx_v:-(not installed)};" \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - START)) s"
echo
$MEASURE table "$RES"
