#!/bin/sh
# Socket options per endpoint (issue 17), read back with getsockopt() on
# sockd's own sockets (tests/integration/sockpeek copies them with
# pidfd_getfd): the listening socket and an accepted one (tcp and mptcp)
# carry what the configuration says; two sockd share one address with
# reuseport (and cannot without it); a reload changes what a kept socket
# can change and warns about what it cannot; a socket from systemd gets the
# options too; -nv prints the keys; bad values and keys on the wrong kind of
# address are file:line errors.
#
# Runs in a network namespace of its own when it can (mark and transparent
# need CAP_NET_ADMIN there); otherwise in the host's, where those two are
# checked only as root.
. "$(dirname "$0")/sockopt-lib.sh"
netns_enter optional
. "$(dirname "$0")/lib.sh"

[ -x "$SOCKPEEK" ] || fail "no sockpeek at $SOCKPEEK"

P_TCP=$(port 1)
P_UDP=$(port 2)
P_PLAIN=$(port 3)
P_ALL=$(port 4)
P_MPTCP=$(port 5)
P_DEFER=$(port 6)
P_SA=$(port 7)
CONF=$T/sockd.conf

PRIV=false
if [ "$IN_NETNS" = 1 ] || is_root; then
	PRIV=true
else
	note "not root and no network namespace: mark and transparent are left out"
fi
MPTCP=true
if [ "$(cat /proc/sys/net/mptcp/enabled 2>/dev/null)" != 1 ]; then
	MPTCP=false
	note "no MPTCP here (net.mptcp.enabled): the mptcp listener is left out"
fi
# A congestion control that is not the default, so that the read-back
# value is sockd's doing.
CC_DEF=$(cat /proc/sys/net/ipv4/tcp_congestion_control)
CC=reno
[ "$CC_DEF" != reno ] || CC=$(tr ' ' '\n' </proc/sys/net/ipv4/tcp_available_congestion_control | grep -vx reno | head -n 1)
[ -n "$CC" ] || skip "only one TCP congestion control is available"

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
# The options of endpoint "all", changed by the reload below.
ALL_OPTS=
write_conf() {
	_priv=
	$PRIV && _priv="mark = 4242; transparent = true;"
	_mptcp=
	$MPTCP && _mptcp=", \"mptcp:127.0.0.1:$P_MPTCP\""
	cat >"$CONF.new" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "opts"; listen = [ "tcp:127.0.0.1:$P_TCP" ]; service = "echo";
	  reuseport = $REUSE; rcvbuf = $RCV; sndbuf = $SND; },
	{ name = "dg"; listen = [ "udp:127.0.0.1:$P_UDP" ]; service = "echo";
	  reuseport = true; rcvbuf = 30000; tos = 32; },
	{ name = "plain"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "echo"; },
	{ name = "all"; listen = [ "tcp:127.0.0.1:$P_ALL"$_mptcp ]; service = "echo";
	  $ALL_OPTS },
	{ name = "defer"; listen = [ "tcp:127.0.0.1:$P_DEFER" ]; service = "echo";
	  defer_accept = 5; }
);
EOF2
	mv "$CONF.new" "$CONF"
}
ALL_OPTS="freebind = true; bind_to_device = \"lo\"; tos = 184; keepalive = true;
	  keepalive_time = 61; keepalive_interval = 7; keepalive_count = 4; user_timeout = 15000;
	  nodelay = true; fastopen = 8; congestion = \"$CC\"; rcvbuf = 70000; sndbuf = 80000;"
$PRIV && ALL_OPTS="$ALL_OPTS mark = 4242; transparent = true;"

write_conf
expect_rc 0 "$SOCKD" -n -v -f "$CONF"
expect_file_match "$T/out" '^    reuseport = true;' "-nv output"
expect_file_match "$T/out" "^    rcvbuf = $RCV;" "-nv output"
expect_file_match "$T/out" "^    sndbuf = $SND;" "-nv output"
expect_file_match "$T/out" '^    rcvbuf = 0;' "-nv output (the default)"
expect_file_match "$T/out" '^    keepalive_time = 61;' "-nv output"
expect_file_match "$T/out" "^    congestion = \"$CC\";" "-nv output"
expect_file_match "$T/out" '^    bind_to_device = "lo";' "-nv output"
expect_file_match "$T/out" '^    defer_accept = 5;' "-nv output"

start_sockd "$CONF"

