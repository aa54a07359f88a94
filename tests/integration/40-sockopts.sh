#!/bin/sh
# Socket options per endpoint (issue 17), read back with getsockopt() on
# sockd's own sockets (tests/integration/sockpeek copies them with
# pidfd_getfd): the listening socket and an accepted one carry what the
# configuration says; two sockd share one address with reuseport (and
# cannot without it); a reload changes what a kept socket can change and
# warns about what it cannot; -nv prints the keys; bad values and keys on
# the wrong kind of address are file:line errors.
. "$(dirname "$0")/lib.sh"

: "${SOCKPEEK:=$top_builddir/tests/integration/sockpeek}"
[ -x "$SOCKPEEK" ] || fail "no sockpeek at $SOCKPEEK"

P_TCP=$(port 1)
P_UDP=$(port 2)
P_PLAIN=$(port 3)
CONF=$T/sockd.conf

# The kernel doubles SO_RCVBUF/SO_SNDBUF (socket(7)), after capping the
# request at net.core.rmem_max/wmem_max.
doubled() {
	_max=$(cat "/proc/sys/net/core/$2")
	[ "$1" -le "$_max" ] || set -- "$_max"
	echo $(($1 * 2))
}

RCV=40000
SND=50000
REUSE=true
write_conf() {
	cat >"$CONF.new" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "opts"; listen = [ "tcp:127.0.0.1:$P_TCP" ]; service = "echo";
	  reuseport = $REUSE; rcvbuf = $RCV; sndbuf = $SND; },
	{ name = "dg"; listen = [ "udp:127.0.0.1:$P_UDP" ]; service = "echo";
	  reuseport = true; rcvbuf = 30000; },
	{ name = "plain"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "echo"; }
);
EOF2
	mv "$CONF.new" "$CONF"
}

# peek PORT KIND: sockpeek's line for sockd's KIND (listen|conn) socket on PORT.
peek() {
	_rc=0
	"$SOCKPEEK" "$SOCKD_PID" "$1" >"$T/peek.out" 2>"$T/peek.err" || _rc=$?
	[ "$_rc" != 77 ] || skip "cannot read sockd's sockets here: $(cat "$T/peek.err")"
	grep "^$2 " "$T/peek.out" | head -n 1
}

has_conn() {
	[ -n "$(peek "$1" conn)" ]
}

# opt LINE NAME: the value of NAME=... in a sockpeek line.
opt() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

write_conf
expect_rc 0 "$SOCKD" -n -v -f "$CONF"
expect_file_match "$T/out" '^    reuseport = true;' "-nv output"
expect_file_match "$T/out" "^    rcvbuf = $RCV;" "-nv output"
expect_file_match "$T/out" "^    sndbuf = $SND;" "-nv output"
expect_file_match "$T/out" '^    rcvbuf = 0;' "-nv output (the default)"

start_sockd "$CONF"

note "listening sockets"
L=$(peek "$P_TCP" listen)
[ -n "$L" ] || fail "no listening socket of sockd on port $P_TCP: $(cat "$T/peek.out" "$T/peek.err")"
expect_eq "$(opt "$L" reuseport)" 1 "SO_REUSEPORT of the tcp listener"
expect_eq "$(opt "$L" rcvbuf)" "$(doubled $RCV rmem_max)" "SO_RCVBUF of the tcp listener"
expect_eq "$(opt "$L" sndbuf)" "$(doubled $SND wmem_max)" "SO_SNDBUF of the tcp listener"
U=$(peek "$P_UDP" listen)
[ -z "$U" ] && U=$(grep '^conn udp' "$T/peek.out" | head -n 1)
expect_eq "$(opt "$U" reuseport)" 1 "SO_REUSEPORT of the udp socket"
expect_eq "$(opt "$U" rcvbuf)" "$(doubled 30000 rmem_max)" "SO_RCVBUF of the udp socket"
P=$(peek "$P_PLAIN" listen)
expect_eq "$(opt "$P" reuseport)" 0 "SO_REUSEPORT of a listener without the key"

