#!/bin/bash
# The agent watching its peer sites: five configured peers, four served by
# a small Python server — one good (it checks the bearer token, read from
# a token_file), one answering garbage, one slower than the timeout, one
# with a token it refuses — and one where nothing listens. /v1/status
# lists each with its state and reason, ages grow between rounds and
# rounds go on, `floe status` prints one line per peer within 80x23,
# /metrics has floe_peer_up and floe_peer_spare_kw and passes promtool, a
# down peer is logged once however many rounds, a reload (SIGHUP) changes
# the list at once, and the agent stops promptly with a slow peer.
. "$(dirname "$0")/lib/common.sh"

peer_port=$(free_port)
down_port=$(free_port)
http_port=$(free_port)
base="http://127.0.0.1:$http_port"

cat >"$TMP/peers.py" <<'PY'
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the agent gave up on slow-4: as it should
            pass
    def do_GET(self):
        name = self.path.split("/")[1]
        if not self.path.endswith("/v1/capacity"):
            return self.send(404, '{"error": "no such endpoint"}')
        answer = {"site": name, "accepting": True, "spare_kw": 150, "power_headroom_kw": 400,
                  "cooling_headroom_kw": 190, "reserved_kw": 20, "ingress": "198.51.100.7",
                  "as_of": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        auth = self.headers.get("Authorization", "")
        if name == "good-1" and auth != "Bearer good-token":
            return self.send(401, '{"error": "the bearer token is not valid", "code": "unauthorized"}')
        if name == "locked-5":
            return self.send(401, '{"error": "the bearer token is not valid", "code": "unauthorized"}')
        if name == "garbage-3":
            answer["spare_kw"] = "lots"
        if name == "slow-4":
            time.sleep(5)
        self.send(200, json.dumps(answer))
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
bg /usr/bin/python3 "$TMP/peers.py" "$peer_port"
peers_pid=$BG_PID
printf 'good-token\n' >"$TMP/good.token"
wait_http "http://127.0.0.1:$peer_port/" 10 || { not_ok "the peer server did not start"; finish; }

write_config() { # PEERS_JSON
    cat >"$TMP/floe.json" <<JSON
{ "site": { "name": "it-peers" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "peers_poll": "6s",
  "peers": [ $1 ] }
JSON
}
peer() { # NAME PORT [TOKEN_KEY]
    echo "{ \"name\": \"$1\", \"url\": \"http://127.0.0.1:$2/$1\", ${3:-\"token\": \"t\"} }"
}
write_config "$(peer good-1 "$peer_port" "\"token_file\": \"good.token\""),
    $(peer down-2 "$down_port"), $(peer garbage-3 "$peer_port"), $(peer slow-4 "$peer_port"),
    $(peer locked-5 "$peer_port")"

bg "$BUILD/floe" agent -c "$TMP/floe.json" 2>"$TMP/agent.log"
agent=$BG_PID
wait_http "$base/healthz" 10 || { not_ok "agent did not start: $(tail -5 "$TMP/agent.log")"; finish; }

until_json() { # PATH PYTHON_EXPR [SECONDS]: until it holds over the JSON of GET PATH
    local i
    for ((i = 0; i < ${3:-10} * 4; i++)); do
        curl -s "$base$1" >"$TMP/until.json"
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
            "$TMP/until.json" "$2" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}
check "every peer has an answer or a reason after the first round (within the 3 s timeout)" \
    until_json /v1/status 'all(p["state"] != "pending" for p in d["peers"])' 8
curl -s "$base/v1/status" >"$TMP/status.json"
echo "# peers: $(json_get "$TMP/status.json" 'd["peers"]')"
peer_field() { # NAME PYTHON_EXPR over p, the peer's entry
    json_get "$TMP/status.json" "(lambda p: ($2))([p for p in d['peers'] if p['name'] == '$1'][0])"
}
check "peers are listed in config order" \
    test "$(json_get "$TMP/status.json" '[p["name"] for p in d["peers"]]')" = \
    "['good-1', 'down-2', 'garbage-3', 'slow-4', 'locked-5']"
check "good-1 (token from its token_file): ok, reachable, accepting, 150 kW spare, no error" \
    test "$(peer_field good-1 'p["state"], p["reachable"], p["accepting"], p["spare_kw"], p["error"]')" \
    = "('ok', True, True, 150, None)"
check "down-2: unreachable, naming its URL" \
    test "$(peer_field down-2 'p["state"], p["reachable"], p["accepting"], p["spare_kw"], p["error"].startswith("unreachable: http://127.0.0.1:'"$down_port"'/down-2/v1/capacity: ")')" \
    = "('unreachable', False, None, None, True)"
check "garbage-3: reachable but garbage, saying what is wrong" \
    test "$(peer_field garbage-3 'p["state"], p["reachable"], p["spare_kw"], p["error"]')" \
    = "('garbage', True, None, 'garbage answer: spare_kw is not a number (a string)')"
check "slow-4: no answer within the timeout (half of peers_poll 6s)" \
    test "$(peer_field slow-4 'p["state"], p["reachable"], p["error"].endswith("/slow-4/v1/capacity: no answer within 3000 ms")')" \
    = "('unreachable', False, True)"
check "locked-5: refused with the peer's error text" \
    test "$(peer_field locked-5 'p["state"], p["reachable"], p["error"]')" \
    = "('refused', True, 'refused: HTTP 401: the bearer token is not valid')"

age1=$(peer_field good-1 'p["age_s"]')
checked1=$(peer_field good-1 'p["checked"]')
sleep 2.2
curl -s "$base/v1/status" >"$TMP/status2.json"
age2=$(json_get "$TMP/status2.json" '[p for p in d["peers"] if p["name"] == "good-1"][0]["age_s"]')
checked2=$(json_get "$TMP/status2.json" '[p for p in d["peers"] if p["name"] == "good-1"][0]["checked"]')
check "ages grow between rounds (good-1: $age1 s, then $age2 s, same answer)" \
    sh -c "[ '$checked1' = '$checked2' ] && [ $age2 -ge $((age1 + 2)) ]"
check "rounds go on every peers_poll (a newer answer within 10 s)" \
    until_json /v1/status '[p for p in d["peers"] if p["name"] == "good-1" and p["checked"] != "'"$checked1"'"]' 10

# ---- floe status ----
"$BUILD/floe" status --url "$base" >"$TMP/status.out" 2>&1
rc=$?
echo "# floe status:"; sed 's/^/#   /' "$TMP/status.out"
check "floe status exits 0" test $rc = 0
check "floe status fits 23 lines ($(wc -l <"$TMP/status.out"))" test "$(wc -l <"$TMP/status.out")" -le 23
widest=$(/usr/bin/python3 -c 'import sys; print(max(len(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")))' "$TMP/status.out")
check "floe status fits 80 columns (widest line $widest)" test "$widest" -le 80
check "the five peers in config order, one line each" \
    test "$(grep '^PEER ' "$TMP/status.out" | awk '{print $2}' | tr '\n' ' ')" = "good-1 down-2 garbage-3 slow-4 locked-5 "
check "good-1: its answer's age, spare kW, accepting" \
    grep -qE '^PEER    good-1 +[0-9]+s ago  150 kW spare, accepting$' "$TMP/status.out"
check "down-2: UNREACHABLE and why (the URL left to --all)" \
    grep -qE "^PEER    down-2 +[0-9]+s ago  UNREACHABLE Failed to connect to 127.0.0.1 port" "$TMP/status.out"
check "garbage-3: GARBAGE and what is wrong" \
    grep -qE '^PEER    garbage-3 +[0-9]+s ago  GARBAGE spare_kw is not a number \(a string\)$' "$TMP/status.out"
check "slow-4: UNREACHABLE, no answer in time" \
    grep -qE '^PEER    slow-4 +[0-9]+s ago  UNREACHABLE no answer within 3000 ms$' "$TMP/status.out"
"$BUILD/floe" status --all --url "$base" >"$TMP/all.out" 2>&1
check "floe status --all: the whole reason, with the URL" \
    grep -qE "^PEER    down-2 +[0-9]+s ago  UNREACHABLE http://127.0.0.1:$down_port/down-2/v1/capacity: Failed to connect" "$TMP/all.out"
check "locked-5: REFUSED with the peer's words" \
    grep -qE '^PEER    locked-5 +[0-9]+s ago  REFUSED HTTP 401: the bearer token is not valid$' "$TMP/status.out"

# ---- /metrics ----
curl -s "$base/metrics" >"$TMP/metrics.txt"
if promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.log" 2>&1; then
    ok "promtool check metrics accepts /metrics with the peer families"
else
    not_ok "promtool check metrics: $(head -5 "$TMP/promtool.log")"
fi
check "floe_peer_up: 1 for good-1, 0 for the four others" \
    test "$(grep '^floe_peer_up{' "$TMP/metrics.txt" | tr '\n' ' ')" = \
    'floe_peer_up{peer="good-1"} 1 floe_peer_up{peer="down-2"} 0 floe_peer_up{peer="garbage-3"} 0 floe_peer_up{peer="slow-4"} 0 floe_peer_up{peer="locked-5"} 0 '
check "floe_peer_spare_kw: good-1 only" \
    test "$(grep '^floe_peer_spare_kw{' "$TMP/metrics.txt" | tr '\n' ' ')" = 'floe_peer_spare_kw{peer="good-1"} 150 '

# ---- the log: changes, not rounds ----
check "two rounds or more, down-2 logged once ($(grep -c 'peer down-2: ' "$TMP/agent.log"))" \
    test "$(grep -c 'peer down-2: unreachable: ' "$TMP/agent.log")" = 1
grep 'peer ' "$TMP/agent.log" | sed 's/^/#   /'
check "good-1's first answer logged once" \
    test "$(grep -c 'peer good-1: answering: 150 kW spare, accepting work' "$TMP/agent.log")" = 1
check "no token in the log" sh -c "! grep -q 'good-token' '$TMP/agent.log'"

# ---- reload: the list follows at once ----
write_config "$(peer good-1 "$peer_port" "\"token_file\": \"good.token\""),
    $(peer new-6 "$peer_port")"
kill -HUP "$agent"
check "after SIGHUP the status lists the new peers (removed ones gone, good-1 keeps its answer)" \
    until_json /v1/status '[(p["name"], p["state"]) for p in d["peers"]][:1] == [("good-1", "ok")] and [p["name"] for p in d["peers"]] == ["good-1", "new-6"]' 3
check "the new peer is asked at once, not a period later" \
    until_json /v1/status '[p for p in d["peers"] if p["name"] == "new-6" and p["state"] == "ok"]' 3

# ---- stop with a slow peer in flight ----
write_config "$(peer slow-4 "$peer_port")"
kill -HUP "$agent"
sleep 0.5
t0=$(date +%s%N)
stop_pid "$agent"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "the agent stops cleanly with a slow peer in flight (exit $rc in $ms ms, < 5 s; no Sanitizer report)" \
    sh -c "[ $rc = 0 ] && [ $ms -lt 5000 ] && ! grep -q Sanitizer '$TMP/agent.log'"
kill "$peers_pid" 2>/dev/null
finish