note "listening sockets"
L=$(peek "$P_TCP" listen)
[ -n "$L" ] || fail "no listening socket of sockd on port $P_TCP: $(cat "$T/peek.out" "$T/peek.err")"
expect_eq "$(opt "$L" reuseport)" 1 "SO_REUSEPORT of the tcp listener"
expect_eq "$(opt "$L" rcvbuf)" "$(doubled $RCV rmem_max)" "SO_RCVBUF of the tcp listener"
expect_eq "$(opt "$L" sndbuf)" "$(doubled $SND wmem_max)" "SO_SNDBUF of the tcp listener"
U=$(peek "$P_UDP" listen)
[ -n "$U" ] || U=$(grep '^conn udp' "$T/peek.out" | head -n 1)
expect_eq "$(opt "$U" reuseport)" 1 "SO_REUSEPORT of the udp socket"
expect_eq "$(opt "$U" rcvbuf)" "$(doubled 30000 rmem_max)" "SO_RCVBUF of the udp socket"
expect_eq "$(opt "$U" tos)" 32 "IP_TOS of the udp socket"
P=$(peek "$P_PLAIN" listen)
expect_eq "$(opt "$P" reuseport)" 0 "SO_REUSEPORT of a listener without the key"
expect_eq "$(opt "$P" nodelay)" 0 "TCP_NODELAY of a listener without the key"
D=$(peek "$P_DEFER" listen)
# The kernel keeps it as SYN-ACK retransmissions: 5 s reads back as 7 (1+2+4).
expect_eq "$(opt "$D" defer_accept)" 7 "TCP_DEFER_ACCEPT of the listener (5 s, rounded up)"

# check_all KIND PORT: every option of endpoint "all" on sockd's KIND socket.
check_all() {
	_l=$(peek "$2" "$1")
	[ -n "$_l" ] || fail "no $1 socket of sockd on port $2: $(cat "$T/peek.out" "$T/peek.err")"
	_w="$1 socket on port $2"
	for _kv in freebind=1 bind_to_device=lo tos=184 keepalive=1 keepalive_time=61 \
		keepalive_interval=7 keepalive_count=4 user_timeout=15000 nodelay=1 \
		congestion=$CC rcvbuf=$(doubled 70000 rmem_max) sndbuf=$(doubled 80000 wmem_max); do
		# An option this kernel lacks on MPTCP sockets is a warning
		# (sockd serves on without it), and then reads back as "-".
		if [ "$2" = "$P_MPTCP" ] && [ "$(opt "$_l" "${_kv%%=*}")" = - ] &&
			grep -q "mptcp:127.0.0.1:$P_MPTCP: ${_kv%%=*} = .*: this kernel does not offer it on MPTCP sockets" "$SOCKD_LOG"; then
			note "${_kv%%=*}: not on MPTCP sockets in this kernel (warned)"
			continue
		fi
		expect_eq "$(opt "$_l" "${_kv%%=*}")" "${_kv#*=}" "${_kv%%=*} of the $_w"
	done
	[ "$1" = conn ] || expect_eq "$(opt "$_l" fastopen)" 8 "fastopen of the $_w"
	if $PRIV; then
		expect_eq "$(opt "$_l" mark)" 4242 "SO_MARK of the $_w"
		expect_eq "$(opt "$_l" transparent)" 1 "IP_TRANSPARENT of the $_w"
	fi
}
check_all listen "$P_ALL"
if $MPTCP; then
	check_all listen "$P_MPTCP"
	expect_match "$(peek "$P_MPTCP" listen)" '^listen mptcp ' "the mptcp listener's protocol"
fi

note "accepted sockets inherit them"
start_bg hold "$TCLIENT" hold -a "tcp:127.0.0.1:$P_TCP" -n 1 -t 60
HOLD=$BG_PID
wait_until 10 has_conn "$P_TCP" || fail "sockd has no accepted socket on port $P_TCP"
C=$(peek "$P_TCP" conn)
expect_eq "$(opt "$C" rcvbuf)" "$(doubled $RCV rmem_max)" "SO_RCVBUF of an accepted socket"
expect_eq "$(opt "$C" sndbuf)" "$(doubled $SND wmem_max)" "SO_SNDBUF of an accepted socket"
kill "$HOLD" 2>/dev/null || :
wait_bg "$HOLD" || :
start_bg hold-all "$TCLIENT" hold -a "tcp:127.0.0.1:$P_ALL" -n 1 -t 60
HOLD=$BG_PID
wait_until 10 has_conn "$P_ALL" || fail "sockd has no accepted socket on port $P_ALL"
check_all conn "$P_ALL"
kill "$HOLD" 2>/dev/null || :
wait_bg "$HOLD" || :
if $MPTCP; then
	start_bg hold-mptcp "$TCLIENT" hold -a "mptcp:127.0.0.1:$P_MPTCP" -n 1 -t 60
	HOLD=$BG_PID
	wait_until 10 has_conn "$P_MPTCP" || fail "sockd has no accepted socket on port $P_MPTCP"
	check_all conn "$P_MPTCP"
	expect_match "$(peek "$P_MPTCP" conn)" '^conn mptcp ' "an accepted MPTCP client's socket"
	kill "$HOLD" 2>/dev/null || :
	wait_bg "$HOLD" || :
