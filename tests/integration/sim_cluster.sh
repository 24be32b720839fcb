#!/bin/bash
# sim_cluster — floe-sim's simulated Kubernetes cluster, checked from
# outside over HTTP with curl and Python: the API's shapes (lists,
# objects, Status errors), the bearer token, labelSelector filtering,
# run-time changes through POST /sim/cluster, and it.load_kw (in
# /sim/state and in the Modbus register, read with mbpoll) following the
# running namespaces; the write API (scale through /scale with rollout
# status following the pods, 415, 409 on a stale PUT, namespace delete ->
# Terminating -> gone, 403 while terminating), data versions in GET
# /sim/cluster, and the faults of /sim/set (kube.fail_next, kube.hang,
# cluster.never_ready). Starts its own simulator on free loopback ports.
#
# usage: tests/integration/sim_cluster.sh BUILD_DIR   (e.g. build)
. "$(dirname "$0")/lib/common.sh"
SIM=$BUILD/floe-sim
TOKEN=sim-cluster-token-1

cat >"$TMP/site.json" <<'JSON'
{
  "site": { "name": "cluster-test" },
  "chillers": [ { "name": "chiller1", "capacity_kw": 150 } ],
  "it": { "base_kw": 100 },
  "room": { "setpoint_c": 22, "inlet_c": 22, "thermal_mass_kj_per_k": 1000 },
  "cluster": {
    "token": "sim-cluster-token-1",
    "ready_delay_s": 50,
    "terminate_delay_s": 50,
    "namespaces": [
      { "name": "shop",
        "labels": { "floe.dev/movable": "true", "tier": "gold" },
        "annotations": { "floe.dev/power-kw": "40", "floe.dev/data-gb": "37", "floe.dev/priority": "50",
                         "floe.dev/quiesce": "[\"/bin/sh\",\"-c\",\"mysql -e 'FLUSH TABLES WITH READ LOCK'\"]" },
        "deployments": [ { "name": "web", "replicas": 2,
                           "pod_annotations": { "pre.hook.backup.velero.io/command": "[\"/bin/sync\"]" } } ],
        "statefulsets": [ { "name": "db", "replicas": 1 } ] },
      { "name": "batch",
        "labels": { "floe.dev/movable": "true", "tier": "bronze" },
        "annotations": { "floe.dev/power-kw": "30", "floe.dev/stateless": "true" },
        "deployments": [ { "name": "worker", "replicas": 4 } ] },
      { "name": "infra",
        "annotations": { "floe.dev/power-kw": "5" },
        "deployments": [ { "name": "dns" } ] }
    ]
  }
}
JSON

bg "$SIM" site -c "$TMP/site.json" --modbus-port 0 --http-port 0 --snmp-port 0 \
    --speedup 50 --ports-file "$TMP/ports.json" >"$TMP/stdout" 2>"$TMP/stderr"
SIM_PID=$BG_PID
for _ in $(seq 100); do
    [ -s "$TMP/ports.json" ] && break
    sleep 0.1
done
if [ ! -s "$TMP/ports.json" ]; then
    not_ok "simulator starts: $(cat "$TMP/stderr")"
    finish
fi
HTTP=$(json_get "$TMP/ports.json" 'd["http"]')
MB=$(json_get "$TMP/ports.json" 'd["modbus"]')
URL=http://127.0.0.1:$HTTP
ok "simulator with a cluster starts"

# kube PATH [SELECTOR] [AUTH HEADER VALUE] [METHOD]: status code; body in
# $TMP/body. The selector is URL-encoded as a client library does.
kube() {
    local path=$1 sel=${2-} auth=${3-Bearer $TOKEN} method=${4:-GET}
    local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$method")
    [ -n "$auth" ] && args+=(-H "Authorization: $auth")
    if [ -n "$sel" ]; then
        args+=(-G --data-urlencode "labelSelector=$sel")
    fi
    curl "${args[@]}" "$URL$path"
}

# body EXPR: a Python expression over the last body (`d`).
body() { json_get "$TMP/body" "$1"; }

# names: the items' names of the last list, comma-joined.
names() { body '",".join(i["metadata"]["name"] for i in d["items"])'; }

