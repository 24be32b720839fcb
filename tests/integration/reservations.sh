#!/bin/bash
# The answering side of the peer protocol (SPEC 5) in a running agent over
# a floe-sim site: GET /v1/capacity from live metrics (power 650 - 400 =
# 250 kW, cooling 600 - 400 = 200 kW, margin 20: 180 kW spare) and the
# same object in /v1/status; the contention proof (20 rounds of 16
# concurrent raw-HTTP POSTs from 4 processes of 4 threads: the kW granted
# never exceed spare_kw, and no request is refused while it would have
# fit); grants surviving kill -9 and a restart; DELETE freeing capacity;
# an unconfirmed reservation expiring at its ttl_s (logged once); no
# grants while a critical policy fires or while the inputs are unknown;
# 400/401/403/404 answers; floe_spare_kw and floe_reserved_kw in /metrics
# (promtool).
. "$(dirname "$0")/lib/common.sh"

cat > "$TMP/site.json" <<'JSON'
{ "site": { "name": "it-resv-sim" },
  "chillers": [ { "name": "chiller1", "capacity_kw": 300 }, { "name": "chiller2", "capacity_kw": 300 } ],
  "it": { "base_kw": 400 },
  "supply": { "hydro_kw": 650, "wind_kw": 0, "grid_kw": 0 } }
JSON
bg "$BUILD/floe-sim" site -c "$TMP/site.json" --modbus-port 0 --http-port 0 --snmp-port 0 \
    --ports-file "$TMP/ports.json"
sim_pid=$BG_PID
wait_file "$TMP/ports.json"
mb_port=$(json_get "$TMP/ports.json" 'd["modbus"]')
sim="http://127.0.0.1:$(json_get "$TMP/ports.json" 'd["http"]')"
http_port=$(free_port)
base="http://127.0.0.1:$http_port"
PEER="Authorization: Bearer peer-secret-1"
PEER2="Authorization: Bearer peer-secret-2"
ADMIN="Authorization: Bearer admin-secret-1"
READ="Authorization: Bearer read-secret-1"
OPER="Authorization: Bearer op-secret-1"

cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-resv", "ingress": "192.0.2.10" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port",
            "tokens": [ { "name": "falkenberg-1", "role": "peer", "token": "peer-secret-1" },
                        { "name": "oslo-2", "role": "peer", "token": "peer-secret-2" },
                        { "name": "root", "role": "admin", "token": "admin-secret-1" },
                        { "name": "noc", "role": "read", "token": "read-secret-1" },
                        { "name": "facility", "role": "operator", "token": "op-secret-1" } ] },
  "policy_tick": "500ms",
  "modbus": [ { "name": "sim", "host": "127.0.0.1", "port": $mb_port, "interval": "500ms",
      "points": [
        { "metric": "cooling.chiller1.available_kw", "table": "holding", "address": 102, "type": "float32", "unit": "kW" },
        { "metric": "cooling.chiller2.available_kw", "table": "holding", "address": 122, "type": "float32", "unit": "kW" },
        { "metric": "it.load_kw", "table": "holding", "address": 1000, "type": "float32", "unit": "kW" },
        { "metric": "power.supply_kw", "table": "holding", "address": 1106, "type": "float32", "order": "BADC", "unit": "kW" } ] } ],
  "derive": [ { "metric": "cooling.capacity_kw", "expr": "sum(cooling.*.available_kw)", "unit": "kW" } ],
  "capacity": { "power_headroom_kw": "power.supply_kw - it.load_kw",
                "cooling_headroom_kw": "cooling.capacity_kw - it.load_kw", "margin_kw": 20 },
  "policies": [ { "name": "cooling-shortfall", "when": "cooling.capacity_kw < it.load_kw",
                  "severity": "critical", "mode": "observe", "cooldown": "1h" } ] }
