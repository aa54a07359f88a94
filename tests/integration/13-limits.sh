#!/bin/sh
# Per-endpoint limits: max_connections, max_per_source, the connection rate
# (token bucket), the per-source datagram reply rate, idle_timeout (with a
# slowloris flood of 2,000 idle connections) and lifetime. Over a limit one
# client is refused, the service stays available to the others, and nothing
# stays failed once the pressure is gone.
. "$(dirname "$0")/lib.sh"

P_MAXCONN=$(port 1)
P_PERSRC=$(port 2)
P_RATE=$(port 3)
P_UDPRATE=$(port 4)
P_IDLE=$(port 5)
P_SLOW=$(port 6)
P_LIFE=$(port 7)
SRC_UDP=$(port 50)      # source ports of the UDP clients: +0 .. +19

# The slowloris flood needs 2,000 connections in sockd (tclient raises its
# own limit).
SLOWLORIS=2000
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((SLOWLORIS + 500)) ]; then
	ulimit -n $((SLOWLORIS + 1000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || :
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((SLOWLORIS + 500)) ]; then
	note "ulimit -n is $(ulimit -n): skipping the slowloris check"
	SLOWLORIS=0
fi

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "maxconn"; listen = [ "tcp:127.0.0.1:$P_MAXCONN" ]; service = "echo";
	  max_connections = 5; },
	{ name = "persrc"; listen = [ "tcp:127.0.0.1:$P_PERSRC" ]; service = "echo";
	  max_per_source = 2; },
	{ name = "rate"; listen = [ "tcp:127.0.0.1:$P_RATE" ]; service = "echo";
	  rate = 5; burst = 5; },
	{ name = "udprate"; listen = [ "udp:127.0.0.1:$P_UDPRATE" ]; service = "echo";
	  udp_rate = 2; udp_burst = 2; udp_rate_loopback = true; udp_guard = false; },
	{ name = "idle"; listen = [ "tcp:127.0.0.1:$P_IDLE" ]; service = "echo";
	  idle_timeout = 2; },
	{ name = "slow"; listen = [ "tcp:127.0.0.1:$P_SLOW" ]; service = "echo";
	  idle_timeout = 3; backlog = 4096; },
	{ name = "life"; listen = [ "tcp:127.0.0.1:$P_LIFE" ]; service = "echo";
	  lifetime = 2; }
);
EOF

# served WHAT SOCAT-ADDRESS: an echo round trip works.
served() {
	printf 'hello %s\n' "$2" >"$T/in"
	_rc=0
	timeout 15 socat -t 5 - "$2" <"$T/in" >"$T/got" 2>"$T/socat.err" || _rc=$?
	if [ $_rc != 0 ] || ! cmp -s "$T/in" "$T/got"; then
		fail "$1: socat $2 was not served (status $_rc, got '$(cat "$T/got")'; $(cat "$T/socat.err"))"
	fi
}

# try_served SOCAT-ADDRESS: served, without failing the test.
try_served() {
	printf 'hello %s\n' "$1" >"$T/in"
	timeout 15 socat -t 5 - "$1" <"$T/in" >"$T/got" 2>/dev/null && cmp -s "$T/in" "$T/got"
}

# refused WHAT SOCAT-ADDRESS: accepted and closed at once, nothing sent.
refused() {
	_rc=0
	timeout 8 socat -u "$2" STDOUT </dev/null >"$T/got" 2>"$T/socat.err" || _rc=$?
	[ $_rc != 124 ] || fail "$1: socat $2 was not closed at once (still open after 8 s)"
	[ $_rc = 0 ] || fail "$1: socat $2 could not connect (status $_rc; $(cat "$T/socat.err"))"
	[ ! -s "$T/got" ] || fail "$1: socat $2 was refused but got '$(cat "$T/got")'"
}

# hold_start NAME ADDR N: tclient holds N idle connections until hold_end
# NAME; its stdin is a fifo kept open by a sleep (HOLD_<NAME>_W).
hold_start() {
	mkfifo "$T/$1.fifo"
	start_bg "$1" sh -c 'exec "$0" hold -a "$1" -n "$2" -t 300 <"$3"' \
		"$TCLIENT" "$2" "$3" "$T/$1.fifo"
	eval "HOLD_$1=\$BG_PID"
	start_bg "$1-w" sh -c 'exec sleep 300 >"$0"' "$T/$1.fifo"
	eval "HOLD_$1_W=\$BG_PID"
	wait_for_file_match "$T/$1.out" "^held $3\$" 120
}

# hold_end NAME: close the fifo; tclient closes its connections and says on
# stderr how many the server had closed. Sets HOLD_CLOSED to that number.
hold_end() {
	eval "_w=\$HOLD_$1_W _h=\$HOLD_$1"
	kill -TERM "$_w" 2>/dev/null || :
	wait_bg "$_w" 10 || :
	wait_bg "$_h" 30 || fail "tclient hold $1 failed: $(cat "$T/$1.err")"
	HOLD_CLOSED=$(sed -n 's/^tclient hold: \([0-9]*\) of [0-9]* connections were closed by the server$/\1/p' "$T/$1.err")
	: "${HOLD_CLOSED:=0}"
}

