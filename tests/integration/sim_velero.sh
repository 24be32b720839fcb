#!/bin/bash
# sim_velero — floe-sim's Velero across two simulated sites, from outside
# with curl: site A backs a namespace up into the destination's storage
# location (a directory both processes share), site B sees the backup
# only after it ended and B's storage sync ran, under B's own location
# name, and restores it; the namespace and the data version it runs at
# B are the ones A captured. Also: Velero's CRD validation over HTTP
# (400 unknown field, 422 wrong type), a backup of a namespace scaled to
# 0 that completes with no volume data, and the faults of /sim/set (a
# Velero restart mid-backup, a stopped sync).
#
# usage: tests/integration/sim_velero.sh BUILD_DIR   (e.g. build)
. "$(dirname "$0")/lib/common.sh"
SIM=$BUILD/floe-sim
mkdir -p "$TMP/a" "$TMP/b"

# 50 simulated seconds per second: the 1-minute sync comes every 1.2 s,
# the 0.88 GB initial backup (1 minute) takes 1.2 s.
cat >"$TMP/a.json" <<JSON
{
  "site": { "name": "lulea-1" },
  "chillers": [ { "name": "chiller1", "capacity_kw": 500 } ],
  "speedup": 50,
  "cluster": {
    "namespaces": [
      { "name": "shop",
        "labels": { "floe.dev/movable": "true" },
        "annotations": { "floe.dev/power-kw": "40", "floe.dev/data-gb": "0.88",
                         "floe.dev/quiesce": "[\"/bin/sync\"]" },
        "statefulsets": [ { "name": "db", "replicas": 2 } ],
        "deployments": [ { "name": "web", "replicas": 3 } ] },
      { "name": "big", "annotations": { "floe.dev/data-gb": "88" },
        "statefulsets": [ { "name": "db", "replicas": 1 } ] },
      { "name": "cold", "annotations": { "floe.dev/data-gb": "5" },
        "statefulsets": [ { "name": "db", "replicas": 0 } ] }
    ]
  },
  "velero": { "storage_location": "default",
              "locations": { "default": "$TMP/a", "falkenberg-minio": "$TMP/b" },
              "sync_period": "1m" }
}
JSON
cat >"$TMP/b.json" <<JSON
{
  "site": { "name": "falkenberg-1" },
  "chillers": [ { "name": "chiller1", "capacity_kw": 500 } ],
  "speedup": 50,
  "velero": { "locations": { "default": "$TMP/b" }, "sync_period": "1m" }
}
JSON

start_site() { # start_site NAME: ports in $TMP/NAME.ports
    bg "$SIM" site -c "$TMP/$1.json" --modbus-port 0 --http-port 0 --snmp-port 0 \
        --ports-file "$TMP/$1.ports" >"$TMP/$1.out" 2>"$TMP/$1.err"
    for _ in $(seq 100); do
        [ -s "$TMP/$1.ports" ] && return 0
        sleep 0.1
    done
    return 1
}
if ! start_site a || ! start_site b; then
    not_ok "both simulators start: $(cat "$TMP/a.err" "$TMP/b.err")"
    finish
fi
A=http://127.0.0.1:$(json_get "$TMP/a.ports" 'd["http"]')
B=http://127.0.0.1:$(json_get "$TMP/b.ports" 'd["http"]')
ok "two sites with Velero start"
V=/apis/velero.io/v1/namespaces/velero

