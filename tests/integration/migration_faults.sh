#!/bin/bash
# Migration faults (SPEC 6): two sites as in migration.sh (lib/sites.sh),
# one stateful workload per run moved from lulea-1 to falkenberg-1 by
# hand, one fault injected through the sims' POST /sim/set (or floe
# abort). Each ends as documented, and the migration's record (GET
# /v1/migrations/{id} events, or its import's at falkenberg-1) says why:
#   backup PartiallyFailed (the final one)  accepted: the target became ready, done
#   backup Failed                           tried again under a new name, done
#   backup Failed beyond migrator.retries   rolled back
#   restore Failed at the target            the import tries again, done
#   API server answering 500                the action is tried again, done
#   API server hanging                      no answer within 10 s: tried again, done
#   storage sync that never comes           the import fails: rolled back
#   workload never ready at the target      the import fails: rolled back
#   floe abort before cut-over              rolled back; after it: refused (409)
# A rollback leaves the source running at its recorded replica counts,
# nothing at falkenberg-1 and no reservation there.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/pdns.sh"
. "$ROOT/tests/integration/lib/sites.sh"

# 1 GB take 68 simulated s to back up (no delta before the switchover)
# and 9 s to restore: 1.4 s and 0.2 s here.
SPEEDUP=50
SITES_TTL=5
ZONE=$SITES_ZONE
SITES="lulea-1 falkenberg-1"
SITE_INGRESS[lulea-1]=192.0.2.10
SITE_INGRESS[falkenberg-1]=198.51.100.20
RUNS="partial failed retries restore http500 hang nosync neverready abort"
start_s=$(date +%s)

pdns_start || { not_ok "PowerDNS starts"; finish; }
pdns_create_zone "$ZONE" || { not_ok "PowerDNS creates $ZONE"; finish; }

