#!/bin/sh
# A UDP forward session flood must not take stream service or established
# clients down (issue 14, section 1). sockd runs with 2048 open files; one
# datagram comes to a UDP forward endpoint from each of 10,000 source
# ports (500 from each of 20 loopback addresses) while a client keeps
# using its session. Afterwards:
#  - TCP echo beside it answers at once (the sessions stayed within their
#    budget: no "out of file descriptors");
#  - the established client was answered, before and after the flood, by
#    the one session it opened (no other session opened or closed for it);
#  - a new UDP client is served, by the flooded endpoint and by another UDP
#    forward endpoint (each has its part of the budget);
#  - status shows the evictions (per source and by the budget), and the
#    metrics show them by reason;
#  - the evictions were logged, a few lines only.
#  - at debug, each session's start and end are logged with its counts
#    (issue 14, section 5).
. "$(dirname "$0")/lib.sh"

: "${SOCKCTL:=$top_builddir/src/sockctl}"
[ -x "$SOCKCTL" ] || fail "no sockctl binary at $SOCKCTL"

P_UP=$(port 1)          # udp echo, the upstream
P_FWD=$(port 2)         # udp forward on 127.0.0.77
P_TCP=$(port 3)         # tcp echo on 127.0.0.77
P_METRICS=$(port 4)
P_FWD2=$(port 5)        # another udp forward, on 127.0.0.78
CTL=$T/control.sock
CONF=$T/sockd.conf
SOURCES=20
PER_SOURCE=500

cat >"$CONF" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
	control = "$CTL";
	log_level = "debug";
};
endpoints = (
	{ name = "up"; service = "echo"; listen = [ "udp:127.0.0.1:$P_UP" ]; udp_rate = 0.0; },
	{ name = "fwd"; service = "forward"; listen = [ "udp:127.0.0.77:$P_FWD" ];
	  upstream = [ "udp:127.0.0.1:$P_UP" ]; },
	{ name = "fwd2"; service = "forward"; listen = [ "udp:127.0.0.78:$P_FWD2" ];
	  upstream = [ "udp:127.0.0.1:$P_UP" ]; },
	{ name = "tcp"; service = "echo"; listen = [ "tcp:127.0.0.77:$P_TCP" ]; },
	{ name = "metrics"; service = "metrics"; listen = [ "tcp:127.0.0.1:$P_METRICS" ]; }
);
EOF

# For sockd and every client of this script: both the soft and the hard
# limit, so sockd cannot raise it.
ulimit -n 2048 || skip "cannot set the open files limit to 2048"
[ "$(ulimit -n)" = 2048 ] || skip "open files limit is $(ulimit -n), not 2048"

ctl() {
	"$SOCKCTL" -S "$CTL" "$@"
}

# num KEY: the first number called KEY in the endpoint "fwd" of a status.
num() {
	sed 's/{"name":"/\n{"name":"/g' "$T/status" | grep '^{"name":"fwd"' | head -n 1 |
		grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2
}

start_sockd "$CONF"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.77:$P_TCP" -s 100 -t 2

# The established client, on its own address.
start_bg keep "$TCLIENT" dgram-keep -a "udp:127.0.0.77:$P_FWD" -B 127.0.0.2:0 -n 3000 -h 0.1 \
	-p "$T/keep.stop" -t 200
KEEP_PID=$BG_PID
wait_for_file_match "$T/keep.out" '^4 ok$' 20
KEEP_PORT=$(sed -n 's/^port //p' "$T/keep.out")
[ -n "$KEEP_PORT" ] || fail "the keeping client printed no port"
note "established client 127.0.0.2:$KEEP_PORT answered; flooding"

i=0
while [ $i -lt $SOURCES ]; do
	expect_rc 0 "$TCLIENT" dgram-flood -a "udp:127.0.0.77:$P_FWD" -B "127.0.0.$((10 + i)):0" \
		-n $PER_SOURCE -t 60
	i=$((i + 1))