note "an accepted socket inherits them"
start_bg hold "$TCLIENT" hold -a "tcp:127.0.0.1:$P_TCP" -n 1 -t 60
HOLD=$BG_PID
wait_until 10 has_conn "$P_TCP" || fail "sockd has no accepted socket on port $P_TCP"
C=$(peek "$P_TCP" conn)
expect_eq "$(opt "$C" rcvbuf)" "$(doubled $RCV rmem_max)" "SO_RCVBUF of an accepted socket"
expect_eq "$(opt "$C" sndbuf)" "$(doubled $SND wmem_max)" "SO_SNDBUF of an accepted socket"
kill "$HOLD" 2>/dev/null || :
wait_bg "$HOLD" || :

note "a second sockd shares the address with reuseport, serves it, and cannot without"
SOCKD_PID_1=$SOCKD_PID
SECOND=$T/second.conf
cat >"$SECOND" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = ( { name = "twin"; listen = [ "tcp:127.0.0.1:$P_TCP" ]; service = "daytime";
	reuseport = true; } );
EOF2
NOTIFY_SOCKET= "$SOCKD" -F -f "$SECOND" 2>"$T/second.log" &
TWIN=$!
_track "$TWIN"
wait_for_file_match "$T/second.log" "listening on tcp:127.0.0.1:$P_TCP" 10
# The kernel spreads new connections over both by a hash of the client's
# port: within 40 connections both answer (echo sends nothing back first;
# daytime answers at once).
day=0
for i in $(seq 1 40); do
	if "$TCLIENT" echo -a "tcp:127.0.0.1:$P_TCP" -s 1 -t 5 >"$T/c.out" 2>"$T/c.err"; then
		:
	else
		day=$((day + 1))
	fi
done
[ "$day" -gt 0 ] && [ "$day" -lt 40 ] || fail "reuseport: $day of 40 connections reached the second sockd"
kill -TERM "$TWIN"
wait "$TWIN" || fail "the second sockd did not stop cleanly"
_untrack "$TWIN"
sed 's/reuseport = true;//' "$SECOND" >"$SECOND.no"
expect_rc 1 "$SOCKD" -F -f "$SECOND.no"
expect_file_match "$T/err" "bind: Address already in use" "a second sockd without reuseport"

note "reload: buffers change on the kept socket, reuseport cannot"
RCV=20000
SND=25000
REUSE=false
write_conf
kill -HUP "$SOCKD_PID"
wait_for_log 'reloaded: '
L=$(peek "$P_TCP" listen)
expect_eq "$(opt "$L" rcvbuf)" "$(doubled $RCV rmem_max)" "SO_RCVBUF after the reload"
expect_eq "$(opt "$L" sndbuf)" "$(doubled $SND wmem_max)" "SO_SNDBUF after the reload"
expect_eq "$(opt "$L" reuseport)" 1 "SO_REUSEPORT after a reload that removed it (kept socket)"
expect_file_match "$SOCKD_LOG" "tcp:127.0.0.1:$P_TCP: 'reuseport' changed to false: it applies when the address is bound again" "sockd's log"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_TCP" -s 100000 -t 10
RCV=0
write_conf
kill -HUP "$SOCKD_PID"
wait_until 10 eval "[ \$(grep -c 'reloaded: ' '$SOCKD_LOG') -ge 2 ]" || fail "second reload not done"
expect_file_match "$SOCKD_LOG" "'rcvbuf' removed: the socket keeps" "sockd's log"
expect_clean_log "'reuseport' changed|'rcvbuf' removed"
expect_stop_ok

note "bad values and keys on the wrong addresses"
cat >"$T/bad.conf" <<EOF2
endpoints = (
	{ name = "u"; listen = [ "unix:$T/u.sock" ]; service = "echo";
	  reuseport = true; },
	{ name = "n"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "echo";
	  rcvbuf = -1;
	  sndbuf = "big"; }
);
EOF2
expect_rc 78 "$SOCKD" -n -f "$T/bad.conf"
expect_file_match "$T/err" "bad.conf:3: 'reuseport' is only allowed on endpoints with tcp or udp addresses"
expect_file_match "$T/err" "bad.conf:5: .*rcvbuf"
expect_file_match "$T/err" "bad.conf:6: .*sndbuf"