JSON
start_agent() {
    "$BUILD/floe" agent -c "$TMP/floe.json" 2>>"$TMP/agent.log" &
    agent=$!
    PIDS+=("$agent")
    wait_http "$base/healthz" 10 || not_ok "agent did not start: $(tail -3 "$TMP/agent.log")"
}
# until_json PATH AUTH PYEXPR [TRIES]: until PYEXPR holds over GET PATH (4 tries a second)
until_json() {
    local i
    for ((i = 0; i < ${4:-40}; i++)); do
        curl -s -H "$2" "$base$1" > "$TMP/until.json"
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
            "$TMP/until.json" "$3" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}
# code OUT CURL_ARGS...: the HTTP status; the body goes to OUT
code() { local out=$1; shift; curl -s -o "$out" -w '%{http_code}' "$@"; }
reserve() { # reserve AUTH WORKLOAD KW [TTL_S] -> status; body in $TMP/r.json
    code "$TMP/r.json" -X POST -H "$1" "$base/v1/reservations" \
        -d "{\"from_site\": \"falkenberg-1\", \"workload\": \"$2\", \"kw\": $3${4:+, \"ttl_s\": $4}}"
}
jf() { json_get "$1" "$2"; } # jf FILE EXPR

start_agent
check "capacity from live metrics: 250/200 kW headroom, margin 20, 180 kW spare, accepting" \
    until_json /v1/capacity "$PEER" 'd["accepting"] is True and d["power_headroom_kw"] == 250 and d["cooling_headroom_kw"] == 200 and d["spare_kw"] == 180 and d["reserved_kw"] == 0 and d["margin_kw"] == 20 and d["site"] == "it-resv" and d["ingress"] == "192.0.2.10" and d["as_of"].endswith("Z") and d["reason"] is None'
curl -s -H "$READ" "$base/v1/status" > "$TMP/status.json"
curl -s -H "$PEER" "$base/v1/capacity" > "$TMP/cap.json"
check "/v1/status carries the same capacity object" \
    /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["capacity"]; c=json.load(open(sys.argv[2])); sys.exit(0 if list(s) == list(c) and s["spare_kw"] == c["spare_kw"] == 180 and s["accepting"] is True else 1)' \
    "$TMP/status.json" "$TMP/cap.json"

# ---- roles and bad requests ----
c=$(code "$TMP/b.json" -H "$READ" "$base/v1/capacity")
check "read token on /v1/capacity: 403 ($c)" test "$c" = 403
c=$(code "$TMP/b.json" -X POST -H "$OPER" "$base/v1/reservations" -d '{"from_site":"x","workload":"w","kw":1}')
check "operator token on POST /v1/reservations: 403 ($c)" test "$c" = 403
c=$(code "$TMP/b.json" -X POST "$base/v1/reservations" -d '{"from_site":"x","workload":"w","kw":1}')
check "no token: 401 ($c)" test "$c" = 401
bad() { # bad BODY FIELD_PREFIX
    local c
    c=$(code "$TMP/b.json" -X POST -H "$PEER" "$base/v1/reservations" -d "$1")
    check "400 for $1 naming ${2%%:*} ($c: $(jf "$TMP/b.json" 'd["error"]'))" \
        sh -c "[ $c = 400 ] && grep -q '\"error\":\"$2' '$TMP/b.json'"
}
bad '{"from_site": "falkenberg-1", "workload": "shop"}' 'kw: required'
bad '{"from_site": "falkenberg-1", "workload": "shop", "kw": -5}' 'kw: must be'
bad '{"from_site": "falkenberg-1", "workload": "shop", "kw": 0}' 'kw: must be'
bad '{"from_site": "falkenberg-1", "workload": "shop", "kw": "10"}' 'kw: must be'
bad '{"from_site": "falkenberg-1", "workload": "shop", "kw": 1e999}' 'body: line 1'
bad '{"workload": "shop", "kw": 5}' 'from_site: required'
bad '{"from_site": "falkenberg-1", "kw": 5}' 'workload: required'
bad '{"from_site": 7, "workload": "shop", "kw": 5}' 'from_site: must be a string'
bad '{"from_site": "falkenberg-1", "workload": "shop", "kw": 5, "ttl_s": 5}' 'ttl_s: must be'
bad '{"from_site": "falkenberg-1", "workload": "shop", "kw": 5, "ttl_s": 90000}' 'ttl_s: must be'
bad '{"from_site": "falkenberg-1", "workload": "shop", "kw": 5' 'body: line 1'
c=$(code "$TMP/b.json" -X DELETE -H "$PEER" "$base/v1/reservations/rsv-0123456789abcdef")
check "DELETE of an unknown id: 404 ($c)" test "$c" = 404
c=$(code "$TMP/b.json" -X DELETE -H "$PEER" "$base/v1/reservations/nonsense")
check "DELETE of a malformed id: 404 ($c)" test "$c" = 404
check "nothing was granted by the bad requests" \
    until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 0' 1

