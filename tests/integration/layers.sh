#!/bin/bash
# The layout is the data flow: every folder is one layer, and an include
# names its folder and points down (or stays in its own folder). This test
# fails on an include that runs back up, an include between two folders of
# the same rank, an include without a folder, two files that include each
# other, and a folder that holds more than a third of the code.
#   tests/integration/layers.sh [BUILD]   (reads BUILD/obj for the calls)
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/lib/common.sh
. tests/integration/lib/common.sh

# Rank of each layer, bottom first. Folders of the same rank are siblings
# and must not include each other.
declare -A rank=([lib]=0 [config]=1 [store]=2 [collectors]=3 [policies]=3 [kube]=3
                 [placement]=4 [migrator]=5 [core]=6 [api]=7 [agent]=8 [sim]=1)

# Without git (or outside a checkout) there is nothing to read: that is
# a failure, not a pass over zero files.
if [ -z "$(git ls-files 'lib/*.c' 2>/dev/null)" ]; then
    not_ok "git ls-files lists no sources (git missing or not a checkout)"
    finish
fi

bad=0
declare -A edges=()
for f in $(git ls-files '*.c' '*.h' | grep -E '^(lib|config|store|collectors|policies|kube|placement|migrator|core|api|agent|sim)/'); do
    from=${f%%/*}
    while IFS= read -r inc; do
        if [[ $inc != */* ]]; then
            echo "  $f: #include \"$inc\" does not name its folder"; bad=$((bad + 1)); continue
        fi
        to=${inc%%/*}
        [ -n "${rank[$to]+x}" ] || { echo "  $f: #include \"$inc\": unknown folder $to"; bad=$((bad + 1)); continue; }
        edges["$f>$inc"]=1
        if [ "$to" != "$from" ] && [ "${rank[$to]}" -ge "${rank[$from]}" ]; then
            echo "  $f (${rank[$from]}) includes $inc (${rank[$to]}): runs up or sideways"
            bad=$((bad + 1))
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
[ $bad -eq 0 ] && ok "every include names its folder and points down" || not_ok "$bad includes run up, sideways or name no folder"

# Two files that include each other (directly): a circle.
circles=0
for e in "${!edges[@]}"; do
    a=${e%%>*} b=${e#*>}
    if [ -n "${edges["$b>$a"]+x}" ]; then echo "  circle: $a <-> $b"; circles=$((circles + 1)); fi
done
[ $circles -eq 0 ] && ok "no two files include each other" || not_ok "$circles include circles"

# Calls that run in a circle between two files: a.o uses a function that
# b.o defines while b.o uses one of a.o's (read from the built objects).
build=${1:-build}
calls=0
if [ -d "$build/obj" ]; then
    declare -A def=()
    objs=$(cd "$build/obj" && ls lib/*.o config/*.o store/*.o collectors/*.o policies/*.o kube/*.o placement/*.o migrator/*.o core/*.o api/*.o agent/*.o 2>/dev/null)
    for o in $objs; do
        for s in $(nm --defined-only -g "$build/obj/$o" | awk '$2 ~ /^[TDBR]$/ {print $3}'); do def[$s]=$o; done
    done
    declare -A uses=()
    for o in $objs; do
        for s in $(nm -u "$build/obj/$o" | awk '{print $2}'); do
            [ -n "${def[$s]+x}" ] && uses["$o>${def[$s]}"]=$s
        done
    done
    for e in "${!uses[@]}"; do
        a=${e%%>*} b=${e#*>}
        if [[ "$a" < "$b" ]] && [ -n "${uses["$b>$a"]+x}" ]; then
            echo "  call circle: $a uses ${uses[$e]} of $b, $b uses ${uses["$b>$a"]} of $a"; calls=$((calls + 1))
        fi
    done
    [ $calls -eq 0 ] && ok "no two files call each other" || not_ok "$calls call circles between files"
else
    not_ok "no objects in $build/obj to read calls from"
fi

# No folder holds more than a third of the code.
total=$(git ls-files '*.c' '*.h' | grep -vE '^(tests|bench)/' | xargs cat | wc -l)
big=0
for d in lib config store collectors policies kube placement migrator core api agent sim; do
    [ -d "$d" ] || continue
    n=$(git ls-files "$d/*.c" "$d/*.h" | xargs -r cat | wc -l)
    printf '  %-11s %6d lines (%2d%%)\n' "$d" "$n" $((n * 100 / total))
    [ $((n * 3)) -gt "$total" ] && { echo "  $d holds more than a third of $total lines"; big=1; }
done
[ $big -eq 0 ] && ok "no folder holds more than a third of the $total lines" || not_ok "a folder holds more than a third of the code"
finish
