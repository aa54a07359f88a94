#!/bin/sh
# What the socket options do, in a network namespace the test makes for
# itself (unshare -rn), with its own interfaces and sysctls:
#   freebind        sockd binds an address the host does not have, and
#                   serves it once the test adds the address (without
#                   freebind the same configuration does not start);
#   bind_to_device  an endpoint on 0.0.0.0 bound to one veth interface
#                   serves that interface's address and refuses the other
#                   one's; a reload that removes the key serves both;
#   fastopen        a client's data goes in its SYN (MSG_FASTOPEN) and
#                   TcpExtTCPFastOpenPassive rises; to an endpoint without
#                   fastopen, neither happens;
#   defer_accept    a client that connects and sends nothing never reaches
#                   sockd (no accepted socket, accepted count unchanged),
#                   one that sends is served.
. "$(dirname "$0")/sockopt-lib.sh"
netns_enter required
. "$(dirname "$0")/lib.sh"

[ -x "$SOCKPEEK" ] || fail "no sockpeek at $SOCKPEEK"
P=$(port 1)
P_PLAIN=$(port 2)
CONF=$T/sockd.conf

# --------------------------------------------------------------- freebind
note "freebind"
FB=10.77.0.1
cat >"$CONF" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = ( { name = "fb"; listen = [ "tcp:$FB:$P" ]; service = "echo"; freebind = true; } );
EOF2
sed 's/freebind = true;//' "$CONF" >"$T/nofb.conf"
expect_rc 1 "$SOCKD" -F -f "$T/nofb.conf"
expect_file_match "$T/err" "tcp:$FB:$P: bind: Cannot assign requested address" "sockd without freebind"
start_sockd "$CONF"
expect_rc 1 "$TCLIENT" echo -a "tcp:$FB:$P" -s 100 -t 5
ip addr add "$FB/32" dev lo
expect_rc 0 "$TCLIENT" echo -a "tcp:$FB:$P" -s 100000 -t 10
expect_stop_ok
ip addr del "$FB/32" dev lo

# --------------------------------------------------------- bind_to_device
note "bind_to_device"
ip link add sockd-v0 type veth peer name sockd-v1 ||
	skip "cannot make a veth pair in the test's namespace"
ip addr add 10.78.0.1/24 dev sockd-v0
ip addr add 10.78.1.1/24 dev sockd-v1
ip link set sockd-v0 up
ip link set sockd-v1 up
write_bd() {
	cat >"$CONF.new" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = ( { name = "bd"; listen = [ "tcp:0.0.0.0:$P" ]; service = "echo"; $1 } );
EOF2
	mv "$CONF.new" "$CONF"
}
write_bd 'bind_to_device = "sockd-v0";'
start_sockd "$CONF"
expect_rc 0 "$TCLIENT" echo -a "tcp:10.78.0.1:$P" -s 100000 -t 10
expect_rc 1 "$TCLIENT" echo -a "tcp:10.78.1.1:$P" -s 100 -t 5
expect_file_match "$T/err" "Connection refused" "a client of the other interface"
expect_rc 1 "$TCLIENT" echo -a "tcp:127.0.0.1:$P" -s 100 -t 5
write_bd ''
kill -HUP "$SOCKD_PID"
wait_for_log 'reloaded: '
expect_rc 0 "$TCLIENT" echo -a "tcp:10.78.1.1:$P" -s 100000 -t 10
expect_rc 0 "$TCLIENT" echo -a "tcp:10.78.0.1:$P" -s 100000 -t 10
expect_stop_ok
ip link del sockd-v0

