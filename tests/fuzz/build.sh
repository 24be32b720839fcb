#!/bin/bash
# Builds every libFuzzer target tests/fuzz/fuzz_*.c with clang into OUT,
# linking the library sources compiled with the same instrumentation.
#   tests/fuzz/build.sh OUT
set -eu
cd "$(dirname "$0")/../.."
out=${1:-build/fuzz}
mkdir -p "$out/obj"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined -I. $(pkg-config --cflags libmodbus libmicrohttpd libcurl libcjson sqlite3 netsnmp yaml-0.1)"
libs="$(pkg-config --libs libmodbus libmicrohttpd libcurl libcjson sqlite3 netsnmp yaml-0.1) -lpthread -lm"
objs=()
for src in $(ls lib/*.c config/*.c store/*.c collectors/*.c policies/*.c kube/*.c placement/*.c migrator/*.c core/*.c api/*.c agent/*.c 2>/dev/null | grep -v '^agent/main.c$'); do
    obj="$out/obj/$(echo "$src" | tr / _).o"
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ]; then
        clang $flags -c -o "$obj" "$src"
    fi
    objs+=("$obj")
done
# The dashboard's files, built in as api/api_dashboard.c expects (see the Makefile).
api/dashboard/embed.sh "$out/dashboard.c"
clang $flags -c -o "$out/obj/gen_dashboard.o" "$out/dashboard.c"
objs+=("$out/obj/gen_dashboard.o")
for t in tests/fuzz/fuzz_*.c; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .c)
    clang $flags -fsanitize=fuzzer -o "$out/$name" "$t" "${objs[@]}" $libs
done
