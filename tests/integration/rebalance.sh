#!/bin/bash
# Overnight rebalance, failback (SPEC 3.3 `rebalance`, issue 10): two
# sites on loopback (lib/sites.sh: floe-sim + agent each, peered, traffic
# in a real PowerDNS), the path the two-site demo takes.
#
# lulea-1 runs web (stateless, 20 kW, priority 10) and api (stateless,
# 10 kW, priority 20); both are moved to falkenberg-1 by hand (POST
# /v1/migrations), so falkenberg-1 holds two guests of lulea-1 and
# lulea-1 keeps their sources at 0 replicas (retain_source 1 h). Then a
# rebalance policy with min_gain_kw 50, max_migrations 1 and a schedule window around the
# current time is PUT at falkenberg-1 (effective at once). Checked: it
# decides within seconds; the decision is placed, web goes home (lowest
# priority first) with a reservation at lulea-1, api stays with the
# max_migrations reason, and it carries the window and the count; the
# migration falkenberg-1 -> lulea-1 ends done, lulea-1's import took the
# source it kept over (its own migration counts that source as replaced,
# never deleting what came back), lulea-1 runs web again at its replica
# counts, DNS points web home; later decisions of the window count the
# migration started, also after falkenberg-1's agent is killed and
# restarted, and api stays; `floe decisions` shows the decision.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/pdns.sh"
. "$ROOT/tests/integration/lib/sites.sh"

SPEEDUP=30
SITES_TTL=1 # a stateless source is scaled down one TTL after the switch
ZONE=$SITES_ZONE
SITES="lulea-1 falkenberg-1"
SITE_INGRESS[lulea-1]=192.0.2.10
SITE_INGRESS[falkenberg-1]=198.51.100.20
start_s=$(date +%s)

pdns_start || { not_ok "PowerDNS starts"; finish; }
pdns_create_zone "$ZONE" || { not_ok "PowerDNS creates $ZONE"; finish; }
for h in web api; do
    curl -s -o /dev/null -X PATCH -H "X-API-Key: $PDNS_API_KEY" \
        -d "{\"rrsets\": [{\"name\": \"$h.$ZONE\", \"type\": \"A\", \"ttl\": 60, \"changetype\": \"REPLACE\",
             \"records\": [{\"content\": \"${SITE_INGRESS[lulea-1]}\", \"disabled\": false}]}]}" \
        "$PDNS_API/api/v1/servers/localhost/zones/$ZONE"
done

nss='[
  { "name": "web", "labels": { "floe.dev/movable": "true" },
    "annotations": { "floe.dev/power-kw": "20", "floe.dev/priority": "10", "floe.dev/stateless": "true",
                     "floe.dev/hostname": "web.apps.example.org" },
    "deployments": [ { "name": "front", "replicas": 3 } ] },
  { "name": "api", "labels": { "floe.dev/movable": "true" },
    "annotations": { "floe.dev/power-kw": "10", "floe.dev/priority": "20", "floe.dev/stateless": "true",
                     "floe.dev/hostname": "api.apps.example.org" },
    "deployments": [ { "name": "server", "replicas": 2 } ] } ]'
mig='"backup_sync_period": "1s", "import_ready_timeout": "30s"'
sites_pair_start "$SPEEDUP" "$nss" "$mig" || finish
check "lulea-1 sees web and api" \
    until_py 15 'sorted(w["name"] for w in d["workloads"] if w["movable"]) == ["api", "web"]' api lulea-1 /v1/workloads

# ---- both move to falkenberg-1 by hand ----
declare -A OUT
for w in web api; do
    api lulea-1 /v1/migrations -X POST -d "{\"workload\": \"$w\", \"to\": \"falkenberg-1\"}" >"$TMP/$w.post.json"
    OUT[$w]=$(json_get "$TMP/$w.post.json" 'd.get("id", "")' 2>/dev/null)
    [ -n "${OUT[$w]}" ] || { not_ok "POST /v1/migrations $w: $(cat "$TMP/$w.post.json")"; finish; }
done
for w in web api; do
    check "$w moves to falkenberg-1 (migration ${OUT[$w]} done)" \
        until_py 60 'd["phase"] == "done"' mig_get lulea-1 "${OUT[$w]}"
done
check "DNS points web at falkenberg-1" [ "$(pdns_addresses "web.$ZONE")" = "${SITE_INGRESS[falkenberg-1]}" ]
check "falkenberg-1 lists its guests web and api as movable" \
    until_py 15 'sorted(w["name"] for w in d["workloads"] if w["movable"]) == ["api", "web"]' api falkenberg-1 /v1/workloads
check "lulea-1 accepts work with spare kW" \
    until_py 15 'd["accepting"] and d["spare_kw"] >= 20' api lulea-1 /v1/capacity

