#!/bin/bash
# fresh-machine.sh — `make check` on a fresh Debian 12 machine, to prove that
# `make deps` (DEB_PACKAGES in the Makefile) installs everything the build,
# the tests and the scripts run or import. Not part of `make check`.
#
# Needs root, the host's network to a Debian mirror, ~2.5 GB of disk and
# about 10 minutes on 2 cores (1 more, once, for the tarball). It does:
#   1. once: `debootstrap --variant=minbase bookworm` from the Debian mirror
#      the host's apt sources name, cached as a tarball (FLOE_FRESH_CACHE);
#   2. each run: unpacks the tarball into a new directory, clones the commit
#      under test into it (/src/floe), mounts it on itself (so that its / is
#      a mount point), /proc, /sys, /dev, /dev/pts and a /dev/shm, in a
#      private mount and PID namespace, and runs
#      `make check` there as root via chroot, after `apt-get install make`
#      (make is the one thing to install by hand) — `make deps` inside
#      installs the rest (apt-get --no-install-recommends), as on a new
#      machine;
#   3. the output goes to a log file; at exit (also on failure or Ctrl-C)
#      every process of the root is killed, everything is unmounted and the
#      root removed. Prints the closing "N passed, N failed" line and exits
#      with make's status. On failure run.sh's per-test logs are copied to
#      LOG.d/.
# Only the commit is tested: uncommitted changes are not, so commit first
# (in a scratch clone if need be) and pass it with --repo.
#
# usage: tests/fresh-machine.sh [options] [-- make arguments]
#   --repo DIR    the git checkout to test (default: the one holding this script)
#   --rev REV     the commit to test (default: HEAD of --repo)
#   --target T    the make target (default: $MAKE_TARGET, else check), e.g.
#                 demo, check-unit; "none" runs nothing (with --shell)
#   --log FILE    the log (default: /var/tmp/floe-fresh-DATE-TIME.log)
#   --keep        keep the root afterwards (its path is printed)
#   --shell       after make, a shell inside the root (as root, same mounts)
#   --rebuild     make the cached tarball again (e.g. for newer packages)
# e.g.   tests/fresh-machine.sh -- FUZZ_SECONDS=5
#        tests/fresh-machine.sh --target none --shell
# Environment:
#   FLOE_FRESH_CACHE   the tarball (default /var/cache/floe-fresh/bookworm-minbase.tar.zst;
#                      a name ending in .tar.gz is written with gzip instead of zstd)
#   FLOE_FRESH_MIRROR  the Debian mirror (default: the host's apt sources for
#                      bookworm, else http://deb.debian.org/debian)
#   FLOE_FRESH_TMP     where roots are unpacked (default /var/tmp)
# The chroot shares the host's network (apt reaches the mirror; the tests
# listen on 127.0.0.1 only, on free ports); a policy-rc.d keeps the
# packages' daemons (snmpd, prometheus) from starting there.
set -u

# ---- inside the private namespaces (the script runs itself there) ----------
if [ "${1:-}" = --in-namespace ]; then
    # --in-namespace ROOT MODE [make args...]; MODE is make:TARGET or shell.
    # PID 1 of a new PID namespace: when it exits, the kernel kills every
    # process left in it; the mounts go with the mount namespace.
    root=$2 mode=$3
    shift 3
    mounted=()
    umount_all() {
        local i
        for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
            umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
        done
    }
    trap umount_all EXIT
    trap 'exit 130' INT TERM HUP
    mnt() { # mnt TARGET MOUNT-ARGS...
        mount "${@:2}" "$root$1" || { echo "fresh-machine: cannot mount $1" >&2; exit 1; }
        mounted+=("$root$1")
    }
    # The root a mount point of its own, as / is on a machine (unshare
    # --mount in a test changes its propagation, which needs a mount).
    mnt "" --bind "$root"
    mnt /proc -t proc proc          # this PID namespace's processes only
    mnt /sys -t sysfs sysfs
    mnt /dev --bind /dev
    mnt /dev/pts --bind /dev/pts
    mnt /dev/shm -t tmpfs -o mode=1777,nosuid,nodev tmpfs
    env=(HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM="${TERM:-dumb}"
         PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    # env --default-signal: what runs inside starts with no signal ignored
    # (a background job of a script starts with SIGINT ignored).
    run=(chroot "$root" /usr/bin/env -i --default-signal "${env[@]}")
    case $mode in
        make:*) # In the background, so that a TERM ends it at once.
                # make itself is the one package to install by hand first.
                "${run[@]}" /bin/bash -c 'cd /src/floe || exit
                    if ! command -v make >/dev/null; then
                        echo "+ apt-get install make"
                        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                            apt-get install -y -qq --no-install-recommends make >/dev/null || exit
                    fi
                    echo "+ make $*"
                    exec make "$@"' make "${mode#make:}" "$@" &
                wait $! ;;
        shell)  echo "fresh-machine: shell in $root (the checkout is /src/floe); exit to leave"
                "${run[@]}" /bin/bash -l ;;
    esac
    exit $?
