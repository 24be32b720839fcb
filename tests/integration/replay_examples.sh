#!/bin/bash
# floe replay over the example traces: each tests/replay/NAME.csv, run
# against tests/replay/site.json (which loads policies/examples), must print
# exactly tests/replay/NAME.expected, and its policy must change state
# (fire, clear) exactly as tests/replay/NAME.events says. Then the same trace through the
# agent's database format (--db), and bad input: exit 1 with FILE:LINE.
#   tests/integration/replay_examples.sh BUILD
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib/common.sh"
FLOE=$BUILD/floe
SITE=$ROOT/tests/replay/site.json

if [ ! -x "$FLOE" ]; then
    not_ok "floe binary: $FLOE not built"
    finish
fi

for csv in "$ROOT"/tests/replay/*.csv; do
    name=$(basename "$csv" .csv)
    expected=$ROOT/tests/replay/$name.expected
    if [ ! -f "$expected" ]; then
        not_ok "replay $name: no $name.expected"
        continue
    fi
    if ! "$FLOE" replay -c "$SITE" --telemetry "$csv" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
        not_ok "replay $name: exit $?: $(head -3 "$TMP/$name.err")"
    elif ! diff -u "$expected" "$TMP/$name.out" >"$TMP/$name.diff"; then
        not_ok "replay $name: decisions differ from $name.expected"
        head -20 "$TMP/$name.diff"
    else
        ok "replay $name: all $(wc -l <"$expected") decision lines as expected"
    fi
    # When the story's own policy fires and clears: its state changes (-v),
    # exactly as tests/replay/NAME.events says.
    "$FLOE" replay -c "$SITE" --telemetry "$csv" -v 2>&1 >/dev/null | grep " $name: " >"$TMP/$name.events"
    if diff -u "$ROOT/tests/replay/$name.events" "$TMP/$name.events" >"$TMP/$name.ediff"; then
        ok "replay $name: fires and clears as $name.events says ($(grep -c -- '-> firing' "$TMP/$name.events") fired, $(grep -c 'firing -> ok' "$TMP/$name.events") cleared)"
    else
        not_ok "replay $name: state changes differ from $name.events"
        head -20 "$TMP/$name.ediff"
    fi
done

# The same trace from the agent's own database (the store's schema): same
# decisions. Read errors are NULL values there.
/usr/bin/python3 - "$ROOT/tests/replay/cooling-shortfall.csv" "$TMP/floe.db" <<'PY'
import csv, datetime, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.executescript("""
CREATE TABLE metric (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE sample (metric_id INTEGER NOT NULL REFERENCES metric(id), ts_ms INTEGER NOT NULL,
                     value REAL, PRIMARY KEY (metric_id, ts_ms)) WITHOUT ROWID;
""")
ids = {}
for row in csv.DictReader(open(sys.argv[1])):
    t = datetime.datetime.fromisoformat(row["ts"].replace("Z", "+00:00"))
    mid = ids.setdefault(row["metric"], len(ids) + 1)
    value = float(row["value"]) if row["value"] else None
    db.execute("INSERT INTO sample VALUES (?, ?, ?)", (mid, int(t.timestamp() * 1000), value))
db.executemany("INSERT INTO metric VALUES (?, ?)", [(i, n) for n, i in ids.items()])
db.commit()
PY
if "$FLOE" replay -c "$SITE" --db "$TMP/floe.db" >"$TMP/db.out" 2>"$TMP/db.err" &&
   diff -q "$ROOT/tests/replay/cooling-shortfall.expected" "$TMP/db.out" >/dev/null; then
    ok "replay --db: the agent's database gives the same decisions as the CSV"
else
    not_ok "replay --db: $(head -3 "$TMP/db.err") $(diff "$ROOT/tests/replay/cooling-shortfall.expected" "$TMP/db.out" | head -5)"
fi

# --from/--to narrow the ticks: only the first cooling decision falls in 09:00-09:20Z.
if "$FLOE" replay -c "$SITE" --db "$TMP/floe.db" --from 2026-01-15T09:00:00Z \
       --to 2026-01-15T09:20:00Z >"$TMP/range.out" 2>"$TMP/range.err" &&
   [ "$(cat "$TMP/range.out")" = "$(head -1 "$ROOT/tests/replay/cooling-shortfall.expected")" ]; then
    ok "replay --from/--to: one decision in the first twenty minutes"
else
    not_ok "replay --from/--to: $(head -3 "$TMP/range.err") $(head -3 "$TMP/range.out")"
fi

# The config's policy_tick sets the replay's tick, as it sets the agent's;
# --tick still wins.
sed -e 's|"site": {|"policy_tick": "1m", "site": {|' \
    -e "s|\"policies_dir\": \"../../|\"policies_dir\": \"$ROOT/|" "$SITE" >"$TMP/site-1m.json"
"$FLOE" replay -c "$TMP/site-1m.json" --db "$TMP/floe.db" -v >/dev/null 2>"$TMP/tick.err"
check "replay --db ticks at the config's policy_tick: $(grep '^replay:' "$TMP/tick.err")" \
    grep -q '^replay: .* ticks of 1m from' "$TMP/tick.err"
"$FLOE" replay -c "$TMP/site-1m.json" --db "$TMP/floe.db" --tick 30s -v >/dev/null 2>"$TMP/tick.err"
check "replay --tick 30s wins over policy_tick" grep -q '^replay: .* ticks of 30s from' "$TMP/tick.err"

# Bad input: exit 1, the message names the file and the line.
bad() { # bad NAME EXPECTED_MESSAGE CSV_TEXT
    local name=$1 want=$2 rc
    printf '%b' "$3" >"$TMP/$name.csv"
    "$FLOE" replay -c "$SITE" --telemetry "$TMP/$name.csv" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    if [ $rc -eq 1 ] && grep -qF "$TMP/$name.csv:$want" "$TMP/$name.err" && [ ! -s "$TMP/$name.out" ]; then
        ok "bad csv $name: exit 1, $(head -1 "$TMP/$name.err" | sed "s|$TMP/||")"
    else
        not_ok "bad csv $name: exit $rc, stderr: $(head -2 "$TMP/$name.err")"
    fi
}
bad value "3: bad value '4OO'" \
    'ts,metric,value\n2026-01-15T09:00:00Z,it.load_kw,400\n2026-01-15T09:00:10Z,it.load_kw,4OO\n'
bad time "2: bad time '15/01/2026 09:00'" 'ts,metric,value\n15/01/2026 09:00,it.load_kw,400\n'
bad header "1: expected the header line ts,metric,value" 'time,name,value\n1,it.load_kw,1\n'
bad fields "4: expected 3 fields" 'ts,metric,value\n1,a.b,1\n\n2,a.b\n'
bad duplicate "3: metric 'it.load_kw' has a second sample at 2026-01-15T09:00:00Z (first at line 2)" \
    'ts,metric,value\n2026-01-15T09:00:00Z,it.load_kw,400\n1768467600,it.load_kw,401\n'

if "$FLOE" replay -c "$SITE" --telemetry "$TMP/missing.csv" >/dev/null 2>"$TMP/missing.err"; then
    not_ok "missing csv: exit 0"
else
    ok "missing csv: exit 1: $(head -1 "$TMP/missing.err" | sed "s|$TMP/||")"
fi
if "$FLOE" replay -c "$SITE" --telemetry "$ROOT/tests/replay/ups-on-battery.csv" --tick 0s \
       >/dev/null 2>"$TMP/opt.err"; then
    not_ok "bad option: --tick 0s accepted"
else
    ok "bad option: exit 1: $(head -1 "$TMP/opt.err")"
fi
if "$FLOE" replay --help | grep -q -- '--telemetry CSV'; then
    ok "replay --help lists --telemetry"
else
    not_ok "replay --help"
fi
# The README's table of example decisions says what the golden files say.
if /usr/bin/python3 - "$ROOT" <<'PY'
import glob, json, os, re, sys
root = sys.argv[1]
readme = open(os.path.join(root, "README.md")).read()
bad = []
for path in sorted(glob.glob(os.path.join(root, "tests/replay/*.expected"))):
    name = os.path.basename(path)[:-len(".expected")] + ".csv"
    row = next((l for l in readme.splitlines() if l.startswith("| `%s`" % name)), None)
    if row is None:
        bad.append("%s: no README row" % name)
        continue
    for line in open(path):
        d = json.loads(line)
        if d["ts"][11:19] not in row or d["status"] not in row:
            bad.append("%s: %s %s not in README" % (name, d["ts"], d["status"]))
    if row.count("·") + 1 < sum(1 for _ in open(path)) and "," not in row:
        bad.append("%s: README lists fewer decisions" % name)
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
then
    ok "README's table of example decisions matches the golden files"
else
    not_ok "README's table of example decisions differs from the golden files"
fi
finish