# cluster BODY: POST /sim/cluster; status code, body in $TMP/body.
cluster() { curl -s -o "$TMP/body" -w '%{http_code}' -d "$1" "$URL/sim/cluster"; }

state() { curl -s "$URL/sim/state" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["values"][sys.argv[1]])' "$1"; }

# The IT load register (41001, float32 ABCD), as the agent reads it.
load_register() {
    mbpoll -m tcp -a 1 -t 4:float -B -r 1001 -1 -o 2 -p "$MB" 127.0.0.1 2>/dev/null |
        sed -n 's/^\[[0-9]*\]:[[:space:]]*//p'
}

# ---- authentication ----
check "no token: 401" test "$(kube /api/v1/namespaces '' '')" = 401
check "401 is an Unauthorized Status" test "$(body '(d["kind"], d["apiVersion"], d["status"], d["reason"], d["message"], d["code"])')" = \
    "('Status', 'v1', 'Failure', 'Unauthorized', 'Unauthorized', 401)"
check "wrong token: 401" test "$(kube /api/v1/namespaces '' 'Bearer nope')" = 401
check "unknown path without token: 401, not 404" test "$(kube /api/v1/pods '' '')" = 401

# ---- NamespaceList ----
check "GET /api/v1/namespaces: 200" test "$(kube /api/v1/namespaces)" = 200
check "NamespaceList: kind, apiVersion, resourceVersion" test \
    "$(body '(d["kind"], d["apiVersion"], d["metadata"]["resourceVersion"].isdigit())')" = "('NamespaceList', 'v1', True)"
check "namespaces listed by name" test "$(names)" = "batch,infra,shop"
check "items carry no kind or apiVersion" test "$(body 'any("kind" in i or "apiVersion" in i for i in d["items"])')" = False
check "namespace metadata: uid, resourceVersion, creationTimestamp, labels" test "$(body '
[(set(m) >= {"name", "uid", "resourceVersion", "creationTimestamp", "labels"}, len(m["uid"]),
  m["labels"]["kubernetes.io/metadata.name"] == m["name"],
  __import__("re").fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["creationTimestamp"]) is not None)
 for m in (i["metadata"] for i in d["items"])]')" = "[(True, 36, True, True), (True, 36, True, True), (True, 36, True, True)]"
check "annotations are strings as given (quiesce command intact)" test "$(body '
[i["metadata"]["annotations"] for i in d["items"] if i["metadata"]["name"] == "shop"][0]["floe.dev/quiesce"]')" = \
    "[\"/bin/sh\",\"-c\",\"mysql -e 'FLUSH TABLES WITH READ LOCK'\"]"
check "namespaces are Active" test "$(body '{i["status"]["phase"] for i in d["items"]}')" = "{'Active'}"
list_rv=$(body 'd["metadata"]["resourceVersion"]')

# ---- labelSelector ----
sel_names() { # sel_names SELECTOR -> "status names"
    local code; code=$(kube /api/v1/namespaces "$1")
    echo "$code $(names)"
}
check "selector k=v" test "$(sel_names 'floe.dev/movable=true')" = "200 batch,shop"
check "selector k==v" test "$(sel_names 'tier==gold')" = "200 shop"
check "selector k!=v (absent counts as different)" test "$(sel_names 'tier!=gold')" = "200 batch,infra"
check "selector existence k" test "$(sel_names 'tier')" = "200 batch,shop"
check "selector !k" test "$(sel_names '!floe.dev/movable')" = "200 infra"
check "selector comma is AND" test "$(sel_names 'floe.dev/movable=true,tier=bronze')" = "200 batch"
check "selector set-based in" test "$(sel_names 'tier in (gold, silver)')" = "200 shop"
check "selector matching nothing: empty list" test "$(sel_names 'tier=platinum')" = "200 "
check "malformed selector: 400" test "$(kube /api/v1/namespaces 'floe.dev/movable=true,')" = 400
check "400 is a BadRequest Status" test "$(body '(d["kind"], d["status"], d["reason"], d["code"], "expected" in d["message"])')" = \
    "('Status', 'Failure', 'BadRequest', 400, True)"
