#!/bin/sh
# A forward to a Unix upstream connects as sockd's user, and the upstream
# trusts that (SO_PEERCRED: MariaDB's unix_socket authentication, ...).
#  (a) sockd -n and start-up warn when such a forward runs as root with no
#      daemon.user; without upstream_user the upstream sees uid 0.
#  (b) upstream_user = "nobody" and "nobody:daemon": the upstream sees
#      that user and group; the worker thread is root again afterwards
#      (the next connection as root on the same worker sees uid 0, and an
#      exec program still starts as root).
#  (c) The upstream's socket file is checked against upstream_user: one
#      only root may open refuses it.
#  (d) upstream_user with daemon.user, on a TCP-only forward, or on a
#      service other than forward: configuration errors with file:line.
# The upstream is a real Unix server: an exec endpoint of the same sockd,
# which tells the program the peer's SO_PEERCRED (UNIXREMOTEUID/GID).
. "$(dirname "$0")/lib.sh"

is_root || skip "not root: upstream_user needs root"
getent passwd nobody >/dev/null || skip "no user nobody"
getent group daemon >/dev/null || skip "no group daemon"

P_ROOT=$(port 1)
P_NOBODY=$(port 2)
P_NOBODYGRP=$(port 3)
P_CLOSED=$(port 4)
P_EXEC=$(port 5)
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
DAEMON_GID=$(getent group daemon | cut -d: -f3)
chmod 0711 "$T"
mkdir -m 0700 "$T/closed"

cat >"$T/peer.sh" <<'EOF'
#!/bin/sh
echo "peer uid=$UNIXREMOTEUID gid=$UNIXREMOTEGID"
EOF
chmod 0755 "$T/peer.sh"

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 1; };
endpoints = (
	{ name = "peer"; listen = [ "unix:$T/peer.sock" ]; service = "exec"; mode = "0666";
	  command = [ "$T/peer.sh" ]; },
	{ name = "peerclosed"; listen = [ "unix:$T/closed/peer.sock" ]; service = "exec";
	  command = [ "$T/peer.sh" ]; },
	{ name = "asroot"; listen = [ "tcp:127.0.0.1:$P_ROOT" ]; service = "forward";
	  upstream = [ "unix:$T/peer.sock" ]; },
	{ name = "asnobody"; listen = [ "tcp:127.0.0.1:$P_NOBODY" ]; service = "forward";
	  upstream = [ "unix:$T/peer.sock" ]; upstream_user = "nobody"; },
	{ name = "asnobodygrp"; listen = [ "tcp:127.0.0.1:$P_NOBODYGRP" ]; service = "forward";
	  upstream = [ "unix:$T/peer.sock" ]; upstream_user = "nobody:daemon"; },
	{ name = "closed"; listen = [ "tcp:127.0.0.1:$P_CLOSED" ]; service = "forward";
	  upstream = [ "unix:$T/closed/peer.sock" ]; upstream_user = "nobody"; },
	{ name = "id"; listen = [ "tcp:127.0.0.1:$P_EXEC" ]; service = "exec";
	  command = [ "/usr/bin/id", "-u" ]; }
);
EOF

# ---- (a) the warning, from sockd -n and at start-up
expect_rc 0 "$SOCKD" -n -f "$T/sockd.conf"
expect_file_match "$T/err" "warning: $T/sockd\.conf:[0-9]+: endpoint asroot connects to unix:$T/peer\.sock as root: the upstream sees uid 0 \(SO_PEERCRED\) for every client; set daemon\.user or upstream_user" "sockd -n"
if grep -E 'endpoint (asnobody|closed) connects' "$T/err" >&2; then
	fail "a forward with upstream_user was warned about"
fi
start_sockd "$T/sockd.conf"
wait_for_log "^sockd: warning: $T/sockd\.conf:[0-9]+: endpoint asroot connects to unix:$T/peer\.sock as root"

