#!/bin/bash
# The cut-over against a real PowerDNS Authoritative server (lib/pdns.sh)
# and a webhook receiver, through migrator/mig_traffic.c driven by
# tests/integration/traffic_switch.c: a switch makes `dig` answer the new
# address with the configured TTL; a second switch replaces it (not
# adds); an IPv6 address makes an AAAA record; a wrong API key is an
# error naming HTTP 401 that never shows the key; a hostname outside the
# zone is refused before anything is sent; PowerDNS's own {"error"} text
# reaches the message; a stopped server is unreachable naming the URL;
# the webhook gets the JSON of the switch and its non-2xx is an error.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/pdns.sh"
cd "$ROOT"

holds() { eval "$1"; } # check NAME holds 'EXPR': EXPR may use && and [[ ]]

san=()
nm "$BUILD/libfloe.a" 2>/dev/null | grep -q __asan_ && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2046
if ! cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${san[@]}" -I. \
        tests/integration/traffic_switch.c "$BUILD/libfloe.a" \
        $(pkg-config --cflags --libs libcurl libcjson) -lpthread -lm -o "$TMP/traffic_switch"; then
    not_ok "traffic_switch builds against $BUILD/libfloe.a"; finish
fi

pdns_start || { not_ok "PowerDNS starts"; finish; }
pdns_create_zone apps.example.org. || { not_ok "PowerDNS creates the zone"; finish; }
ok "PowerDNS $("$PDNS_SERVER" --version 2>&1 | grep -o 'Authoritative Server [0-9.]*' | head -1) answers on 127.0.0.1:$PDNS_DNS_PORT, API on $PDNS_API_PORT"

switch() { # key=value ...: runs one switch against this PowerDNS
    "$TMP/traffic_switch" driver=powerdns api="$PDNS_API" api_key="$PDNS_API_KEY" \
        zone=apps.example.org. hostname=shop.apps.example.org from=lulea-1 to=falkenberg-1 "$@"
}

out=$(switch address=198.51.100.7 ttl=45)
check "a switch succeeds ($out)" [ "$out" = switched ]
got=$(pdns_query shop.apps.example.org A)
check "dig answers the new address with the configured TTL ($got)" \
    [ "$got" = "shop.apps.example.org. 45 IN A 198.51.100.7" ]

out=$(switch address=198.51.100.8 ttl=30)
got=$(pdns_addresses shop.apps.example.org A | tr '\n' ' ')
check "a second switch replaces the address ($out; $got)" [ "$got" = "198.51.100.8 " ]
check "and its TTL" [ "$(pdns_query shop.apps.example.org A)" = "shop.apps.example.org. 30 IN A 198.51.100.8" ]

out=$(switch address=198.51.100.8 ttl=30)
check "switching again to the same address succeeds (a resumed migration) ($out)" [ "$out" = switched ]

out=$(switch hostname=Web.Apps.Example.org. address=2001:DB8::7 ttl=60)
got=$(pdns_query web.apps.example.org AAAA)
check "an IPv6 address makes an AAAA record ($got)" [ "$got" = "web.apps.example.org. 60 IN AAAA 2001:db8::7" ]

out=$("$TMP/traffic_switch" driver=powerdns api="$PDNS_API" api_key=wrong-key-s3cret \
    zone=apps.example.org. hostname=shop.apps.example.org address=203.0.113.9)
rc=$?
want="error: traffic powerdns: PATCH $PDNS_API/api/v1/servers/localhost/zones/apps.example.org.: HTTP 401"
check "a wrong API key is an error naming HTTP 401 ($out)" holds '[ $rc -eq 1 ] && [[ "$out" == "$want"* ]]'
check "the message does not show the key" holds '[[ "$out" != *s3cret* && "$out" != *"$PDNS_API_KEY"* ]]'
check "and the record is unchanged" [ "$(pdns_addresses shop.apps.example.org)" = 198.51.100.8 ]

out=$(switch hostname=shop.other.example.org address=203.0.113.9)
rc=$?
want="error: traffic powerdns: shop: hostname 'shop.other.example.org.' is not in zone apps.example.org."
check "a hostname outside the zone is refused ($out)" holds '[ $rc -eq 1 ] && [ "$out" = "$want" ]'
check "and nothing is in DNS for it" [ -z "$(pdns_query shop.other.example.org A)" ]