# ---- contention ----
cat > "$TMP/contention.py" <<'PY'
# contention.py PORT ROUNDS: per round 16 POSTs sent at once (4 processes x
# 4 threads, each its own connection, released by one barrier), then the
# book is checked against the answers and every grant DELETEd again.
import json, multiprocessing as mp, random, socket, sys, threading

PORT, ROUNDS, PROCS, THREADS = int(sys.argv[1]), int(sys.argv[2]), 4, 4
TOKENS = ["peer-secret-1", "peer-secret-2", "admin-secret-1"]

def http(method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    s.sendall((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
               f"Connection: close\r\n\r\n").encode() + data)
    return s

def answer(s):
    raw = b""
    while chunk := s.recv(65536):
        raw += chunk
    s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body) if body else None

def worker(p, start, done, results):
    def one(t, r):
        i = p * THREADS + t
        rnd = random.Random(r * 1000 + i)
        kw = rnd.choice([10, 15, 20, 25, 30, 35, 40])
        token = TOKENS[i % len(TOKENS)]
        body = {"from_site": f"site-{i}", "workload": f"w-{r}-{i}", "kw": kw, "ttl_s": 600}
        data = json.dumps(body).encode()
        s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
        req = (f"POST /v1/reservations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
               f"Connection: close\r\n\r\n").encode() + data
        start.wait()
        s.sendall(req)
        status, reply = answer(s)
        results.put((r, i, token, kw, status, reply))
    for r in range(ROUNDS):
        ts = [threading.Thread(target=one, args=(t, r)) for t in range(THREADS)]
        for t in ts: t.start()
        for t in ts: t.join()
        done.wait()

def capacity():
    return answer(http("GET", "/v1/capacity", TOKENS[2]))[1]

if __name__ == "__main__":
    n = PROCS * THREADS
    start, done = mp.Barrier(n + 1), mp.Barrier(PROCS + 1)
    results = mp.Queue()
    procs = [mp.Process(target=worker, args=(p, start, done, results)) for p in range(PROCS)]
    for p in procs: p.start()
    requests = grants = refusals = 0
    max_committed, bad = 0.0, []
    spare0 = None
    for r in range(ROUNDS):
        cap = capacity()
        spare = cap["spare_kw"]
        spare0 = spare if spare0 is None else spare0
        if not cap["accepting"] or cap["reserved_kw"] != 0:
            bad.append(f"round {r}: starts with {cap}")
        start.wait()
        done.wait()
        got = [results.get(timeout=30) for _ in range(n)]
        requests += n
        ok = [g for g in got if g[4] == 201]
        no = [g for g in got if g[4] == 409]
        other = [g for g in got if g[4] not in (201, 409)]
        grants, refusals = grants + len(ok), refusals + len(no)
        committed = sum(g[3] for g in ok)
        max_committed = max(max_committed, committed)
        if other:
            bad.append(f"round {r}: answers other than 201/409: {[(g[4], g[5]) for g in other]}")
        if committed > spare:
            bad.append(f"round {r}: {committed} kW granted, only {spare} kW spare")
        # No spurious refusal: the book only grew during the round, so a
        # refused ask must not have fitted even into what is left now.
        for g in no:
            if g[5].get("code") != "no_capacity" or g[3] <= spare - committed:
                bad.append(f"round {r}: {g[3]} kW refused with {spare - committed} kW left: {g[5]}")
        for g in ok:
            if g[5]["kw"] != g[3] or not g[5]["id"].startswith("rsv-"):
                bad.append(f"round {r}: grant answer {g[5]}")
        after = capacity()
        if abs(after["reserved_kw"] - committed) > 1e-9 or abs(after["spare_kw"] - (spare - committed)) > 1e-9:
            bad.append(f"round {r}: book says {after['reserved_kw']} kW reserved and {after['spare_kw']} "
                       f"spare, answers {committed} of {spare} kW granted")
        for g in ok:
            status, reply = answer(http("DELETE", f"/v1/reservations/{g[5]['id']}", g[2]))
            if status != 200 or reply["state"] != "released":
                bad.append(f"round {r}: DELETE {g[5]['id']}: {status} {reply}")
    for p in procs: p.join()
    print(f"{requests} requests ({ROUNDS} rounds x {n} concurrent from {PROCS} processes), "
          f"{grants} grants, {refusals} refusals; max committed {max_committed:g} kW vs spare {spare0:g} kW")
    for b in bad[:10]:
        print("  " + b)
    sys.exit(1 if bad or grants == 0 or refusals == 0 else 0)
