#!/bin/sh
# MPTCP listeners (mptcp:HOST:PORT): an MPTCP client speaks MPTCP end to end
# (TCP_IS_MPTCP on its socket, an MPTCP socket in sockd), a plain TCP client
# of the same address is served as TCP; a forward reaches an mptcp upstream;
# the TCP options apply to the listener; with net.mptcp.enabled = 0 sockd
# says what is missing and does not start (in the test's own network
# namespace only: the host's setting is not the test's to change).
. "$(dirname "$0")/sockopt-lib.sh"
netns_enter optional
. "$(dirname "$0")/lib.sh"

[ -x "$SOCKPEEK" ] || fail "no sockpeek at $SOCKPEEK"
[ "$(cat /proc/sys/net/mptcp/enabled 2>/dev/null)" = 1 ] ||
	skip "this kernel offers no MPTCP here (net.mptcp.enabled is not 1)"
P=$(port 1)
P_FWD=$(port 2)
CONF=$T/sockd.conf
cat >"$CONF" <<EOF2
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "mp"; listen = [ "mptcp:127.0.0.1:$P" ]; service = "echo";
	  nodelay = true; keepalive = true; },
	{ name = "fwd"; listen = [ "tcp:127.0.0.1:$P_FWD" ]; service = "forward";
	  upstream = "mptcp:127.0.0.1:$P"; }
);
EOF2
start_sockd "$CONF"
expect_file_match "$SOCKD_LOG" "listening on mptcp:127.0.0.1:$P \(mp\)"
L=$(peek "$P" listen)
expect_match "$L" '^listen mptcp ' "sockd's listener"
expect_eq "$(opt "$L" nodelay)" 1 "TCP_NODELAY of the MPTCP listener"
expect_eq "$(opt "$L" keepalive)" 1 "SO_KEEPALIVE of the MPTCP listener"
if command -v ss >/dev/null 2>&1; then
	ss -HMltn >"$T/ss.out"
	expect_file_match "$T/ss.out" "127.0.0.1:$P\b" "ss -M: the MPTCP listener"
fi

note "an MPTCP client"
expect_rc 0 "$TCLIENT" echo -a "mptcp:127.0.0.1:$P" -s 200000 -t 20
expect_file_match "$T/out" '^mptcp 1$' "the client's TCP_IS_MPTCP (1: no fallback to TCP)"
start_bg hold-mp "$TCLIENT" hold -a "mptcp:127.0.0.1:$P" -n 1 -t 60
HOLD=$BG_PID
wait_until 10 has_conn "$P" || fail "sockd has no accepted socket on port $P"
C=$(peek "$P" conn)
expect_match "$C" '^conn mptcp ' "sockd's socket of an MPTCP client"
expect_eq "$(opt "$C" is_mptcp)" 1 "TCP_IS_MPTCP of sockd's socket of an MPTCP client"
expect_eq "$(opt "$C" nodelay)" 1 "TCP_NODELAY inherited by an accepted MPTCP socket"
kill "$HOLD" 2>/dev/null || :
wait_bg "$HOLD" || :

note "a plain TCP client of the same address"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P" -s 200000 -t 20
start_bg hold-tcp "$TCLIENT" hold -a "tcp:127.0.0.1:$P" -n 1 -t 60
HOLD=$BG_PID
wait_until 10 has_conn "$P" || fail "sockd has no accepted socket of the TCP client on port $P"
C=$(peek "$P" conn)
expect_match "$C" '^conn tcp ' "sockd's socket of a plain TCP client (the kernel hands over the TCP socket)"
expect_eq "$(opt "$C" is_mptcp)" 0 "TCP_IS_MPTCP of sockd's socket of a plain TCP client"
kill "$HOLD" 2>/dev/null || :
wait_bg "$HOLD" || :

note "forward to an mptcp upstream"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_FWD" -s 200000 -t 20
expect_rc 0 "$TCLIENT" echo-many -a "mptcp:127.0.0.1:$P" -n 50 -s 1000 -t 30
expect_clean_log
expect_stop_ok

if [ "$IN_NETNS" = 1 ]; then
	note "net.mptcp.enabled = 0"
	echo 0 >/proc/sys/net/mptcp/enabled || skip "cannot set net.mptcp.enabled in the test's namespace"
	expect_rc 1 "$SOCKD" -F -f "$CONF"
	expect_file_match "$T/err" "mptcp:127.0.0.1:$P: this kernel does not offer MPTCP here \(Protocol not available\): it needs CONFIG_MPTCP and sysctl net.mptcp.enabled = 1" "sockd's error"
	expect_rc 0 "$SOCKD" -n -f "$CONF"
else
	note "no namespace of its own: net.mptcp.enabled = 0 is left out"
fi