check "malformed selector key: 400" test "$(kube /api/v1/namespaces '-bad=1')" = 400

# ---- one Namespace, 404, 405 ----
check "GET /api/v1/namespaces/shop: 200" test "$(kube /api/v1/namespaces/shop)" = 200
check "Namespace: kind, apiVersion, name, phase" test "$(body '(d["kind"], d["apiVersion"], d["metadata"]["name"], d["status"]["phase"])')" = \
    "('Namespace', 'v1', 'shop', 'Active')"
check "unknown namespace: 404" test "$(kube /api/v1/namespaces/x)" = 404
check "404 is the API server's Status" test "$(body 'd == {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"namespaces"},"code":404}')" = True
check "unknown resource: 404 Status" test "$(kube /api/v1/pods) $(body '(d["kind"], d["reason"], d["code"])')" = "404 ('Status', 'NotFound', 404)"
check "PUT on namespaces: 405 MethodNotAllowed Status" test \
    "$(kube /api/v1/namespaces '' "Bearer $TOKEN" PUT) $(body '(d["kind"], d["reason"], d["code"])')" = "405 ('Status', 'MethodNotAllowed', 405)"
check "PATCH on a namespace: 405" test "$(kube /api/v1/namespaces/shop '' "Bearer $TOKEN" PATCH)" = 405

# ---- Deployments and StatefulSets ----
check "DeploymentList of shop: 200" test "$(kube /apis/apps/v1/namespaces/shop/deployments)" = 200
check "DeploymentList: kind, apiVersion, resourceVersion, items" test \
    "$(body '(d["kind"], d["apiVersion"], "resourceVersion" in d["metadata"], [i["metadata"]["name"] for i in d["items"]])')" = \
    "('DeploymentList', 'apps/v1', True, ['web'])"
