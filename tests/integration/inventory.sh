#!/bin/bash
# The inventory of workloads from Kubernetes, end to end: the agent against
# a small Kubernetes-shaped API server (lib/kube_fake.py) over https with a
# CA made here by openssl. The label selector and the bearer token reach
# the server; every annotation and the Deployments' and StatefulSets'
# replicas and Velero hooks reach GET /v1/workloads; a bad annotation or a
# namespace the API refuses leaves out that namespace only; a stateful
# workload without a way to quiesce it is not movable, with the reason;
# while the API is down the last good inventory stays, its age growing, and
# the outage is logged once; a rotated token file is picked up; POST
# /v1/workloads/refresh refreshes on demand; a reload switches to a
# kubeconfig (CA given as data) and to the pod's service account; without a
# CA the self-signed server is refused; a kubeconfig with an exec plugin is
# a config error.
. "$(dirname "$0")/lib/common.sh"
FLOE="$BUILD/floe"
FAKE="$(cd "$(dirname "$0")" && pwd)/lib/kube_fake.py"

# --- a CA and the API server's certificate, signed by it ---------------------
cd "$TMP" || exit 1
if ! { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=floe test CA" \
           -keyout ca.key -out ca.crt &&
       openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout api.key -out api.csr &&
       printf 'subjectAltName=IP:127.0.0.1\n' > api.ext &&
       openssl x509 -req -in api.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
           -extfile api.ext -out api.crt; } >openssl.log 2>&1; then
    not_ok "openssl could not make the test certificates: $(tail -3 openssl.log)"
    finish
fi
cd - >/dev/null || exit 1

kport=$(free_port)
API="https://127.0.0.1:$kport"
printf 'token-one-0123456789\n' > "$TMP/accepted.token"   # what the API server accepts
printf 'token-one-0123456789\n' > "$TMP/floe.token"       # what floe presents
cat > "$TMP/state.json" <<'JSON'
{ "namespaces": [
    { "name": "shop", "labels": { "floe.dev/movable": "true" },
      "annotations": { "floe.dev/power-kw": "40", "floe.dev/data-gb": "2.5", "floe.dev/priority": "20",
                       "floe.dev/stateless": "true", "floe.dev/group": "storefront",
                       "floe.dev/hostname": "shop.apps.example.org", "floe.dev/home-site": "falkenberg-1" },
      "deployments": [ { "name": "web", "replicas": 3 }, { "name": "worker" } ] },
    { "name": "mysql", "labels": { "floe.dev/movable": "true" },
      "annotations": { "floe.dev/power-kw": "25", "floe.dev/data-gb": "37" },
      "statefulsets": [ { "name": "db", "replicas": 1, "claims": ["data"],
                          "pod_annotations": { "pre.hook.backup.velero.io/command":
                              "[\"/sbin/fsfreeze\", \"--freeze\", \"/var/lib/mysql\"]" } } ] },
    { "name": "ledger", "labels": { "floe.dev/movable": "true" },
      "annotations": { "floe.dev/power-kw": "15", "floe.dev/data-gb": "120" },
      "statefulsets": [ { "name": "pg", "replicas": 2, "claims": ["pgdata"] } ] },
    { "name": "queue", "labels": { "floe.dev/movable": "true" },
      "annotations": { "floe.dev/power-kw": "5", "floe.dev/quiesce": "[\"redis-cli\", \"save\"]",
                       "floe.dev/pinned": "true" },
      "statefulsets": [ { "name": "redis", "claims": ["dump"] } ] },
    { "name": "broken", "labels": { "floe.dev/movable": "true" },
      "annotations": { "floe.dev/power-kw": "lots", "floe.dev/stateless": "yes" } },
    { "name": "private", "labels": { "floe.dev/movable": "true" },
      "annotations": { "floe.dev/power-kw": "3", "floe.dev/stateless": "true" } },
    { "name": "kube-system", "labels": {}, "annotations": { "floe.dev/power-kw": "1" } } ],
  "forbid": ["private"] }
JSON

start_fake() {
    bg /usr/bin/python3 "$FAKE" --port "$kport" --state "$TMP/state.json" \
        --token-file "$TMP/accepted.token" --cert "$TMP/api.crt" --key "$TMP/api.key" \
        --log "$TMP/requests.log" >/dev/null
    fake=$BG_PID
    for _ in $(seq 50); do
        curl -s -o /dev/null --cacert "$TMP/ca.crt" "$API/api/v1/namespaces" && return 0
        sleep 0.1
    done
    not_ok "the Kubernetes fake did not start"
}
start_fake

http_port=$(free_port)
base="http://127.0.0.1:$http_port"
OP="Authorization: Bearer op-secret-0123"
RD="Authorization: Bearer read-secret-0123"
# write_config KUBERNETES_OBJECT: the agent's config with that "kubernetes" section
write_config() {
    cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "lulea-1" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port",
            "tokens": [ { "name": "facility", "role": "operator", "token": "op-secret-0123" },
                        { "name": "noc", "role": "read", "token": "read-secret-0123" } ] },
  "workloads": { "source": "kubernetes", "refresh": "1h", "kubernetes": $1 } }
