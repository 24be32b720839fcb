#!/bin/bash
# The agent polling SNMP devices end to end: a real snmpd (Debian) over
# SNMPv3 authPriv SHA/AES and snmpsimd over v2c with a walked table. Exact
# values must show in /v1/telemetry and /metrics, with both collectors up.
. "$(dirname "$0")/lib/common.sh"

SNMPD=$(command -v snmpd || echo /usr/sbin/snmpd)
SIMD=$(command -v snmpsimd || command -v snmpsim-command-responder || command -v snmpsimd.py) ||
    { not_ok "snmpsimd is installed (Debian package snmpsim)"; finish; }
E=1.3.6.1.4.1.99999
snmpd_port=$(free_port udp); sim_port=$(free_port udp); http_port=$(free_port)

mkdir -p "$TMP/snmpd-state"
cat > "$TMP/snmpd.conf" <<CONF
agentAddress udp:127.0.0.1:$snmpd_port
createUser floeups SHA "ups-auth-secret" AES "ups-priv-secret"
rouser floeups priv
override $E.1.0 integer 42
override $E.2.0 uinteger 4000000000
override $E.3.0 octet_str "23.5"
CONF
SNMP_PERSISTENT_DIR="$TMP/snmpd-state" bg "$SNMPD" -f -Lo -C -c "$TMP/snmpd.conf" -I -smux \
    -M /dev/null -m "" >"$TMP/snmpd.log" 2>&1

mkdir -p "$TMP/sim/data" "$TMP/sim/cache" "$TMP/sim/var"
{
    echo "1.3.6.1.2.1.33.1.2.4.0|2|97"          # upsEstimatedChargeRemaining
    echo "1.3.6.1.2.1.33.1.2.3.0|2|42"          # upsEstimatedMinutesRemaining
    for i in 1 2 3; do echo "$E.32.1.$i|66|$((i * 1500))"; done   # outlet W, Gauge32
    echo "$E.33.1.0|70|123456789012345"         # Counter64
} > "$TMP/sim/data/public.snmprec"
chmod -R a+rX "$TMP"; chown nobody "$TMP/sim/cache" 2>/dev/null
user_args=()
[ "$(id -u)" = 0 ] && user_args=(--process-user=nobody --process-group=nogroup)
bg "$SIMD" "${user_args[@]}" --data-dir="$TMP/sim/data" --variation-modules-dir="$TMP/sim/var" \
    --cache-dir="$TMP/sim/cache" --agent-udpv4-endpoint="127.0.0.1:$sim_port" --logging-method=null

cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "it-snmp" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$http_port", "anonymous_read": true },
  "snmp": [
    { "name": "ups-v3", "host": "127.0.0.1", "port": $snmpd_port, "version": "3", "user": "floeups",
      "level": "authPriv", "auth_protocol": "SHA", "auth_password": "ups-auth-secret",
      "priv_protocol": "AES", "priv_password": "ups-priv-secret", "interval": "1s",
      "points": [
        { "metric": "power.ups.test_int", "oid": "$E.1.0" },
        { "metric": "power.ups.test_gauge", "oid": "$E.2.0" },
        { "metric": "room.inlet_c", "oid": "$E.3.0", "unit": "C" } ] },
    { "name": "pdu-v2c", "host": "127.0.0.1", "port": $sim_port, "version": "2c", "community": "public",
      "interval": "1s",
      "points": [
        { "metric": "power.ups.charge_pct", "oid": "1.3.6.1.2.1.33.1.2.4.0", "unit": "%" },
        { "metric": "power.ups.runtime_min", "oid": "1.3.6.1.2.1.33.1.2.3.0", "unit": "min" },
        { "metric": "power.pdu.energy_count", "oid": "$E.33.1.0" },
        { "metric": "power.pdu.outlet{index}_kw", "walk": "$E.32.1", "scale": 0.001, "unit": "kW" } ] } ] }
JSON
bg "$BUILD/floe" agent -c "$TMP/floe.json"
base="http://127.0.0.1:$http_port"
check "agent answers /healthz" wait_http "$base/healthz" 10

want='{"power.ups.test_int": 42, "power.ups.test_gauge": 4000000000, "room.inlet_c": 23.5,
       "power.ups.charge_pct": 97, "power.ups.runtime_min": 42, "power.pdu.energy_count": 123456789012345,
       "power.pdu.outlet1_kw": 1.5, "power.pdu.outlet2_kw": 3.0, "power.pdu.outlet3_kw": 4.5}'
all_good() {
    curl -s "$base/v1/telemetry" > "$TMP/tel.json"
    /usr/bin/python3 - "$TMP/tel.json" "$want" <<'PY'
import json, sys
d = {m["name"]: m for m in json.load(open(sys.argv[1]))["metrics"]}
want = json.loads(sys.argv[2])
sys.exit(0 if all(n in d and d[n]["quality"] == "good" and d[n]["value"] == v for n, v in want.items()) else 1)
PY
}
for _ in $(seq 40); do all_good && break; sleep 0.25; done
/usr/bin/python3 - "$TMP/tel.json" "$want" <<'PY'
import json, sys
d = {m["name"]: m for m in json.load(open(sys.argv[1]))["metrics"]}
for n, v in json.loads(sys.argv[2]).items():
    m = d.get(n)
    good = m is not None and m["quality"] == "good" and m["value"] == v
    print(("ok - " if good else "not ok - ") + "/v1/telemetry %s = %r" % (n, v) + ("" if good else ": got %r" % (m,)))
PY
curl -s "$base/metrics" > "$TMP/metrics.txt"
check "/metrics passes promtool" sh -c "promtool check metrics < '$TMP/metrics.txt' >/dev/null 2>&1"
check "/metrics: v3 value exact" grep -q '^floe_metric_value{metric="power.ups.test_gauge",unit="",source="ups-v3"} 4000000000$' "$TMP/metrics.txt"
check "/metrics: walked outlet exact" grep -q '^floe_metric_value{metric="power.pdu.outlet2_kw",unit="kW",source="pdu-v2c"} 3$' "$TMP/metrics.txt"
check "/metrics: SNMPv3 authPriv collector up" grep -q '^floe_collector_up{device="ups-v3",protocol="snmp"} 1$' "$TMP/metrics.txt"
check "/metrics: v2c collector up" grep -q '^floe_collector_up{device="pdu-v2c",protocol="snmp"} 1$' "$TMP/metrics.txt"
check "no secret in /metrics or /v1/telemetry" sh -c "! grep -q 'ups-auth-secret\|ups-priv-secret' '$TMP/metrics.txt' '$TMP/tel.json'"
finish
