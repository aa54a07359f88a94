#!/bin/sh
# Backpressure: a client that never reads does not grow sockd's memory;
# max_connections holds extra clients in the kernel backlog (or, with
# overload = "reject", closes them at once); running out of file
# descriptors pauses accepting without spinning, is logged once, and
# recovers.
. "$(dirname "$0")/lib.sh"

P_ECHO=$(port 1)
P_WAIT=$(port 2)
P_REJECT=$(port 3)
P_FD=$(port 4)

fd_count() {
	ls "/proc/$SOCKD_PID/fd" 2>/dev/null | wc -l | tr -d ' '
}

fds_at_least() {
	[ "$(fd_count)" -ge "$1" ]
}

fds_at_most() {
	[ "$(fd_count)" -le "$1" ]
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

rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$SOCKD_PID/status"
}

# utime + stime of sockd, in clock ticks.
cpu_ticks() {
	# Field 2 (comm) is in parentheses and may hold spaces: cut after ')'.
	sed 's/.*) //' "/proc/$SOCKD_PID/stat" | awk '{ print $12 + $13 }'
}

# ---------------------------------------------------------------- (a) memory
cat >"$T/mem.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; }
);
EOF
start_sockd "$T/mem.conf"
# Warm up (buffers a first connection allocates), then measure.
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 50 -s 65536
rss0=$(rss_kb)
[ -n "$rss0" ] || fail "cannot read VmRSS of sockd"

# Up to 64 MB toward a client that never reads: tclient stops when nothing
# more goes out for 2 s, prints "sent N", and keeps the connection open.
start_bg noread "$TCLIENT" noread -a "tcp:127.0.0.1:$P_ECHO" -b 67108864 -t 90 -h 60
noread_pid=$BG_PID
wait_for_file_match "$T/noread.out" '^sent [0-9]+$' 100
sent=$(sed -n 's/^sent //p' "$T/noread.out")
rss1=$(rss_kb)
note "noread: sent $sent bytes; sockd VmRSS $rss0 kB -> $rss1 kB"
[ $((rss1 - rss0)) -lt 8192 ] ||
	fail "sockd's VmRSS grew by $((rss1 - rss0)) kB (from $rss0 kB) for a client that does not read"
# Meanwhile everyone else is served.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 1048576 -t 30
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 100 -s 1000 -t 30
rss2=$(rss_kb)
[ $((rss2 - rss0)) -lt 8192 ] ||
	fail "sockd's VmRSS grew by $((rss2 - rss0)) kB (from $rss0 kB) with a client that does not read"
kill -TERM "$noread_pid" 2>/dev/null || :
wait_bg "$noread_pid" 10 || :
expect_clean_log
expect_stop_ok

# ---------------------------------------------- (b) max_connections, (c) reject
cat >"$T/limit.conf" <<EOF
daemon = { workers = 2; max_connections = 20; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "wait"; listen = [ "tcp:127.0.0.1:$P_WAIT" ]; service = "echo"; },
	{ name = "reject"; listen = [ "tcp:127.0.0.1:$P_REJECT" ]; service = "echo";
	  overload = "reject"; }
);
EOF
start_sockd "$T/limit.conf"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_WAIT" -s 1000
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_REJECT" -s 1000
wait_until 10 eval '[ "$(fd_count)" -gt 0 ]' || fail "cannot read /proc/$SOCKD_PID/fd"
base=$(settled_fds)

start_bg hold "$TCLIENT" hold -a "tcp:127.0.0.1:$P_WAIT" -n 20 -t 120
hold_pid=$BG_PID
wait_for_file_match "$T/hold.out" '^held 20$' 30
# All 20 accepted by sockd (an fd each), so the next one is over the limit.
wait_until 20 fds_at_least $((base + 20)) ||
	fail "sockd has $(fd_count) fds with 20 clients held, expected $((base + 20))"

# (b) The 21st connects (the kernel's backlog takes it) but is not served.
start_bg waiter "$TCLIENT" echo -a "tcp:127.0.0.1:$P_WAIT" -s 1000 -t 90
waiter_pid=$BG_PID

