#!/bin/bash
# The one test runner. Runs, in order:
#   unit tests (cmocka) of BUILD and of BUILD/asan (ASan + UBSan) when built,
#   integration tests (tests/integration/*.sh|*.py; each prints ok/not ok lines),
#   the agent's and the simulator's integration tests again against BUILD/asan,
#   fuzz targets for a short time each when clang's libFuzzer is available.
# Closes with "N passed, N failed"; exits non-zero if anything failed.
#   tests/run.sh [--only unit|integration|fuzz] [BUILD]
# TEST_JOBS: integration tests run at once (default 2); FUZZ_SECONDS: per
# fuzz target (default 10). Tests may keep files worth reading after a
# passing run (a screenshot) in $FLOE_TEST_ARTIFACTS (default
# BUILD/test-artifacts), which is not removed.
set -u
cd "$(dirname "$0")/.."
only=""
if [ "${1:-}" = "--only" ]; then only=$2; shift 2; fi
build=${1:-build}
passed=0 failed=0
failures=()
logdir=$(mktemp -d /tmp/floe-tests.XXXXXX)
export FLOE_TEST_ARTIFACTS=${FLOE_TEST_ARTIFACTS:-$(pwd)/$build/test-artifacts}
mkdir -p "$FLOE_TEST_ARTIFACTS"

count_cmocka() { # $1 = log file, $2 = label, $3 = exit code
    local p f
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
    p=${p:-0} f=${f:-0}
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before its summary
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then failures+=("$2"); fi
}

run_unit() { # $1 = build dir, $2 = label
    local t log rc
    [ -d "$1/tests" ] || { echo "no unit tests built in $1/tests"; failed=$((failed+1)); failures+=("$2: not built"); return; }
    for t in "$1"/tests/test_*; do
        [ -x "$t" ] || continue
        log="$logdir/$2-$(basename "$t").log"
        echo "== $2 $(basename "$t")"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
            timeout 300 "$t" >"$log" 2>&1
        rc=$?
        grep -E '^\[  (FAILED|ERROR)|^\[  PASSED|ERROR: (Address|Leak)Sanitizer|runtime error' "$log" | head -20
        [ $rc -ne 0 ] && tail -30 "$log"
        count_cmocka "$log" "$2 $(basename "$t")" $rc
    done
}

# Integration tests mostly wait (on simulated sites, on timeouts), so they
# run TEST_JOBS at a time (default 2). Each writes its own log; its ok/not
# ok lines are printed as a block when it ends. Tests whose checks bound a
# latency run afterwards, alone, so a neighbour's load cannot fail them.
serial_tests=" snmp_snmpd.sh snmp_snmpsim.sh modbus_pymodbus.py agent_crash.sh idle.sh "
# The longest first, so that two slots end together.
slow_tests="demo.sh migration.sh migration_crash.sh migration_faults.sh imports.sh dashboard.sh rebalance.sh"

# run_one BUILD LABEL TEST: runs TEST, leaves LOG and LOG.rc, LOG.s.
run_one() {
    local log="$logdir/$2-$(basename "$3").log" start
    start=$(date +%s)
    timeout 600 "$3" "$1" >"$log" 2>&1
    echo $? >"$log.rc"
    echo $(( $(date +%s) - start )) >"$log.s"
}

# report_one LABEL TEST: prints the block of a finished test and counts it.
report_one() {
    local log="$logdir/$1-$(basename "$2").log" rc ok bad
    rc=$(cat "$log.rc")
    echo "== $1 $(basename "$2")"
    grep -E '^(ok|not ok) ' "$log"
    ok=$(grep -c '^ok ' "$log"); bad=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1; echo "not ok - $(basename "$2") exited $rc"; tail -30 "$log"
    elif [ "$bad" -ne 0 ]; then
        tail -40 "$log"
    fi
    if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
        bad=1; echo "not ok - $(basename "$2") checked nothing"
    fi
    echo "   ($(cat "$log.s") s)"
    passed=$((passed + ok)); failed=$((failed + bad))
    [ "$bad" -ne 0 ] && failures+=("$1 $(basename "$2")")
}

