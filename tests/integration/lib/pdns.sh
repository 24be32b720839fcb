# A real PowerDNS Authoritative server for the integration tests, on free
# 127.0.0.1 ports with its files in $TMP. The server's set-up and the
# helpers below are etc/demo/pdns.sh's, shared with `make demo`; this file
# adds the tests' side: free ports, `bg` (common.sh's trap stops the
# server with everything else). Source it after common.sh.
#
#   pdns_start [NAME]          start a server in $TMP/pdns-NAME (default NAME "pdns"); sets
#                              PDNS_DIR, PDNS_DNS_PORT, PDNS_API_PORT, PDNS_API (URL),
#                              PDNS_API_KEY, PDNS_PID and returns 0 once the API answers;
#                              non-zero with the server's log on stderr otherwise
#   pdns_stop                  stop it (SIGTERM, then SIGKILL after 15 s)
#   pdns_create_zone, pdns_set_a, pdns_query, pdns_addresses, pdns_traffic_json
#                              as etc/demo/pdns.sh says
#
# Several servers: call pdns_start with another NAME and keep the
# variables of the first before they are overwritten.
. "$(dirname "${BASH_SOURCE[0]}")/../../../etc/demo/pdns.sh"

# A port free on 127.0.0.1 for both UDP and TCP (DNS listens on both).
pdns_free_dns_port() {
    /usr/bin/python3 - <<'PY'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        t.close()
        u.close()
    print(port)
    break
PY
}

pdns_start() {
    pdns_prepare "$TMP/pdns-${1:-pdns}" "$(pdns_free_dns_port)" "$(free_port)" "pdns-key-$RANDOM$RANDOM" ||
        return 1
    bg "$PDNS_SERVER" --config-dir="$PDNS_DIR" >"$PDNS_DIR/log" 2>&1
    PDNS_PID=$BG_PID
    pdns_wait "$PDNS_PID"
}

pdns_stop() {
    stop_pid "$PDNS_PID"
}