# ---- the night opens: a rebalance policy whose window holds now ----
# The sites' time zone is UTC (site.timezone's default); the window opens
# a minute ago and closes in half an hour (across midnight works too).
win=$(/usr/bin/python3 -c 'import time; t = time.time(); f = lambda s: time.strftime("%H:%M", time.gmtime(s)); print(f(t - 60) + "-" + f(t + 1800))')
cat >"$TMP/policy.json" <<JSON
{ "name": "overnight-rebalance",
  "description": "Bring guests home at night",
  "when": "it.load_kw >= 0",
  "mode": "auto", "cooldown": "2s",
  "action": { "type": "rebalance", "min_gain_kw": 50, "max_migrations": 1, "min_residency": "1s" },
  "schedule": { "window": "$win" } }
JSON
put_ms=$(date +%s%3N)
code=$(api falkenberg-1 /v1/policies/overnight-rebalance -X PUT --data-binary @"$TMP/policy.json" -o "$TMP/put.json" -w '%{http_code}')
check "PUT /v1/policies/overnight-rebalance at falkenberg-1: 200 ($code $(cat "$TMP/put.json"))" [ "$code" = 200 ]
if ! until_py 15 '[x for x in d["decisions"] if x["kind"] == "rebalance"]' api falkenberg-1 /v1/decisions; then
    not_ok "falkenberg-1 makes a rebalance decision ($(cat "$TMP/until.json"))"
    finish
fi
api falkenberg-1 /v1/decisions >"$TMP/decisions.1.json"
FIRST=$(json_get "$TMP/decisions.1.json" 'min(x["id"] for x in d["decisions"] if x["kind"] == "rebalance")')
api falkenberg-1 "/v1/decisions/$FIRST" >"$TMP/first.json"

mid=""
if until_py 10 '[m for m in d["migrations"] if m["workload"] == "web"]' api falkenberg-1 /v1/migrations; then
    mid=$(json_get "$TMP/until.json" '[m["id"] for m in d["migrations"] if m["workload"] == "web"][0]')
fi
[ -n "$mid" ] || { not_ok "falkenberg-1 starts a migration of web ($(cat "$TMP/until.json"))"; finish; }
check "web goes home: migration $mid falkenberg-1 -> lulea-1 ends done" \
    until_py 60 'd["phase"] == "done" and d["to"] == "lulea-1"' mig_get falkenberg-1 "$mid"
mig_get falkenberg-1 "$mid" >"$TMP/back.json"
check "api is not moved (one migration at falkenberg-1)" \
    until_py 5 'len(d["migrations"]) == 1' api falkenberg-1 /v1/migrations
sim_cluster lulea-1 >"$TMP/lulea.after.json"
sim_cluster falkenberg-1 >"$TMP/falk.after.json"
mig_get lulea-1 "${OUT[web]}" >"$TMP/out.web.json"
api lulea-1 /v1/imports >"$TMP/lulea.imports.json"
pdns_query "web.$ZONE" A >"$TMP/dns.web"
pdns_query "api.$ZONE" A >"$TMP/dns.api"

# Later decisions of the window count the migration started, also after a
# restart of falkenberg-1's agent.
check "a later decision counts 1 migration started in the window" \
    until_py 15 "[x for x in d['decisions'] if x['kind'] == 'rebalance' and x['id'] > $FIRST and x['rebalance']['started_in_window'] == 1]" \
    api falkenberg-1 /v1/decisions