nss=""
for r in $RUNS; do
    # partial writes fast: its final backup takes 3 s, time to set the fault.
    rate=0.01
    [ "$r" = partial ] && rate=0.5
    nss="$nss${nss:+,}
  { \"name\": \"f-$r\", \"labels\": { \"floe.dev/movable\": \"true\" },
    \"annotations\": { \"floe.dev/power-kw\": \"10\", \"floe.dev/data-gb\": \"1\",
                       \"floe.dev/hostname\": \"f-$r.apps.example.org\",
                       \"floe.dev/quiesce\": \"[\\\"/bin/sync\\\"]\", \"sim.floe.dev/write-gb-per-min\": \"$rate\" },
    \"statefulsets\": [ { \"name\": \"db\", \"replicas\": 2 } ], \"deployments\": [ { \"name\": \"app\", \"replicas\": 3 } ] }"
done
# An import waits 4 storage-sync periods for the backup, and 3 s for the
# workload to become ready.
mig='"backup_sync_period": "1s", "import_ready_timeout": "3s"'
sites_pair_start "$SPEEDUP" "[$nss]" "$mig" || finish
check "lulea-1 sees the ${RUNS// /, } workloads" \
    until_py 15 'len(d["workloads"]) == 9 and all(w["movable"] for w in d["workloads"])' api lulea-1 /v1/workloads
sim_cluster lulea-1 >"$TMP/before.json"

# Checks one run's end: prints ok/not ok lines, appends its matrix row.
cat >"$TMP/check_run.py" <<'PY'
import json, sys
tmp, run, ns_name, what, want, expect = sys.argv[1:7]
def load(name):
    return json.load(open(f"{tmp}/{name}"))
def check(name, cond):
    print(("ok - " if cond else "not ok - ") + f"{run}: {name}")
    return cond
def ns(cluster, name):
    return next((n for n in cluster["namespaces"] if n["name"] == name), None)
def counts(cluster, name):
    n = ns(cluster, name)
    return {} if n is None else {f'{w["kind"]}/{w["name"]}': w["replicas"] for w in n["workloads"]}
m, before, lulea, falk = load(f"{run}.mig.json"), load("before.json"), load(f"{run}.lulea.json"), load(f"{run}.falk.json")
cap, imp = load(f"{run}.capacity.json"), load(f"{run}.import.json")
orig, here, there = counts(before, ns_name), counts(lulea, ns_name), counts(falk, ns_name)
phase = m["phase"]
check(f"the migration ends {want} ({phase}{': ' + m['error'] if m.get('error') else ''})", phase == want)
if want == "done":
    check(f"falkenberg-1 runs it at its original counts {orig} ({there}), lulea-1 at 0 ({here})",
          there == orig and all(w["rolled_out"] for w in ns(falk, ns_name)["workloads"])
          and set(here) == set(orig) and not any(here.values()))
else:
    n = ns(lulea, ns_name)
    check(f"lulea-1 runs it again at its original counts {orig} ({here}), rolled out and writing; "
          f"falkenberg-1 has none ({there})",
          here == orig and all(w["rolled_out"] for w in n["workloads"]) and n["writing"] and not there)
said = [e["detail"] for e in m["events"] + imp.get("events", []) if expect.lower() in e["detail"].lower()]
check(f"the record says why: {said[0] if said else repr(expect) + ' nowhere'}", said)
check(f"no reservation left at falkenberg-1 (reserved_kw {cap['reserved_kw']})", cap["reserved_kw"] == 0)
with open(f"{tmp}/matrix", "a") as f:
    f.write(f"# {run:10} {what:36} {phase:12} {said[0][:110] if said else '-'}\n")
PY

# fault NAME WHAT WANT EXPECT BEFORE [WHEN ACTION]: runs BEFORE (shell),
# moves f-NAME, runs ACTION once the Python expression WHEN holds over the
# migration (d), and waits for its end: the phase WANT, and an event of
# the migration or of its import at falkenberg-1 containing EXPECT.
fault() {
    local name=$1 what=$2 want=$3 expect=$4 before=$5 when=${6:-} action=${7:-} id
    eval "$before"
    site_wait_accepting falkenberg-1 || echo "# falkenberg-1 is not accepting: $(cat "$TMP/until.json")"
    api lulea-1 /v1/migrations -X POST -d "{\"workload\": \"f-$name\", \"to\": \"falkenberg-1\"}" >"$TMP/$name.post.json"
    id=$(json_get "$TMP/$name.post.json" 'd["id"]' 2>/dev/null)
    [ -n "$id" ] || { not_ok "$name: POST /v1/migrations: $(cat "$TMP/$name.post.json")"; return; }
    MIG_ID[$name]=$id
    if [ -n "$when" ]; then
        if until_py 30 "$when" mig_get lulea-1 "$id"; then
            eval "$action"
        else
            not_ok "$name: the moment for the fault never came ($(json_get "$TMP/until.json" 'd["phase"]' 2>/dev/null))"
        fi
    fi
    until_py 60 'd["phase"] in ("done", "rolled-back", "failed")' mig_get lulea-1 "$id"
    mig_get lulea-1 "$id" >"$TMP/$name.mig.json"
    # a rollback: the source is back and ready, the target's namespace gone
    [ "$want" = done ] ||
        until_py 10 "not any(n['name'] == 'f-$name' for n in d['namespaces'])" sim_cluster falkenberg-1
    until_py 10 "all(w['rolled_out'] for n in d['namespaces'] if n['name'] == 'f-$name' for w in n['workloads'])" \
        sim_cluster lulea-1
    until_py 10 'd["reserved_kw"] == 0' api falkenberg-1 /v1/capacity
    cp "$TMP/until.json" "$TMP/$name.capacity.json"
    sim_cluster lulea-1 >"$TMP/$name.lulea.json"
    sim_cluster falkenberg-1 >"$TMP/$name.falk.json"
    local imp
    imp=$(json_get "$TMP/$name.mig.json" 'd["import"] or ""')
    if [ -n "$imp" ]; then api falkenberg-1 "/v1/imports/$imp" >"$TMP/$name.import.json"; else echo '{}' >"$TMP/$name.import.json"; fi
    /usr/bin/python3 "$TMP/check_run.py" "$TMP" "$name" "f-$name" "$what" "$want" "$expect" | tee -a "$TMP/checks.out"
}
declare -A MIG_ID

fault partial "final backup PartiallyFailed" done "partially failed" "" \
    'd["phase"] == "switchover"' 'sim_set lulea-1 "{\"velero.next_backup\": \"PartiallyFailed\"}"'
fault failed "initial backup Failed" done "injected failure" \
    'sim_set lulea-1 "{\"velero.next_backup\": \"Failed\"}"'
# Every backup fails: the first and its two retries.
fault retries "backup Failed 3 times (retries 2)" rolled-back "rolling back" \
    'sim_set lulea-1 "{\"velero.next_backup\": \"Failed\"}"' 'True' \
    'for i in 1 2; do
         until_py 10 "d[\"faults\"][\"next_backup\"] is None" curl -s "${SIM[lulea-1]}/sim/velero"
         sim_set lulea-1 "{\"velero.next_backup\": \"Failed\"}"
     done'
fault restore "restore Failed at falkenberg-1" done "injected failure" \
    'sim_set falkenberg-1 "{\"velero.next_restore\": \"Failed\"}"'
# 30 answers of 500 while the migrator polls its backup (the inventory's
# reads take some of them too).
fault http500 "lulea-1's API server answers 500" done "injected fault" "" \
    'd["phase"] == "precopy"' 'sim_set lulea-1 "{\"kube.fail_next\": 30}"'
fault hang "lulea-1's API server hangs" done "no answer within" "" \
    'd["phase"] == "precopy"' \
    'sim_set lulea-1 "{\"kube.hang\": true}"
     until_py 20 "d[\"error\"]" mig_get lulea-1 $id
     sim_set lulea-1 "{\"kube.hang\": false}"'
fault nosync "falkenberg-1's storage sync never comes" rolled-back "did not appear finished" \
    'sim_set falkenberg-1 "{\"velero.sync\": false}"'
sim_set falkenberg-1 '{"velero.sync": true}'
fault neverready "never ready at falkenberg-1" rolled-back "did not become ready" \
    'sim_set falkenberg-1 "{\"cluster.never_ready\": \"f-neverready\"}"'
sim_set falkenberg-1 '{"cluster.never_ready": null}'
fault abort "floe abort before the cut-over" rolled-back "rolled back: aborted by ops" "" \
    'd["phase"] == "precopy"' \
    '"$BUILD/floe" abort "$id" --url "${AGENT[lulea-1]}" --token admin-secret >"$TMP/abort.out" 2>&1
     echo "$?" >"$TMP/abort.rc"'
check "floe abort before the cut-over: exit 0 ($(cat "$TMP/abort.out"))" [ "$(cat "$TMP/abort.rc")" = 0 ]
"$BUILD/floe" abort "${MIG_ID[partial]}" --url "${AGENT[lulea-1]}" --token admin-secret >"$TMP/abort2.out" 2>&1
rc=$?
check "floe abort after the cut-over is refused: exit 1 ($(cat "$TMP/abort2.out"))" \
    sh -c "[ $rc = 1 ] && grep -q 409 '$TMP/abort2.out'"
code=$(api lulea-1 "/v1/migrations/${MIG_ID[partial]}/abort" -X POST -o /dev/null -w '%{http_code}')
check "POST /v1/migrations/{id}/abort after the cut-over: 409 ($code)" [ "$code" = 409 ]
check "and the migration stays done" until_py 2 'd["phase"] == "done"' mig_get lulea-1 "${MIG_ID[partial]}"

echo "# run        fault                                outcome      the record says"
cat "$TMP/matrix"
FAILS=$((FAILS + $(grep -c '^not ok' "$TMP/checks.out")))
check "no sanitizer report in any log" sh -c "! grep -l 'AddressSanitizer\|runtime error\|LeakSanitizer' '$TMP'/*.log"
echo "# $(( $(date +%s) - start_s )) s"
finish