# req URL METHOD PATH [BODY]: status code; body in $TMP/body.
req() {
    local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$2")
    [ -n "${4-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    curl "${args[@]}" "$1$3"
}
body() { json_get "$TMP/body" "$1"; }
velero_state() { curl -s "$1/sim/velero" >"$TMP/state"; json_get "$TMP/state" "$2"; }
# ns_state URL NS EXPR: EXPR over namespace NS of GET /sim/cluster (`n`).
ns_state() {
    curl -s "$1/sim/cluster" >"$TMP/cluster"
    json_get "$TMP/cluster" "(lambda n: $3)([n for n in d['namespaces'] if n['name'] == '$2'][0])"
}
setv() { curl -s -o "$TMP/body" -w '%{http_code}' -d "$2" "$1/sim/set"; }

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
    local limit=$(($1 * 10)) i
    shift
    for ((i = 0; i < limit; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
phase_is() { # phase_is URL COLLECTION NAME PHASE
    [ "$(req "$1" GET "$V/$2/$3")" = 200 ] && [ "$(body 'd.get("status", {}).get("phase", "")')" = "$4" ]
}

backup_body() { # backup_body NAME NS LOCATION [EXTRA SPEC]
    cat <<JSON
{"apiVersion": "velero.io/v1", "kind": "Backup",
 "metadata": {"name": "$1", "namespace": "velero", "labels": {"floe.dev/migration": "7"}},
 "spec": {"includedNamespaces": ["$2"], "defaultVolumesToFsBackup": true, "storageLocation": "$3",
          "ttl": "72h0m0s"${4:+, $4}}}
JSON
}

# ---- validation against Velero's CRD ----
check "unknown field: 400 strict decoding error naming it" test \
    "$(req "$A" POST "$V/backups" '{"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "x"}, "spec": {"snapshotVolume": true}}') $(body 'd["message"]')" = \
    '400 Backup in version "v1" cannot be handled as a Backup: strict decoding error: unknown field "spec.snapshotVolume"'
check "wrong type: 422 Invalid with the field as cause" test \
    "$(req "$A" POST "$V/backups" '{"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "x"}, "spec": {"ttl": 72}}') $(body '(d["reason"], d["details"]["causes"][0]["field"], d["details"]["causes"][0]["message"])')" = \
    "422 ('Invalid', 'spec.ttl', 'Invalid value: \"integer\": spec.ttl in body must be of type string: \"integer\"')"
check "form-encoded body: 415" test "$(curl -s -o /dev/null -w '%{http_code}' -d '{}' "$A$V/backups")" = 415

# ---- A: the final backup, quiesced, into B's storage ----
hook='"hooks": {"resources": [{"name": "quiesce", "includedNamespaces": ["shop"], "pre": [{"exec": {"command": ["/bin/sync"]}}]}]}'
check "POST Backup at A: 201" test "$(req "$A" POST "$V/backups" "$(backup_body move-1 shop falkenberg-minio "$hook")") $(body 'd["metadata"]["name"]')" = "201 move-1"
check "A: the backup completes" wait_for 20 phase_is "$A" backups move-1 Completed
req "$A" GET "$V/backups/move-1" >/dev/null
check "A: Velero's status fields" test "$(body '(d["status"]["version"], d["status"]["formatVersion"], d["status"]["hookStatus"]["hooksAttempted"], d["status"]["progress"]["totalItems"] == d["status"]["progress"]["itemsBackedUp"], "expiration" in d["status"], "completionTimestamp" in d["status"])')" = \
    "(1, '1.1.0', 5, True, True, True)"
captured=$(velero_state "$A" '[b for b in d["backups"] if b["name"] == "move-1"][0]["namespaces"]["shop"]["version"]')
check "A: the backup captured shop's data version" test "$captured" -gt 0
check "A: writes stopped at the capture (quiesced)" test \
    "$(ns_state "$A" shop '(n["quiesced"], n["data_version"])')" = "(True, $captured)"
check "A: the pod volume backup shows the bytes" test \
    "$(req "$A" GET "$V/podvolumebackups?labelSelector=velero.io%2Fbackup-name%3Dmove-1") $(body '[(i["status"]["phase"], i["status"]["progress"]["bytesDone"]) for i in d["items"]]')" = \
    "200 [('Completed', 880000000)]"
check "the record is in B's storage" test -s "$TMP/b/move-1.json"

# ---- B: sees it after its sync, under its own location name ----
check "B: the backup appears after B's storage sync" wait_for 10 phase_is "$B" backups move-1 Completed
req "$B" GET "$V/backups/move-1" >/dev/null
check "B: storageLocation rewritten to B's own location" test \
    "$(body '(d["spec"]["storageLocation"], d["metadata"]["labels"]["velero.io/storage-location"], d["metadata"]["labels"]["floe.dev/migration"])')" = \
    "('default', 'default', '7')"