PY
if /usr/bin/python3 "$TMP/contention.py" "$http_port" 20 >"$TMP/contention.out" 2>&1; then
    ok "contention: $(head -1 "$TMP/contention.out")"
else
    not_ok "contention: $(cat "$TMP/contention.out" | head -12)"
fi
check "after the rounds every grant is released: 0 kW reserved, 180 spare" \
    until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 0 and d["spare_kw"] == 180' 1

# ---- kill -9 and restart ----
c=$(reserve "$PEER" shop 50); id_a=$(jf "$TMP/r.json" 'd["id"]')
check "grant A: 201 ($c)" test "$c" = 201
c=$(code "$TMP/r.json" -X POST -H "$PEER2" "$base/v1/reservations" -d '{"from_site": "oslo-2", "workload": "mysql", "kw": 50}')
id_b=$(jf "$TMP/r.json" 'd["id"]')
check "grant B (default ttl 900 s): 201 ($c)" test "$c" = 201
check "100 kW reserved, 80 spare" until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 100 and d["spare_kw"] == 80' 1
kill -KILL "$agent"
wait "$agent" 2>/dev/null
start_agent
check "after kill -9 and a restart: still 100 kW reserved, 80 spare" \
    until_json /v1/capacity "$PEER" 'd["accepting"] is True and d["reserved_kw"] == 100 and d["spare_kw"] == 80'
check "both grants listed after the restart" \
    until_json /v1/reservations "$ADMIN" "sorted(r['id'] for r in d['reservations']) == sorted(['$id_a', '$id_b'])" 1
c=$(reserve "$PEER" big 81)
check "81 kW on 80 spare after the restart: 409 no_capacity, spare_kw 80 ($c)" \
    test "$c $(jf "$TMP/r.json" '(d["code"], d["spare_kw"])')" = "409 ('no_capacity', 80)"
c=$(reserve "$PEER" fits 80); id_c=$(jf "$TMP/r.json" 'd["id"]')
check "80 kW on 80 spare: 201 ($c)" test "$c" = 201

# ---- DELETE ----
c=$(code "$TMP/d.json" -X DELETE -H "$PEER2" "$base/v1/reservations/$id_c")
check "another peer cannot release it: 404 ($c)" test "$c" = 404
c=$(code "$TMP/d.json" -X DELETE -H "$PEER" "$base/v1/reservations/$id_c")
check "DELETE by its peer: 200, released ($c)" test "$c $(jf "$TMP/d.json" 'd["state"]')" = "200 released"
check "DELETE freed 80 kW" until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 100 and d["spare_kw"] == 80' 1
c=$(code "$TMP/d.json" -X DELETE -H "$PEER" "$base/v1/reservations/$id_c")
check "DELETE again: 200, still released ($c)" test "$c $(jf "$TMP/d.json" 'd["state"]')" = "200 released"
check "nothing more freed" until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 100' 1

