#!/bin/sh
# Lifecycle: sd_notify READY=1/STATUS=/STOPPING=1; SIGTERM closes the
# listeners at once and lets a client in mid-session finish; an idle
# connection is cut after shutdown_timeout; SIGINT is SIGTERM; socket files
# sockd created are removed when it exits; threads are named, and the
# acceptor runs SCHED_BATCH unless the operator chose a policy.
. "$(dirname "$0")/lib.sh"

P_ECHO=$(port 1)
P_IDLE=$(port 2)
P_INT=$(port 3)

fd_count() {
	ls "/proc/$SOCKD_PID/fd" 2>/dev/null | wc -l | tr -d ' '
}

fds_at_least() {
	[ "$(fd_count)" -ge "$1" ]
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

# refused ADDR: a new client is turned away (the listener is closed).
refused() {
	_rc=0
	"$TCLIENT" echo -a "$1" -s 16 -t 5 >"$T/refused.out" 2>"$T/refused.err" || _rc=$?
	[ "$_rc" -ne 0 ] && grep -Eq 'Connection refused|No such file or directory' "$T/refused.err"
}

# ------------------------------------------------- (a) notify, (b) SIGTERM
U_ECHO=$T/echo.sock
cat >"$T/term.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 30.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO", "unix:$U_ECHO" ]; service = "echo"; }
);
EOF
start_sockd "$T/term.conf"
# (a) READY=1 (start_sockd waited for it) came with a STATUS= line.
expect_file_match "$NOTIFY_OUT" '^STATUS=.+' "sd_notify messages"
test -S "$U_ECHO" || fail "no socket file at $U_ECHO"

# (b) A client in mid-session: it sends a first line, waits (bounded) for
# the go file, then sends four more and half-closes. socat carries the
# half-close to sockd and prints everything echoed.
cat >"$T/feeder" <<EOF
#!/bin/sh
echo line1
i=0
while [ ! -e "$T/go" ] && [ \$i -lt 300 ]; do
	sleep 0.1
	i=\$((i + 1))
done
for n in 2 3 4 5; do
	echo line\$n
	sleep 0.2
done
EOF
chmod +x "$T/feeder"
start_bg session sh -c "'$T/feeder' | socat -t 30 - TCP:127.0.0.1:$P_ECHO"
session_pid=$BG_PID
wait_for_file_match "$T/session.out" '^line1$' 20

kill -TERM "$SOCKD_PID"
wait_for_file_match "$NOTIFY_OUT" '^STOPPING=1$' 10
wait_for_log '^sockd: stopping' 10
# The listeners close at once: new clients are refused over TCP and Unix.
wait_until 10 refused "tcp:127.0.0.1:$P_ECHO" ||
	fail "a new TCP client was not refused after SIGTERM: $(cat "$T/refused.err")"
wait_until 10 refused "unix:$U_ECHO" ||
	fail "a new Unix client was not refused after SIGTERM: $(cat "$T/refused.err")"
sockd_alive || fail "sockd exited with a client still in session (shutdown_timeout = 30)"

# The session goes on to the end and gets every byte back.
touch "$T/go"
wait_bg "$session_pid" 30 || fail "the client in session failed: $(cat "$T/session.err")"
printf 'line%s\n' 1 2 3 4 5 >"$T/session.want"
cmp "$T/session.want" "$T/session.out" ||
	fail "the client in session got '$(cat "$T/session.out")' instead of line1..line5"

# With no connection left, sockd exits 0 well before shutdown_timeout.
wait_sockd_exit 20 || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after SIGTERM"
expect_file_match "$SOCKD_LOG" '^sockd: stopped$' "sockd's log"
expect_clean_log
# (e) The socket file it created is gone.
test ! -e "$U_ECHO" || fail "sockd left its socket file $U_ECHO behind"

# -------------------------------------------- (c) shutdown_timeout, idle client
cat >"$T/idle.conf" <<EOF
daemon = { workers = 1; shutdown_timeout = 1; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_IDLE" ]; service = "echo"; }
);
EOF
start_sockd "$T/idle.conf"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_IDLE" -s 1000
base=$(settled_fds)
# An idle client that reads until sockd closes the connection.
start_bg idle socat -u "TCP:127.0.0.1:$P_IDLE" -
idle_pid=$BG_PID
wait_until 20 fds_at_least $((base + 1)) ||
	fail "sockd did not accept the idle client ($(fd_count) fds, baseline $base)"