# run_pool JOBS JOB...: each JOB is "BUILD LABEL TEST"; at most JOBS at once.
run_pool() {
    local jobs=$1 j b l t pid
    shift
    declare -A running=()
    for j in "$@"; do
        read -r b l t <<<"$j"
        while [ "${#running[@]}" -ge "$jobs" ]; do
            wait -n 2>/dev/null
            for pid in "${!running[@]}"; do
                kill -0 "$pid" 2>/dev/null && continue
                wait "$pid" 2>/dev/null
                report_one ${running[$pid]}
                unset "running[$pid]"
            done
        done
        run_one "$b" "$l" "$t" &
        running[$!]="$l $t"
    done
    for pid in "${!running[@]}"; do
        wait "$pid" 2>/dev/null
        report_one ${running[$pid]}
    done
}

# run_integration: every integration test against the build, and the
# daemon's and the simulator's against the ASan + UBSan build.
run_integration() {
    local t name parallel=() serial=() all=() asan_tests
    local asan_once=" migration.sh migration_crash.sh migration_faults.sh imports.sh rebalance.sh "
    all=(tests/integration/*.sh tests/integration/*.py)
    # ASan + UBSan, against real peers.
    asan_tests="agent_policies.sh agent_modbus.sh agent_snmp.sh agent_stop.sh sim_snmp.sh sim_modbus.sh
        sim_cluster.sh sim_velero.sh cli_hostile.sh peers.sh inventory.sh reservations.sh placement.sh"
    for name in $slow_tests; do
        [ -x "tests/integration/$name" ] || continue
        # The migration tests run once, under ASan + UBSan when it is built
        # (they mostly wait; their "no sanitizer report" check needs it).
        if [ -x "$build/asan/floe" ] && [ "${asan_once/ $name /}" != "$asan_once" ]; then
            parallel+=("$build/asan asan tests/integration/$name")
        else
            parallel+=("$build integration tests/integration/$name")
        fi
    done
    for t in "${all[@]}"; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        case " $slow_tests " in *" $name "*) continue ;; esac
        if [ "${serial_tests/ $name /}" != "$serial_tests" ]; then
            serial+=("$build integration $t")
        else
            parallel+=("$build integration $t")
        fi
    done
    if [ -x "$build/asan/floe" ]; then
        for name in $asan_tests; do parallel+=("$build/asan asan tests/integration/$name"); done
    fi
    run_pool "${TEST_JOBS:-2}" "${parallel[@]}"
    run_pool 1 "${serial[@]}"
}

run_fuzz() {
    if ! tests/fuzz/build.sh "$build/fuzz" >"$logdir/fuzz-build.log" 2>&1; then
        echo "not ok - fuzz targets did not build"; tail -30 "$logdir/fuzz-build.log"
        failed=$((failed + 1)); failures+=("fuzz build"); return
    fi
    local t name log
    for t in "$build"/fuzz/fuzz_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t"); name=${name#fuzz_}
        log="$logdir/fuzz-$name.log"
        mkdir -p "$build/fuzz/corpus-$name"
        echo "== fuzz $name (${FUZZ_SECONDS:-10} s)"
        if "$t" -max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
               "$build/fuzz/corpus-$name" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
            echo "ok - fuzz $name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}') runs, no crash"
            passed=$((passed + 1))
        else
            echo "not ok - fuzz $name found a crash"; grep -A20 'ERROR:' "$log" | head -40
            failed=$((failed + 1)); failures+=("fuzz $name")
        fi
    done
}

case "$only" in
    ""|unit) run_unit "$build" unit
             [ -z "$only" ] && [ -d "$build/asan/tests" ] && run_unit "$build/asan" asan ;;
esac
case "$only" in ""|integration) run_integration ;; esac
case "$only" in ""|fuzz) run_fuzz ;; esac

echo
if [ ${#failures[@]} -ne 0 ]; then
    echo "failures:"; printf '  %s\n' "${failures[@]}"
    echo "logs in $logdir"
else
    rm -rf "$logdir"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
