#!/bin/bash
# Builds and runs bench/replay_bench.c: a year of 10-second telemetry for
# 50 metrics, generated in memory, replayed through the example policies.
# Needs about 3 GB of memory; takes well under a minute. Not part of
# `make check`.
#   bench/replay_bench.sh [BUILD]       (default BUILD=build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
make --no-print-directory BUILD="$build" "$build/libfloe.a"
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. \
   $(pkg-config --cflags libcjson) -o "$build/replay_bench" bench/replay_bench.c \
   "$build/libfloe.a" $(pkg-config --libs libcjson sqlite3 yaml-0.1) -lm -lpthread
exec "$build/replay_bench"