JSON
}
write_config "{ \"api\": \"$API\", \"token_file\": \"$TMP/floe.token\", \"ca_file\": \"$TMP/ca.crt\",
               \"label_selector\": \"floe.dev/movable=true\" }"

# The pod's environment, for the in-cluster reload below; unused until then.
mkdir -p "$TMP/sa"
cp "$TMP/ca.crt" "$TMP/sa/ca.crt"
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$kport FLOE_K8S_SERVICEACCOUNT_DIR="$TMP/sa" \
    "$FLOE" agent -c "$TMP/floe.json" 2>>"$TMP/agent.log" &
agent=$!
PIDS+=("$agent")
wait_http "$base/healthz" 10 || not_ok "agent did not start"

get() { curl -s -H "$RD" "$base$1"; }
# until_json PATH EXPR [TRIES]: until EXPR holds over the JSON of GET PATH (in $TMP/w.json)
until_json() {
    local i
    for ((i = 0; i < ${3:-60}; i++)); do
        get "$1" > "$TMP/w.json"
        /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
            "$TMP/w.json" "$2" 2>/dev/null && return 0
        sleep 0.25
    done
    echo "  last answer: $(head -c 1500 "$TMP/w.json")"
    return 1
}
W='{w["name"]: w for w in d["workloads"]}'
# refresh_now: POST /v1/workloads/refresh and wait until it is served
refresh_now() {
    local req
    req=$(curl -s -X POST -H "$OP" "$base/v1/workloads/refresh" |
          /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["request"])')
    until_json /v1/workloads "d[\"requests_served\"] >= $req"
}

check "inventory read: six namespaces matching the selector, kube-system not among them" \
    until_json /v1/workloads 'd["source"] == "kubernetes" and sorted(w["name"] for w in d["workloads"]) == ["broken", "ledger", "mysql", "private", "queue", "shop"] and d["error"] is None and d["refreshed_at"].endswith("Z")'
check "the label selector and the token reached the API server" \
    /usr/bin/python3 -c '
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
ns = [r for r in reqs if r["path"] == "/api/v1/namespaces" and r["token"] == "token-one-0123456789"]
sys.exit(0 if ns and ns[0]["query"].get("labelSelector") == ["floe.dev/movable=true"] else 1)' "$TMP/requests.log"
check "every annotation of shop, and its Deployments' replicas (absent = 1)" \
    until_json /v1/workloads "($W)['shop'] == {'name': 'shop', 'namespace': 'shop', 'movable': True, 'reason': None, 'error': None, 'power_kw': 40, 'data_gb': 2.5, 'priority': 20, 'stateless': True, 'group': 'storefront', 'hostname': 'shop.apps.example.org', 'pinned': False, 'home_site': 'falkenberg-1', 'quiesce': None, 'pod_hooks': False, 'replicas': {'deployment/web': 3, 'deployment/worker': 1}}"
check "stateful mysql with a Velero pre-backup hook on its pods: movable, priority default 50" \
    until_json /v1/workloads "($W)['mysql']['movable'] and ($W)['mysql']['pod_hooks'] and ($W)['mysql']['priority'] == 50 and ($W)['mysql']['replicas'] == {'statefulset/db': 1}"
check "stateful ledger without a quiesce hook: not movable, and why (SPEC 6)" \
    until_json /v1/workloads "not ($W)['ledger']['movable'] and ($W)['ledger']['error'] is None and 'stateful and cannot be quiesced' in ($W)['ledger']['reason'] and 'statefulset pg' in ($W)['ledger']['reason'] and 'migrator.data_mover is off' in ($W)['ledger']['reason']"
check "queue: quiesce command read, but pinned" \
    until_json /v1/workloads "($W)['queue']['quiesce'] == ['redis-cli', 'save'] and ($W)['queue']['reason'] == 'pinned to this site (floe.dev/pinned)'"
check "bad annotations leave out broken alone, each one named" \
    until_json /v1/workloads "($W)['broken']['movable'] is False and ($W)['broken']['error'] == 'floe.dev/power-kw: \"lots\" is not a number (write it like \"40\" or \"12.5\"); floe.dev/stateless: \"yes\" must be \"true\" or \"false\"' and 'power_kw' not in ($W)['broken']"
check "a namespace the API refuses (403) is left out with the API server's message" \
    until_json /v1/workloads "($W)['private']['error'].startswith('GET /apis/apps/v1/namespaces/private/deployments: 403 Forbidden: deployments.apps is forbidden: User')"
check "left-out namespaces are logged with their reason" \
    grep -q 'workloads: broken left out: floe.dev/power-kw: "lots" is not a number' "$TMP/agent.log"

# --- the API goes down: the last good inventory stays ------------------------
read_at=$(json_get "$TMP/w.json" 'd["refreshed_at"]')
stop_pid "$fake"
refresh_now
check "API down: the error is shown, the last good inventory kept" \
    until_json /v1/workloads "d['error'] is not None and '127.0.0.1:$kport' in d['error'] and d['refreshed_at'] == '$read_at' and len(d['workloads']) == 6 and d['failing_since'] is not None"