fi

# ---- outside ------------------------------------------------------------------
say() { echo "fresh-machine: $*" >&2; }
die() { say "$*"; exit 2; }
self=$(readlink -f "$0")
repo=$(cd "$(dirname "$self")/.." && pwd)
rev=HEAD target=${MAKE_TARGET:-check} log="" keep=0 shell=0 rebuild=0
while [ $# -gt 0 ]; do
    case $1 in
        --repo) repo=$(cd "${2:?--repo DIR}" && pwd) || exit 2; shift 2 ;;
        --rev) rev=${2:?--rev REV}; shift 2 ;;
        --target) target=${2:?--target T}; shift 2 ;;
        --log) log=${2:?--log FILE}; shift 2 ;;
        --keep) keep=1; shift ;;
        --shell) shell=1; shift ;;
        --rebuild) rebuild=1; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -u/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, mount, chroot)"
for c in debootstrap git unshare chroot mount tar flock; do
    command -v "$c" >/dev/null || die "needs $c (apt-get install debootstrap git util-linux tar)"
done
cache=${FLOE_FRESH_CACHE:-/var/cache/floe-fresh/bookworm-minbase.tar.zst}
case $cache in
    *.tar.gz|*.tgz) compress=(gzip -c) decompress=(gzip -dc) ;;
    *) command -v zstd >/dev/null || die "needs zstd for $cache (apt-get install zstd)"
       compress=(zstd -q -T0 -c) decompress=(zstd -q -dc) ;;
esac
commit=$(git -c safe.directory='*' -C "$repo" rev-parse --verify "$rev^{commit}") ||
    die "$repo: no commit $rev"
log=${log:-/var/tmp/floe-fresh-$(date +%Y%m%d-%H%M%S).log}
mkdir -p "$(dirname "$log")" && : >"$log" || die "cannot write $log"
t_start=$(date +%s)

# The host's Debian mirror for SUITE (deb822 .sources or one-line .list).
host_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case $f in
            *.sources) awk -v suite="$1" '
                function flush() { if (ok && uri != "" && !found) { print uri; found = 1 } ok = 0; uri = "" }
                /^[ \t]*$/ { flush(); next }
                /^[ \t]*#/ { next }
                tolower($1) == "uris:" { uri = $2 }
                tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
                tolower($1) == "enabled:" && tolower($2) == "no" { ok = 0; uri = "" }
                END { flush() }' "$f" ;;
            *) sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
                   awk -v suite="$1" '$1 == "deb" && $3 == suite { print $2 }' ;;
        esac
    done | head -1
}

