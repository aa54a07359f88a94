#!/bin/sh
# udp_rate and loopback (issue 14, section 5):
#  - a loopback client of a loopback UDP echo with the default udp_rate
#    (20 replies/s, burst 40) gets every reply to 200 datagrams: loopback
#    sources are exempt;
#  - with udp_rate_loopback = true the limit applies, the drops are
#    counted, and logged once (not once per datagram);
#  - as root, in a network namespace of its own, a non-loopback source
#    gets the default limit and the same log line.
. "$(dirname "$0")/lib.sh"

P_ECHO=$(port 1)
P_LIMITED=$(port 2)
CONF=$T/sockd.conf

cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; service = "echo"; listen = [ "udp:127.0.0.1:$P_ECHO" ]; },
	{ name = "limited"; service = "echo"; listen = [ "udp:127.0.0.1:$P_LIMITED" ];
	  udp_rate_loopback = true; }
);
EOF
start_sockd "$CONF"

# 200 datagrams in two bursts of 100, far over the burst of 40.
expect_rc 0 "$TCLIENT" dgram-burst -a "udp:127.0.0.1:$P_ECHO" -n 100 -s 16 -t 5
expect_rc 0 "$TCLIENT" dgram-burst -a "udp:127.0.0.1:$P_ECHO" -n 100 -s 16 -t 5
if grep -q 'endpoint echo: not answering' "$SOCKD_LOG"; then
	fail "a drop was logged for the exempt loopback endpoint"
fi

# Opted in: a burst of 100 gets about 40 replies (tclient: 3 = not all).
expect_rc 3 "$TCLIENT" dgram-burst -a "udp:127.0.0.1:$P_LIMITED" -n 100 -s 16 -t 2
expect_rc 3 "$TCLIENT" dgram-burst -a "udp:127.0.0.1:$P_LIMITED" -n 100 -s 16 -t 2
wait_for_log '^sockd: endpoint limited: not answering 127\.0\.0\.1:[0-9]+ beyond udp_rate \(20 replies/s, burst 40\)'
expect_eq "$(grep -c 'endpoint limited: not answering' "$SOCKD_LOG")" 1 "lines about udp_rate drops"
expect_stop_ok

if ! is_root; then
	skip "not root: the non-loopback source in a network namespace is not tested"
fi
NS=sockd-t28-$$
trap '_rc0=$?; ip netns del "$NS" 2>/dev/null; (exit $_rc0); _cleanup' EXIT
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up || fail "netns: lo up"
ip netns exec "$NS" ip addr add 10.77.0.1/24 dev lo || fail "netns: address"
cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "ns"; service = "echo"; listen = [ "udp:10.77.0.1:$P_ECHO" ]; }
);
EOF
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$SOCKD" >"$T/sockd-ns"
chmod +x "$T/sockd-ns"
: >"$SOCKD_LOG"
SOCKD=$T/sockd-ns start_sockd "$CONF"
expect_rc 3 ip netns exec "$NS" "$TCLIENT" dgram-burst -a "udp:10.77.0.1:$P_ECHO" -n 100 -s 16 -t 2
wait_for_log '^sockd: endpoint ns: not answering 10\.77\.0\.1:[0-9]+ beyond udp_rate \(20 replies/s, burst 40\)'
expect_stop_ok
