#!/bin/bash
# check_config: `floe check-config -c FILE` end to end. The example
# etc/floe.json must pass (with the secret and TLS files it names created in
# a temporary copy); broken configs must exit 1 and print each error as
# "FILE:LINE:COL: json.path: message" on stderr, all of them, with the exact
# path and the place of the offending value.
#   tests/integration/check_config.sh BUILD
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
FLOE="$BUILD/floe"

if [ ! -x "$FLOE" ]; then
    not_ok "floe binary: $FLOE not found (build it first)"
    finish
fi

# run_check FILE: runs check-config, leaving exit code in RC, output in
# $TMP/out and $TMP/err.
run_check() {
    "$FLOE" check-config -c "$1" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

# expect_error NAME FILE LINE: exit 1 and LINE exactly among stderr lines.
expect_error() {
    local name=$1 file=$2 want=$3
    run_check "$file"
    if [ "$RC" -ne 1 ]; then
        not_ok "$name: exit $RC, want 1 (stderr: $(head -3 "$TMP/err"))"
    elif ! grep -qFx -- "$want" "$TMP/err"; then
        not_ok "$name: no line '$want' in stderr: $(head -5 "$TMP/err")"
    else
        ok "$name"
    fi
}

# --- the example config for a real site ---------------------------------------
site="$TMP/site"
mkdir -p "$site"
cp etc/floe.json "$site/floe.json"
# Every "*_file": "path" of the example (ignoring commented-out lines), each
# with its own content: two tokens with one secret would be refused.
grep -v '^[[:space:]]*//' etc/floe.json | grep -o '"[a-z_]*_file": *"[^"]*"' | sed 's/.*: *"\(.*\)"/\1/' |
while read -r f; do
    case "$f" in /*) p="$f" ;; *) p="$site/$f" ;; esac
    mkdir -p "$(dirname "$p")"
    echo "secret-for-$(basename "$f")-0123456789" >"$p"
done

run_check "$site/floe.json"
if [ "$RC" -eq 0 ] && [ ! -s "$TMP/err" ] && grep -q "valid" "$TMP/out"; then
    ok "example etc/floe.json is valid"
else
    not_ok "example etc/floe.json: exit $RC, stderr: $(head -5 "$TMP/err")"
fi

rm "$site/secrets/noc.token"
# Where the file names the secret: LINE:COL of the value.
at=$(awk '/"token_file": "secrets\/noc.token"/ { print NR ":" index($0, "\"secrets/noc.token\"") }' etc/floe.json)
expect_error "missing secret file names key, path and place" "$site/floe.json" \
    "$site/floe.json:$at: http.tokens[0].token_file: $site/secrets/noc.token: No such file or directory"
echo "noc-token-0123456789" >"$site/secrets/noc.token"

# --- broken configs ----------------------------------------------------------------
bad() { # bad NAME JSON: writes $TMP/NAME.json
    printf '%s\n' "$2" >"$TMP/$1.json"
}
site_json='"site": {"name": "lulea-1"}'
point='{"metric": "cooling.chiller1.capacity_kw", "table": "holding", "address": 100'

bad unknown "{ $site_json, \"modbus\": [{\"name\": \"chiller1\", \"host\": \"10.0.0.5\",
  \"points\": [$point, \"scael\": 2}]}] }"
expect_error "unknown key reported with its path" "$TMP/unknown.json" \
    "$TMP/unknown.json:2:93: modbus[0].points[0].scael (metric cooling.chiller1.capacity_kw): unknown key (did you mean 'scale'?)"

bad order "{ $site_json, \"modbus\": [{\"name\": \"chiller1\", \"host\": \"10.0.0.5\",
  \"points\": [$point}, $point, \"order\": \"ADBC\"}]}] }"
expect_error "bad byte order lists the choices" "$TMP/order.json" \
    "$TMP/order.json:2:182: modbus[0].points[1].order (metric cooling.chiller1.capacity_kw): must be one of ABCD, DCBA, BADC, CDAB"

bad span "{ $site_json, \"modbus\": [{\"name\": \"chiller1\", \"host\": \"10.0.0.5\",
  \"points\": [{\"metric\": \"a.b\", \"table\": \"input\", \"address\": 65533, \"type\": \"float64\"}]}] }"
expect_error "point past register 65535 is refused" "$TMP/span.json" \
    "$TMP/span.json:2:61: modbus[0].points[0].address (metric a.b): a float64 at 65533 spans 4 registers and runs past 65535"

bad syntax "{
  // chillers
  $site_json,
  \"modbus\": [],
}"
expect_error "syntax error gives line and column" "$TMP/syntax.json" \
    "$TMP/syntax.json:4:15: trailing comma before '}'"

bad dupmetric "{ $site_json,
  \"modbus\": [{\"name\": \"chiller1\", \"host\": \"10.0.0.5\", \"points\": [$point}]}],
  \"derive\": [{\"metric\": \"cooling.chiller1.capacity_kw\", \"expr\": \"1\"}] }"
expect_error "duplicate metric across modbus and derive" "$TMP/dupmetric.json" \
    "$TMP/dupmetric.json:3:25: derive[0].metric: duplicate metric 'cooling.chiller1.capacity_kw' (first at modbus[0].points[0].metric)"

mkdir -p "$TMP/policies.d"
printf '{"name": "p", "when": "a > 1", "mode": "sometimes"}\n' >"$TMP/policies.d/p.json"
bad pdir "{ $site_json, \"policies_dir\": \"policies.d\" }"
expect_error "policy file error names the file" "$TMP/pdir.json" \
    "$TMP/policies.d/p.json:1:40: mode: must be one of auto, approve, observe"

bad many "{ \"site\": {\"name\": \"lulea-1\", \"timezone\": 7},
  \"http\": {\"listen\": \"127.0.0.1\"},
  \"snmp\": [{\"name\": \"ups-a\", \"host\": \"10.0.0.9\", \"version\": \"3\", \"points\": []}] }"
run_check "$TMP/many.json"
if [ "$RC" -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 3 ] &&
   grep -qFx "$TMP/many.json:1:43: site.timezone: must be a string, not a number" "$TMP/err" &&
   grep -qFx "$TMP/many.json:2:22: http.listen: must be IP:PORT, e.g. \"127.0.0.1:8470\", \"0.0.0.0:8470\" or \"[::1]:8470\"" "$TMP/err" &&
   grep -qFx "$TMP/many.json:3:12: snmp[0].user: missing required key (SNMP version 3 needs a user)" "$TMP/err"; then
    ok "every error is reported, not just the first"
else
    not_ok "every error is reported: exit $RC, stderr: $(cat "$TMP/err")"
fi

expect_error "missing config file" "$TMP/absent.json" "$TMP/absent.json: No such file or directory"

# --- what check-config says beyond "invalid" -----------------------------------------
# A vendor register number where the protocol address belongs: valid (exit
# 0), with a warning naming the point and the address meant.
bad regnum "{ $site_json, \"modbus\": [{\"name\": \"chiller1\", \"host\": \"10.0.0.5\",
  \"points\": [{\"metric\": \"cooling.chiller1.capacity_kw\", \"table\": \"holding\", \"address\": 40101}]}] }"
run_check "$TMP/regnum.json"
want="$TMP/regnum.json:2:88: modbus[0].points[0].address (metric cooling.chiller1.capacity_kw): warning: 40101 looks like a register number: if the manual numbers registers from 40001, the protocol address of register 40101 is 100 (\"address\" counts from 0); a map that starts at protocol address 40000 (SunSpec) is right as it is"
if [ "$RC" -eq 0 ] && grep -qFx -- "$want" "$TMP/err" && grep -q "valid" "$TMP/out"; then
    ok "register number in address warns, config stays valid"
else
    not_ok "register number in address: exit $RC, stderr: $(cat "$TMP/err")"
fi

bad overlap "{ $site_json, \"modbus\": [{\"name\": \"chiller1\", \"host\": \"10.0.0.5\", \"points\": [
  {\"metric\": \"cooling.chiller1.capacity_kw\", \"table\": \"holding\", \"address\": 100, \"type\": \"float32\"},
  {\"metric\": \"cooling.chiller1.flow\", \"table\": \"holding\", \"address\": 101},
  {\"metric\": \"cooling.chiller1.alarm\", \"table\": \"holding\", \"address\": 101, \"bit\": 3}]}] }"
expect_error "point reading half of another's registers names both" "$TMP/overlap.json" \
    "$TMP/overlap.json:3:70: modbus[0].points[1].address (metric cooling.chiller1.flow): a uint16 at holding 101 overlaps points[0] (metric cooling.chiller1.capacity_kw), a float32 at holding 100-101"

bad spaced "{ $site_json, \"store\": {\"retention\": \"30 d\"} }"
expect_error "duration with a space says to remove it" "$TMP/spaced.json" \
    "$TMP/spaced.json:1:55: store.retention: '30 d': remove the space: '30d'"

bad andword "{ $site_json, \"policies\": [{\"name\": \"p\", \"when\": \"it.load_kw > 1 and it.load_kw < 5\"}] }"
expect_error "'and' in a policy says to use &&" "$TMP/andword.json" \
    "$TMP/andword.json: policies[0].when: unexpected 'and' at column 16 (use '&&')"

# --- every example configuration is complete and valid ---------------------------
# Each etc/**/*.json is a whole floe.json, never a fragment to merge: in a
# copy of its folder, with every "*_file" it names created (each with its
# own content), check-config exits 0 with nothing on stderr. A new example
# is checked without being listed here. The files of a policies_dir are
# policies, checked through the configuration that loads them.
examples=$(git ls-files 'etc/*.json' | grep -v '/policies\.d/')
for want in etc/floe.json etc/ups-snmp.json etc/demo/lulea.json; do
    grep -qx "$want" <<<"$examples" || not_ok "example $want: not found among the examples checked"
done
for example in $examples; do
    # An absolute path would be this machine's file, not the example's.
    if grep -v '^[[:space:]]*//' "$example" | grep -q '"[a-z_]*_file": *"/'; then
        not_ok "example $example: names an absolute *_file path; use one relative to the config"
        continue
    fi
    copy="$TMP/examples/$(dirname "$example")"
    mkdir -p "$copy"
    cp "$example" "$copy/"
    grep -v '^[[:space:]]*//' "$example" | grep -o '"[a-z_]*_file": *"[^"]*"' | sed 's/.*: *"\(.*\)"/\1/' |
    while read -r f; do
        mkdir -p "$(dirname "$copy/$f")"
        echo "secret-for-$(basename "$f")-0123456789" >"$copy/$f"
    done
    # A policies_dir the example ships beside it comes along (links followed).
    grep -v '^[[:space:]]*//' "$example" | grep -o '"policies_dir": *"[^"/][^"]*"' | sed 's/.*: *"\(.*\)"/\1/' |
    while read -r d; do
        rm -rf "${copy:?}/$d"
        cp -rL "$(dirname "$example")/$d" "$copy/$d"
    done
    run_check "$copy/$(basename "$example")"
    if [ "$RC" -eq 0 ] && [ ! -s "$TMP/err" ] && grep -q ": valid: " "$TMP/out"; then
        ok "example $example is a complete, valid configuration"
    else
        not_ok "example $example: exit $RC, stderr: $(head -5 "$TMP/err")"
    fi
done

finish