done
# Stream service is there at once.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.77:$P_TCP" -s 100 -t 2
ctl --json status >"$T/status" || fail "status: $(cat "$T/status")"
note "after the flood: $(sed 's/{"name":"/\n{"name":"/g' "$T/status" | grep '^{"name":"fwd"')"
# A new UDP client is served.
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.77:$P_FWD" -B 127.0.0.3:0 -m "new client" -t 2
expect_eq "$(cat "$T/out")" "new client" "reply to a new UDP client"
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.78:$P_FWD2" -B 127.0.0.3:0 -m "other endpoint" -t 2
expect_eq "$(cat "$T/out")" "other endpoint" "reply to a new client of the other UDP forward endpoint"

# The established client goes on, then ends with 5 answered datagrams.
touch "$T/keep.stop"
wait_bg "$KEEP_PID" 30 || fail "the established client lost its replies: $(tail -n 12 "$T/keep.out")"
note "established client: $(tail -n 1 "$T/keep.out")"
# One session for it all along: opened once, never ended.
expect_eq "$(grep -c "udp-session endpoint=fwd peer=127.0.0.2:$KEEP_PORT opened" "$SOCKD_LOG")" 1 \
	"sessions opened for the established client"
expect_eq "$(grep -c "udp-session endpoint=fwd peer=127.0.0.2:$KEEP_PORT in=" "$SOCKD_LOG")" 0 \
	"sessions of the established client that ended"

ctl --json status >"$T/status" || fail "status: $(cat "$T/status")"
DIN=$(num datagrams_in)
SRC=$(num source)
BUDGET=$(num budget)
note "fwd: datagrams_in=$DIN evicted source=$SRC budget=$BUDGET"
[ "$DIN" -ge 9000 ] || fail "only $DIN datagrams reached sockd: the flood did not happen"
[ "$SRC" -ge 2000 ] || fail "evicted by udp_sessions_per_source: $SRC"
[ "$BUDGET" -gt 0 ] || fail "no session was evicted by the budget"
# The budget is 2048 / 4; fwd has its part (512 / 4) and the pool (256).
OPEN=$(grep -o '"udp_sessions":{"open":[0-9]*,"budget":[0-9]*' "$T/status")
expect_eq "$OPEN" '"udp_sessions":{"open":385,"budget":512' "sessions open and the budget"
expect_eq "$(num udp_sessions)" 384 "sessions of the flooded endpoint"
ctl status >"$T/table" || fail "status"
expect_file_match "$T/table" '^fwd: .*sessions ended for new clients: source [0-9]+, budget [0-9]+' \
	"evictions in the status table"
expect_file_match "$T/table" '^datagram forward sessions 385/512$' "sessions in the status table"

expect_rc 0 curl -s "http://127.0.0.1:$P_METRICS/metrics"
expect_file_match "$T/out" "^sockd_endpoint_udp_sessions_evicted_total\\{endpoint=\"fwd\",reason=\"source\"\\} $SRC\$"
expect_file_match "$T/out" '^sockd_endpoint_udp_sessions_evicted_total\{endpoint="fwd",reason="budget"\} [1-9][0-9]*$'
expect_file_match "$T/out" '^sockd_udp_sessions_max 512$'

# Told, but not once per client.
LINES=$(grep -c 'endpoint fwd: .*this one included: [0-9]* sessions ended, [0-9]* clients ignored' "$SOCKD_LOG")
[ "$LINES" -ge 1 ] && [ "$LINES" -le 10 ] || fail "$LINES lines about evictions"
if grep -q 'out of file descriptors' "$SOCKD_LOG"; then
	fail "sockd ran out of file descriptors"
fi

# Sessions are logged at debug when they open and end, with their counts.
expect_file_match "$SOCKD_LOG" \
	'^sockd: debug: udp-session endpoint=fwd peer=127\.0\.0\.[0-9]+:[0-9]+ in=1/5 out=[01]/[05] duration=[0-9.]+s outcome=evicted-source$'
expect_file_match "$SOCKD_LOG" \
	'^sockd: debug: udp-session endpoint=fwd peer=127\.0\.0\.[0-9]+:[0-9]+ in=1/5 out=[01]/[05] duration=[0-9.]+s outcome=evicted-budget$'
expect_stop_ok
# The established client's session ends with sockd, having carried it all.
expect_file_match "$SOCKD_LOG" \
	"^sockd: debug: udp-session endpoint=fwd peer=127\\.0\\.0\\.2:$KEEP_PORT in=[1-9][0-9]*/[1-9][0-9]* out=[1-9][0-9]*/[1-9][0-9]* duration=[0-9.]+s outcome=closed\$"