age1=$(json_get "$TMP/w.json" 'd["age_s"]')
sleep 1.2
refresh_now
age2=$(json_get "$TMP/w.json" 'd["age_s"]')
check "API down: the inventory's age grows ($age1 s, then $age2 s)" \
    /usr/bin/python3 -c "import sys; sys.exit(0 if $age2 >= $age1 + 1 else 1)"
n=$(grep -c 'cannot read the Kubernetes API' "$TMP/agent.log")
check "the outage is logged once, not at every refresh ($n lines)" test "$n" = 1

start_fake
refresh_now
check "API back: read again, error cleared, newer inventory" \
    until_json /v1/workloads "d['error'] is None and d['failing_since'] is None and d['refreshed_at'] > '$read_at' and len(d['workloads']) == 6"
check "the end of the outage is logged" grep -q 'workloads: kubernetes read again after' "$TMP/agent.log"

# --- the token rotates --------------------------------------------------------
printf 'token-two-9876543210\n' > "$TMP/accepted.token"
printf 'token-two-9876543210\n' > "$TMP/floe.token"
: > "$TMP/requests.log"
refresh_now
check "a rotated token file is picked up (a 401, then the new token)" \
    until_json /v1/workloads "d['error'] is None and len(d['workloads']) == 6"
check "the API server saw the old token refused and the new one accepted" \
    /usr/bin/python3 -c '
import json, sys
toks = [json.loads(l)["token"] for l in open(sys.argv[1]) if json.loads(l)["path"] == "/api/v1/namespaces"]
sys.exit(0 if toks[:2] == ["token-one-0123456789", "token-two-9876543210"] else 1)' "$TMP/requests.log"

# --- reloads: a kubeconfig with its CA as data, then the pod's service account -
ca_data=$(base64 -w0 < "$TMP/ca.crt")
cat > "$TMP/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: site
  cluster:
    server: $API
    certificate-authority-data: $ca_data
contexts:
- name: floe@site
  context: { cluster: site, user: floe }
current-context: floe@site
users:
- name: floe
  user:
    token: token-two-9876543210
YAML
write_config "{ \"kubeconfig\": \"$TMP/kubeconfig\" }"
before=$(get /v1/workloads | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["refreshes"])')
kill -HUP "$agent"
check "reload to a kubeconfig (CA as certificate-authority-data): read with it" \
    until_json /v1/workloads "d['refreshes'] > $before and d['error'] is None and d['credentials'] == 'kubeconfig $TMP/kubeconfig (context floe@site)' and len(d['workloads']) == 6"

printf 'token-two-9876543210\n' > "$TMP/sa/token"
write_config '{ "label_selector": "floe.dev/movable=true" }'
before=$(get /v1/workloads | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["refreshes"])')
kill -HUP "$agent"
check "reload to the pod's service account (KUBERNETES_SERVICE_HOST, token, ca.crt)" \
    until_json /v1/workloads "d['refreshes'] > $before and d['error'] is None and d['credentials'] == 'in-cluster service account ($TMP/sa)' and len(d['workloads']) == 6"

# --- https is verified: without the CA, the self-signed server is refused -----
write_config "{ \"api\": \"$API\", \"token_file\": \"$TMP/floe.token\" }"
before=$(get /v1/workloads | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["refreshes"])')
kill -HUP "$agent"
check "without ca_file the API server's certificate is not trusted; last inventory kept" \
    until_json /v1/workloads "d['refreshes'] > $before and d['error'] is not None and 'certificate' in d['error'] and len(d['workloads']) == 6"

# --- what the API needs and gets -------------------------------------------------
c=$(curl -s -o "$TMP/body.json" -w '%{http_code}' -X POST -H "$RD" "$base/v1/workloads/refresh")
check "POST /v1/workloads/refresh needs the operator role ($c)" test "$c" = 403
c=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/workloads")
check "GET /v1/workloads needs a token ($c)" test "$c" = 401

# --- check-config: an exec plugin in the kubeconfig is named ----------------------
cat > "$TMP/exec.kubeconfig" <<YAML
clusters: [ { name: c, cluster: { server: "$API" } } ]
contexts: [ { name: x, context: { cluster: c, user: sso } } ]
current-context: x
users:
- name: sso
  user:
    exec: { apiVersion: client.authentication.k8s.io/v1, command: kubelogin }
YAML
write_config "{ \"kubeconfig\": \"$TMP/exec.kubeconfig\" }"
"$FLOE" check-config -c "$TMP/floe.json" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "check-config refuses a kubeconfig with an exec plugin, naming it (exit $rc: $(head -1 "$TMP/err"))" \
    test "$rc" = 1 -a -n "$(grep "workloads.kubernetes.kubeconfig: $TMP/exec.kubeconfig: users\[0\].user.exec (user \"sso\"): exec credential plugins are not supported" "$TMP/err")"

stop_pid "$agent"
rc=$?
check "agent stops cleanly (exit $rc)" test "$rc" = 0
finish
