#!/bin/bash
# Migration crash matrix (SPEC 6: every step persisted before it is acted
# on, so a restarted agent resumes or rolls back): two sites as in
# migration.sh (lib/sites.sh), one PowerDNS, and one stateful workload per
# run moved from lulea-1 to falkenberg-1 by hand (POST /v1/migrations):
#   the source agent killed with SIGKILL in precopy, delta, switchover,
#   restoring and cutover, then restarted; the target agent killed during
#   the import and restarted; the sim's Velero restarted during the
#   initial backup (lulea-1) and during the restore (falkenberg-1).
# Every run must end with the workload running at exactly one site at its
# original replica counts, no write lost (the version the source stopped
# at is the one restored), and no reservation left at falkenberg-1.
# Prints the matrix.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/pdns.sh"
. "$ROOT/tests/integration/lib/sites.sh"

# 2 GB take 136 simulated s to back up first (more than the 120 s after
# which floe takes a delta before switching over) and 26 s to restore:
# 2.7 s and 0.5 s here. The restore run has 4 GB, so that its restore is
# long enough (about 1 s) to restart Velero in the middle of it.
SPEEDUP=50
SITES_TTL=5
ZONE=$SITES_ZONE
SITES="lulea-1 falkenberg-1"
SITE_INGRESS[lulea-1]=192.0.2.10
SITE_INGRESS[falkenberg-1]=198.51.100.20
RUNS="precopy delta switchover restoring cutover target vbackup vrestore"
start_s=$(date +%s)

pdns_start || { not_ok "PowerDNS starts"; finish; }
# The cutover run stops PowerDNS with SIGSTOP: a stopped server would
# never see the exit trap's SIGTERM.
trap 'kill -CONT "$PDNS_PID" 2>/dev/null; cleanup' EXIT
pdns_create_zone "$ZONE" || { not_ok "PowerDNS creates $ZONE"; finish; }