check "Deployment item: metadata, spec.replicas, pod-template annotations, status" test "$(body '
(lambda w, m: (m["namespace"], len(m["uid"]), m["resourceVersion"].isdigit(), "creationTimestamp" in m,
               w["spec"]["replicas"], w["spec"]["template"]["metadata"]["annotations"]["pre.hook.backup.velero.io/command"],
               w["status"]["replicas"], w["status"]["readyReplicas"], w["status"]["availableReplicas"]))(
 d["items"][0], d["items"][0]["metadata"])')" = \
    "('shop', 36, True, True, 2, '[\"/bin/sync\"]', 2, 2, 2)"
check "StatefulSetList of shop" test "$(kube /apis/apps/v1/namespaces/shop/statefulsets) $(body '(d["kind"], [(i["metadata"]["name"], i["spec"]["replicas"], i["status"]["readyReplicas"]) for i in d["items"]])')" = \
    "200 ('StatefulSetList', [('db', 1, 1)])"
check "workloads of a namespace that does not exist: empty list" test \
    "$(kube /apis/apps/v1/namespaces/ghost/deployments) $(body 'd["items"]')" = "200 []"
check "one Deployment: kind Deployment" test "$(kube /apis/apps/v1/namespaces/shop/deployments/web) $(body 'd["kind"]')" = "200 Deployment"
check "unknown Deployment: 404 deployments.apps" test "$(kube /apis/apps/v1/namespaces/shop/deployments/nope) $(body 'd["message"]')" = \
    "404 deployments.apps \"nope\" not found"

# ---- the facility link: it.load_kw = base + running namespaces ----
check "it.load_kw = 100 base + 40 shop + 30 batch + 5 infra" test "$(state it.load_kw)" = 175
check "IT load register (41001) shows the cluster's load" test "$(load_register)" = 175
# 175 kW under 150 kW of cooling: the room warms.
t0=$(state room.inlet_c); sleep 1; t1=$(state room.inlet_c)
check "room warms while the cluster's load exceeds cooling" /usr/bin/python3 -c "import sys; sys.exit(not float('$t1') > float('$t0') > 22)"

# ---- run-time changes ----
web_rv=$(kube /apis/apps/v1/namespaces/shop/deployments/web >/dev/null; body 'd["metadata"]["resourceVersion"]')
check "scale shop to 0: 200" test "$(cluster '{"patch": {"shop": {"deployments": {"web": {"replicas": 0}}, "statefulsets": {"db": {"replicas": 0}}}}}')" = 200
check "it.load_kw drops by shop's 40 kW" test "$(state it.load_kw)" = 135
check "IT load register follows at once" test "$(load_register)" = 135
kube /apis/apps/v1/namespaces/shop/deployments/web >/dev/null
check "scaled Deployment: spec.replicas 0, generation 2, no ready pods" test \
    "$(body '(d["spec"]["replicas"], d["metadata"]["generation"], d["status"].get("readyReplicas", 0))')" = "(0, 2, 0)"
check "resourceVersion moved on" test "$(body 'd["metadata"]["resourceVersion"]')" -gt "$web_rv"
kube /api/v1/namespaces >/dev/null
check "list resourceVersion moved on" test "$(body 'd["metadata"]["resourceVersion"]')" -gt "$list_rv"
# 135 kW under 150 kW: the room cools back towards its setpoint.
t0=$(state room.inlet_c); sleep 1; t1=$(state room.inlet_c)
check "room cools once the load is below cooling" /usr/bin/python3 -c "import sys; sys.exit(not float('$t1') < float('$t0'))"

check "change labels and annotations: 200" test "$(cluster '{"patch": {"batch": {"labels": {"floe.dev/movable": "false", "tier": null}, "annotations": {"floe.dev/power-kw": "50"}}}}')" = 200
check "inventory sees the label change" test "$(sel_names 'floe.dev/movable=true')" = "200 shop"
check "removed label is gone" test "$(kube /api/v1/namespaces/batch; body '"tier" in d["metadata"]["labels"]')" = "200False"
check "it.load_kw follows the power annotation" test "$(state it.load_kw)" = 155
check "add a namespace: 200" test "$(cluster '{"add": [{"name": "newshop", "labels": {"floe.dev/movable": "true"}, "annotations": {"floe.dev/power-kw": "12"}, "statefulsets": [{"name": "db", "replicas": 1}]}]}')" = 200
check "added namespace is listed and selected" test "$(sel_names 'floe.dev/movable=true')" = "200 newshop,shop"
check "its StatefulSet is served" test "$(kube /apis/apps/v1/namespaces/newshop/statefulsets) $(names)" = "200 db"
check "it.load_kw counts the added namespace" test "$(state it.load_kw)" = 167
check "remove a namespace: 200" test "$(cluster '{"remove": ["infra"]}')" = 200
check "removed namespace: 404" test "$(kube /api/v1/namespaces/infra)" = 404
check "it.load_kw no longer counts it" test "$(state it.load_kw)" = 162

check "patch of an unknown namespace: 404 not_found" test "$(cluster '{"patch": {"ghost": {}}}') $(body 'd["code"]')" = "404 not_found"
check "add of an existing namespace: 409 exists" test "$(cluster '{"add": [{"name": "shop"}]}') $(body 'd["code"]')" = "409 exists"
check "bad replicas: 400 bad_value naming the path" test "$(cluster '{"patch": {"shop": {"deployments": {"web": {"replicas": -1}}}}}') $(body 'd["code"], d["error"].split(":")[0]')" = \
    "400 ('bad_value', 'patch.shop.deployments.web.replicas')"
check "bad JSON: 400 bad_json" test "$(cluster '{"patch"') $(body 'd["code"]')" = "400 bad_json"
check "a refused change changes nothing" test "$(cluster '{"remove": ["shop"], "patch": {"ghost": {}}}') $(kube /api/v1/namespaces/shop)" = "404 200"
check "PUT /sim/cluster: 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$URL/sim/cluster")" = 405

