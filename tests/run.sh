#!/bin/bash
# The one test runner. Runs, in order:
#   unit tests (cmocka) of BUILD and of BUILD/asan (ASan + UBSan) when built,
#   integration tests (tests/integration/*.sh|*.py; each prints ok/not ok lines),
#   the agent's and the simulator's integration tests again against BUILD/asan,
#   fuzz targets for a short time each when clang's libFuzzer is available.
# Closes with "N passed, N failed"; exits non-zero if anything failed.
#   tests/run.sh [--only unit|integration|fuzz] [BUILD]
set -u
cd "$(dirname "$0")/.."
only=""
if [ "${1:-}" = "--only" ]; then only=$2; shift 2; fi
build=${1:-build}
passed=0 failed=0
failures=()
logdir=$(mktemp -d /tmp/floe-tests.XXXXXX)

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

# run_integration [BUILD LABEL PATTERN...]: every integration test against
# BUILD (default: the build), or only those matching the patterns.
run_integration() {
    local t log rc ok bad
    local b=${1:-$build} label=${2:-integration}
    shift 2 2>/dev/null
    local tests=("$@")
    [ ${#tests[@]} -eq 0 ] && tests=(tests/integration/*.sh tests/integration/*.py)
    for t in "${tests[@]}"; do
        [ -x "$t" ] || continue
        log="$logdir/$label-$(basename "$t").log"
        echo "== $label $(basename "$t")"
        start=$(date +%s)
        timeout 600 "$t" "$b" >"$log" 2>&1
        rc=$?
        grep -E '^(ok|not ok) ' "$log"
        ok=$(grep -c '^ok ' "$log"); bad=$(grep -c '^not ok ' "$log")
        if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then
            bad=1; echo "not ok - $(basename "$t") exited $rc"; tail -30 "$log"
        elif [ "$bad" -ne 0 ]; then
            tail -40 "$log"
        fi
        if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
            bad=1; echo "not ok - $(basename "$t") checked nothing"
        fi
        echo "   ($(( $(date +%s) - start )) s)"
        passed=$((passed + ok)); failed=$((failed + bad))
        [ "$bad" -ne 0 ] && failures+=("$label $(basename "$t")")
    done
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
case "$only" in ""|integration)
    run_integration
    # The daemon and the simulator under ASan + UBSan, against real peers.
    if [ -x "$build/asan/floe" ]; then
        run_integration "$build/asan" asan tests/integration/agent_policies.sh \
            tests/integration/agent_modbus.sh tests/integration/agent_snmp.sh \
            tests/integration/sim_snmp.sh tests/integration/sim_modbus.sh tests/integration/sim_cluster.sh \
            tests/integration/sim_velero.sh \
            tests/integration/cli_hostile.sh tests/integration/peers.sh tests/integration/inventory.sh \
            tests/integration/reservations.sh tests/integration/placement.sh \
            tests/integration/imports.sh
    fi ;;
esac
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
