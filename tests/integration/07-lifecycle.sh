#!/bin/sh
# Lifecycle: sd_notify READY=1/STATUS=/STOPPING=1; SIGTERM closes the
# listeners at once and lets a client in mid-session finish; an idle
# connection is cut after shutdown_timeout; SIGINT is SIGTERM; socket files
# sockd created are removed when it exits; threads are named, and the
# acceptor runs SCHED_BATCH unless the operator chose a policy.
# (g) A SIGHUP flood while a large configuration loads: sockd survives,
# serves, and reloads once started. (h) SIGUSR1 logs a summary, SIGUSR2
# (an upgrade) is refused under systemd, SIGALRM is ignored, SIGQUIT stops
# like SIGTERM, leaving no socket
# file behind. (i) An exec program runs in a session of its own.
. "$(dirname "$0")/lib.sh"

P_ECHO=$(port 1)
P_IDLE=$(port 2)
P_INT=$(port 3)
P_BIG=$(port 4)
P_SIG=$(port 5)
P_SESS=$(port 6)

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

# ------------------------------- (g) SIGHUP while the configuration loads
# About 2.4 MB in five files (each under the 1 MiB a configuration file may
# have): four fragments in include_dir, each an endpoint with an allow list
# of 25,000 addresses, which sockd takes a good fraction of a second to read.
mkdir "$T/big.d"
cat >"$T/big.conf" <<EOF
daemon = { workers = 1; include_dir = "$T/big.d"; };
endpoints = ( { name = "big"; listen = [ "tcp:127.0.0.1:$P_BIG" ]; service = "echo"; } );
EOF
for k in 1 2 3 4; do
	awk -v k="$k" -v port="$(port $((10 + k)))" 'BEGIN {
		printf "endpoints = ( { name = \"big%d\"; listen = [ \"tcp:127.0.0.1:%s\" ]; service = \"echo\";\n  allow = [ \"127.0.0.0/8\"", k, port
		for (i = 0; i < 25000; i++)
			printf ",\n    \"10.%d.%d.%d/32\"", k, int(i / 256) % 256, i % 256
		printf " ]; } );\n"
	}' >"$T/big.d/$k.conf"
done
: >"$SOCKD_LOG"
"$TCLIENT" notify -p "$T/big-notify.sock" -t 120 >"$T/big-notify.out" 2>"$T/big-notify.err" &
big_notify=$!
_track "$big_notify"
wait_until 10 test -S "$T/big-notify.sock" || fail "notify listener did not start"
NOTIFY_SOCKET=$T/big-notify.sock "$SOCKD" -F -f "$T/big.conf" 2>"$SOCKD_LOG" &
SOCKD_PID=$!
_track "$SOCKD_PID"
# Wait (busy, bounded) until sockd is reading its configuration: main() has
# begun, and the old sockd blocked no signal yet.
i=0
# The first SIGHUP goes the moment one of the files is seen open, since
# there are gaps between the files.
seen=0
while [ $i -lt 3000 ]; do
	if ls -l "/proc/$SOCKD_PID/fd" 2>/dev/null | grep -q "$T/big"; then
		kill -HUP "$SOCKD_PID" 2>/dev/null && seen=1
		break
	fi
	grep -qx 'READY=1' "$T/big-notify.out" && break
	i=$((i + 1))
done
if [ $seen = 0 ]; then
	stop_sockd || :
	skip "never saw sockd reading its configuration (the window was missed)"
fi
# A flood of SIGHUP until sockd is ready (bounded).
hups=0
while [ $hups -lt 500 ] && ! grep -qx 'READY=1' "$T/big-notify.out"; do
	kill -HUP "$SOCKD_PID" 2>/dev/null || break
	hups=$((hups + 1))
	sleep 0.01
done
note "sent $hups SIGHUP during start-up"
if ! sockd_alive; then
	st=0
	wait "$SOCKD_PID" || st=$?
	_untrack "$SOCKD_PID"
	SOCKD_PID=
	fail "sockd died of SIGHUP during start-up (status $st)"
fi
wait_until 30 grep -qx 'READY=1' "$T/big-notify.out" || fail "sockd sent no READY=1 after the SIGHUP flood"
# The SIGHUP that came during start-up was kept, and acted on once started.
wait_for_log '^sockd: reloaded: 5 endpoints' 30
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_BIG" -s 1000
expect_stop_ok
kill -TERM "$big_notify" 2>/dev/null || :
wait "$big_notify" 2>/dev/null || :
_untrack "$big_notify"
rm -rf "$T/big.conf" "$T/big.d"