fd_count() {
	ls "/proc/$SOCKD_PID/fd" | wc -l
}

# elapsed START: seconds since START (a `date +%s.%N`), two decimals.
elapsed() {
	awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", e - s }'
}

# expect_between VALUE MIN MAX WHAT: MIN <= VALUE < MAX (decimals allowed).
expect_between() {
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v < hi) }' ||
		fail "$4: $1 s, expected at least $2 s and less than $3 s"
}

start_sockd "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" "^sockd: ready: 7 listeners, 2 workers$"

# ---- max_connections = 5: four held here and one there fill the endpoint.
hold_start maxa "tcp:127.0.0.1:$P_MAXCONN" 4
hold_start maxb "tcp:127.0.0.1:$P_MAXCONN" 1
refused "sixth connection" "TCP:127.0.0.1:$P_MAXCONN"
wait_for_log "^sockd: endpoint maxconn: refused 127\.0\.0\.1:[0-9]+ \(endpoint max_connections reached\)$"
# Other endpoints are not affected.
served "persrc while maxconn is full" "TCP:127.0.0.1:$P_PERSRC"
# One holder leaves: its place is free again (once sockd has seen it go).
hold_end maxb
expect_eq "$HOLD_CLOSED" 0 "connections of maxb closed by sockd"
wait_until 10 try_served "TCP:127.0.0.1:$P_MAXCONN" ||
	fail "maxconn: no client served after a holder left"
hold_end maxa
expect_eq "$HOLD_CLOSED" 0 "connections of maxa closed by sockd"
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_MAXCONN" -n 5 -s 1000

# ---- max_per_source = 2: two held from 127.0.0.2, a third from there is
# refused while 127.0.0.3 is served.
start_bg ps1 socat -u "TCP:127.0.0.1:$P_PERSRC,bind=127.0.0.2" STDOUT
PSRC1=$BG_PID
start_bg ps2 socat -u "TCP:127.0.0.1:$P_PERSRC,bind=127.0.0.2" STDOUT
PSRC2=$BG_PID
persrc_held() {
	[ "$(ss -Htn state established "( dport = :$P_PERSRC and src 127.0.0.2 )" | wc -l)" -ge 2 ]
}
wait_until 10 persrc_held || fail "the two clients from 127.0.0.2 did not connect"
refused "third from 127.0.0.2" "TCP:127.0.0.1:$P_PERSRC,bind=127.0.0.2"
wait_for_log "^sockd: endpoint persrc: refused 127\.0\.0\.2:[0-9]+ \(max_per_source reached\)$"
served "persrc from 127.0.0.3" "TCP:127.0.0.1:$P_PERSRC,bind=127.0.0.3"
served "persrc from 127.0.0.1" "TCP:127.0.0.1:$P_PERSRC,bind=127.0.0.1"
kill -0 "$PSRC1" 2>/dev/null && kill -0 "$PSRC2" 2>/dev/null ||
	fail "a held connection from 127.0.0.2 was closed: $(cat "$T/ps1.err" "$T/ps2.err")"
kill -TERM "$PSRC1"
wait_bg "$PSRC1" || :
wait_until 10 try_served "TCP:127.0.0.1:$P_PERSRC,bind=127.0.0.2" ||
	fail "persrc: 127.0.0.2 not served after one of its connections closed"
kill -TERM "$PSRC2"
wait_bg "$PSRC2" || :

# ---- rate = 5, burst = 5: the full bucket takes 5 at once; a burst of 20
# right after is mostly refused (the bucket holds at most 5 whatever the
# timing); two seconds of quiet refill it.
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_RATE" -n 5 -s 100
hold_start rburst "tcp:127.0.0.1:$P_RATE" 20
sleep 1
hold_end rburst
note "rate: $HOLD_CLOSED of a burst of 20 refused"
[ "$HOLD_CLOSED" -ge 1 ] || fail "rate: none of a burst of 20 connections was refused"
[ "$HOLD_CLOSED" -ge 10 ] || fail "rate: only $HOLD_CLOSED of a burst of 20 connections refused with burst = 5"
wait_for_log "^sockd: endpoint rate: refused 127\.0\.0\.1:[0-9]+ \(over the connection rate\)$"
sleep 2
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_RATE" -n 3 -s 100
served "rate after a quiet time" "TCP:127.0.0.1:$P_RATE"

# ---- udp_rate = 2, udp_burst = 2: ten datagrams at once from 127.0.0.2
# (ten sockets, one address) get at most the burst plus what refills while
# they are sent; 127.0.0.3 is still answered.
i=0
UDP_PIDS=
while [ $i -lt 10 ]; do
	start_bg "udp$i" "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDPRATE" -m "datagram $i" \
		-B "127.0.0.2:$((SRC_UDP + i))" -t 3
	UDP_PIDS="$UDP_PIDS $BG_PID"
	i=$((i + 1))
