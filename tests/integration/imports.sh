#!/bin/bash
# imports — the target side of a migration end to end (SPEC 5): a floe
# agent at falkenberg-1 over floe-sim's cluster and Velero imports what
# lulea-1 (a second floe-sim, standing in for the source's migrator)
# backs up into falkenberg-1's storage location:
#   * a stateful namespace: the import waits for B's storage sync,
#     restores, scales to the counts asked for (more than backed up),
#     is ready with the data version the backup captured; asking again
#     answers 200 with the same id; the reservation is confirmed;
#   * a stateless one backed up at 0 replicas, whose first restore fails
#     (an injected fault): tried again under -2, scaled up from 0;
#   * a namespace that exists already: refused, never touched;
#   * DELETE: the namespace the import made goes, the reservation too;
#   * a backup that never syncs: failed after 4 sync periods;
#   * the agent killed with SIGKILL while a restore runs, Velero
#     restarted while the agent is down: the restarted agent finds the
#     Restore failed by the restart, deletes the half-restored namespace,
#     restores again under -2, ready, no third Restore;
#   * a workload that never becomes ready: failed after
#     import_ready_timeout, its namespace deleted;
#   * floe_imports_total, HTTP errors, a clean SIGTERM.
#
# usage: tests/integration/imports.sh BUILD_DIR   (e.g. build)
. "$(dirname "$0")/lib/common.sh"
SIM=$BUILD/floe-sim
FLOE=$BUILD/floe
mkdir -p "$TMP/a-store" "$TMP/b-store"

# lulea-1 runs fast (200 simulated s per s: backups are quick); the
# target slower (20: a 10 GB restore takes ~5 s, enough to kill the agent
# in it; the 1-minute sync comes every 3 s, pods are ready in 0.5 s).
cat >"$TMP/a.json" <<JSON
{ "site": { "name": "lulea-1" }, "speedup": 200,
  "chillers": [ { "name": "chiller1", "capacity_kw": 500 } ],
  "cluster": { "token": "k8s-a", "namespaces": [
    { "name": "shop", "labels": { "floe.dev/movable": "true" },
      "annotations": { "floe.dev/power-kw": "40", "floe.dev/data-gb": "0.88",
                       "floe.dev/quiesce": "[\"/bin/sync\"]" },
      "deployments": [ { "name": "web", "replicas": 3 } ],
      "statefulsets": [ { "name": "db", "replicas": 2 } ] },
    { "name": "crm", "annotations": { "floe.dev/power-kw": "10", "floe.dev/stateless": "true" },
      "deployments": [ { "name": "api", "replicas": 2 } ] },
    { "name": "docs", "annotations": { "floe.dev/power-kw": "5", "floe.dev/stateless": "true" },
      "deployments": [ { "name": "site", "replicas": 1 } ] },
    { "name": "big", "annotations": { "floe.dev/power-kw": "30", "floe.dev/data-gb": "10",
                                      "floe.dev/quiesce": "[\"/bin/sync\"]" },
      "statefulsets": [ { "name": "pg", "replicas": 1 } ] } ] },
  "velero": { "storage_location": "default", "sync_period": "1m",
              "locations": { "default": "$TMP/a-store", "falkenberg-minio": "$TMP/b-store" } } }
JSON
cat >"$TMP/b.json" <<JSON
{ "site": { "name": "falkenberg-1" }, "speedup": 20,
  "chillers": [ { "name": "chiller1", "capacity_kw": 500 } ],
  "cluster": { "token": "k8s-b", "namespaces": [
    { "name": "shop-old", "deployments": [ { "name": "web", "replicas": 1 } ] } ] },
  "velero": { "locations": { "default": "$TMP/b-store" }, "sync_period": "1m" } }
JSON

start_sim() { # start_sim NAME: its ports in $TMP/NAME.ports
    bg "$SIM" site -c "$TMP/$1.json" --modbus-port 0 --http-port 0 --snmp-port 0 \
        --ports-file "$TMP/$1.ports" >"$TMP/$1.out" 2>"$TMP/$1.err"
    for _ in $(seq 100); do
        [ -s "$TMP/$1.ports" ] && return 0
        sleep 0.1
    done
    return 1
}
if ! start_sim a || ! start_sim b; then
    not_ok "both simulators start: $(cat "$TMP/a.err" "$TMP/b.err")"
    finish