# ---- expiry ----
c=$(reserve "$PEER" shortlived 30 10); id_t=$(jf "$TMP/r.json" 'd["id"]')
t_grant=$(date +%s.%N)
check "grant with ttl_s 10: 201 ($c)" test "$c" = 201
check "130 kW reserved with it" until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 130 and d["spare_kw"] == 50' 1

curl -s -H "$READ" "$base/metrics" > "$TMP/metrics.txt"
check "/metrics passes promtool" sh -c "promtool check metrics < '$TMP/metrics.txt' >/dev/null 2>&1"
check "floe_spare_kw 50 and floe_reserved_kw 130 in /metrics" \
    sh -c "grep -qx 'floe_spare_kw 50' '$TMP/metrics.txt' && grep -qx 'floe_reserved_kw 130' '$TMP/metrics.txt'"

# A critical policy firing stops grants (chiller1 trips: 300 < 400 kW).
curl -s -X POST "$sim/sim/set" -d '{"chiller1.capacity_kw": 0}' >/dev/null
check "critical policy firing: not accepting, with the reason" \
    until_json /v1/capacity "$PEER" 'd["accepting"] is False and d["reason"] == "critical policy cooling-shortfall is firing"'
c=$(reserve "$PEER" during-alarm 1)
check "POST while a critical policy fires: 409 not_accepting ($c)" \
    test "$c $(jf "$TMP/r.json" 'd["code"]')" = "409 not_accepting"
curl -s -X POST "$sim/sim/set" -d '{"chiller1.capacity_kw": 300}' >/dev/null
check "chiller back: accepting again" until_json /v1/capacity "$PEER" 'd["accepting"] is True'

# Still counted shortly before its TTL, freed at it.
now=$(date +%s.%N)
sleep "$(/usr/bin/python3 -c "print(max(0, $t_grant + 8 - $now))")"
check "ttl reservation still counts at 8 s" until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 130' 1
until_json /v1/capacity "$PEER" 'd["reserved_kw"] == 100' 24
freed=$?
elapsed=$(/usr/bin/python3 -c "print(round($(date +%s.%N) - $t_grant, 1))")
check "expiry freed its 30 kW at the TTL (${elapsed} s after the grant)" \
    sh -c "[ $freed = 0 ] && /usr/bin/python3 -c 'import sys; sys.exit(0 if 9.9 <= $elapsed <= 13 else 1)'"
for _ in $(seq 30); do grep -q "reservation $id_t for shortlived from falkenberg-1 expired unconfirmed" "$TMP/agent.log" && break; sleep 0.1; done
check "expiry logged once" \
    test "$(grep -c "reservation $id_t for shortlived from falkenberg-1 expired unconfirmed" "$TMP/agent.log")" = 1
check "expired row kept for inspection" \
    test "$(sqlite3 "$TMP/floe.db" "SELECT state FROM reservation WHERE id = '$id_t'")" = expired
check "grants, refusals and releases are logged with the token name" \
    sh -c "grep -q 'reservation $id_a granted to falkenberg-1 (token falkenberg-1): 50 kW for shop' '$TMP/agent.log' && grep -q 'reservation refused to falkenberg-1 (token falkenberg-1): 81 kW for big' '$TMP/agent.log' && grep -q 'reservation $id_c released by falkenberg-1' '$TMP/agent.log'"

# ---- inputs unknown: the simulator stops answering ----
stop_pid "$sim_pid" >/dev/null
check "simulator gone: not accepting, spare 0, headrooms null" \
    until_json /v1/capacity "$PEER" 'd["accepting"] is False and d["spare_kw"] == 0 and d["power_headroom_kw"] is None and d["cooling_headroom_kw"] is None and d["reason"].startswith("capacity input unknown")'
c=$(reserve "$PEER" blind 1)
check "POST with unknown inputs: 409 not_accepting, spare_kw 0 ($c)" \
    test "$c $(jf "$TMP/r.json" '(d["code"], d["spare_kw"])')" = "409 ('not_accepting', 0)"
check "tokens never reach the log" bash -c "! grep -qE 'secret-[0-9]' '$TMP/agent.log'"
stop_pid "$agent"
check "agent stops cleanly" test $? -eq 0
finish
