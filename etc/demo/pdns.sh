# shellcheck shell=bash
# A real PowerDNS Authoritative server (Debian's pdns-server with the
# gsqlite3 backend from pdns-backend-sqlite3) on 127.0.0.1, for `make demo`
# (etc/demo/run.sh) and the integration tests (tests/integration/lib/
# pdns.sh, which picks free ports and starts it under the tests' clean-up).
# DNS and its HTTP API on the ports given, its files in one directory, no
# daemon, no syslog, no security poll (it would query the Internet), run
# as whoever runs the script (ports above 1024: no root needed). Source
# it; the caller starts the server, so that the process is its own to stop:
#
#   pdns_prepare DIR DNS_PORT API_PORT API_KEY
#                              write DIR/pdns.conf and a new DIR/pdns.sqlite3; sets PDNS_DIR,
#                              PDNS_DNS_PORT, PDNS_API_PORT, PDNS_API (URL), PDNS_API_KEY;
#                              non-zero with the reason on stderr (not installed, no schema)
#   "$PDNS_SERVER" --config-dir="$PDNS_DIR" >"$PDNS_DIR/log" 2>&1 &
#                              the server itself (the caller's to start and stop)
#   pdns_wait PID              until its API answers (0); non-zero with the end of its log on
#                              stderr when it died or did not answer within 10 s
#   pdns_create_zone ZONE [NS] create a Native zone (ZONE ends in '.') with nameserver NS
#                              (default "ns1.ZONE") through the API; non-zero with the answer
#                              on stderr when PowerDNS refuses
#   pdns_set_a ZONE NAME ADDRESS TTL
#                              replace the A record of NAME (ending in '.', in ZONE) through
#                              the API; non-zero with the answer on stderr when refused
#   pdns_query NAME [TYPE]     the answer section, one record a line:
#                              "NAME TTL IN TYPE CONTENT" (dig +noall +answer, fields
#                              separated by one space); empty when there is none
#   pdns_addresses NAME [TYPE] only the contents (dig +short), sorted
#   pdns_traffic_json ZONE [TTL]
#                              the floe.json "traffic" object for this server

PDNS_SERVER=${PDNS_SERVER:-/usr/sbin/pdns_server}
PDNS_SCHEMA=${PDNS_SCHEMA:-/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql}
[ -r "$PDNS_SCHEMA" ] || PDNS_SCHEMA=/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql

pdns_prepare() { # DIR DNS_PORT API_PORT API_KEY
    [ -x "$PDNS_SERVER" ] || { echo "pdns: $PDNS_SERVER is not installed (Debian package pdns-server)" >&2; return 1; }
    [ -r /usr/lib/x86_64-linux-gnu/pdns/libgsqlite3backend.so ] || ls /usr/lib/*/pdns/libgsqlite3backend.so >/dev/null 2>&1 ||
        { echo "pdns: the gsqlite3 backend is not installed (Debian package pdns-backend-sqlite3)" >&2; return 1; }
    PDNS_DIR=$1
    PDNS_DNS_PORT=$2
    PDNS_API_PORT=$3
    PDNS_API=http://127.0.0.1:$PDNS_API_PORT
    PDNS_API_KEY=$4
    mkdir -p "$PDNS_DIR" || return 1
    rm -f "$PDNS_DIR/pdns.sqlite3"
    sqlite3 "$PDNS_DIR/pdns.sqlite3" <"$PDNS_SCHEMA" || { echo "pdns: cannot create the database from $PDNS_SCHEMA" >&2; return 1; }
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
}

pdns_wait() { # PID
    local i
    for ((i = 0; i < 100; i++)); do
        if curl -sf -m 2 -o /dev/null -H "X-API-Key: $PDNS_API_KEY" "$PDNS_API/api/v1/servers/localhost"; then
            return 0
        fi
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    echo "pdns: PowerDNS did not start; its log:" >&2
    tail -20 "$PDNS_DIR/log" >&2
    return 1
}

pdns_create_zone() {
    local zone=$1 ns=${2:-ns1.$1} code
    code=$(curl -s -m 5 -o "$PDNS_DIR/zone-answer" -w '%{http_code}' -X POST \
        -H "X-API-Key: $PDNS_API_KEY" -H 'Content-Type: application/json' \
        -d "{\"name\": \"$zone\", \"kind\": \"Native\", \"nameservers\": [\"$ns\"]}" \
        "$PDNS_API/api/v1/servers/localhost/zones")
    [ "$code" = 201 ] && return 0
    echo "pdns_create_zone $zone: HTTP $code: $(cat "$PDNS_DIR/zone-answer")" >&2
    return 1
}

pdns_set_a() { # ZONE NAME ADDRESS TTL
    local code
    code=$(curl -s -m 5 -o "$PDNS_DIR/rrset-answer" -w '%{http_code}' -X PATCH \
        -H "X-API-Key: $PDNS_API_KEY" -H 'Content-Type: application/json' \
        -d "{\"rrsets\": [{\"name\": \"$2\", \"type\": \"A\", \"ttl\": $4, \"changetype\": \"REPLACE\",
             \"records\": [{\"content\": \"$3\", \"disabled\": false}]}]}" \
        "$PDNS_API/api/v1/servers/localhost/zones/$1")
    [ "$code" = 204 ] && return 0
    echo "pdns_set_a $2: HTTP $code: $(cat "$PDNS_DIR/rrset-answer")" >&2
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
