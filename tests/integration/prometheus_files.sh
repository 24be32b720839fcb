#!/bin/bash
# The example Prometheus files in etc/prometheus/: prometheus.yml passes
# `promtool check config` (which also loads the rules it names), as it is
# and with its token file beside it (a copy in a scratch folder: the
# config names it relative to itself); floe-rules.yml passes `promtool
# check rules` and its unit tests (tests/data/prometheus/
# floe-rules.test.yml, `promtool test rules`), which fail when a rule no
# longer fires on what it is for, or fires on what it is not for. Every
# floe_* family a rule reads is one the agent serves (api/, docs/api.md):
# a renamed metric cannot leave an alert silently matching nothing.
#   tests/integration/prometheus_files.sh [BUILD]   (BUILD is not used)
. "$(dirname "$0")/lib/common.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

cp "$SRC/etc/prometheus/prometheus.yml" "$SRC/etc/prometheus/floe-rules.yml" "$TMP/"
if promtool check config "$TMP/prometheus.yml" >"$TMP/config.log" 2>&1; then
    not_ok "promtool check config refuses prometheus.yml without its token file"
else
    check "promtool check config refuses prometheus.yml without its token file (names it)" \
        grep -q 'floe-noc.token' "$TMP/config.log"
fi
printf 'noc-read-token\n' >"$TMP/floe-noc.token"
if promtool check config "$TMP/prometheus.yml" >"$TMP/config.log" 2>&1; then
    ok "promtool check config accepts prometheus.yml and the rules it loads"
else
    not_ok "promtool check config accepts prometheus.yml: $(tr '\n' ' ' <"$TMP/config.log")"
fi
check "prometheus.yml loads floe-rules.yml (8 rules)" grep -q 'SUCCESS: 8 rules found' "$TMP/config.log"
check "prometheus.yml scrapes two sites with a bearer token from a file" sh -c "
    grep -qx '      type: Bearer' '$SRC/etc/prometheus/prometheus.yml' &&
    grep -qx '      credentials_file: floe-noc.token' '$SRC/etc/prometheus/prometheus.yml' &&
    test \$(grep -c 'labels: { site: ' '$SRC/etc/prometheus/prometheus.yml') = 2"

if promtool check rules "$SRC/etc/prometheus/floe-rules.yml" >"$TMP/rules.log" 2>&1; then
    ok "promtool check rules accepts floe-rules.yml"
else
    not_ok "promtool check rules accepts floe-rules.yml: $(tr '\n' ' ' <"$TMP/rules.log")"
fi
if promtool test rules "$SRC/tests/data/prometheus/floe-rules.test.yml" >"$TMP/test.log" 2>&1; then
    ok "promtool test rules: each alert fires when and only when it should"
else
    not_ok "promtool test rules: $(head -c 2000 "$TMP/test.log" | tr '\n' ' ')"
fi

# The families the rules read against the families the agent serves:
# each is written out as a TYPE line in api/ (HELP/TYPE text or
# put_family), so the source is the list.
missing=""
for family in $(grep -o 'floe_[a-z_]*' "$SRC/etc/prometheus/floe-rules.yml" | sort -u); do
    grep -rqE "(TYPE |put_family\(&?b, \")$family[ \"]" "$SRC/api/" || missing="$missing $family"
done
check "every floe_* family the rules read is served by the agent${missing:+ (missing:$missing)}" \
    test -z "$missing"

finish