done
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDPRATE" -m "other source" -B "127.0.0.3:$((SRC_UDP + 10))" -t 3
expect_eq "$(cat "$T/out")" "other source" "udp echo to 127.0.0.3 during the flood from 127.0.0.2"
replies=0
for p in $UDP_PIDS; do
	st=0
	wait_bg "$p" 20 || st=$?
	case $st in
	0) replies=$((replies + 1)) ;;
	3) ;;
	*) fail "tclient dgram failed with status $st" ;;
	esac
done
note "udp_rate: $replies of 10 datagrams answered"
[ $replies -ge 1 ] || fail "udp_rate: no datagram of 127.0.0.2 was answered"
[ $replies -le 5 ] || fail "udp_rate: $replies of 10 datagrams answered with udp_rate = 2, udp_burst = 2"
# Not a permanent state: after a quiet second the source is answered again.
sleep 1.5
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDPRATE" -m "later" -B "127.0.0.2:$((SRC_UDP + 11))" -t 3
expect_eq "$(cat "$T/out")" "later" "udp echo to 127.0.0.2 after a quiet time"

# ---- idle_timeout = 2: a silent client is closed after about 2 s; one
# that sends every 0.5 s for 4 s keeps its connection.
start=$(date +%s.%N)
rc=0
timeout 20 socat -u "TCP:127.0.0.1:$P_IDLE" STDOUT </dev/null >"$T/got" 2>"$T/socat.err" || rc=$?
took=$(elapsed "$start")
[ $rc != 124 ] || fail "idle_timeout: a silent connection was still open after 20 s"
expect_eq "$rc" 0 "socat status of the silent connection ($(cat "$T/socat.err"))"
note "idle_timeout = 2: a silent connection closed after $took s"
expect_between "$took" 1 8 "idle_timeout = 2: a silent connection closed after"

i=1
: >"$T/ticks"
while [ $i -le 8 ]; do
	echo "tick $i" >>"$T/ticks"
	i=$((i + 1))
done
rc=0
(
	i=1
	while [ $i -le 8 ]; do
		echo "tick $i"
		sleep 0.5
		i=$((i + 1))
	done
) | timeout 30 socat -t 5 - "TCP:127.0.0.1:$P_IDLE" >"$T/got" 2>"$T/socat.err" || rc=$?
expect_eq "$rc" 0 "socat status of the active connection ($(cat "$T/socat.err"))"
cmp -s "$T/ticks" "$T/got" ||
	fail "idle_timeout: an active connection lost its echo: got '$(tr '\n' ' ' <"$T/got")'"

# ---- slowloris: 2,000 idle connections (idle_timeout = 3) are all closed
# by sockd in time, while another client is served normally.
if [ $SLOWLORIS -gt 0 ]; then
	base=$(fd_count)
	hold_start slow "tcp:127.0.0.1:$P_SLOW" $SLOWLORIS
	flood_open() {
		[ "$(fd_count)" -ge $((base + SLOWLORIS / 2)) ]
	}
	wait_until 10 flood_open || fail "slowloris: sockd has $(fd_count) fds, baseline $base"
	note "slowloris: sockd has $(fd_count) fds (baseline $base)"
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_SLOW" -s 100000 -t 10
	expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_SLOW" -n 20 -s 1000 -t 10
	served "slow during the flood" "TCP:127.0.0.1:$P_SLOW"
	flood_gone() {
		[ "$(fd_count)" -le "$base" ]
	}
	wait_until 15 flood_gone ||
		fail "slowloris: sockd still has $(fd_count) fds 15 s after the flood (baseline $base)"
	hold_end slow
	expect_eq "$HOLD_CLOSED" $SLOWLORIS "idle connections closed by sockd"
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_SLOW" -s 1000
fi

# ---- lifetime = 2: even a busy connection ends after about 2 s.
start=$(date +%s.%N)
rc=0
(
	i=1
	while [ $i -le 100 ]; do
		echo "busy $i"
		sleep 0.1
		i=$((i + 1))
	done
) 2>/dev/null | timeout 30 socat -t 1 - "TCP:127.0.0.1:$P_LIFE" >"$T/got" 2>"$T/socat.err" || rc=$?
took=$(elapsed "$start")
[ $rc != 124 ] || fail "lifetime: the connection was still open after 30 s"
note "lifetime = 2: a busy connection closed after $took s"
expect_between "$took" 1 8 "lifetime = 2: a busy connection closed after"
lines=$(wc -l <"$T/got" | tr -d ' ')
[ "$lines" -ge 3 ] || fail "lifetime: only $lines lines echoed before the end"
[ "$lines" -lt 100 ] || fail "lifetime: all 100 lines echoed: the connection was not cut"
served "life after a cut" "TCP:127.0.0.1:$P_LIFE"

expect_stop_ok
expect_clean_log
exit 0
