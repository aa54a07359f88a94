#!/bin/sh
# exec as a socket activator, without systemd (tests/integration/actprog
# checks LISTEN_PID == its own pid, LISTEN_FDS and LISTEN_FDNAMES, and
# exits 2 when they are wrong):
#
# (a) handoff = "listen-fds" (Accept=no) on a tcp and a Unix address: one
#     program gets both sockets as fds 3 and 4 and serves three connections
#     across them; it exits, and the next connection starts a new one.
# (b) listen-fds on udp: two datagrams, one program.
# (c) start_at_launch: the program runs before any client comes.
# (d) handoff = "accept-fds" (Accept=yes): each connection is fd 3 of a
#     program of its own.
# (e) sockctl status shows the pid of a running listen-fds program.
# (f) reload: an unchanged endpoint keeps its running program, which goes
#     on serving; a removed one's program gets SIGTERM.
# (g) stop: the running program gets SIGTERM.

. "$(dirname "$0")/lib.sh"

ACTPROG=$top_builddir/tests/integration/actprog
SOCKCTL=$top_builddir/src/sockctl
[ -x "$ACTPROG" ] || fail "no $ACTPROG (make check builds it)"
command -v socat >/dev/null || skip "no socat"

P_ACT=$(port 1)
P_UDP=$(port 2)
P_EAGER=$(port 3)
P_ACC=$(port 4)
P_KEEP=$(port 5)

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 3.0; control = "$T/control.sock"; };
endpoints = (
	{ name = "act"; listen = [ "tcp:127.0.0.1:$P_ACT", "unix:$T/act.sock" ]; service = "exec";
	  handoff = "listen-fds"; command = [ "$ACTPROG", "listen", "3" ]; },
	{ name = "actudp"; listen = [ "udp:127.0.0.1:$P_UDP" ]; service = "exec";
	  handoff = "listen-fds"; command = [ "$ACTPROG", "listen", "2" ]; },
	{ name = "eager"; listen = [ "tcp:127.0.0.1:$P_EAGER" ]; service = "exec";
	  handoff = "listen-fds"; start_at_launch = true;
	  command = [ "/bin/sh", "-c", "echo \$\$ >$T/eager.pid; exec $ACTPROG listen 1" ]; },
	{ name = "acc"; listen = [ "tcp:127.0.0.1:$P_ACC" ]; service = "exec";
	  handoff = "accept-fds"; command = [ "$ACTPROG", "accept" ]; },
	{ name = "keep"; listen = [ "tcp:127.0.0.1:$P_KEEP" ]; service = "exec";
	  handoff = "listen-fds"; command = [ "$ACTPROG", "listen", "2" ]; }
);
EOF

# (c) is checked first: the file appears with no client at all.
start_sockd "$T/sockd.conf"
wait_for_file_match "$T/eager.pid" '^[0-9]+$' 10
eager=$(cat "$T/eager.pid")
kill -0 "$eager" 2>/dev/null || fail "start_at_launch: pid $eager is not running"

tcp() {
	printf '%s\n' "$2" | timeout 20 socat -t 5 - "TCP:127.0.0.1:$1" 2>/dev/null || :
}
unx() {
	printf '%s\n' "$2" | timeout 20 socat -t 5 - "UNIX-CONNECT:$1" 2>/dev/null || :
}
pid_of() {
	echo "$1" | sed -n 's/^pid=\([0-9]*\) .*/\1/p'
}

# ---- (a)
a1=$(tcp "$P_ACT" one)
a2=$(unx "$T/act.sock" two)
expect_match "$a1" '^pid=[0-9]+ n=1 fds=2 names=act:act one$' "listen-fds: first answer"
expect_match "$a2" '^pid=[0-9]+ n=2 fds=2 names=act:act two$' "listen-fds: second answer (Unix)"
p1=$(pid_of "$a1")
expect_eq "$(pid_of "$a2")" "$p1" "listen-fds: one program for both sockets"

# ---- (e) while it runs (it waits for its third connection)
"$SOCKCTL" -S "$T/control.sock" status >"$T/status" 2>&1 || fail "sockctl status: $(cat "$T/status")"
grep -Eq "act.*pid[= ]$p1" "$T/status" || {
	cat "$T/status" >&2
	fail "sockctl status does not show pid $p1 for endpoint act"
}