# ------------------------------- (h) SIGUSR1, SIGUSR2, SIGALRM, SIGQUIT
U_SIG=$T/sig.sock
CTL=$T/ctl.sock
cat >"$T/sig.conf" <<EOF
daemon = { workers = 2; control = "$CTL"; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_SIG", "unix:$U_SIG" ]; service = "echo"; }
);
EOF
start_sockd "$T/sig.conf"
test -S "$U_SIG" || fail "no socket file at $U_SIG"
test -S "$CTL" || fail "no control socket at $CTL"
expect_rc 0 "$TCLIENT" echo -a "unix:$U_SIG" -s 1000
# SIGUSR1: a summary of what runs, and sockd goes on.
kill -USR1 "$SOCKD_PID"
wait_for_log '^sockd: summary: up [0-9]+d[0-9]{2}h[0-9]{2}m[0-9]{2}s, 1 endpoints, 2 listeners, 2 workers \(0 retiring\), [0-9]+ active connections, [0-9]+ served, last reload none$'
wait_for_log "^sockd: summary: endpoint echo service=echo listen=tcp:127\.0\.0\.1:$P_SIG,unix:$U_SIG active=0 accepted=1 refused=0 failed=0 datagrams_in=0\$"
# SIGUSR2: a binary upgrade, refused under systemd (NOTIFY_SOCKET is set:
# 44-upgrade.sh does it without). SIGALRM: ignored.
kill -USR2 "$SOCKD_PID"
wait_for_log "^sockd: warning: upgrade refused: sockd runs under systemd: use 'systemctl restart'"
kill -ALRM "$SOCKD_PID"
# Signals are read in order: once a later SIGUSR1 is answered, ALRM was seen.
kill -USR1 "$SOCKD_PID"
wait_until 10 eval '[ "$(grep -c "^sockd: summary: up" "$SOCKD_LOG")" -ge 2 ]' || fail "no second summary"
sockd_alive || fail "sockd did not survive SIGUSR1, SIGUSR2 and SIGALRM"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_SIG" -s 1000
expect_rc 0 "$TCLIENT" echo -a "unix:$U_SIG" -s 1000
# SIGQUIT: a graceful stop, exit 0, no socket file left.
kill -QUIT "$SOCKD_PID"
wait_sockd_exit 20 || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after SIGQUIT"
expect_file_match "$SOCKD_LOG" '^sockd: SIGQUIT received$' "sockd's log"
expect_file_match "$SOCKD_LOG" '^sockd: stopped$' "sockd's log"
expect_clean_log 'upgrade refused'
test ! -e "$U_SIG" || fail "sockd left its socket file $U_SIG behind after SIGQUIT"
test ! -e "$CTL" || fail "sockd left its control socket $CTL behind after SIGQUIT"

# ------------------------------- (i) exec programs run in their own session
cat >"$T/sess.conf" <<EOF
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "sess"; listen = [ "tcp:127.0.0.1:$P_SESS" ]; service = "exec";
	  command = [ "/bin/sh", "-c", "echo pid \$\$; exec sleep 60" ]; }
);
EOF
start_sockd "$T/sess.conf"
start_bg sess socat -u "TCP:127.0.0.1:$P_SESS" STDOUT
sess_client=$BG_PID
wait_for_file_match "$T/sess.out" '^pid [0-9]+$' 20
child=$(sed -n 's/^pid //p' "$T/sess.out")
# /proc/PID/stat: comm may hold spaces; the fields after ")" are state,
# ppid, pgrp, session.
stat_field() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f"$2"
}
expect_eq "$(stat_field "$child" 2)" "$SOCKD_PID" "the program's parent"
[ "$(stat_field "$child" 4)" != "$(stat_field "$SOCKD_PID" 4)" ] ||
	fail "the program shares sockd's session $(stat_field "$SOCKD_PID" 4)"
expect_eq "$(stat_field "$child" 4)" "$child" "the program's session (its own)"
expect_eq "$(stat_field "$child" 3)" "$child" "the program's process group (its own)"
# sockd still stops it on shutdown.
expect_stop_ok
kill -0 "$child" 2>/dev/null && fail "the program ($child) outlived sockd"
wait_bg "$sess_client" 10 || :
exit 0