# --------------------------------------------------------------- fastopen
note "fastopen"
# 1: client, 2: server; the cookie cache is per destination address, so the
# two endpoints get addresses of their own.
echo 3 >/proc/sys/net/ipv4/tcp_fastopen || skip "cannot set net.ipv4.tcp_fastopen here"
tfo_passive() {
	awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) h[i] = $i; n = 1 } else
		for (i = 1; i <= NF; i++) if (h[i] == "TCPFastOpenPassive") print $i }' /proc/net/netstat
}
ip addr add 127.0.0.2/8 dev lo 2>/dev/null || :
cat >"$CONF" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "tfo"; listen = [ "tcp:127.0.0.2:$P" ]; service = "echo"; fastopen = 16; },
	{ name = "plain"; listen = [ "tcp:127.0.0.3:$P_PLAIN" ]; service = "echo"; }
);
EOF2
start_sockd "$CONF"
before=$(tfo_passive)
[ -n "$before" ] || skip "no TcpExt TCPFastOpenPassive in /proc/net/netstat"
expect_rc 0 "$TCLIENT" fastopen -a "tcp:127.0.0.3:$P_PLAIN" -s 200 -r 3 -t 20
expect_file_match "$T/out" '^syn-data 0$' "fastopen client of an endpoint without fastopen"
expect_eq "$(tfo_passive)" "$before" "TcpExtTCPFastOpenPassive after clients of an endpoint without fastopen"
# The first connection fetches the cookie; the next two carry data in the SYN.
expect_rc 0 "$TCLIENT" fastopen -a "tcp:127.0.0.2:$P" -s 200 -r 3 -t 20
expect_file_match "$T/out" '^syn-data 2$' "fastopen client"
after=$(tfo_passive)
[ "$after" -ge $((before + 2)) ] ||
	fail "TcpExtTCPFastOpenPassive went from $before to $after, expected +2"
note "TcpExtTCPFastOpenPassive $before -> $after"
expect_stop_ok

# ----------------------------------------------------------- defer_accept
note "defer_accept"
# 30 s, which the kernel rounds up to 31 (1+2+4+8+16 s of SYN-ACK
# retransmissions): every check below starts within 20 s of the connect,
# however slow a loaded machine makes each of them.
cat >"$CONF" <<EOF2
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "defer"; listen = [ "tcp:127.0.0.1:$P" ]; service = "echo"; defer_accept = 30; },
	{ name = "plain"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "echo"; }
);
EOF2
start_sockd "$CONF"
# A silent client of the plain endpoint is accepted (the control) ...
start_bg hold-plain "$TCLIENT" hold -a "tcp:127.0.0.1:$P_PLAIN" -n 1 -t 120
wait_until 10 has_conn "$P_PLAIN" || fail "a silent client of the plain endpoint was not accepted"
# ... one of the defer endpoint is connected on its side ...
ms() {
	echo $(($(date +%s%N) / 1000000))
}
t0=$(ms)
start_bg hold-defer "$TCLIENT" hold -a "tcp:127.0.0.1:$P" -n 1 -t 120
HOLD=$BG_PID
wait_for_file_match "$T/hold-defer.out" '^held 1$' 10
# ... and stays out of sockd: looked at for 2 s, each look starting within
# 20 s of the connect.
checks=0
while :; do
	start=$(ms)
	[ $((start - t0)) -lt 20000 ] || break
	if has_conn "$P"; then
		[ $(($(ms) - t0)) -ge 31000 ] && skip "the machine is too slow: a look at sockd's sockets took until the deferral ended"
		fail "sockd accepted a client of the defer_accept endpoint that sent nothing ($((start - t0)) ms after the connect): $(cat "$T/peek.out")"
	fi
	checks=$((checks + 1))
	[ $((start - t0)) -lt 2000 ] || break
	sleep 0.1
done
[ "$checks" -ge 1 ] || skip "the machine is too slow: no look at sockd's sockets within 20 s of the connect"
note "no accepted socket in $checks looks over $(($(ms) - t0)) ms"
# A client that sends is served at once, while the silent one still waits.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P" -s 1000 -t 10
start=$(ms)
if [ $((start - t0)) -lt 20000 ]; then
	! has_conn "$P" || fail "the silent client reached sockd after another one was served"
else
	note "the look after the served client is left out: it comes too late on this machine"
fi
kill "$HOLD" 2>/dev/null || :
wait_bg "$HOLD" || :
expect_stop_ok
