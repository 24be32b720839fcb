# Shared helpers for the bash integration tests. Source it; it sets
#   BUILD (absolute), TMP (removed on exit) and the ok/not_ok counters,
# and kills every process started with `bg` on exit.
set -u
BUILD=$(cd "${1:-build}" && pwd)
TMP=$(mktemp -d /tmp/floe-it.XXXXXX)
FAILS=0
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
# A test killed by its runner's timeout still cleans up.
trap 'exit 1' TERM INT HUP

ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
check()  { # check NAME CMD... : ok when CMD succeeds
    local name=$1; shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
finish() { [ "$FAILS" -eq 0 ]; exit $?; }

# A free TCP (default) or UDP port on 127.0.0.1.
free_port() {
    /usr/bin/python3 - "${1:-tcp}" <<'PY'
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

# Starts a command in the background, remembering it for cleanup; the pid
# is in $BG_PID.
bg() { "$@" & BG_PID=$!; PIDS+=("$BG_PID"); }

# wait_http URL [SECONDS]: until the URL answers (any status).
wait_http() {
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}

# wait_file FILE [SECONDS]: until FILE exists and is not empty (default
# 20 s: a simulator under ASan on a loaded machine takes seconds to start).
wait_file() {
    local i
    for ((i = 0; i < ${2:-20} * 10; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# json_get JSON_FILE PYTHON_EXPR: evaluates EXPR with `d` = the parsed file.
json_get() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# stop_pid PID: SIGTERM, then up to 15 s for it to exit. Returns its exit
# status, or 124 after a SIGKILL when it did not stop (a hung shutdown).
stop_pid() {
    local i
    kill -TERM "$1" 2>/dev/null
    for ((i = 0; i < 150; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1" 2>/dev/null
            return $?
        fi
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 124
}
