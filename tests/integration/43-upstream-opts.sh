#!/bin/sh
# Forward's upstream socket options: upstream_source makes the upstream see
# the connection come from that address (an exec upstream prints the
# TCPREMOTEIP it got; without the key it is 127.0.0.1); upstream_keepalive,
# upstream_nodelay and upstream_mark are read back with getsockopt from
# sockd's upstream socket while a client holds it; a forward without them
# leaves them off; bad values are file:line errors.
#
# Runs in a network namespace of its own when it can (upstream_mark needs
# CAP_NET_ADMIN there); otherwise upstream_mark is checked only as root.
. "$(dirname "$0")/sockopt-lib.sh"
netns_enter optional
. "$(dirname "$0")/lib.sh"

[ -x "$SOCKPEEK" ] || fail "no sockpeek at $SOCKPEEK"
command -v socat >/dev/null 2>&1 || skip "socat is not installed"
P_WHO=$(port 1)         # exec: prints the client address it sees
P_ECHO=$(port 2)        # echo upstream
P_SRC=$(port 3)         # forward -> P_WHO from 127.0.0.2
P_NOSRC=$(port 4)       # forward -> P_WHO, no upstream_source
P_OPTS=$(port 5)        # forward -> P_ECHO with keepalive, nodelay, mark
P_PLAIN=$(port 6)       # forward -> P_ECHO without them
CONF=$T/sockd.conf

PRIV=false
MARK=
if [ "$IN_NETNS" = 1 ] || is_root; then
	PRIV=true
	MARK="upstream_mark = 99;"
fi
# 127.0.0.2 is on lo in a namespace of its own only once added; the host's
# lo has all of 127/8 anyway.
[ "$IN_NETNS" = 1 ] && ip addr add 127.0.0.2/8 dev lo 2>/dev/null || :

cat >"$CONF" <<EOF2
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "who"; listen = [ "tcp:127.0.0.1:$P_WHO" ]; service = "exec";
	  command = [ "/bin/sh", "-c", "echo \"from \$TCPREMOTEIP\"" ]; },
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; },
	{ name = "src"; listen = [ "tcp:127.0.0.1:$P_SRC" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$P_WHO"; upstream_source = "127.0.0.2"; },
	{ name = "nosrc"; listen = [ "tcp:127.0.0.1:$P_NOSRC" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$P_WHO"; },
	{ name = "opts"; listen = [ "tcp:127.0.0.1:$P_OPTS" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$P_ECHO"; upstream_keepalive = true; upstream_nodelay = true;
	  $MARK },
	{ name = "plain"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$P_ECHO"; }
);
EOF2
expect_rc 0 "$SOCKD" -n -v -f "$CONF"
expect_file_match "$T/out" '^    upstream_source = "127.0.0.2";' "-nv output"
expect_file_match "$T/out" '^    upstream_keepalive = true;' "-nv output"
start_sockd "$CONF"

note "upstream_source"
who() {
	socat -T 10 - "TCP:127.0.0.1:$1" </dev/null >"$T/who.out" 2>"$T/who.err" ||
		fail "socat to port $1: $(cat "$T/who.err")"
	cat "$T/who.out"
}
expect_eq "$(who "$P_SRC")" "from 127.0.0.2" "the address the upstream sees with upstream_source"
expect_eq "$(who "$P_NOSRC")" "from 127.0.0.1" "the address the upstream sees without upstream_source"
# IP_BIND_ADDRESS_NO_PORT: many connections from one source address, each
# port picked at connect().
for i in $(seq 1 20); do
	expect_eq "$(who "$P_SRC")" "from 127.0.0.2" "connection $i with upstream_source"
done

note "upstream_keepalive, upstream_nodelay, upstream_mark"
# upstream OPTS-PORT: sockpeek's line for sockd's upstream socket of a client
# held on OPTS-PORT (the socket whose peer is the echo endpoint).
upstream() {
	start_bg "hold-$1" "$TCLIENT" hold -a "tcp:127.0.0.1:$1" -n 1 -t 60
	_hold=$BG_PID
	wait_until 10 eval '[ -n "$(peek "peer:$P_ECHO" conn)" ]' ||
		fail "sockd has no upstream connection to port $P_ECHO"
	peek "peer:$P_ECHO" conn
	kill "$_hold" 2>/dev/null || :
	wait_bg "$_hold" || :
	wait_until 10 eval '[ -z "$(peek "peer:$P_ECHO" conn)" ]' ||
		fail "sockd's upstream connection to port $P_ECHO stays after its client left"
}
U=$(upstream "$P_OPTS")
expect_eq "$(opt "$U" keepalive)" 1 "SO_KEEPALIVE of the upstream socket"
expect_eq "$(opt "$U" nodelay)" 1 "TCP_NODELAY of the upstream socket"
$PRIV && expect_eq "$(opt "$U" mark)" 99 "SO_MARK of the upstream socket"
U=$(upstream "$P_PLAIN")
expect_eq "$(opt "$U" keepalive)" 0 "SO_KEEPALIVE of an upstream socket without the key"
expect_eq "$(opt "$U" nodelay)" 0 "TCP_NODELAY of an upstream socket without the key"
expect_eq "$(opt "$U" mark)" 0 "SO_MARK of an upstream socket without the key"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_OPTS" -s 200000 -t 20
expect_clean_log
expect_stop_ok

note "bad values"
cat >"$T/bad.conf" <<EOF2
endpoints = (
	{ name = "a"; listen = [ "tcp:127.0.0.1:$P_SRC" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$P_WHO";
	  upstream_source = "::1"; },
	{ name = "b"; listen = [ "tcp:127.0.0.1:$P_NOSRC" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$P_WHO";
	  upstream_source = "localhost"; },
	{ name = "c"; listen = [ "udp:127.0.0.1:$P_OPTS" ]; service = "forward";
	  upstream = "udp:127.0.0.1:$P_ECHO";
	  upstream_nodelay = true; },
	{ name = "d"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$P_WHO";
	  upstream_mark = -1; }
);
EOF2
expect_rc 78 "$SOCKD" -n -f "$T/bad.conf"
expect_file_match "$T/err" "bad.conf:4: 'upstream_source' is an IPv6 address, and endpoint 'a' has no tcp upstream of that family"
expect_file_match "$T/err" "bad.conf:7: 'upstream_source': 'localhost' is not an IPv4 or IPv6 address"
expect_file_match "$T/err" "bad.conf:10: 'upstream_nodelay' is only allowed on stream endpoints"
expect_file_match "$T/err" "bad.conf:13: .*upstream_mark"