check "B: no namespace shop before the restore" test "$(req "$B" GET /api/v1/namespaces/shop)" = 404
check "POST Restore at B: 201" test "$(req "$B" POST "$V/restores" '{"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "move-1-r"}, "spec": {"backupName": "move-1", "includedNamespaces": ["shop"], "restorePVs": true}}')" = 201
check "B: the restore completes" wait_for 20 phase_is "$B" restores move-1-r Completed
check "B: namespace shop restored with its labels" test \
    "$(req "$B" GET /api/v1/namespaces/shop) $(body '(d["metadata"]["labels"]["floe.dev/movable"], d["metadata"]["annotations"]["floe.dev/data-gb"])')" = "200 ('true', '0.88')"
check "B: workloads at the replica counts they had at backup time" test \
    "$(req "$B" GET /apis/apps/v1/namespaces/shop/statefulsets/db) $(body 'd["spec"]["replicas"]')" = "200 2"
check "B: the restore brought the captured version" test \
    "$(velero_state "$B" '[r for r in d["restores"] if r["name"] == "move-1-r"][0]["namespaces"]["shop"]["version"]')" = "$captured"
check "B: shop runs on from the captured version (no write lost)" test \
    "$(ns_state "$B" shop 'n["data_version"] >= '"$captured")" = True
ns_writes() { [ "$(ns_state "$B" shop 'n["writing"] and n["data_version"] > '"$captured")" = True ]; }
check "B: its pods write on from there once ready" wait_for 5 ns_writes
check "B: it.load_kw counts the restored namespace" test \
    "$(curl -s "$B/sim/state" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["values"]["it.load_kw"])')" = 40

# ---- the pitfall: a file-system backup of a namespace scaled to 0 ----
check "backup of cold (0 replicas): 201" test "$(req "$A" POST "$V/backups" "$(backup_body cold-1 cold default)")" = 201
check "it completes" wait_for 20 phase_is "$A" backups cold-1 Completed
check "... with no volume data at all" test \
    "$(velero_state "$A" '[b for b in d["backups"] if b["name"] == "cold-1"][0]["namespaces"]["cold"]["version"]')" = None

# ---- faults ----
check "POST Backup of big (88 GB: 100 simulated minutes)" test "$(req "$A" POST "$V/backups" "$(backup_body big-1 big default)")" = 201
check "it runs" wait_for 10 phase_is "$A" backups big-1 InProgress
check "/sim/set velero.restart: 200" test "$(setv "$A" '{"velero.restart": true}')" = 200
req "$A" GET "$V/backups/big-1" >/dev/null
check "restart: InProgress -> Failed with Velero's reason" test "$(body '(d["status"]["phase"], d["status"]["failureReason"])')" = \
    "('Failed', 'found a backup with status \"InProgress\" during the server starting, mark it as \"Failed\"')"
check "bad fault value: 400 bad_value" test "$(setv "$A" '{"velero.next_backup": "Done"}') $(body 'd["code"]')" = "400 bad_value"
check "unknown fault: 400 unknown_value" test "$(setv "$A" '{"velero.explode": true}') $(body 'd["code"]')" = "400 unknown_value"
check "stop B's sync" test "$(setv "$B" '{"velero.sync": false}')" = 200
check "next backup ends PartiallyFailed" test "$(setv "$A" '{"velero.next_backup": "PartiallyFailed"}')" = 200
req "$A" POST "$V/backups" "$(backup_body move-2 shop falkenberg-minio)" >/dev/null
check "move-2 ends PartiallyFailed" wait_for 20 phase_is "$A" backups move-2 PartiallyFailed
sleep 3 # more than two sync periods
check "B: a stopped sync never brings move-2" test "$(req "$B" GET "$V/backups/move-2")" = 404
check "resume B's sync" test "$(setv "$B" '{"velero.sync": true}')" = 200
check "B: the resumed sync brings move-2" wait_for 5 phase_is "$B" backups move-2 PartiallyFailed

# Both stop cleanly on SIGTERM (under ASan: no leak or error reported).
stop_pid "${PIDS[0]}"; rc_a=$?
stop_pid "${PIDS[1]}"; rc_b=$?
check "both sites exit 0 on SIGTERM" test "$rc_a $rc_b" = "0 0"
check "no sanitizer report" sh -c "! grep -q 'Sanitizer' '$TMP/a.err' '$TMP/b.err'"
finish