# (c) Meanwhile an over-limit client of the "reject" endpoint is accepted
# and closed at once: EOF without a byte (timeout's 124 would mean waiting).
rc=0
timeout 10 socat -u "TCP:127.0.0.1:$P_REJECT" - >"$T/reject.got" 2>"$T/reject.err" || rc=$?
[ "$rc" -ne 124 ] || fail "overload = reject: the extra client was kept waiting"
expect_eq "$rc" 0 "socat to the rejecting endpoint ($(cat "$T/reject.err"))"
expect_eq "$(wc -c <"$T/reject.got" | tr -d ' ')" 0 "bytes to a rejected client"

sleep 1
kill -0 "$waiter_pid" 2>/dev/null ||
	fail "the 21st client ended while 20 were held: $(cat "$T/waiter.out" "$T/waiter.err")"
[ ! -s "$T/waiter.out" ] || fail "the 21st client was served over max_connections = 20"

# The holders go: the waiting client is served.
kill -TERM "$hold_pid" 2>/dev/null || :
wait_bg "$hold_pid" 10 || :
wait_bg "$waiter_pid" 60 || fail "the waiting client failed: $(cat "$T/waiter.err")"
expect_eq "$(cat "$T/waiter.out")" ok "the client that waited for room"

# (c) Under the limit again, the "reject" endpoint serves normally.
wait_until 30 fds_at_most "$base" || fail "sockd still has $(fd_count) fds (baseline $base)"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_REJECT" -s 65536 -t 30
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_REJECT" -n 20 -s 1000 -t 30
expect_clean_log
expect_stop_ok

# ------------------------------------------------------- (d) out of descriptors
# sockd runs with at most 64 open files; about 100 clients wait.
cat >"$T/sockd-lowfd" <<EOF
#!/bin/sh
ulimit -n 64 || exit 1
exec "$SOCKD" "\$@"
EOF
chmod +x "$T/sockd-lowfd"
cat >"$T/fd.conf" <<EOF
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_FD" ]; service = "echo"; }
);
EOF
real_sockd=$SOCKD
SOCKD=$T/sockd-lowfd
start_sockd "$T/fd.conf"
SOCKD=$real_sockd
expect_eq "$(awk '$1 == "Max" && $2 == "open" { print $4 }' "/proc/$SOCKD_PID/limits")" 64 \
	"sockd's open files limit"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_FD" -s 1000

start_bg fdhold "$TCLIENT" hold -a "tcp:127.0.0.1:$P_FD" -n 100 -t 120
fdhold_pid=$BG_PID
wait_for_file_match "$T/fdhold.out" '^held 100$' 30
wait_for_log '^sockd: warning: out of file descriptors' 20

# While the clients wait, sockd must not spin: under 0.5 s of CPU in 3 s.
tck=$(getconf CLK_TCK)
cpu0=$(cpu_ticks)
sleep 3
cpu1=$(cpu_ticks)
note "sockd used $((cpu1 - cpu0)) ticks (CLK_TCK $tck) in 3 s out of file descriptors"
[ $(((cpu1 - cpu0) * 2)) -lt "$tck" ] ||
	fail "sockd used $((cpu1 - cpu0)) ticks of CPU in 3 s while out of file descriptors (CLK_TCK $tck)"
n=$(grep -c '^sockd: warning: out of file descriptors' "$SOCKD_LOG" || :)
expect_eq "$n" 1 "'out of file descriptors' lines for one episode"
sockd_alive || fail "sockd died when it ran out of file descriptors"

# The holders go: sockd accepts again, says so, and serves new clients.
kill -TERM "$fdhold_pid" 2>/dev/null || :
wait_bg "$fdhold_pid" 10 || :
wait_for_log '^sockd: accepting again' 30
ok=no
for _try in 1 2 3 4 5 6 7 8 9 10; do
	if "$TCLIENT" echo -a "tcp:127.0.0.1:$P_FD" -s 65536 -t 10 >"$T/out" 2>"$T/err"; then
		ok=yes
		break
	fi
	sleep 1
done
[ "$ok" = yes ] || fail "no client served after the file descriptor shortage: $(cat "$T/err")"
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_FD" -n 20 -s 1000 -t 30
expect_clean_log 'out of file descriptors'
expect_stop_ok
exit 0