a3=$(tcp "$P_ACT" three)
expect_match "$a3" '^pid=[0-9]+ n=3 fds=2 names=act:act three$' "listen-fds: third answer"
expect_eq "$(pid_of "$a3")" "$p1" "listen-fds: the same program"
wait_for_log "endpoint act: pid $p1 exited with status 0 after" 10
a4=$(unx "$T/act.sock" four)
expect_match "$a4" '^pid=[0-9]+ n=1 fds=2 names=act:act four$' "listen-fds: answer of the next program"
[ "$(pid_of "$a4")" != "$p1" ] || fail "listen-fds: the old program answered after it exited"
note "(a) listen-fds: pid $p1 served 3 connections on 2 sockets; pid $(pid_of "$a4") the next"

# ---- (b)
u=$( { printf x1; sleep 0.2; printf x2; } | timeout 10 socat -t 3 - "UDP:127.0.0.1:$P_UDP" 2>/dev/null || :)
expect_match "$u" '^pid=[0-9]+ n=1 fds=1 names=actudp x1pid=[0-9]+ n=2 fds=1 names=actudp x2$' \
	"listen-fds on udp: two answers"
up1=$(echo "$u" | sed 's/^pid=\([0-9]*\) .*/\1/')
up2=$(echo "$u" | sed 's/.*x1pid=\([0-9]*\) .*/\1/')
expect_eq "$up2" "$up1" "listen-fds on udp: one program for both datagrams"
wait_for_log "endpoint actudp: pid $up1 exited with status 0 after" 10
note "(b) listen-fds on udp: pid $up1 answered two datagrams"

# ---- (c)
c1=$(tcp "$P_EAGER" hi)
expect_match "$c1" '^pid=[0-9]+ n=1 fds=1 names=eager hi$' "start_at_launch: answer"
expect_eq "$(pid_of "$c1")" "$eager" "start_at_launch: the program started before the client"
note "(c) start_at_launch: pid $eager ran before its first client"

# ---- (d)
d1=$(tcp "$P_ACC" first)
d2=$(tcp "$P_ACC" second)
expect_match "$d1" '^pid=[0-9]+ n=1 fds=1 names=acc first$' "accept-fds: first answer"
expect_match "$d2" '^pid=[0-9]+ n=1 fds=1 names=acc second$' "accept-fds: second answer"
[ "$(pid_of "$d1")" != "$(pid_of "$d2")" ] || fail "accept-fds: one program for two connections"
note "(d) accept-fds: a program per connection"

# ---- (f) reload: "keep" runs (one of its two connections served) and
# stays; "act" runs (started by a4, waiting for more) and is removed.
k1=$(tcp "$P_KEEP" k1)
expect_match "$k1" '^pid=[0-9]+ n=1 fds=1 names=keep k1$' "keep: first answer"
kp=$(pid_of "$k1")
ap=$(pid_of "$a4")
kill -0 "$ap" 2>/dev/null || fail "act: pid $ap is not running before the reload"
sed -i '/name = "act";/,+1d' "$T/sockd.conf"
grep -q 'name = "act";' "$T/sockd.conf" && fail "the test could not remove endpoint act"
kill -HUP "$SOCKD_PID"
wait_for_log '^sockd: reloaded' 20
wait_for_log "endpoint act: pid $ap holds sockets no longer handed to a program: stopping it" 10
wait_for_log "endpoint act: pid $ap killed by SIGTERM" 10
kill -0 "$kp" 2>/dev/null || fail "keep: pid $kp did not survive the reload"
k2=$(tcp "$P_KEEP" k2)
expect_match "$k2" '^pid=[0-9]+ n=2 fds=1 names=keep k2$' "keep: answer after the reload"
expect_eq "$(pid_of "$k2")" "$kp" "keep: the same program after the reload"
note "(f) reload: pid $kp kept serving; pid $ap of the removed endpoint got SIGTERM"

# ---- (g) the udp program: started by a datagram, waiting for its second
u3=$(printf y1 | timeout 10 socat -t 3 - "UDP:127.0.0.1:$P_UDP" 2>/dev/null || :)
expect_match "$u3" '^pid=[0-9]+ n=1 fds=1 names=actudp y1$' "listen-fds on udp: a new program"
gp=$(echo "$u3" | sed 's/^pid=\([0-9]*\) .*/\1/')
expect_stop_ok
expect_file_match "$SOCKD_LOG" "endpoint actudp: pid $gp killed by SIGTERM" "the stop"
! kill -0 "$gp" 2>/dev/null || fail "pid $gp survived sockd's stop"
expect_clean_log
exit 0
