#!/bin/bash
# The unit file verifies, and the agent speaks the notify protocol:
# READY=1 once serving, WATCHDOG=1 at half the WatchdogSec interval,
# STOPPING=1 and exit 0 on SIGTERM.
. "$(dirname "$0")/lib/common.sh"

sed -e "s|@BINDIR@|$BUILD|g" -e "s|@DOCDIR@|$PWD|g" systemd/floe.service > "$TMP/floe.service"
if out=$(systemd-analyze verify "$TMP/floe.service" 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify floe.service is clean"
else
    not_ok "systemd-analyze verify: $out"
fi
for key in Type=notify WatchdogSec= StateDirectory=floe ConfigurationDirectory=floe \
           ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes CapabilityBoundingSet= \
           RestrictAddressFamilies= SystemCallFilter=@system-service; do
    grep -q "^$key" "$TMP/floe.service" || not_ok "unit lacks $key"
done
ok "unit has the hardening keys"
# The static user make install creates, whose group reads /etc/floe
# (install_unprivileged.sh runs the installed agent as such a user).
if grep -qx 'User=floe' "$TMP/floe.service" && grep -qx 'Group=floe' "$TMP/floe.service" &&
   ! grep -q '^DynamicUser' "$TMP/floe.service"; then
    ok "unit runs as the static user and group floe"
else
    not_ok "unit user: $(grep -E '^(User|Group|DynamicUser)=' "$TMP/floe.service" | tr '\n' ' ')"
fi

# make install puts binaries, the unit (with its paths filled in) and the
# example config where systemd and the unit expect them.
rel_build=$(realpath --relative-to="$PWD" "$BUILD")
# Numeric ids: the group floe need not exist on this machine.
if make -s install BUILD="$rel_build" DESTDIR="$TMP/root" PREFIX=/usr/local \
       FLOE_USER=64123 FLOE_GROUP=64123 >"$TMP/install.log" 2>&1 &&
   [ -x "$TMP/root/usr/local/bin/floe" ] && [ -x "$TMP/root/usr/local/bin/floe-sim" ] &&
   [ -f "$TMP/root/etc/floe/floe.json" ] && [ -f "$TMP/root/usr/local/share/doc/floe/README.md" ] &&
   grep -q '^ExecStart=/usr/local/bin/floe agent -c /etc/floe/floe.json$' "$TMP/root/lib/systemd/system/floe.service"; then
    ok "make install: binaries, unit and example config"
else
    not_ok "make install: $(cat "$TMP/install.log"; find "$TMP/root" -type f)"
fi

port=$(free_port)
cat > "$TMP/floe.json" <<JSON
{ "site": { "name": "notify-test" },
  "store": { "path": "$TMP/floe.db" },
  "http": { "listen": "127.0.0.1:$port", "anonymous_read": true } }
JSON
/usr/bin/python3 - "$BUILD/floe" "$TMP" <<'PY'
import os, signal, socket, subprocess, sys, time
floe, tmp = sys.argv[1], sys.argv[2]
path = os.path.join(tmp, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(10)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
env.pop("WATCHDOG_PID", None)
p = subprocess.Popen([floe, "agent", "-c", os.path.join(tmp, "floe.json")], env=env,
                     stderr=open(os.path.join(tmp, "agent.log"), "w"))
fails = 0
def check(name, cond, why=""):
    global fails
    print(("ok - " if cond else "not ok - ") + name + ("" if cond else ": " + why))
    fails += 0 if cond else 1
msgs = []
try:
    t0 = time.time()
    while "READY=1" not in msgs and time.time() - t0 < 10:
        msgs += s.recv(4096).decode().split("\n")
    check("agent sends READY=1 to NOTIFY_SOCKET", "READY=1" in msgs, repr(msgs))
    pings, t0 = 0, time.time()
    while time.time() - t0 < 2.2:
        if "WATCHDOG=1" in s.recv(4096).decode().split("\n"):
            pings += 1
    check("agent pings the watchdog every half interval", pings >= 3, "%d pings in 2.2 s" % pings)
    p.send_signal(signal.SIGTERM)
    got = []
    t0 = time.time()
    while "STOPPING=1" not in got and time.time() - t0 < 5:
        got += s.recv(4096).decode().split("\n")
    check("agent sends STOPPING=1 on SIGTERM", "STOPPING=1" in got, repr(got))
    check("agent exits 0 on SIGTERM", p.wait(10) == 0)
finally:
    if p.poll() is None:
        p.kill()
if fails:
    print(open(os.path.join(tmp, "agent.log")).read())
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] || FAILS=$((FAILS + 1))
finish
