#!/bin/bash
# The NOC dashboard (GET /, SPEC 4) in a headless Chromium. Two sites on
# loopback (lib/sites.sh): lulea-1 with http.anonymous_read, falkenberg-1
# with a read token only; each with the room's temperatures and policies
# with descriptions; lulea-1 runs the stateful workload ledger.
#
# First over plain HTTP: the page, its script and style sheet are served
# without a token, with their content types, a Content-Security-Policy
# that allows the agent itself only, ETag and Cache-Control: no-cache (and
# 304 for a matching If-None-Match), in under 100 KB; the data endpoints
# still want their token. GET /v1/auth says what a token may do.
#
# Then in Chromium, driven over the DevTools protocol
# (lib/dashboard_check.py, lib/cdp.py), failing on any console error,
# uncaught exception or failed load:
#   lulea-1, anonymous: no token asked for; the kW and temperature charts
#     drawn (SVG lines with points); policies with state and description;
#     the peer with its spare kW; the policy's decision on the timeline;
#   a manual POST /v1/migrations of ledger to falkenberg-1 appears with
#     its phase (the screenshot is taken then), and the page follows it
#     to its end;
#   falkenberg-1: the page asks for the read token; a wrong one is refused
#     saying so and not kept; the right one entered once opens the page,
#     and after a reload it still reads without asking;
#   falkenberg-1's agent stopped (SIGSTOP): the page says "unreachable"
#     and dims the old data; continued: live again;
#   every request went to the two agents, none carried the token in its URL.
# The screenshot is kept in ${FLOE_TEST_ARTIFACTS:-/tmp}/floe-dashboard.png
# (the test's own files go with $TMP).
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/pdns.sh"
. "$ROOT/tests/integration/lib/sites.sh"

SPEEDUP=30
SITES_TTL=2
SITES="lulea-1 falkenberg-1"
SITE_INGRESS[lulea-1]=192.0.2.10
SITE_INGRESS[falkenberg-1]=198.51.100.20
READ_TOKEN=noc-read-secret
SHOT=${FLOE_TEST_ARTIFACTS:-/tmp}/floe-dashboard.png

python_ok=1
/usr/bin/python3 -c 'import os; os.posix_spawn' 2>/dev/null || python_ok=0
[ "$python_ok" = 1 ] || { not_ok "python3 with os.posix_spawn"; finish; }
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null ||
    { not_ok "chromium is installed (Debian package chromium; make deps)"; finish; }

pdns_start || { not_ok "PowerDNS starts"; finish; }
pdns_create_zone "$SITES_ZONE" || { not_ok "PowerDNS creates $SITES_ZONE"; finish; }

# ledger: 2 GB take about 140 simulated s to back up, 5 s here: time
# for the page to show the migration under way.
site_scenario lulea-1 5 '[
  { "name": "ledger", "labels": { "floe.dev/movable": "true" },
    "annotations": { "floe.dev/power-kw": "30", "floe.dev/data-gb": "2",
                     "floe.dev/hostname": "ledger.apps.example.org", "floe.dev/quiesce": "[\"/bin/sync\"]",
                     "sim.floe.dev/write-gb-per-min": "0.01" },
    "statefulsets": [ { "name": "pg", "replicas": 1 } ] } ]'
site_scenario falkenberg-1 5 '[]'
site_sim lulea-1 "$SPEEDUP" || { not_ok "floe-sim lulea-1 starts"; finish; }
site_sim falkenberg-1 "$SPEEDUP" || { not_ok "floe-sim falkenberg-1 starts"; finish; }
site_ports lulea-1 falkenberg-1

lulea_policies='[
  { "name": "it-load-watch", "description": "IT load is drawn (the dashboard test: fires at once)",
    "when": "it.load_kw > 0", "severity": "warning", "mode": "auto", "cooldown": "1h",
    "action": { "type": "notify" } },
  { "name": "room-inlet-high", "description": "Room inlet above ASHRAE A1 recommended 27 C",
    "when": "room.inlet_c > 27", "for": "1m", "severity": "critical", "mode": "observe",
    "action": { "type": "notify" } } ]'
falk_policies='[
  { "name": "cooling-margin", "description": "Cooling keeps a margin of 10 % over the IT load",
    "when": "cooling.capacity_kw < it.load_kw * 1.10", "for": "1m", "severity": "critical",
    "mode": "observe", "action": { "type": "notify" } } ]'
mig='"backup_sync_period": "1s", "import_ready_timeout": "30s"'
site_agent_config lulea-1 falkenberg-1 "$lulea_policies" "$mig"
site_agent_config falkenberg-1 lulea-1 "$falk_policies" "$mig"