ask() {
	timeout 10 socat -u "TCP:127.0.0.1:$1" STDOUT 2>"$T/ask.err" || fail "socat to port $1: $(cat "$T/ask.err")"
}
expect_eq "$(ask "$P_ROOT")" "peer uid=0 gid=0" "what the upstream saw of a forward as root"

# ---- (b) as nobody, as nobody:daemon, and back to root
expect_eq "$(ask "$P_NOBODY")" "peer uid=$NOBODY_UID gid=$NOBODY_GID" "what the upstream saw of upstream_user = nobody"
expect_eq "$(ask "$P_NOBODYGRP")" "peer uid=$NOBODY_UID gid=$DAEMON_GID" "what the upstream saw of upstream_user = nobody:daemon"
# One worker: the same thread serves these next, as root again.
expect_eq "$(ask "$P_ROOT")" "peer uid=0 gid=0" "a forward as root after one as nobody"
expect_eq "$(ask "$P_EXEC")" "0" "an exec program's uid after a forward as nobody"
i=0
while [ $i -lt 20 ]; do
	expect_eq "$(ask "$P_NOBODY")" "peer uid=$NOBODY_UID gid=$NOBODY_GID" "round $i as nobody"
	expect_eq "$(ask "$P_ROOT")" "peer uid=0 gid=0" "round $i as root"
	i=$((i + 1))
done

# ---- (c) nobody may not reach a socket in a directory only root may enter
expect_eq "$(ask "$P_CLOSED")" "" "what a client of a forward to a socket nobody cannot open got"
wait_for_log "^sockd: warning: endpoint closed: no upstream reachable \(last: unix:$T/closed/peer\.sock: Permission denied\)"
expect_stop_ok
expect_clean_log 'connects to unix:.* as root|no upstream reachable'

# ---- (d) configuration errors
cat >"$T/bad.conf" <<EOF
daemon = { user = "daemon"; };
endpoints = (
	{ name = "fwd"; listen = [ "tcp:127.0.0.1:$P_ROOT" ]; service = "forward";
	  upstream = [ "unix:$T/peer.sock" ];
	  upstream_user = "nobody"; },
	{ name = "tcpfwd"; listen = [ "tcp:127.0.0.1:$P_NOBODY" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$P_ROOT" ];
	  upstream_user = "daemon"; },
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_EXEC" ]; service = "echo";
	  upstream_user = "nobody"; },
	{ name = "nouser"; listen = [ "tcp:127.0.0.1:$P_CLOSED" ]; service = "forward";
	  upstream = [ "unix:$T/peer.sock" ];
	  upstream_user = "no-such-user-here"; }
);
EOF
expect_rc 78 "$SOCKD" -n -f "$T/bad.conf"
expect_file_match "$T/err" "^$T/bad\.conf:5: 'upstream_user' needs sockd to keep root, but it switches to daemon\.user 'daemon': remove daemon\.user or connect as 'daemon'$"
expect_file_match "$T/err" "^$T/bad\.conf:8: 'upstream_user' applies to Unix stream upstreams \(unix, unix-seqpacket\), and endpoint 'tcpfwd' has none$"
expect_file_match "$T/err" "^$T/bad\.conf:10: 'upstream_user' is only allowed with service 'forward'$"
expect_file_match "$T/err" "^$T/bad\.conf:13: .*no-such-user-here"
# Being daemon.user already: nothing to switch, valid.
sed -e '/name = "tcpfwd"/,/upstream_user = "daemon"; },/d' -e '/name = "echo"/,/upstream_user = "nobody"; },/d' \
	-e '/name = "nouser"/,/no-such-user-here/d' -e 's/upstream_user = "nobody"; },/upstream_user = "daemon"; }/' \
	"$T/bad.conf" >"$T/same.conf"
expect_rc 0 "$SOCKD" -n -f "$T/same.conf"
exit 0
