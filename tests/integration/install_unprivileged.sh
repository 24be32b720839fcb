#!/bin/bash
# The installed service can read what it needs as its own unprivileged
# user. As root: `make install` into a DESTDIR, with numeric FLOE_USER and
# FLOE_GROUP (so the host's /etc/passwd stays untouched), gives /etc/floe
# the owners and modes of a real install; README's commands ("Installing
# on a site") make the secrets and the TLS files; then the installed
# `floe check-config` and `floe agent` run under setpriv as that uid and
# gid with no other group, as systemd's User=/Group= would run them:
# check-config passes; the agent serves HTTPS and takes the token read
# from its secret file; a file with the wrong group or mode is refused
# with a message naming it, the uid and the fix. `make install-user`
# creates the system user, checked in a private mount namespace over a
# copy of /etc. Device traffic: none (the agent's config has no devices).
#   tests/integration/install_unprivileged.sh BUILD   (as root)
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh

AGENT_UID=64123 AGENT_GID=64123 # no such user on the host; as User=64123 would be
ROOT=$TMP/root
CONF_DIR=$ROOT/etc/floe
CONF=$CONF_DIR/floe.json
FLOE=$ROOT/usr/local/bin/floe
ID_NOTE="running as uid $AGENT_UID, gid $AGENT_GID"

if [ "$(id -u)" -ne 0 ]; then
    not_ok "install_unprivileged.sh needs root (make install sets owners, setpriv changes uid)"
    finish
fi
# The agent's uid must be able to reach the temporary root.
chmod 0755 "$TMP"

# "${AS_AGENT[@]}" CMD...: CMD as the agent's uid and gid, no other group.
AS_AGENT=(setpriv --reuid="$AGENT_UID" --regid="$AGENT_GID" --clear-groups)

install_root() {
    make -s install BUILD="$(realpath --relative-to="$PWD" "$BUILD")" DESTDIR="$ROOT" \
        PREFIX=/usr/local FLOE_USER=$AGENT_UID FLOE_GROUP=$AGENT_GID >"$TMP/install.log" 2>&1
}

# modes DIR NAME...: "NAME MODE UID:GID" lines.
modes() { (cd "$1" && shift && stat -c '%n %a %u:%g' "$@"); }

# --- make install --------------------------------------------------------------
if ! install_root || [ ! -x "$FLOE" ]; then
    not_ok "make install DESTDIR: $(tail -5 "$TMP/install.log")"
    finish
fi
got=$(modes "$CONF_DIR" . secrets tls floe.json)
want=". 750 0:$AGENT_GID
secrets 750 0:$AGENT_GID
tls 750 0:$AGENT_GID
floe.json 640 0:$AGENT_GID"
if [ "$got" = "$want" ]; then
    ok "make install: /etc/floe, secrets/, tls/ 0750 and floe.json 0640, root:FLOE_GROUP"
else
    not_ok "make install modes: ${got//$'\n'/; }; want ${want//$'\n'/; }"
fi
unit=$ROOT/lib/systemd/system/floe.service
if grep -qx "User=$AGENT_UID" "$unit" && grep -qx "Group=$AGENT_GID" "$unit" &&
    ! grep -q '^DynamicUser' "$unit"; then
    ok "installed unit runs as FLOE_USER and FLOE_GROUP, not a dynamic user"
else
    not_ok "installed unit: $(grep -E '^(User|Group|DynamicUser)=' "$unit" | tr '\n' ' ')"
fi

# --- README's commands for the secrets and TLS files ----------------------------
# The indented block after the marker, with /etc/floe under the temporary
# root and group floe as the agent's gid.
block=$(awk '/<!-- tests\/integration\/install_unprivileged.sh runs/ { on = 1; next }
             on && /^    / { print substr($0, 5); seen = 1; next }
             on && seen && !/^$/ { exit }' README.md |
        sed -e "s|/etc/floe|$CONF_DIR|g" -e "s|chgrp floe |chgrp $AGENT_GID |")
if [ -z "$block" ]; then
    not_ok "README: no commands after the install_unprivileged.sh marker"
    finish
fi
if printf 'ups-a-auth-password\nups-a-priv-password\n' | bash -e -c "$block" >"$TMP/readme.log" 2>&1; then
    ok "README's commands for secrets and TLS files run"
else
    not_ok "README's commands: $(tail -5 "$TMP/readme.log")"