fi
A=http://127.0.0.1:$(json_get "$TMP/a.ports" 'd["http"]')
B=http://127.0.0.1:$(json_get "$TMP/b.ports" 'd["http"]')
B_MB=$(json_get "$TMP/b.ports" 'd["modbus"]')
V=/apis/velero.io/v1/namespaces/velero

port=$(free_port)
AG=http://127.0.0.1:$port
cat >"$TMP/agent.json" <<JSON
{ "site": { "name": "falkenberg-1" },
  "store": { "path": "$TMP/agent.db" },
  "http": { "listen": "127.0.0.1:$port",
            "tokens": [ { "name": "lulea-1", "role": "peer", "token": "lulea-secret" },
                        { "name": "ops", "role": "admin", "token": "admin-secret" },
                        { "name": "noc", "role": "read", "token": "read-secret" } ] },
  "modbus": [ { "name": "sim", "host": "127.0.0.1", "port": $B_MB, "interval": "250ms",
                "points": [ { "metric": "it.load_kw", "table": "holding", "address": 1000,
                              "type": "float32", "unit": "kW" } ] } ],
  "capacity": { "power_headroom_kw": "1000 + 0 * it.load_kw",
                "cooling_headroom_kw": "1000 + 0 * it.load_kw", "margin_kw": 0 },
  "workloads": { "source": "kubernetes", "refresh": "1h",
                 "kubernetes": { "api": "$B", "token": "k8s-b" } },
  "migrator": { "retries": 1, "backup_sync_period": "3s", "import_ready_timeout": "8s" } }
JSON
start_agent() {
    bg "$FLOE" agent -c "$TMP/agent.json" >>"$TMP/agent.log" 2>&1
    AGENT=$BG_PID
    wait_http "$AG/healthz" 10
}
if ! start_agent; then
    not_ok "the agent starts: $(tail -5 "$TMP/agent.log")"
    finish
fi
PEER="Authorization: Bearer lulea-secret"