out=$(switch zone=missing.example.org. hostname=shop.missing.example.org address=203.0.113.9)
rc=$?
want="error: traffic powerdns: PATCH $PDNS_API/api/v1/servers/localhost/zones/missing.example.org.: HTTP 404: Not Found"
check "a zone PowerDNS does not have is an error naming HTTP 404 ($out)" holds '[ $rc -eq 1 ] && [ "$out" = "$want" ]'

# PowerDNS refuses an A record beside a CNAME with {"error": ...}: its text reaches the message.
code=$(curl -s -o "$TMP/cname.answer" -w '%{http_code}' -X PATCH -H "X-API-Key: $PDNS_API_KEY" \
    -d '{"rrsets": [{"name": "alias.apps.example.org.", "type": "CNAME", "ttl": 30, "changetype": "REPLACE",
         "records": [{"content": "shop.apps.example.org.", "disabled": false}]}]}' \
    "$PDNS_API/api/v1/servers/localhost/zones/apps.example.org.")
[ "$code" = 204 ] || not_ok "a CNAME is added with curl: HTTP $code $(cat "$TMP/cname.answer")"
out=$(switch hostname=alias.apps.example.org address=203.0.113.9)
rc=$?
want="error: traffic powerdns: PATCH $PDNS_API/api/v1/servers/localhost/zones/apps.example.org.: HTTP 422: RRset alias.apps.example.org. IN A: Conflicts with pre-existing RRset"
check "PowerDNS's own error text is in the message ($out)" holds '[ $rc -eq 1 ] && [ "$out" = "$want" ]'

# ---- webhook ----
hook_port=$(free_port)
cat >"$TMP/hook.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(self.path.encode() + b" " + self.headers.get("Content-Type", "").encode() + b" " + body + b"\n")
        if self.path == "/fail":
            data = b'{"error": "no route for shop"}'
            self.send_response(500)
        else:
            data = b""
            self.send_response(204 if self.path == "/hook" else 200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
bg /usr/bin/python3 "$TMP/hook.py" "$hook_port" "$TMP/hook.log"
wait_http "http://127.0.0.1:$hook_port/" 10 || { not_ok "the webhook receiver did not start"; finish; }

out=$("$TMP/traffic_switch" driver=webhook url="http://127.0.0.1:$hook_port/hook" ttl=20 \
    workload=shop hostname=shop.apps.example.org. address=198.51.100.7 from=lulea-1 to=falkenberg-1)
check "a webhook answered 204 is a switch ($out)" [ "$out" = switched ]
line=$(head -1 "$TMP/hook.log")
check "the webhook gets the switch as JSON ($line)" /usr/bin/python3 -c '
import json, sys
path, ctype, body = sys.argv[1].split(" ", 2)
d = json.loads(body)
assert path == "/hook" and ctype == "application/json", (path, ctype)
assert d == {"workload": "shop", "hostname": "shop.apps.example.org", "address": "198.51.100.7",
             "from": "lulea-1", "to": "falkenberg-1", "ttl": 20}, d' "$line"

out=$("$TMP/traffic_switch" driver=webhook url="http://127.0.0.1:$hook_port/ok" \
    workload=shop hostname=shop.apps.example.org address=198.51.100.7)
check "any 2xx is success ($out)" [ "$out" = switched ]
out=$("$TMP/traffic_switch" driver=webhook url="http://127.0.0.1:$hook_port/fail" \
    workload=shop hostname=shop.apps.example.org address=198.51.100.7)
check "a webhook answered 500 is an error with its text ($out)" \
    [ "$out" = "error: traffic webhook: POST http://127.0.0.1:$hook_port/fail: HTTP 500: no route for shop" ]

out=$("$TMP/traffic_switch" driver=none workload=shop hostname=shop.apps.example.org address=198.51.100.7 \
    url="http://127.0.0.1:$hook_port/hook")
check "driver none switches nothing ($out)" holds '[ "$out" = switched ] && [ "$(wc -l <"$TMP/hook.log")" -eq 3 ]'

# ---- a stopped PowerDNS ----
pdns_stop
out=$(switch address=203.0.113.9 timeout_ms=2000)
rc=$?
want="error: traffic powerdns: PATCH $PDNS_API/api/v1/servers/localhost/zones/apps.example.org.: "
check "a stopped PowerDNS is unreachable, naming the URL ($out)" holds '[ $rc -eq 1 ] && [[ "$out" == "$want"* ]]'
finish