fi
got=$(cd "$CONF_DIR" && stat -c '%n %a %u:%g' secrets/* tls/*)
want="secrets/admin.token 640 0:$AGENT_GID
secrets/facility.token 640 0:$AGENT_GID
secrets/falkenberg-1.in.token 640 0:$AGENT_GID
secrets/noc.token 640 0:$AGENT_GID
secrets/ups-a.auth 640 0:$AGENT_GID
secrets/ups-a.priv 640 0:$AGENT_GID
tls/floe.crt 644 0:0
tls/floe.key 640 0:$AGENT_GID"
if [ "$got" = "$want" ]; then
    ok "README's commands give secrets and key 0640 root:floe, the certificate 0644"
else
    not_ok "secrets and TLS files after README's commands: ${got//$'\n'/; }"
fi

# --- check-config as the agent's user --------------------------------------------
"${AS_AGENT[@]}" "$FLOE" check-config -c "$CONF" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$TMP/err" ]; then
    ok "installed floe check-config passes as uid $AGENT_UID (the example config, README's secrets)"
else
    not_ok "check-config as uid $AGENT_UID: exit $rc: $(head -5 "$TMP/err")"
fi

# refused NAME SETUP EXPECTED_LINE UNDO: check-config exits 1 with the line.
refused() {
    local name=$1 want=$3
    eval "$2"
    "${AS_AGENT[@]}" "$FLOE" check-config -c "$CONF" >/dev/null 2>"$TMP/err"
    local rc=$?
    eval "$4"
    # Positions (FILE:LINE:COL:) are check_config.sh's business; here the
    # file, the uid and the fix are.
    if [ $rc -eq 1 ] && sed -E "s|^($CONF):[0-9]+:[0-9]+: |\1: |" "$TMP/err" | grep -qxF -- "$want"; then
        ok "$name"
    else
        not_ok "$name: exit $rc, want 1 and '$want'; stderr: $(head -3 "$TMP/err")"
    fi
}
tok=$CONF_DIR/secrets/noc.token
refused "secret of group root: the file, the uid and the fix" \
    "chgrp root $tok" \
    "$CONF: http.tokens[0].token_file: $tok: Permission denied ($ID_NOTE; the file is root:root 0640: make it group $AGENT_GID, mode 0640)" \
    "chgrp $AGENT_GID $tok"
refused "secret of mode 0600: the file, the uid and the fix" \
    "chmod 0600 $tok" \
    "$CONF: http.tokens[0].token_file: $tok: Permission denied ($ID_NOTE; the file is root:$AGENT_GID 0600: make it group $AGENT_GID, mode 0640)" \
    "chmod 0640 $tok"
refused "TLS key as openssl leaves it (0600): the file and the fix" \
    "chmod 0600 $CONF_DIR/tls/floe.key" \
    "$CONF: http.tls.key_file: $CONF_DIR/tls/floe.key: Permission denied ($ID_NOTE; the file is root:$AGENT_GID 0600: make it group $AGENT_GID, mode 0640)" \
    "chmod 0640 $CONF_DIR/tls/floe.key"
refused "secrets directory 0700: the directory and the fix" \
    "chmod 0700 $CONF_DIR/secrets" \
    "$CONF: http.tokens[0].token_file: $tok: Permission denied ($ID_NOTE; directory $CONF_DIR/secrets is root:$AGENT_GID 0700: make it group $AGENT_GID, mode 0750)" \
    "chmod 0750 $CONF_DIR/secrets"
# What the install before this change left: floe.json 0640 root:root.
refused "config of group root (the old install): the file and the fix" \
    "chgrp root $CONF" \
    "$CONF: Permission denied ($ID_NOTE; the file is root:root 0640: make it group $AGENT_GID, mode 0640)" \
    "chgrp $AGENT_GID $CONF"

# --- the agent as the agent's user ------------------------------------------------
# A config of its own, no devices, installed as floe.json is; a state
# directory owned by the agent's user, as StateDirectory= makes it.
port=$(free_port)
state=$TMP/state
install -d -m 0750 -o $AGENT_UID -g $AGENT_GID "$state"
cat >"$TMP/agent.json" <<JSON
{ "site": { "name": "install-test" },
  "store": { "path": "$state/floe.db" },
  "http": { "listen": "127.0.0.1:$port", "anonymous_read": false,
            "tls": { "cert_file": "tls/floe.crt", "key_file": "tls/floe.key" },
            "tokens": [ { "name": "noc", "role": "read", "token_file": "secrets/noc.token" } ] } }
JSON
install -m 0600 -o root -g root "$TMP/agent.json" "$CONF"
# Installing again keeps the file and gives it back its owner and mode.
install_root
if cmp -s "$TMP/agent.json" "$CONF" && [ "$(stat -c '%a %u:%g' "$CONF")" = "640 0:$AGENT_GID" ]; then
    ok "make install again keeps floe.json and sets it back to 0640 root:FLOE_GROUP"
else
    not_ok "make install again: floe.json $(stat -c '%a %u:%g' "$CONF"), $(cmp "$TMP/agent.json" "$CONF")"
fi

URL=https://127.0.0.1:$port
CA=(--cacert "$CONF_DIR/tls/floe.crt")
bg "${AS_AGENT[@]}" "$FLOE" agent -c "$CONF" 2>"$TMP/agent.log"
agent=$BG_PID
up=0
for _ in $(seq 100); do
    curl -s "${CA[@]}" -o /dev/null "$URL/healthz" && { up=1; break; }
    kill -0 "$agent" 2>/dev/null || break
    sleep 0.1
done
if [ $up -eq 1 ] && [ "$(curl -s "${CA[@]}" "$URL/healthz")" = '{"ok":true}' ]; then
    ok "installed floe agent as uid $AGENT_UID answers /healthz over HTTPS (README's certificate)"
else
    not_ok "agent as uid $AGENT_UID did not answer: $(tail -5 "$TMP/agent.log")"
fi
token=$(cat "$tok")
code=$(curl -s "${CA[@]}" -o "$TMP/status.json" -w '%{http_code}' \
    -H "Authorization: Bearer $token" "$URL/v1/status")
if [ "$code" = 200 ] && [ "$(json_get "$TMP/status.json" 'd["site"]')" = install-test ]; then
    ok "/v1/status answers 200 to the token read from secrets/noc.token"
else
    not_ok "/v1/status with the secret's token: $code $(head -c 200 "$TMP/status.json")"
fi
code=$(curl -s "${CA[@]}" -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer not-$token" "$URL/v1/status")
check "/v1/status refuses another token (401)" test "$code" = 401
check "the database is the agent user's, in its state directory" \
    test "$(stat -c '%u' "$state/floe.db" 2>/dev/null)" = "$AGENT_UID"

# README: floe status trusts the system's CAs; with the certificate added
# as update-ca-certificates would, in a private mount namespace.
cat /etc/ssl/certs/ca-certificates.crt "$CONF_DIR/tls/floe.crt" >"$TMP/bundle.crt"
if unshare --mount sh -c 'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt &&
        FLOE_TOKEN=$(cat "$2") "$3" status --url "$4"' sh \
        "$TMP/bundle.crt" "$tok" "$FLOE" "$URL" >"$TMP/cli.out" 2>&1 &&
    grep -q install-test "$TMP/cli.out"; then
    ok "README's floe status line works once the certificate is trusted"
else
    not_ok "floe status over HTTPS: $(head -3 "$TMP/cli.out")"
fi

stop_pid "$agent"
check "agent exits 0 on SIGTERM" test $? -eq 0

# The agent itself refuses an unreadable secret the same way.
chmod 0600 "$tok"
"${AS_AGENT[@]}" timeout 20 "$FLOE" agent -c "$CONF" >/dev/null 2>"$TMP/agent2.log"
rc=$?
chmod 0640 "$tok"
if [ $rc -eq 1 ] &&
    grep -qF "http.tokens[0].token_file: $tok: Permission denied ($ID_NOTE; the file is root:$AGENT_GID 0600: make it group $AGENT_GID, mode 0640)" "$TMP/agent2.log"; then
    ok "agent with an unreadable secret exits 1 naming the file, the uid and the fix"
else
    not_ok "agent with an unreadable secret: exit $rc: $(head -3 "$TMP/agent2.log")"
fi

# --- make install-user: the system user and group --------------------------------
# Against a copy of /etc (and a scratch /var/log, where useradd notes the
# new uid) mounted over the real ones in a private mount namespace; under
# a name of its own, which no earlier real install can have made.
host_accounts=$(cat /etc/passwd /etc/group | md5sum)
mkdir "$TMP/etc" && cp -a /etc/. "$TMP/etc/"
unshare --mount sh -c 'mount --bind "$1/etc" /etc && mount -t tmpfs tmpfs /var/log &&
    for i in 1 2; do
        make -s install-user FLOE_USER=floe-it FLOE_GROUP=floe-it &&
        getent passwd floe-it && getent group floe-it || exit 1
    done' sh "$TMP" >"$TMP/user.log" 2>&1
rc=$?
mapfile -t entries < <(grep '^floe-it:' "$TMP/user.log")
IFS=: read -r name _ uid gid _ home shell <<<"${entries[0]:-}"
if [ $rc -eq 0 ] && [ ${#entries[@]} -eq 4 ] && [ "$name" = floe-it ] &&
    [ -n "$uid" ] && [ "$uid" -lt 1000 ] && [ "$gid" = "$(cut -d: -f3 <<<"${entries[1]}")" ] &&
    [ "$home" = /var/lib/floe ] && [ "$shell" = /usr/sbin/nologin ] &&
    [ "${entries[2]}" = "${entries[0]}" ] && [ "${entries[3]}" = "${entries[1]}" ] &&
    [ "$(grep -c '^useradd ' "$TMP/user.log")" -eq 1 ]; then
    ok "make install-user creates a system user and group (nologin, home /var/lib/floe), once"
else
    not_ok "make install-user: exit $rc: $(cat "$TMP/user.log")"
fi
check "the host's /etc/passwd and /etc/group are untouched" \
    test "$(cat /etc/passwd /etc/group | md5sum)" = "$host_accounts"
finish