fi
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ALL" -s 100000 -t 10

note "a second sockd shares the address with reuseport, serves it, and cannot without"
SECOND=$T/second.conf
cat >"$SECOND" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = ( { name = "twin"; listen = [ "tcp:127.0.0.1:$P_TCP" ]; service = "daytime";
	reuseport = true; } );
EOF2
"$SOCKD" -F -f "$SECOND" 2>"$T/second.log" &
TWIN=$!
_track "$TWIN"
wait_for_file_match "$T/second.log" "listening on tcp:127.0.0.1:$P_TCP" 10
# The kernel spreads new connections over both by a hash of the client's
# address and port: within 40 connections both answer (an echo client
# fails on daytime's line).
day=0
for i in $(seq 1 40); do
	"$TCLIENT" echo -a "tcp:127.0.0.1:$P_TCP" -s 1 -t 5 >"$T/c.out" 2>"$T/c.err" || day=$((day + 1))
done
[ "$day" -gt 0 ] && [ "$day" -lt 40 ] || fail "reuseport: $day of 40 connections reached the second sockd"
kill -TERM "$TWIN"
wait "$TWIN" || fail "the second sockd did not stop cleanly"
_untrack "$TWIN"
sed 's/reuseport = true;//' "$SECOND" >"$SECOND.no"
expect_rc 1 "$SOCKD" -F -f "$SECOND.no"
expect_file_match "$T/err" "bind: Address already in use" "a second sockd without reuseport"

note "reload: a kept socket takes what changed; reuseport and freebind wait for the next bind"
RCV=20000
SND=25000
REUSE=false
ALL_OPTS="bind_to_device = \"lo\"; keepalive = false; keepalive_time = 90;
	  keepalive_interval = 7; keepalive_count = 4; nodelay = false; fastopen = 4; congestion = \"$CC_DEF\";
	  rcvbuf = 70000; sndbuf = 80000; user_timeout = 0;"
$PRIV && ALL_OPTS="$ALL_OPTS mark = 7;"
write_conf
kill -HUP "$SOCKD_PID"
wait_for_log 'reloaded: '
L=$(peek "$P_TCP" listen)
expect_eq "$(opt "$L" rcvbuf)" "$(doubled $RCV rmem_max)" "SO_RCVBUF after the reload"
expect_eq "$(opt "$L" sndbuf)" "$(doubled $SND wmem_max)" "SO_SNDBUF after the reload"
expect_eq "$(opt "$L" reuseport)" 1 "SO_REUSEPORT after a reload that removed it (kept socket)"
expect_file_match "$SOCKD_LOG" "tcp:127.0.0.1:$P_TCP: 'reuseport' changed to false: it applies when the address is bound again" "sockd's log"
expect_file_match "$SOCKD_LOG" "tcp:127.0.0.1:$P_ALL: 'freebind' changed to false" "sockd's log"
L=$(peek "$P_ALL" listen)
for kv in keepalive=0 keepalive_time=90 nodelay=0 fastopen=4 congestion=$CC_DEF tos=0 \
	user_timeout=0 freebind=1; do
	expect_eq "$(opt "$L" "${kv%%=*}")" "${kv#*=}" "${kv%%=*} of the kept listener after the reload"
done
if $PRIV; then
	expect_eq "$(opt "$L" mark)" 7 "SO_MARK after the reload"
	expect_eq "$(opt "$L" transparent)" 0 "IP_TRANSPARENT after a reload that removed it"
fi
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_TCP" -s 100000 -t 10
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ALL" -s 100000 -t 10
ALL_OPTS=
RCV=0
write_conf
kill -HUP "$SOCKD_PID"
wait_until 10 eval "[ \$(grep -c 'reloaded: ' '$SOCKD_LOG') -ge 2 ]" || fail "second reload not done"
expect_file_match "$SOCKD_LOG" "tcp:127.0.0.1:$P_TCP: 'rcvbuf' removed: the socket keeps" "sockd's log"
expect_file_match "$SOCKD_LOG" "tcp:127.0.0.1:$P_ALL: 'keepalive_time' removed" "sockd's log"
L=$(peek "$P_ALL" listen)
expect_eq "$(opt "$L" bind_to_device)" '""' "SO_BINDTODEVICE after a reload that removed it"
expect_clean_log "'(reuseport|freebind)' changed|'(rcvbuf|sndbuf|keepalive_(time|interval|count)|congestion)' removed|does not offer it on MPTCP sockets"
expect_stop_ok