nss=""
for r in $RUNS; do
    gb=2
    [ "$r" = vrestore ] && gb=4
    nss="$nss${nss:+,}
  { \"name\": \"c-$r\", \"labels\": { \"floe.dev/movable\": \"true\" },
    \"annotations\": { \"floe.dev/power-kw\": \"10\", \"floe.dev/data-gb\": \"$gb\",
                       \"floe.dev/hostname\": \"c-$r.apps.example.org\",
                       \"floe.dev/quiesce\": \"[\\\"/bin/sync\\\"]\", \"sim.floe.dev/write-gb-per-min\": \"0.01\" },
    \"statefulsets\": [ { \"name\": \"db\", \"replicas\": 2 } ], \"deployments\": [ { \"name\": \"app\", \"replicas\": 3 } ] }"
done
mig='"backup_sync_period": "1s", "import_ready_timeout": "30s"'
sites_pair_start "$SPEEDUP" "[$nss]" "$mig" || finish
check "lulea-1 sees the ${RUNS// /, } workloads" \
    until_py 15 'len(d["workloads"]) == 8 and all(w["movable"] for w in d["workloads"])' api lulea-1 /v1/workloads
sim_cluster lulea-1 >"$TMP/before.json"

# Checks one run's end: prints ok/not ok lines, appends its matrix row.
cat >"$TMP/check_run.py" <<'PY'
import json, sys
tmp, run, ns_name, killed, what, expect = sys.argv[1:7]
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
lvel, fvel, cap = load(f"{run}.lulea.velero.json"), load(f"{run}.falk.velero.json"), load(f"{run}.capacity.json")
orig, here, there = counts(before, ns_name), counts(lulea, ns_name), counts(falk, ns_name)
phase = m["phase"]
if run in ("precopy", "delta", "switchover", "restoring", "cutover"):
    check(f"the source was killed in {run} ({killed})", killed == run)
elif run == "target":
    check(f"the target was killed during the import ({killed})", killed in ("import restoring", "import starting"))
else:
    check(f"Velero was restarted with the {'backup' if run == 'vbackup' else 'restore'} InProgress ({killed})",
          killed.endswith("InProgress"))
check(f"the migration ended ({phase}{': ' + m['error'] if m.get('error') else ''})", phase in ("done", "rolled-back"))
versions = "-"
if phase == "done":
    ok = check(f"falkenberg-1 runs it at its original counts {orig} ({there}), lulea-1 at 0 ({here})",
               there == orig and all(w["rolled_out"] for w in ns(falk, ns_name)["workloads"])
               and set(here) == set(orig) and not any(here.values()) and ns(lulea, ns_name)["pods"] == 0)
    frozen = ns(lulea, ns_name)["data_version"]
    final = [b["namespaces"][ns_name]["version"] for b in lvel["backups"]
             if b["name"] == m["backup"] and ns_name in b["namespaces"]]
    restored = [r["namespaces"][ns_name]["version"] for r in fvel["restores"]
                if r["backup"] == m["backup"] and r["phase"] == "Completed" and ns_name in r["namespaces"]]
    versions = f"{frozen}/{final[0] if final else '-'}/{restored[-1] if restored else '-'}"
    check(f"no write lost: stopped at {frozen}, final backup {final}, restored {restored}",
          final == [frozen] and restored[-1:] == [frozen] and not ns(lulea, ns_name)["writing"])
    dns = open(f"{tmp}/{run}.dns").read().strip()
    check(f"DNS points at falkenberg-1 ({dns})", dns.endswith(" IN A 198.51.100.20"))
elif phase == "rolled-back":
    check(f"lulea-1 runs it again at its original counts {orig} ({here}), falkenberg-1 has none ({there})",
          here == orig and not there)
    versions = f"{ns(lulea, ns_name)['data_version']} (at lulea-1)"
if expect:
    imp = load(f"{run}.import.json")
    said = [e["detail"] for e in m["events"] + imp.get("events", []) if expect in e["detail"]]
    check(f"the record says what happened: {said[0] if said else repr(expect) + ' nowhere'}", said)
check(f"no reservation left at falkenberg-1 (reserved_kw {cap['reserved_kw']})", cap["reserved_kw"] == 0)
d = m["downtime_s"]
with open(f"{tmp}/matrix", "a") as f:
    f.write(f"# {run:10} {what:38} {killed:20} {phase:8} {'-' if d is None else round(d, 1):>9}  {versions}\n")
PY

# run NAME WHAT WHEN ACTION [AFTER [EXPECT]]: moves c-NAME; once the
# Python expression WHEN holds over the migration (d), runs ACTION (a
# shell command), then AFTER, and waits for the end. EXPECT: words that an
# event of the migration or of its import at falkenberg-1 must contain.
run() {
    local name=$1 what=$2 when=$3 action=$4 after=${5:-} expect=${6:-} id killed
    site_wait_accepting falkenberg-1 || echo "# falkenberg-1 is not accepting: $(cat "$TMP/until.json")"
    api lulea-1 /v1/migrations -X POST -d "{\"workload\": \"c-$name\", \"to\": \"falkenberg-1\"}" >"$TMP/$name.post.json"
    id=$(json_get "$TMP/$name.post.json" 'd["id"]' 2>/dev/null)
    [ -n "$id" ] || { not_ok "$name: POST /v1/migrations: $(cat "$TMP/$name.post.json")"; return; }
    if until_py 30 "$when" mig_get lulea-1 "$id"; then
        killed=$(json_get "$TMP/until.json" 'd["phase"]')
        eval "$action"
        eval "$after"
    else
        killed="never: $(json_get "$TMP/until.json" 'd["phase"]' 2>/dev/null)"
        not_ok "$name: the moment to act never came (phase $killed)"
        eval "$after"
    fi
    until_py 40 'd["phase"] in ("done", "rolled-back", "failed")' mig_get lulea-1 "$id"
    mig_get lulea-1 "$id" >"$TMP/$name.mig.json"
    until_py 10 'd["reserved_kw"] == 0' api falkenberg-1 /v1/capacity
    cp "$TMP/until.json" "$TMP/$name.capacity.json"
    sim_cluster lulea-1 >"$TMP/$name.lulea.json"
    sim_cluster falkenberg-1 >"$TMP/$name.falk.json"
    curl -s "${SIM[lulea-1]}/sim/velero" >"$TMP/$name.lulea.velero.json"
    curl -s "${SIM[falkenberg-1]}/sim/velero" >"$TMP/$name.falk.velero.json"
    pdns_query "c-$name.$ZONE" A >"$TMP/$name.dns"
    api falkenberg-1 "/v1/imports/$(json_get "$TMP/$name.mig.json" 'd["import"]')" >"$TMP/$name.import.json"
    /usr/bin/python3 "$TMP/check_run.py" "$TMP" "$name" "c-$name" "$killed" "$what" "$expect" | tee -a "$TMP/checks.out"
}
restart_lulea='site_agent_kill lulea-1; site_agent_start lulea-1'
# A backup or restore of this migration InProgress in a site's Velero.
in_progress() { # SITE KIND (backups|restores) NAMESPACE
    curl -s "${SIM[$1]}/sim/velero" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(x["phase"] == "InProgress" and sys.argv[2] in x["namespaces"] for x in d[sys.argv[1]]) else 1)' "$2" "$3"
}