# What sites.sh does not write: the room's temperatures (the sim's input
# registers), anonymous reads at lulea-1, a read token at falkenberg-1.
/usr/bin/python3 - "$TMP/lulea-1.json" "$TMP/falkenberg-1.json" "$READ_TOKEN" <<'PY'
import json, sys
lulea, falk, token = sys.argv[1:4]
for path in (lulea, falk):
    cfg = json.load(open(path))
    cfg["modbus"][0]["points"] += [
        {"metric": "room.inlet_c", "table": "input", "address": 1200, "type": "float32", "unit": "C"},
        {"metric": "room.setpoint_c", "table": "input", "address": 1202, "type": "int16", "scale": 0.1, "unit": "C"}]
    if path == lulea:
        cfg["http"]["anonymous_read"] = True
    else:
        cfg["http"]["tokens"].append({"name": "noc", "role": "read", "token": token})
    json.dump(cfg, open(path, "w"), indent=1)
PY
site_agent_start falkenberg-1 || { not_ok "falkenberg-1's agent starts"; finish; }
site_agent_start lulea-1 || { not_ok "lulea-1's agent starts"; finish; }
site_wait_accepting falkenberg-1 || { not_ok "falkenberg-1 offers capacity ($(cat "$TMP/until.json"))"; finish; }
check "lulea-1 sees ledger" until_py 15 '[w for w in d["workloads"] if w["name"] == "ledger" and w["movable"]]' \
    api lulea-1 /v1/workloads

# ---- over HTTP ----
FALK=${AGENT[falkenberg-1]}
headers() { # URL [CURL ARGS]: status line and headers, lower-cased names
    curl -s -m 10 -D - -o "$TMP/body" "$@" | tr -d '\r'
}
for f in / /dashboard.js /dashboard.css; do
    headers "$FALK$f" >"$TMP/h"
    case $f in /) type="text/html; charset=utf-8" ;; *.js) type="text/javascript; charset=utf-8" ;;
                *) type="text/css; charset=utf-8" ;; esac
    check "GET $f without a token: 200 $type" \
        grep -qix "content-type: $type" "$TMP/h"
    check "GET $f: its Content-Security-Policy allows the agent only" \
        grep -qix "content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" "$TMP/h"
    check "GET $f: Cache-Control: no-cache with an ETag" \
        sh -c "grep -qix 'cache-control: no-cache' '$TMP/h' && grep -qi '^etag: \"[0-9a-f]\{16\}\"$' '$TMP/h' && head -1 '$TMP/h' | grep -q ' 200'"
    etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: //p' "$TMP/h")
    check "GET $f with If-None-Match: its ETag: 304" \
        sh -c "curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'If-None-Match: $etag' '$FALK$f' | grep -qx 304"
done
size=$(($(curl -s "$FALK/" | wc -c) + $(curl -s "$FALK/dashboard.js" | wc -c) + $(curl -s "$FALK/dashboard.css" | wc -c)))
check "the page, its script and style sheet weigh $size bytes (< 100 KB)" [ "$size" -lt 102400 ]
# (The one URL in them is SVG's namespace, a name and never loaded.)
check "the page names no other place to load from (no URL in its files but SVG's namespace)" \
    sh -c "! curl -s '$FALK/' '$FALK/dashboard.js' '$FALK/dashboard.css' | grep -oE 'https?://[^\"'\'' )]+' |
           grep -vx 'http://www.w3.org/2000/svg'"
check "the data endpoints keep their role: GET /v1/status without a token is 401" \
    sh -c "curl -s -o /dev/null -w '%{http_code}' '$FALK/v1/status' | grep -qx 401"
check "GET /v1/auth without a token: may not read" \
    sh -c "curl -s '$FALK/v1/auth' | grep -qx '{\"anonymous_read\":false,\"token\":\"none\",\"name\":null,\"role\":null,\"read\":false,\"error\":\"a bearer token is required (Authorization: Bearer TOKEN)\"}'"
check "GET /v1/auth with the read token: may read" \
    sh -c "curl -s -H 'Authorization: Bearer $READ_TOKEN' '$FALK/v1/auth' | grep -qx '{\"anonymous_read\":false,\"token\":\"valid\",\"name\":\"noc\",\"role\":\"read\",\"read\":true,\"error\":null}'"
check "GET /v1/auth at lulea-1 (anonymous_read) without a token: may read" \
    sh -c "curl -s '${AGENT[lulea-1]}/v1/auth' | grep -q '\"anonymous_read\":true,\"token\":\"none\".*\"read\":true'"

# ---- in Chromium ----
mkdir -p "$(dirname "$SHOT")"
/usr/bin/python3 "$ROOT/tests/integration/lib/dashboard_check.py" "${AGENT[lulea-1]}" "$FALK" \
    "$READ_TOKEN" admin-secret "${AGENT_PID[falkenberg-1]}" ledger falkenberg-1 "$SHOT" "$TMP" |
    tee "$TMP/browser.out"
rc=${PIPESTATUS[0]}
kill -CONT "${AGENT_PID[falkenberg-1]}" 2>/dev/null # never left stopped
if grep -q '^not ok' "$TMP/browser.out" || [ "$rc" -ne 0 ]; then
    grep -q '^not ok' "$TMP/browser.out" && FAILS=$((FAILS + 1)) || not_ok "the browser checks exited $rc"
    echo "# chromium's log:"; grep -v dbus "$TMP/chromium.log" | tail -20
fi
grep -q '^ok - screenshot' "$TMP/browser.out" || not_ok "no screenshot was taken"
finish
