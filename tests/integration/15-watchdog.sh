#!/bin/sh
# Watchdog: with WATCHDOG_USEC set, sockd sends WATCHDOG=1 every
# WATCHDOG_USEC/2 while the acceptor and every worker answer. A worker
# stuck in a connection (fault injection: SOCKD_FAULT_STALL_MS and an
# endpoint named "fault-stall") stops the pings, with a warning, while the
# other worker goes on serving; when it recovers the pings resume. Without
# WATCHDOG_USEC (or for another process's WATCHDOG_PID) nothing is sent.
. "$(dirname "$0")/lib.sh"

P_ECHO=$(port 1)
P_STALL=$(port 2)
STALL_MS=3000

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 5.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; },
	{ name = "fault-stall"; listen = [ "tcp:127.0.0.1:$P_STALL" ]; service = "echo"; }
);
EOF

count_lines() {
	grep -Ec -- "$2" "$1" 2>/dev/null || :
}

pings() {
	count_lines "$NOTIFY_OUT" '^WATCHDOG=1$'
}

# Seconds since the epoch, with fractions.
now() {
	date +%s.%N
}

# elapsed SINCE: seconds from SINCE to now, as a decimal.
elapsed() {
	echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'
}

# sleep_until SINCE SECS: sleep until SECS after SINCE (at once if past).
sleep_until() {
	_left=$(echo "$(now) $1 $2" | awk '{ d = $2 + $3 - $1; printf "%.3f", (d > 0 ? d : 0) }')
	sleep "$_left"
}

# ---- 1. WATCHDOG_USEC=400000: a ping every 0.2 s.
WATCHDOG_USEC=400000
SOCKD_FAULT_STALL_MS=$STALL_MS
export WATCHDOG_USEC SOCKD_FAULT_STALL_MS
start_sockd "$T/sockd.conf"
wait_until 10 eval '[ "$(pings)" -ge 5 ]' ||
	fail "only $(pings) WATCHDOG=1 within 10 s of READY=1 with WATCHDOG_USEC=400000"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 65536 -t 30
if grep -E 'did not answer the watchdog' "$SOCKD_LOG" >&2; then
	fail "watchdog warning while every thread was idle"
fi

# ---- 2. A worker stalls for 3 s in a fault-stall connection.
start_bg stall "$TCLIENT" echo -a "tcp:127.0.0.1:$P_STALL" -s 1000 -t 60
STALL_PID=$BG_PID
wait_for_log "^sockd: warning: worker [0-9]+: stalling $STALL_MS ms" 10
t0=$(now)
# From about 0.4 s into the stall (two ticks), no thread set may count as alive.
sleep_until "$t0" 0.5
before=$(pings)
at_before=$(elapsed "$t0")
# Meanwhile the other worker serves the other endpoint.
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 10 -s 1000 -r 2 -t 30
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 65536 -t 30
served_at=$(elapsed "$t0")
stall_running=no
if kill -0 "$STALL_PID" 2>/dev/null; then
	stall_running=yes
fi
sleep_until "$t0" 2.0
after=$(pings)
at_after=$(elapsed "$t0")
note "WATCHDOG=1 count: $before at +$at_before s, $after at +$at_after s of the stall; other endpoint served by +$served_at s"
# The window must lie inside the stall (with 0.8 s to spare) for the counts
# to mean anything; only a badly overloaded machine misses that.
if awk -v a="$at_after" 'BEGIN { exit !(a < 2.2) }'; then
	expect_eq "$after" "$before" "WATCHDOG=1 count during the stall (+$at_before s .. +$at_after s)"
	expect_eq "$stall_running" yes "the stalled client still waiting after the other endpoint was served"
else
	note "the machine is too slow: the window ended at +$at_after s; not judging the pings inside the stall"
fi
wait_for_log '^sockd: warning: a thread did not answer the watchdog in time: not notifying systemd$' 10
# The stall ends; the stalled connection is served after all, and the pings resume.
wait_bg "$STALL_PID" 30 || fail "the client of the stalled worker failed: $(cat "$T/stall.err")"
expect_eq "$(cat "$T/stall.out")" ok "echo through the stalled worker"
resumed=$(pings)
wait_until 10 eval '[ "$(pings)" -ge $((resumed + 3)) ]' ||
	fail "WATCHDOG=1 did not resume after the stall: $(pings) pings, $resumed when it ended"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_STALL" -s 65536 -t 30
expect_stop_ok
expect_clean_log 'stalling [0-9]+ ms|did not answer the watchdog'
# Only the one stall: every warning came within its 3 s (at 0.2 s per tick,
# a few more than 15 would mean the pings stayed off after it).
n_warn=$(count_lines "$SOCKD_LOG" 'did not answer the watchdog')
[ "$n_warn" -le 25 ] || fail "$n_warn watchdog warnings for one 3 s stall"

# ---- 3. Without WATCHDOG_USEC, and with a WATCHDOG_PID that is not sockd's:
# no WATCHDOG=1 at all.
unset WATCHDOG_USEC SOCKD_FAULT_STALL_MS
for run in unset otherpid; do
	if [ "$run" = otherpid ]; then
		WATCHDOG_USEC=400000
		WATCHDOG_PID=1
		export WATCHDOG_USEC WATCHDOG_PID
	fi
	start_sockd "$T/sockd.conf"
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 65536 -t 30
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_STALL" -s 65536 -t 30
	sleep 1.5
	expect_eq "$(pings)" 0 "WATCHDOG=1 count ($run)"
	expect_stop_ok
	expect_eq "$(pings)" 0 "WATCHDOG=1 count ($run)"
	expect_clean_log
done
exit 0