# ---- the write API, over simulated time (speedup 50: the scenario's 50 s
# ready and terminating delays are 1 s) ----
# write METHOD PATH CONTENT-TYPE BODY: status code, body in $TMP/body.
write() {
    curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
        -H "Content-Type: $3" --data-binary "$4" "$URL$2"
}
# rolled_out PATH: kubectl rollout status's rule on the object.
rolled_out() {
    kube "$1" >/dev/null
    body '(lambda s, st: d["status"].get("observedGeneration", 0) >= d["metadata"]["generation"] and
        st.get("updatedReplicas", 0) == s and st.get("replicas", 0) == s and
        st.get("readyReplicas" if d["kind"] == "StatefulSet" else "availableReplicas", 0) == s)(
        d["spec"]["replicas"], d["status"])'
}
# wait_until SECONDS CMD...: polls CMD every 0.05 s.
wait_until() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}
is_true() { [ "$("$@")" = True ]; }
ns_state() { curl -s "$URL/sim/cluster" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print([n for n in d["namespaces"] if n["name"] == sys.argv[1]][0][sys.argv[2]])' "$1" "$2"; }
WEB=/apis/apps/v1/namespaces/shop/deployments/web
DB=/apis/apps/v1/namespaces/shop/statefulsets/db

load0=$(state it.load_kw)
check "shop is at 0 and counts no kW" test "$load0" = 162
check "PATCH /scale merge-patch: 200 Scale" test "$(write PATCH $WEB/scale application/merge-patch+json '{"spec":{"replicas":3}}') $(body '(d["kind"], d["spec"]["replicas"])')" = "200 ('Scale', 3)"
check "rollout not done right after the scale" test "$(rolled_out $WEB)" = False
check "it.load_kw follows the scale at once" test "$(state it.load_kw)" = 202
check "IT load register follows the scale" test "$(load_register)" = 202
check "rollout done once the pods are up" wait_until 5 is_true rolled_out $WEB
check "GET /scale" test "$(kube $WEB/scale) $(body '(d["spec"]["replicas"], d["status"]["replicas"], d["status"]["selector"])')" = "200 (3, 3, 'app=web')"
check "strategic-merge-patch on /scale: 200" test "$(write PATCH $DB/scale application/strategic-merge-patch+json '{"spec":{"replicas":1}}')" = 200
check "PATCH with application/json: 415 UnsupportedMediaType" test "$(write PATCH $WEB/scale application/json '{"spec":{"replicas":1}}') $(body '(d["reason"], d["message"].startswith("the body of the request was in an unknown format"))')" = "415 ('UnsupportedMediaType', True)"
check "negative replicas: 422 Invalid with a cause" test "$(write PATCH $WEB/scale application/merge-patch+json '{"spec":{"replicas":-1}}') $(body '(d["reason"], d["details"]["causes"][0]["field"])')" = "422 ('Invalid', 'spec.replicas')"
kube $WEB >/dev/null; cp "$TMP/body" "$TMP/web.json"
write PATCH $WEB/scale application/merge-patch+json '{"spec":{"replicas":2}}' >/dev/null
check "PUT with a stale resourceVersion: 409 Conflict" test "$(write PUT $WEB application/json "$(cat "$TMP/web.json")") $(body 'd["reason"]')" = "409 Conflict"
shop_writing() { [ "$(ns_state shop writing)" = True ]; }
check "shop's pods write once up" wait_until 5 shop_writing
v1=$(ns_state shop data_version); sleep 0.3; v2=$(ns_state shop data_version)
check "GET /sim/cluster: data_version advances while pods write" test "$v2" -gt "$v1"

check "DELETE a namespace: 200, Terminating with deletionTimestamp" test "$(write DELETE /api/v1/namespaces/shop application/json '') $(body '(d["kind"], d["status"]["phase"], "deletionTimestamp" in d["metadata"])')" = "200 ('Namespace', 'Terminating', True)"
check "its kW leave it.load_kw at once" test "$(state it.load_kw)" = 162
check "a second DELETE while terminating: 200 with the object" test "$(write DELETE /api/v1/namespaces/shop application/json '') $(body 'd["status"]["phase"]')" = "200 Terminating"
check "creating in it: 403 Forbidden" test "$(write POST /apis/apps/v1/namespaces/shop/deployments application/json '{"metadata":{"name":"x"}}') $(body 'd["message"]')" = \
    "403 deployments.apps \"x\" is forbidden: unable to create new content in namespace shop because it is being terminated"
shop_gone() { [ "$(kube /api/v1/namespaces/shop)" = 404 ]; }
check "the namespace is gone after the terminating delay" wait_until 5 shop_gone
check "POST a namespace: 201" test "$(write POST /api/v1/namespaces application/json '{"metadata":{"name":"shop","annotations":{"floe.dev/power-kw":"7"}}}')" = 201
check "POST it again: 409 AlreadyExists" test "$(write POST /api/v1/namespaces application/json '{"metadata":{"name":"shop"}}') $(body 'd["reason"]')" = "409 AlreadyExists"
check "POST a Deployment into it: 201" test "$(write POST /apis/apps/v1/namespaces/shop/deployments application/json '{"metadata":{"name":"web"},"spec":{"replicas":1}}')" = 201
check "it.load_kw counts the new namespace" test "$(state it.load_kw)" = 169

# ---- faults ----
check "kube.fail_next 2: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -d '{"kube.fail_next": 2}' "$URL/sim/set")" = 200
check "the next two requests: 500 InternalError" test "$(kube /api/v1/namespaces) $(body 'd["reason"]') $(kube /api/v1/namespaces)" = "500 InternalError 500"
check "then the API answers again" test "$(kube /api/v1/namespaces)" = 200
check "kube.hang true: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -d '{"kube.hang": true}' "$URL/sim/set")" = 200
check "a request hangs (no answer within 1 s)" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H "Authorization: Bearer $TOKEN" "$URL/api/v1/namespaces")" = 000
check "the rest of the simulator answers meanwhile" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/sim/state")" = 200
curl -s -o "$TMP/hung" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $TOKEN" "$URL/api/v1/namespaces" >"$TMP/hung.code" &
HUNG=$!
sleep 0.3
check "kube.hang false: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -d '{"kube.hang": false}' "$URL/sim/set")" = 200
wait "$HUNG"
check "the hung request is answered once the hang is cleared" test "$(cat "$TMP/hung.code")" = 200
check "a bad fault value: 400 bad_value, nothing applied" test "$(curl -s -o "$TMP/body" -w '%{http_code}' -d '{"kube.fail_next": 5, "kube.hang": "x"}' "$URL/sim/set") $(body 'd["code"]') $(kube /api/v1/namespaces)" = "400 bad_value 200"
check "cluster.never_ready shop: 200" test "$(curl -s -o /dev/null -w '%{http_code}' -d '{"cluster.never_ready": "shop"}' "$URL/sim/set")" = 200
write PATCH /apis/apps/v1/namespaces/shop/deployments/web/scale application/merge-patch+json '{"spec":{"replicas":2}}' >/dev/null
sleep 1.5 # 75 s simulated, past the ready delay
check "a never-ready namespace does not roll out" test "$(rolled_out /apis/apps/v1/namespaces/shop/deployments/web)" = False
curl -s -o /dev/null -d '{"cluster.never_ready": null}' "$URL/sim/set"
check "cleared, it rolls out" wait_until 5 is_true rolled_out /apis/apps/v1/namespaces/shop/deployments/web

check "rotate the token: 200" test "$(cluster '{"token": "sim-cluster-token-2"}')" = 200
check "old token: 401" test "$(kube /api/v1/namespaces)" = 401
check "new token: 200" test "$(kube /api/v1/namespaces '' 'Bearer sim-cluster-token-2')" = 200
check "the token never reaches the log" test "$(grep -c 'sim-cluster-token' "$TMP/stderr")" = 0
check "changes are logged" grep -q 'cluster changed: 3 namespaces' "$TMP/stderr"

check "SIGTERM stops it with status 0" stop_pid "$SIM_PID"

# ---- a bad cluster section is refused with its path ----
cat >"$TMP/bad.json" <<'JSON'
{ "site": { "name": "x" },
  "cluster": { "namespaces": [ { "name": "a", "labels": { "floe.dev/movable": true } } ] } }
JSON
"$SIM" site -c "$TMP/bad.json" --modbus-port 0 --http-port 0 --snmp-port 0 >/dev/null 2>"$TMP/stderr"
rc=$?
check "bad cluster section exits 1 naming its path" test "$rc $(grep -c 'bad.json: cluster.namespaces\[0\].labels\["floe.dev/movable"\]: expected a string' "$TMP/stderr")" = "1 1"
finish