kill -TERM "$SOCKD_PID"
wait_for_file_match "$NOTIFY_OUT" '^STOPPING=1$' 10
# Not an exact duration: it exits by itself, soon after the 1 s timeout.
wait_sockd_exit 10 || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after shutdown_timeout"
expect_file_match "$SOCKD_LOG" '^sockd: stopped$' "sockd's log"
expect_clean_log
# The idle client sees its connection closed.
wait_bg "$idle_pid" 10 || :
expect_eq "$(wc -c <"$T/idle.out" | tr -d ' ')" 0 "bytes to the idle client"

# ------------------------------------------------------------- (d) SIGINT
U_INT=$T/int.sock
cat >"$T/int.conf" <<EOF
daemon = { workers = 1; shutdown_timeout = 60.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_INT", "unix:$U_INT" ]; service = "echo"; }
);
EOF
start_sockd "$T/int.conf"
test -S "$U_INT" || fail "no socket file at $U_INT"
expect_rc 0 "$TCLIENT" echo -a "unix:$U_INT" -s 65536
base=$(settled_fds)
# Clients in session when SIGINT comes finish, as with SIGTERM. tclient
# connects all ten before it sends a byte; SIGINT comes once sockd has them.
start_bg longecho "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_INT" -n 10 -s 65536 -r 20 -t 90
long_pid=$BG_PID
wait_until 20 eval '[ "$(fd_count)" -ge $((base + 10)) ] || ! kill -0 $long_pid 2>/dev/null' ||
	fail "sockd did not accept the 10 clients ($(fd_count) fds, baseline $base)"
# (a background job of a non-interactive shell ignores SIGINT; sockd blocks
# it and reads it from a signalfd, so it must still see it)
kill -INT "$SOCKD_PID"
wait_for_file_match "$NOTIFY_OUT" '^STOPPING=1$' 10
wait_for_log '^sockd: stopping' 10
wait_until 10 refused "tcp:127.0.0.1:$P_INT" ||
	fail "a new client was not refused after SIGINT: $(cat "$T/refused.err")"
wait_sockd_exit 20 || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after SIGINT"
expect_file_match "$SOCKD_LOG" '^sockd: stopped$' "sockd's log"
expect_clean_log
# (e) again.
test ! -e "$U_INT" || fail "sockd left its socket file $U_INT behind"
# The echo-many either finished before the signal or was let finish; a
# client cut off mid-round would fail.
wait_bg "$long_pid" 90 || fail "a client in session during SIGINT failed: $(cat "$T/longecho.err")"

# ------------------------------- (f) thread names and scheduling policy
# thread_policy NAME: the scheduling policy of sockd's thread NAME, as chrt
# prints it.
thread_policy() {
	for _task in /proc/"$SOCKD_PID"/task/*; do
		if [ "$(cat "$_task/comm" 2>/dev/null)" = "$1" ]; then
			chrt -p "${_task##*/}" | sed -n 's/.*scheduling policy: //p'
			return
		fi
	done
	echo "no thread named $1"
}
start_sockd "$T/term.conf"
expect_eq "$(thread_policy sockd-acceptor)" SCHED_BATCH "the acceptor's policy"
expect_eq "$(thread_policy sockd-worker0)" SCHED_OTHER "worker 0's policy"
expect_eq "$(thread_policy sockd-worker1)" SCHED_OTHER "worker 1's policy"
expect_stop_ok
# Started under a policy of the operator's (SCHED_IDLE needs no privilege):
# every thread keeps it.
printf '#!/bin/sh\nexec chrt --idle 0 "%s" "$@"\n' "$SOCKD" >"$T/sockd-idle"
chmod +x "$T/sockd-idle"
SOCKD_BIN=$SOCKD
SOCKD=$T/sockd-idle
start_sockd "$T/term.conf"
SOCKD=$SOCKD_BIN
expect_eq "$(thread_policy sockd-acceptor)" SCHED_IDLE "the acceptor's policy under chrt --idle"
expect_eq "$(thread_policy sockd-worker0)" SCHED_IDLE "worker 0's policy under chrt --idle"
expect_stop_ok
exit 0