# ---- 1. the cached minbase root -----------------------------------------------
build_cache() {
    local mirror security dir
    mirror=${FLOE_FRESH_MIRROR:-$(host_mirror bookworm)}
    mirror=${mirror:-http://deb.debian.org/debian}
    security=$(host_mirror bookworm-security)
    security=${security:-http://deb.debian.org/debian-security}
    dir=$(mktemp -d "${FLOE_FRESH_TMP:-/var/tmp}/floe-debootstrap.XXXXXX") || die "mktemp"
    say "debootstrap --variant=minbase bookworm from $mirror (once; a few minutes)"
    trap 'rm -rf --one-file-system "$dir" "$cache.tmp"; exit 130' INT TERM HUP
    # In a private mount namespace: whatever debootstrap mounts goes with it.
    if ! unshare --mount --propagation private \
            debootstrap --variant=minbase bookworm "$dir/root" "$mirror" >"$dir/debootstrap.log" 2>&1; then
        tail -20 "$dir/debootstrap.log" >&2
        rm -rf --one-file-system "$dir"
        die "debootstrap failed"
    fi
    # As a freshly installed machine: the release, its updates and security.
    cat >"$dir/root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
    [ -e "$dir/root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
        >"$dir/root/etc/hosts"
    rm -rf "$dir/root/var/cache/apt/archives/"*.deb "$dir/root/var/lib/apt/lists/"*_* 2>/dev/null
    mkdir -p "$(dirname "$cache")"
    tar -C "$dir/root" --numeric-owner -cf - . | "${compress[@]}" >"$cache.tmp" &&
        mv "$cache.tmp" "$cache" || { rm -f "$cache.tmp"; rm -rf --one-file-system "$dir"; die "cannot write $cache"; }
    rm -rf --one-file-system "$dir"
    trap - INT TERM HUP
    say "cached $cache ($(du -h "$cache" | cut -f1))"
}
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9   # one build of the tarball at a time; runs wait for it
if [ ! -s "$cache" ] || [ $rebuild = 1 ]; then build_cache; fi
flock -u 9

# ---- 2. a fresh root with the checkout ----------------------------------------
work=$(mktemp -d "${FLOE_FRESH_TMP:-/var/tmp}/floe-fresh.XXXXXX") || die "mktemp"
root=$work/root
run_pid="" tail_pid="" status=1

# Ends the run: TERM to its namespace's PID 1 (whose exit takes every
# process of the namespace), then KILL to unshare (which ignores TERM; its
# child gets a KILL when it dies).
stop_run() {
    local p i
    [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
    [ -n "$run_pid" ] || return
    for p in /proc/[0-9]*/stat; do
        [ "$(awk '{ print $4 }' "$p" 2>/dev/null)" = "$run_pid" ] && kill -TERM "${p//[^0-9]/}" 2>/dev/null
    done
    for ((i = 0; i < 50; i++)); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$run_pid" 2>/dev/null
    wait "$run_pid" 2>/dev/null
    run_pid=""
}
# Every process whose root is ours (the PID namespace normally took them).
kill_root_procs() {
    local sig p r n=0
    for sig in TERM KILL; do
        for p in /proc/[0-9]*; do
            r=$(readlink "$p/root" 2>/dev/null) || continue
            case $r in "$root"|"$root"/*) kill -"$sig" "${p#/proc/}" 2>/dev/null && n=$((n + 1)) ;; esac
        done
        [ $n -eq 0 ] && return
        sleep 2
    done
}
cleanup() {
    trap - EXIT INT TERM HUP
    stop_run
    kill_root_procs
    # Mounts live in the run's private namespace; any seen here are a
    # leftover: unmount them, and never delete through one.
    local m left=0
    for m in $(awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    awk -v r="$root" '$5 == r || index($5, r "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo && left=1
    if [ $status -ne 0 ] && [ -d "$root/tmp" ]; then   # run.sh keeps failed tests' logs
        for m in "$root"/tmp/floe-tests.*; do
            [ -d "$m" ] && mkdir -p "$log.d" && cp -a "$m" "$log.d/"
        done
    fi
    if [ $keep = 1 ] || [ $left = 1 ]; then
        [ $left = 1 ] && say "something is still mounted under $root: not removed"
        say "root kept: $root"
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT
trap 'say interrupted; status=130; exit 130' INT TERM HUP

say "unpacking $cache"
mkdir "$root" && "${decompress[@]}" "$cache" | tar -C "$root" --numeric-owner -xpf - || die "cannot unpack $cache"
rm -f "$root/etc/resolv.conf" && cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# Daemons installed by `make deps` (snmpd, prometheus) are not started.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/src"
git -c safe.directory='*' clone -q --no-hardlinks --no-checkout "$repo" "$root/src/floe" &&
    git -C "$root/src/floe" -c advice.detachedHead=false checkout -q --detach "$commit" ||
    die "cannot clone $repo"
say "testing $commit ($(git -C "$root/src/floe" log -1 --format=%s | cut -c1-60)) in $root"

# ---- 3. make TARGET inside, as root ------------------------------------------
namespace=(unshare --mount --propagation private --pid --fork --kill-child)
if [ "$target" != none ]; then
    say "make $target $* (log: $log)"
    echo "# fresh-machine: $commit, make $target $*, $(date -u +%FT%TZ)" >>"$log"
    # In the background, the output followed with tail: a TERM or Ctrl-C
    # to this script cleans up at once.
    "${namespace[@]}" "$self" --in-namespace "$root" "make:$target" "$@" >>"$log" 2>&1 </dev/null &
    run_pid=$!
    tail -n +1 -f --pid="$run_pid" "$log" &
    tail_pid=$!
    wait "$run_pid"
    status=$?
    run_pid=""
    wait "$tail_pid"
    tail_pid=""
else
    status=0
fi
elapsed=$(( $(date +%s) - t_start ))
if [ $shell = 1 ]; then
    trap '' INT   # Ctrl-C is the shell's (env --default-signal restores it there)
    "${namespace[@]}" "$self" --in-namespace "$root" shell
    trap 'say interrupted; status=130; exit 130' INT
fi

echo
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
[ -n "$summary" ] && echo "$summary"
[ "$target" != none ] &&
    say "make $target exited $status after $((elapsed / 60)) min $((elapsed % 60)) s; log $log"
[ $status -ne 0 ] && [ -d "$log.d" ] && say "failed tests' logs in $log.d/"
exit $status