SSA=$(command -v systemd-socket-activate 2>/dev/null || :)
if [ -n "$SSA" ]; then
	note "a socket from systemd gets the options that act after bind()"
	cat >"$T/sa.conf" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = ( { name = "sa"; listen = [ "tcp:127.0.0.1:$P_SA" ]; service = "echo";
	nodelay = true; keepalive = true; keepalive_time = 77; reuseport = true; } );
EOF2
	start_bg sa "$SSA" -l "127.0.0.1:$P_SA" "$SOCKD" -F -f "$T/sa.conf"
	SA=$BG_PID
	wait_for_file_match "$T/sa.err" "Listening on .* as 3\." 10
	# systemd-socket-activate execs sockd (same pid) at the first client.
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_SA" -s 1000 -t 20
	wait_for_file_match "$T/sa.err" "from systemd" 10
	L=$(SOCKPEEK_PID=$SA peek "$P_SA" listen)
	expect_eq "$(opt "$L" nodelay)" 1 "TCP_NODELAY of a socket from systemd"
	expect_eq "$(opt "$L" keepalive_time)" 77 "TCP_KEEPIDLE of a socket from systemd"
	expect_eq "$(opt "$L" reuseport)" 0 "SO_REUSEPORT of a socket from systemd (bound by it)"
	expect_file_match "$T/sa.err" "'reuseport = true' has no effect on a socket from systemd" "sockd's log"
	kill -TERM "$SA"
	wait_bg "$SA" 20 || fail "socket-activated sockd did not stop cleanly"
else
	note "no systemd-socket-activate: the socket from systemd is left out"
fi

note "bad values and keys on the wrong addresses"
cat >"$T/bad.conf" <<EOF2
endpoints = (
	{ name = "u"; listen = [ "unix:$T/u.sock" ]; service = "echo";
	  reuseport = true; },
	{ name = "n"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "echo";
	  rcvbuf = -1;
	  sndbuf = "big";
	  congestion = "no-such-cc";
	  bind_to_device = "a-very-long-interface-name";
	  tos = 256;
	  keepalive_count = 128; },
	{ name = "d"; listen = [ "udp:127.0.0.1:$P_UDP", "tcp:127.0.0.1:$P_TCP" ]; service = "echo";
	  nodelay = true; },
	{ name = "x"; listen = [ "unix:$T/x.sock" ]; service = "echo";
	  mark = 1; }
);
EOF2
expect_rc 78 "$SOCKD" -n -f "$T/bad.conf"
expect_file_match "$T/err" "bad.conf:3: 'reuseport' is only allowed on endpoints with tcp or udp addresses"
expect_file_match "$T/err" "bad.conf:5: .*rcvbuf"
expect_file_match "$T/err" "bad.conf:6: .*sndbuf"
expect_file_match "$T/err" "bad.conf:7: 'congestion': 'no-such-cc' is not an available TCP congestion control"
expect_file_match "$T/err" "bad.conf:8: 'bind_to_device': 'a-very-long-interface-name' is not an interface name"
expect_file_match "$T/err" "bad.conf:9: .*tos"
expect_file_match "$T/err" "bad.conf:10: .*keepalive_count"
expect_file_match "$T/err" "bad.conf:12: 'nodelay' is a TCP option: only allowed on endpoints whose addresses are all tcp or mptcp \('udp:127.0.0.1:$P_UDP' is not\)"
expect_file_match "$T/err" "bad.conf:14: 'mark' is only allowed on endpoints with tcp or udp addresses"

if command -v setpriv >/dev/null 2>&1 && $PRIV; then
	note "mark and transparent without the capabilities they need"
	for o in "mark = 1;" "transparent = true;"; do
		cat >"$T/cap.conf" <<EOF2
endpoints = ( { name = "c"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "echo"; $o } );
EOF2
		expect_rc 1 setpriv --bounding-set=-net_admin,-net_raw "$SOCKD" -F -f "$T/cap.conf"
		expect_file_match "$T/err" "tcp:127.0.0.1:$P_PLAIN: ${o%% *} = 1 \\(it needs CAP_NET_ADMIN or CAP_NET_RAW\\): Operation not permitted" "sockd without CAP_NET_ADMIN"
	done
else
	note "no setpriv, or not privileged: the missing-capability error is left out"
fi