run precopy "source SIGKILL, initial backup running" 'd["phase"] == "precopy"' "$restart_lulea"
run delta "source SIGKILL between deltas" 'd["phase"] == "delta"' "$restart_lulea"
# Pods that take 2 s to stop keep the switchover open long enough.
sim_set lulea-1 '{"cluster.stop_delay_s": 100}'
run switchover "source SIGKILL, scaling to 0" \
    'd["phase"] == "switchover" and any(e["detail"].endswith("to 0") for e in d["events"])' "$restart_lulea"
sim_set lulea-1 '{"cluster.stop_delay_s": 1}'
# Pods that take 2 s to be ready at the target keep the import open.
sim_set falkenberg-1 '{"cluster.ready_delay_s": 100}'
run restoring "source SIGKILL, import running" 'd["phase"] == "restoring" and d["import"]' "$restart_lulea"
# PowerDNS stopped (SIGSTOP) holds the source in cutover: the switch waits.
run cutover "source SIGKILL, switching DNS" 'd["phase"] == "restoring" and d["import"]' \
    'kill -STOP $PDNS_PID; until_py 20 "d[\"phase\"] == \"cutover\"" mig_get lulea-1 $id && killed=cutover; site_agent_kill lulea-1' \
    'kill -CONT $PDNS_PID; site_agent_start lulea-1'
run target "target SIGKILL, import running" 'd["phase"] == "restoring" and d["import"]' \
    'killed="import $(api falkenberg-1 /v1/imports/$(json_get "$TMP/until.json" "d[\"import\"]") | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[\"phase\"])")"
     site_agent_kill falkenberg-1; site_agent_start falkenberg-1'
sim_set falkenberg-1 '{"cluster.ready_delay_s": 1}'
run vbackup "lulea-1 Velero restart, backup" 'd["phase"] == "precopy"' \
    'until_ok 10 in_progress lulea-1 backups c-vbackup && killed="precopy, InProgress"; sim_set lulea-1 "{\"velero.restart\": true}"' \
    "" "was marked Failed by a Velero restart"
run vrestore "falkenberg-1 Velero restart, restore" 'd["phase"] == "restoring"' \
    'until_ok 20 in_progress falkenberg-1 restores c-vrestore && killed="restoring, InProgress"; sim_set falkenberg-1 "{\"velero.restart\": true}"' \
    "" "Velero restarted during the Restore"

echo "# run        what                                   in phase             outcome  downtime s  versions stopped/captured/restored"
cat "$TMP/matrix"
FAILS=$((FAILS + $(grep -c '^not ok' "$TMP/checks.out")))
check "no sanitizer report in any log" sh -c "! grep -l 'AddressSanitizer\|runtime error\|LeakSanitizer' '$TMP'/*.log"
echo "# $(( $(date +%s) - start_s )) s"
finish
