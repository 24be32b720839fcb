# A real PowerDNS Authoritative server (Debian's pdns-server with the
# gsqlite3 backend from pdns-backend-sqlite3) for the integration tests:
# DNS and its HTTP API on free 127.0.0.1 ports, its files in $TMP, no
# daemon, no syslog, no security poll (it would query the Internet), run
# as whoever runs the test (ports above 1024: no root needed). Source it
# after common.sh; the server is started with `bg`, so common.sh's trap
# stops it with everything else.
#
#   pdns_start [NAME]          start a server in $TMP/pdns-NAME (default NAME "pdns"); sets
#                              PDNS_DIR, PDNS_DNS_PORT, PDNS_API_PORT, PDNS_API (URL),
#                              PDNS_API_KEY, PDNS_PID and returns 0 once the API answers;
#                              non-zero with the server's log on stderr otherwise
#   pdns_create_zone ZONE [NS] create a Native zone (ZONE ends in '.') with nameserver NS
#                              (default "ns1.ZONE") through the API; non-zero with the answer
#                              on stderr when PowerDNS refuses
#   pdns_query NAME [TYPE]     the answer section, one record a line:
#                              "NAME TTL IN TYPE CONTENT" (dig +noall +answer, fields
#                              separated by one space); empty when there is none
#   pdns_addresses NAME [TYPE] only the contents (dig +short), sorted
#   pdns_traffic_json ZONE [TTL]
#                              the floe.json "traffic" object for this server
#   pdns_stop                  stop it (SIGTERM, then SIGKILL after 15 s)
#
# Several servers: call pdns_start with another NAME and keep the
# variables of the first before they are overwritten.

PDNS_SERVER=${PDNS_SERVER:-/usr/sbin/pdns_server}
PDNS_SCHEMA=${PDNS_SCHEMA:-/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql}
[ -r "$PDNS_SCHEMA" ] || PDNS_SCHEMA=/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql

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
    local name=${1:-pdns} i
    [ -x "$PDNS_SERVER" ] || { echo "pdns_start: $PDNS_SERVER is not installed (Debian package pdns-server)" >&2; return 1; }
    [ -r /usr/lib/x86_64-linux-gnu/pdns/libgsqlite3backend.so ] || ls /usr/lib/*/pdns/libgsqlite3backend.so >/dev/null 2>&1 ||
        { echo "pdns_start: the gsqlite3 backend is not installed (Debian package pdns-backend-sqlite3)" >&2; return 1; }
    PDNS_DIR=$TMP/pdns-$name
    mkdir -p "$PDNS_DIR"
    rm -f "$PDNS_DIR/pdns.sqlite3"
    sqlite3 "$PDNS_DIR/pdns.sqlite3" <"$PDNS_SCHEMA" || { echo "pdns_start: cannot create the database from $PDNS_SCHEMA" >&2; return 1; }
    PDNS_DNS_PORT=$(pdns_free_dns_port)
    PDNS_API_PORT=$(free_port)
    PDNS_API=http://127.0.0.1:$PDNS_API_PORT
    PDNS_API_KEY=pdns-key-$RANDOM$RANDOM
    cat >"$PDNS_DIR/pdns.conf" <<CONF
launch=gsqlite3
gsqlite3-database=$PDNS_DIR/pdns.sqlite3
local-address=127.0.0.1
local-port=$PDNS_DNS_PORT
webserver=yes
webserver-address=127.0.0.1
webserver-port=$PDNS_API_PORT
webserver-allow-from=127.0.0.1
api=yes
api-key=$PDNS_API_KEY
socket-dir=$PDNS_DIR
guardian=no
daemon=no
disable-syslog=yes
security-poll-suffix=
CONF
    bg "$PDNS_SERVER" --config-dir="$PDNS_DIR" >"$PDNS_DIR/log" 2>&1
    PDNS_PID=$BG_PID
    for ((i = 0; i < 100; i++)); do
        if curl -sf -o /dev/null -H "X-API-Key: $PDNS_API_KEY" "$PDNS_API/api/v1/servers/localhost"; then
            return 0
        fi
        kill -0 "$PDNS_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "pdns_start: PowerDNS did not start; its log:" >&2
    tail -20 "$PDNS_DIR/log" >&2
    return 1
}

pdns_create_zone() {
    local zone=$1 ns=${2:-ns1.$1} code
    code=$(curl -s -o "$PDNS_DIR/zone-answer" -w '%{http_code}' -X POST \
        -H "X-API-Key: $PDNS_API_KEY" -H 'Content-Type: application/json' \
        -d "{\"name\": \"$zone\", \"kind\": \"Native\", \"nameservers\": [\"$ns\"]}" \
        "$PDNS_API/api/v1/servers/localhost/zones")
    [ "$code" = 201 ] && return 0
    echo "pdns_create_zone $zone: HTTP $code: $(cat "$PDNS_DIR/zone-answer")" >&2
    return 1
}

pdns_query() {
    dig @127.0.0.1 -p "$PDNS_DNS_PORT" +tries=2 +time=2 +noall +answer "$1" "${2:-A}" | awk '{$1=$1; print}'
}

pdns_addresses() {
    dig @127.0.0.1 -p "$PDNS_DNS_PORT" +tries=2 +time=2 +short "$1" "${2:-A}" | sort
}

pdns_traffic_json() {
    echo "{ \"driver\": \"powerdns\", \"api\": \"$PDNS_API\", \"api_key\": \"$PDNS_API_KEY\", \"server_id\": \"localhost\", \"zone\": \"$1\", \"ttl\": ${2:-30} }"
}

pdns_stop() {
    stop_pid "$PDNS_PID"
}
