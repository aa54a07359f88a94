#!/bin/sh
# Clients that misbehave do not leak: 10,000 of them reset mid-stream,
# half-close, or vanish with unread data, and afterwards sockd's fd count is
# back to its baseline, its memory has not grown, and it still serves. Then
# a full queue (queue = 1, one worker kept busy by chargen readers): new
# clients wait in the backlog and are all served in the end, while the
# existing clients keep their service.
. "$(dirname "$0")/lib.sh"

P_ECHO=$(port 1)
P_CHARGEN=$(port 2)
P_ECHO2=$(port 3)

BATCHES=10
RST_PER_BATCH=400       # tclient connect-rst: connect, send, RST
HALF_PER_BATCH=300      # tclient echo: connect, send, shut down writing, read the echo
VANISH_PER_BATCH=300    # tclient noread: connect, send, close without reading
LOOPS=3                 # the per-process kinds run in this many parallel loops

fd_count() {
	ls "/proc/$SOCKD_PID/fd" | wc -l
}

rss_kb() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$SOCKD_PID/status"
}

# client_loop KIND N: N clients of KIND one after another; stops at the
# first failure, with its message on stderr.
client_loop() {
	_i=0
	while [ "$_i" -lt "$2" ]; do
		case $1 in
		half)
			"$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 2000 -t 20 >/dev/null || return 1
			;;
		vanish)
			"$TCLIENT" noread -a "tcp:127.0.0.1:$P_ECHO" -b 3000 -t 20 >/dev/null || return 1
			;;
		esac
		_i=$((_i + 1))
	done
}

# batch B: one batch of RST_PER_BATCH + HALF_PER_BATCH + VANISH_PER_BATCH
# clients, all kinds at the same time.
batch() {
	_pids=
	start_bg "rst$1" "$TCLIENT" connect-rst -a "tcp:127.0.0.1:$P_ECHO" -n $RST_PER_BATCH -t 120
	_pids="$_pids $BG_PID"
	_l=0
	while [ $_l -lt $LOOPS ]; do
		start_bg "half$1-$_l" client_loop half $((HALF_PER_BATCH / LOOPS))
		_pids="$_pids $BG_PID"
		start_bg "vanish$1-$_l" client_loop vanish $((VANISH_PER_BATCH / LOOPS))
		_pids="$_pids $BG_PID"
		_l=$((_l + 1))
	done
	for _p in $_pids; do
		wait_bg "$_p" 300 || {
			cat "$T"/rst"$1".err "$T"/half"$1"-*.err "$T"/vanish"$1"-*.err >&2
			fail "batch $1: a misbehaving client failed"
		}
	done
}

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; }
);
EOF

start_sockd "$T/sockd.conf"
fd_settled() {
	[ "$(fd_count)" -le "$fd_base" ]
}
fd_base=$(fd_count)
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 50 -s 1000
wait_until 10 fd_settled || fail "sockd has $(fd_count) fds after 50 echo clients, $fd_base before"
rss_start=$(rss_kb)
note "baseline: $fd_base fds, VmRSS $rss_start kB"

b=1
while [ $b -le $BATCHES ]; do
	batch $b
	if [ $b = 1 ]; then
		# Allocator arenas and caches are warm now: the reference for memory.
		wait_until 30 fd_settled || :
		rss_warm=$(rss_kb)
		note "after batch 1: $(fd_count) fds, VmRSS $rss_warm kB"
	fi
	b=$((b + 1))
done
total=$((BATCHES * (RST_PER_BATCH + HALF_PER_BATCH / LOOPS * LOOPS + VANISH_PER_BATCH / LOOPS * LOOPS)))
note "$total misbehaving clients done"
sockd_alive || fail "sockd died during the churn"

wait_until 30 fd_settled ||
	fail "sockd has $(fd_count) fds 30 s after $total clients went away, $fd_base before"
rss_end=$(rss_kb)
note "after the churn: $(fd_count) fds, VmRSS $rss_end kB"
# (A sanitizer's quarantine keeps freed memory for a while: not there.)
if sockd_sanitized; then
	note "memory not checked: sockd is built with a sanitizer"
else
	[ "$rss_end" -lt $((rss_warm + 4096)) ] ||
		fail "sockd's VmRSS grew from $rss_warm kB (after batch 1) to $rss_end kB"
fi

expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 100000
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 100 -s 1000 -r 3
wait_until 30 fd_settled || fail "sockd has $(fd_count) fds after the last clients, $fd_base before"
expect_stop_ok
expect_clean_log

# ---- the queue is full: one worker, a queue of one, chargen readers that
# keep the worker writing.
cat >"$T/queue.conf" <<EOF
daemon = {
	workers = 1;
	queue = 1;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "chargen"; listen = [ "tcp:127.0.0.1:$P_CHARGEN" ]; service = "chargen"; },
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO2" ]; service = "echo"; }
);
EOF
start_sockd "$T/queue.conf"
expect_file_match "$SOCKD_LOG" "^sockd: ready: 2 listeners, 1 workers$"
READERS=
i=0
while [ $i -lt 8 ]; do
	start_bg "chargen$i" "$TCLIENT" chargen -a "tcp:127.0.0.1:$P_CHARGEN" -b 200000000 -t 150
	READERS="$READERS $BG_PID"
	i=$((i + 1))
done
readers_connected() {
	[ "$(ss -Htn state established "( dport = :$P_CHARGEN )" | wc -l)" -ge 8 ]
}
wait_until 20 readers_connected || fail "the chargen readers did not all connect"
# All at once: 200 connects while the worker is busy and the queue holds one.
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO2" -n 200 -s 2000 -r 2 -t 120
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO2" -n 200 -s 100 -t 120
i=0
for p in $READERS; do
	wait_bg "$p" 200 || fail "chargen reader $i failed: $(cat "$T/chargen$i.err")"
	i=$((i + 1))
done
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO2" -s 1000
expect_stop_ok
expect_clean_log
exit 0