# ---- helpers ----
# req BASE TOKEN METHOD PATH [BODY]: the status; the body in $TMP/body.
req() {
    local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$3")
    [ -n "$2" ] && args+=(-H "Authorization: Bearer $2")
    [ -n "${5-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$5")
    curl "${args[@]}" "$1$4"
}
body() { json_get "$TMP/body" "$1"; }
setsim() { curl -s -o /dev/null -w '%{http_code}' -d "$2" "$1/sim/set"; }
wait_for() { # wait_for SECONDS CMD...
    local limit=$(($1 * 10)) i
    shift
    for ((i = 0; i < limit; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
# ns EXPR NS: EXPR over namespace NS of B's GET /sim/cluster (`n`), or
# "absent".
ns() {
    curl -s "$B/sim/cluster" >"$TMP/cluster"
    json_get "$TMP/cluster" "(lambda m: (lambda n: $1)(m[0]) if m else 'absent')([n for n in d['namespaces'] if n['name'] == '$2'])"
}
workload() { # workload NS NAME: "replicas rolled_out" at B
    ns "[(w['replicas'], w['rolled_out']) for w in n['workloads'] if w['name'] == '$2'][0]" "$1"
}
ns_gone() { [ "$(ns 'n["phase"]' "$1")" = absent ]; }
backup_at_a() { # backup_at_a NAME NS FS(true|false): POST, then wait until Completed
    local hook=''
    [ "$3" = true ] && hook=", \"hooks\": {\"resources\": [{\"name\": \"quiesce\", \"includedNamespaces\": [\"$2\"], \"pre\": [{\"exec\": {\"command\": [\"/bin/sync\"]}}]}]}"
    local st
    st=$(req "$A" k8s-a POST "$V/backups" "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Backup\",
        \"metadata\": {\"name\": \"$1\", \"namespace\": \"velero\", \"labels\": {\"floe.dev/migration\": \"7\"}},
        \"spec\": {\"includedNamespaces\": [\"$2\"], \"defaultVolumesToFsBackup\": $3,
                   \"storageLocation\": \"falkenberg-minio\", \"ttl\": \"72h0m0s\"$hook}}")
    [ "$st" = 201 ]
}
backup_done() { [ "$(req "$A" k8s-a GET "$V/backups/$1")" = 200 ] && [ "$(body 'd.get("status", {}).get("phase")')" = Completed ]; }
captured() { curl -s "$A/sim/velero" >"$TMP/velero"; json_get "$TMP/velero" "[b for b in d['backups'] if b['name'] == '$1'][0]['namespaces']['$2']['version']"; }
reserve() { # reserve WORKLOAD: the id
    req "$AG" lulea-secret POST /v1/reservations "{\"from_site\": \"lulea-1\", \"workload\": \"$1\", \"kw\": 10, \"ttl_s\": 600}" >/dev/null
    body 'd["id"]'
}
import_body() { # import_body RESERVATION NS BACKUP STATELESS REPLICAS
    echo "{\"reservation\": \"$1\", \"workload\": \"$2\", \"namespace\": \"$2\", \"backup\": \"$3\", \"stateless\": $4, \"replicas\": $5}"
}
imp() { # imp ID EXPR: EXPR over GET /v1/imports/ID
    req "$AG" lulea-secret GET "/v1/imports/$1" >/dev/null
    body "$2"
}
phase_is() { [ "$(imp "$1" 'd["phase"]')" = "$2" ]; }
resv_state() { # resv_state ID: its state at the agent
    req "$AG" lulea-secret GET "/v1/reservations?all=1" >/dev/null
    body "[r['state'] + (' confirmed' if r['confirmed'] and r['state'] == 'active' else '') for r in d['reservations'] if r['id'] == '$1'][0]"
}

check "the agent accepts work (capacity known)" wait_for 10 sh -c \
    "curl -s -H '$PEER' '$AG/v1/capacity' | grep -q '\"accepting\":true'"

# The 10 GB backup takes a while at A: start it now.
check "A: backup of big (10 GB) started" backup_at_a floe-lulea-1-big-7-1 big true

# ---- a stateful workload ----
check "A: backup of shop (quiesced, file-system)" backup_at_a floe-lulea-1-shop-7-1 shop true
R1=$(reserve shop)
body1=$(import_body "$R1" shop floe-lulea-1-shop-7-1 false '{"deployment/web": 4, "statefulset/db": 2}')
check "POST /v1/imports: 202 waiting-backup" test \
    "$(req "$AG" lulea-secret POST /v1/imports "$body1") $(body 'sorted(d) == ["id", "phase"] and d["phase"]')" = "202 waiting-backup"
I1=$(body 'd["id"]')
check "asked again: 200 with the same id" test \
    "$(req "$AG" lulea-secret POST /v1/imports "$body1") $(body 'd["id"]')" = "200 $I1"
check "the reservation is confirmed" test "$(resv_state "$R1")" = "active confirmed"
check "shop: ready" wait_for 40 phase_is "$I1" ready
check "shop: restored as floe-falkenberg-1-shop-ID-1, once, with its time and bytes" test \
    "$(imp "$I1" '(d["restore"], d["attempts"], d["restore_s"] > 0, d["restored_bytes"] is not None, d["error"])')" = \
    "('floe-falkenberg-1-shop-$I1-1', 1, True, True, None)"
check "B: web scaled to the 4 asked for (backed up at 3), db at 2, both rolled out" test \
    "$(workload shop web) $(workload shop db)" = "(4, True) (2, True)"
v1=$(captured floe-lulea-1-shop-7-1 shop)
check "B: shop runs from the data version the backup captured ($v1)" test \
    "$(ns "n['data_version'] >= $v1 and n['running']" shop)" = True
check "the reservation stays confirmed while ready" test "$(resv_state "$R1")" = "active confirmed"

# ---- stateless, backed up at 0, its first restore failing ----
curl -s -o /dev/null -X PATCH -H 'Authorization: Bearer k8s-a' -H 'Content-Type: application/merge-patch+json' \
    -d '{"spec":{"replicas":0}}' "$A/apis/apps/v1/namespaces/crm/deployments/api/scale"
check "A: backup of crm (resources only, at 0 replicas)" backup_at_a floe-lulea-1-crm-7-1 crm false
check "B: the next restore fails (injected)" test "$(setsim "$B" '{"velero.next_restore": "Failed"}')" = 200
R2=$(reserve crm)
check "POST crm: 202" test "$(req "$AG" lulea-secret POST /v1/imports \
    "$(import_body "$R2" crm floe-lulea-1-crm-7-1 true '{"deployment/api": 2}')")" = 202
I2=$(body 'd["id"]')
check "crm: ready" wait_for 40 phase_is "$I2" ready
check "crm: the failed Restore was tried again under -2" test \
    "$(imp "$I2" '(d["restore"], d["attempts"], any("injected failure" in e["detail"] and "deleting the half-restored namespace" in e["detail"] for e in d["events"]))')" = \
    "('floe-falkenberg-1-crm-$I2-2', 2, True)"
check "B: api scaled from 0 to 2, rolled out" test "$(workload crm api)" = "(2, True)"

# ---- a namespace that exists already ----
check "A: a second backup of shop" backup_at_a floe-lulea-1-shop-7-2 shop true
R3=$(reserve shop)
check "POST shop again (new reservation): 202" test "$(req "$AG" lulea-secret POST /v1/imports \
    "$(import_body "$R3" shop floe-lulea-1-shop-7-2 false '{"deployment/web": 1}')")" = 202
I3=$(body 'd["id"]')
check "it fails: the namespace exists" wait_for 20 phase_is "$I3" failed
check "... saying so" test "$(imp "$I3" 'd["error"], d["cleanup"]')" = \
    "('namespace shop already exists at falkenberg-1', 'none')"
check "... and shop is untouched (web still at 4)" test "$(workload shop web)" = "(4, True)"
check "... its reservation released" test "$(resv_state "$R3")" = released

# ---- DELETE ----
check "DELETE the shop import: 200 failed, dropped by lulea-1" test \
    "$(req "$AG" lulea-secret DELETE "/v1/imports/$I1") $(body '(d["phase"], d["error"])')" = \
    "200 ('failed', 'dropped by lulea-1')"
check "B: shop is deleted and gone" wait_for 20 ns_gone shop
check "the import's cleanup is done" wait_for 10 sh -c "curl -s -H '$PEER' '$AG/v1/imports/$I1' | grep -q '\"cleanup\":\"done\"'"
check "its reservation is released" test "$(resv_state "$R1")" = released
check "B: shop-old (never an import's) is still there" test "$(workload shop-old web)" = "(1, True)"

# ---- a backup that never syncs ----
check "B: storage sync stopped" test "$(setsim "$B" '{"velero.sync": false}')" = 200
check "A: backup of docs" backup_at_a floe-lulea-1-docs-7-1 docs false
R4=$(reserve docs)
req "$AG" lulea-secret POST /v1/imports "$(import_body "$R4" docs floe-lulea-1-docs-7-1 true '{"deployment/site": 1}')" >/dev/null
I4=$(body 'd["id"]')
check "docs: still waiting after 8 s" sh -c "sleep 8; test \"\$(curl -s -H '$PEER' '$AG/v1/imports/$I4' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"phase\"])')\" = waiting-backup"
check "docs: failed after 4 sync periods (12 s)" wait_for 10 phase_is "$I4" failed
check "... saying why" test "$(imp "$I4" 'd["error"]')" = \
    "the backup floe-lulea-1-docs-7-1 did not appear finished at falkenberg-1 within 12 s (Velero shows a peer's backup after its storage sync, every 3 s here)"
check "... its reservation released" test "$(resv_state "$R4")" = released
check "B: storage sync resumed" test "$(setsim "$B" '{"velero.sync": true}')" = 200

# ---- SIGKILL mid-restore, and Velero restarting meanwhile ----
check "A: the big backup completed" wait_for 60 backup_done floe-lulea-1-big-7-1
R5=$(reserve big)
check "POST big: 202" test "$(req "$AG" lulea-secret POST /v1/imports \
    "$(import_body "$R5" big floe-lulea-1-big-7-1 false '{"statefulset/pg": 1}')")" = 202
I5=$(body 'd["id"]')
restore_running() { [ "$(req "$B" k8s-b GET "$V/restores/floe-falkenberg-1-big-$I5-1")" = 200 ] && [ "$(body 'd.get("status", {}).get("phase")')" = InProgress ]; }
check "B: the big Restore runs" wait_for 30 restore_running
# Not reported by the shell as "Killed": it is meant.
disown "$AGENT"
kill -KILL "$AGENT"
while kill -0 "$AGENT" 2>/dev/null; do sleep 0.05; done
check "B: Velero restarts while the agent is down" test "$(setsim "$B" '{"velero.restart": true}')" = 200
check "... failing the Restore with Velero's reason" test \
    "$(req "$B" k8s-b GET "$V/restores/floe-falkenberg-1-big-$I5-1") $(body 'd["status"]["phase"]')" = "200 Failed"
check "the agent starts again" start_agent
check "big: ready" wait_for 60 phase_is "$I5" ready
check "big: restored again under -2 after the restart, 2 tries" test \
    "$(imp "$I5" '(d["restore"], d["attempts"], any("Velero restarted" in e["detail"] for e in d["events"]))')" = \
    "('floe-falkenberg-1-big-$I5-2', 2, True)"
check "B: no third Restore" test "$(req "$B" k8s-b GET "$V/restores/floe-falkenberg-1-big-$I5-3")" = 404
vb=$(captured floe-lulea-1-big-7-1 big)
check "B: big runs from the captured data version ($vb)" test \
    "$(ns "n['data_version'] >= $vb and n['running']" big)" = True

# ---- never ready ----
check "A: a second backup of docs" backup_at_a floe-lulea-1-docs-7-2 docs false
check "B: docs' pods never get ready" test "$(setsim "$B" '{"cluster.never_ready": "docs"}')" = 200
R6=$(reserve docs)
req "$AG" lulea-secret POST /v1/imports "$(import_body "$R6" docs floe-lulea-1-docs-7-2 true '{"deployment/site": 2}')" >/dev/null
I6=$(body 'd["id"]')
check "docs: failed after import_ready_timeout" wait_for 40 phase_is "$I6" failed
check "... saying why" test "$(imp "$I6" 'd["error"]')" = \
    "the workload did not become ready at falkenberg-1 within 8 s (deployment/site 0 of 2 ready)"
check "B: the namespace it made is deleted" wait_for 20 ns_gone docs
setsim "$B" '{"cluster.never_ready": ""}' >/dev/null

# ---- what the agent tells ----
req "$AG" read-secret GET /metrics >/dev/null
check "floe_imports_total: 3 ready, 3 failed, 1 dropped" test \
    "$(grep -E '^floe_imports_(total|active)' "$TMP/body" | tr '\n' ' ')" = \
    'floe_imports_total{result="ready"} 3 floe_imports_total{result="failed"} 3 floe_imports_total{result="dropped"} 1 floe_imports_active 0 '
check "a bad body: 400 naming the field" test \
    "$(req "$AG" lulea-secret POST /v1/imports '{"reservation": "x"}') $(body 'd["error"]')" = "400 workload: required"
check "no token: 401" test "$(req "$AG" "" POST /v1/imports "$body1")" = 401
check "a read token: 403" test "$(req "$AG" read-secret GET "/v1/imports/$I2")" = 403
check "another import's id: 404" test "$(req "$AG" lulea-secret GET /v1/imports/1)" = 404

stop_pid "$AGENT"
check "the agent exits 0 on SIGTERM" test $? = 0
check "no sanitizer report" sh -c "! grep -q 'Sanitizer' '$TMP/agent.log'"
finish
