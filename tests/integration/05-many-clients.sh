#!/bin/sh
# Many concurrent clients: 5000 TCP and 1000 Unix stream connections, all
# open at once, every byte of every reply checked by tclient; afterwards
# sockd still serves and has closed every connection it accepted.
. "$(dirname "$0")/lib.sh"

N_TCP=5000
N_UNIX=1000
P_ECHO=$(port 1)
U_ECHO=$T/echo.sock

# 5000 clients and their 5000 server ends: raise the soft limit to the hard
# one here, so tclient and sockd (started from this shell) both get it.
hard=$(ulimit -H -n)
[ "$hard" != unlimited ] || hard=65536
if [ "$hard" -lt $((N_TCP + 200)) ]; then
	skip "the hard limit on open files ($hard) is below $((N_TCP + 200))"
fi
ulimit -S -n "$hard" 2>/dev/null || ulimit -n "$hard" ||
	fail "cannot raise the open files limit to $hard"

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 5.0;
};
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; backlog = 1024; },
	{ name = "uecho"; listen = [ "unix:$U_ECHO" ]; service = "echo"; backlog = 1024; }
);
EOF

start_sockd "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" '^sockd: ready: 2 listeners, 2 workers$'

fd_count() {
	ls "/proc/$SOCKD_PID/fd" 2>/dev/null | wc -l | tr -d ' '
}

# The fd count once the connections of earlier clients are closed: the same
# for 0.5 s.
settled_fds() {
	_prev=-1
	_i=0
	while [ $_i -lt 40 ]; do
		_cur=$(fd_count)
		[ "$_cur" = "$_prev" ] && break
		_prev=$_cur
		sleep 0.5
		_i=$((_i + 1))
	done
	echo "$_cur"
}

fd_back_to_baseline() {
	[ "$(fd_count)" -le "$baseline" ]
}

# One connection first, so anything sockd allocates lazily on its first
# client is in the baseline.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 1000
expect_rc 0 "$TCLIENT" echo -a "unix:$U_ECHO" -s 1000
wait_until 10 eval '[ "$(fd_count)" -gt 0 ]' || fail "cannot read /proc/$SOCKD_PID/fd"
baseline=$(settled_fds)
note "sockd's open fds before the load: $baseline"

# ---- TCP: 5000 at once, 3 rounds of 256 bytes each.
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n $N_TCP -s 256 -r 3 -t 180
expect_file_match "$T/out" "^ok: $N_TCP connections, $((N_TCP * 3 * 256)) bytes verified$"
sockd_alive || fail "sockd died under $N_TCP clients"

# ---- Unix stream: 1000 at once, larger messages.
expect_rc 0 "$TCLIENT" echo-many -a "unix:$U_ECHO" -n $N_UNIX -s 4096 -r 2 -t 120
expect_file_match "$T/out" "^ok: $N_UNIX connections, $((N_UNIX * 2 * 4096)) bytes verified$"
sockd_alive || fail "sockd died under $N_UNIX Unix clients"

# ---- Both at once.
start_bg tcpload "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 2000 -s 100 -t 180
tcp_pid=$BG_PID
expect_rc 0 "$TCLIENT" echo-many -a "unix:$U_ECHO" -n $N_UNIX -s 100 -t 180
wait_bg "$tcp_pid" 200 || fail "tcp load next to the Unix load: $(cat "$T/tcpload.err")"

# ---- Healthy afterwards: every connection closed, and a new client served.
if ! wait_until 30 fd_back_to_baseline; then
	ls -l "/proc/$SOCKD_PID/fd" | tail -n 20 >&2
	fail "sockd holds $(fd_count) fds 30 s after the clients left (baseline $baseline)"
fi
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 1048576 -t 30
expect_rc 0 "$TCLIENT" echo -a "unix:$U_ECHO" -s 65536 -t 30
expect_clean_log
expect_stop_ok
test ! -e "$U_ECHO" || fail "sockd left its socket file $U_ECHO behind"
exit 0