site_agent_kill falkenberg-1
# The killed agent's last decision, from its database.
LAST=$(/usr/bin/python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT max(id) FROM decision").fetchone()[0])' "$TMP/falkenberg-1.db")
site_agent_start falkenberg-1 || { not_ok "falkenberg-1's agent restarts"; finish; }
# Decision ids are never reused: one above LAST is the restarted agent's.
if until_py 20 "[x for x in d['decisions'] if x['kind'] == 'rebalance' and x['id'] > $LAST]" \
    api falkenberg-1 /v1/decisions; then
    cp "$TMP/until.json" "$TMP/decisions.2.json"
else
    not_ok "falkenberg-1 decides again after its restart ($(cat "$TMP/until.json"))"
    echo '{"decisions": []}' >"$TMP/decisions.2.json"
fi
"$BUILD/floe" decisions --url "${AGENT[falkenberg-1]}" --token admin-secret >"$TMP/cli.txt" 2>&1
"$BUILD/floe" decisions "$FIRST" --url "${AGENT[falkenberg-1]}" --token admin-secret >"$TMP/cli.first.txt" 2>&1

/usr/bin/python3 - "$TMP" "$put_ms" "$LAST" "${SITE_INGRESS[lulea-1]}" "$SITES_TTL" "$FIRST" <<'PY' | tee "$TMP/checks.out"
import json, sys, datetime
tmp, put_ms, last_id, home_ip, ttl, first_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
def load(name):
    return json.load(open(f"{tmp}/{name}"))
def check(name, cond):
    print(("ok - " if cond else "not ok - ") + name)
def ms(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000
def ns(cluster, name):
    return next((n for n in cluster["namespaces"] if n["name"] == name), None)
def counts(cluster, name):
    n = ns(cluster, name)
    return {} if n is None else {f'{w["kind"]}/{w["name"]}': w["replicas"] for w in n["workloads"]}

d = load("first.json")
wl = {w["name"]: w for w in d["workloads"]}
web, api = wl.get("web", {}), wl.get("api", {})
check(f"decision {d['id']} comes {ms(d['ts']) - put_ms:.0f} ms after the PUT (within 5 s)",
      ms(d["ts"]) - put_ms <= 5000)
check(f"decision {d['id']}: rebalance placed ({d['status']}: {d['reasons'][-1]})",
      d["kind"] == "rebalance" and d["status"] == "placed")
check(f"web: chosen to lulea-1 with a reservation, its home ({web.get('reason')})",
      web.get("chosen") and web.get("to") == "lulea-1" and web.get("reservation")
      and web.get("home_site") == "lulea-1" and "goes home" in web.get("reason", ""))
check(f"api: a guest of lulea-1 that stays, beyond max_migrations ({api.get('reason')})",
      not api.get("chosen") and api.get("home_site") == "lulea-1"
      and "max_migrations 1 reached in this window" in api.get("reason", ""))
rb = d.get("rebalance") or {}
check(f"the decision carries its window and count ({rb})",
      rb.get("max_migrations") == 1 and rb.get("started_in_window") == 0
      and rb.get("window_start") and rb.get("window_end")
      and ms(rb["window_start"]) <= ms(d["ts"]) < ms(rb["window_end"])
      and rb.get("site_spare_kw") is not None)
peers = {p["name"]: p for p in d["peers"]}
lp = peers.get("lulea-1", {})
check(f"peer lulea-1: accepting, takes back 1 guest, 20 kW reserved ({lp.get('reason')})",
      lp.get("accepting") and lp.get("reserved_kw") == 20 and "takes back 1 guest" in lp.get("reason", ""))
check(f"the decision says 1 guest goes home ({d['reasons'][-1]})",
      "1 guest(s) home (20 kW)" in d["reasons"][-1] and "reserved 1 move(s), 20 kW" in d["reasons"][-1])

back = load("back.json")
check(f"the migration home came from decision {first_id} ({back.get('decision_id')})",
      back.get("decision_id") == first_id)
lulea, falk = load("lulea.after.json"), load("falk.after.json")
check(f"lulea-1 runs web again at its replica counts ({counts(lulea, 'web')})",
      counts(lulea, "web") == {"Deployment/front": 3} and all(x["rolled_out"] for x in ns(lulea, "web")["workloads"]))
check(f"falkenberg-1 keeps web at 0 and still runs api ({counts(falk, 'web')}, {counts(falk, 'api')})",
      counts(falk, "web") == {"Deployment/front": 0} and counts(falk, "api") == {"Deployment/server": 2})
got = open(f"{tmp}/dns.web").read().strip()
check(f"dig: web points home at lulea-1 ({got})", got == f"web.apps.example.org. {ttl} IN A {home_ip}")
got = open(f"{tmp}/dns.api").read().strip()
check(f"dig: api still points at falkenberg-1 ({got})", home_ip not in got)
out = load("out.web.json")
events = " | ".join(e["detail"] for e in out["events"])
check(f"lulea-1's own migration of web counts its kept source as replaced, not deleted later ({out.get('source_deleted')})",
      "web came back from falkenberg-1" in events and "replaced by it and is not deleted" in events)
imports = load("lulea.imports.json")["imports"]
imp = [i for i in imports if i["workload"] == "web"]
check(f"lulea-1's import of web took the kept namespace over and is ready ({[i['phase'] for i in imp]})",
      imp and imp[0]["phase"] == "ready")
check(f"the failback's import names lulea-1 web's home ({[i.get('home') for i in imp]})",
      imp and imp[0].get("home") == "lulea-1")

later = sorted((x for x in load("decisions.2.json")["decisions"] if x["kind"] == "rebalance" and x["id"] > last_id),
               key=lambda x: x["id"])
x = later[0] if later else {"rebalance": {}, "workloads": [], "reasons": ["none"], "status": None}
wl = {w["name"]: w for w in x["workloads"]}
check(f"after the restart the window still counts 1 started; api stays ({x['status']}: {x['reasons'][-1]})",
      x["rebalance"].get("started_in_window") == 1 and not wl.get("api", {}).get("chosen", True)
      and x["status"] == "no-need")
cli = open(f"{tmp}/cli.txt").read()
check("floe decisions lists the rebalance decision placed",
      any(f"#{first_id} " in l and "rebalance" in l and "placed" in l for l in cli.splitlines()))
cli1 = open(f"{tmp}/cli.first.txt").read()
check("floe decisions ID shows web going home, each guest's home, why api stays and the window's count",
      "-> lulea-1 (home lulea-1)" in cli1 and "goes home" in cli1 and "max_migrations 1 reached" in cli1
      and "(home lulea-1) — max_migrations" in cli1 and "0 of max_migrations 1 started before" in cli1)
PY
[ "${PIPESTATUS[0]}" = 0 ] || not_ok "the checks of the decisions ran to the end"
FAILS=$((FAILS + $(grep -c '^not ok' "$TMP/checks.out")))
check "no sanitizer report in any log" sh -c "! grep -l 'AddressSanitizer\|runtime error\|LeakSanitizer' '$TMP'/*.log"
echo "# $(( $(date +%s) - start_s )) s"
finish
