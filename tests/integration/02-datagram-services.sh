#!/bin/sh
# The RFC services over UDP, and the reflection guard: no replies to
# privileged or NFS source ports, nor to loopback sources on a socket that
# is not bound to loopback, unless udp_guard = false. On a wildcard address
# a reply leaves from the address its request came to.
. "$(dirname "$0")/lib.sh"

CR=$(printf '\r')
P_ECHO=$(port 1)
P_DISCARD=$(port 2)
P_CHARGEN=$(port 3)
P_DAYTIME=$(port 4)
P_TIME=$(port 5)
P_WILD=$(port 6)
P_WILDOPEN=$(port 7)
P_ECHO6=$(port 8)

P_WILD6=$(port 9)
P_BURST=$(port 10)
P_BURST6=$(port 11)
P_WILDOPEN6=$(port 12)

V6_ENDPOINTS=
if have_ipv6; then
	V6_ENDPOINTS="
	{ name = \"echo6\"; listen = [ \"udp:[::1]:$P_ECHO6\" ]; service = \"echo\"; },
	{ name = \"wild6\"; listen = [ \"udp:[::]:$P_WILD6\" ]; service = \"echo\"; },
	{ name = \"burst6\"; listen = [ \"udp:[::1]:$P_BURST6\" ]; service = \"echo\"; udp_rate = 0; },
	{ name = \"wildopen6\"; listen = [ \"udp:[::]:$P_WILDOPEN6\" ]; service = \"echo\"; udp_guard = false; },"
fi

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "echo"; listen = [ "udp:127.0.0.1:$P_ECHO" ]; service = "echo"; },
	{ name = "burst"; listen = [ "udp:127.0.0.1:$P_BURST" ]; service = "echo"; udp_rate = 0; },
	{ name = "discard"; listen = [ "udp:127.0.0.1:$P_DISCARD" ]; service = "discard"; },
	{ name = "chargen"; listen = [ "udp:127.0.0.1:$P_CHARGEN" ]; service = "chargen"; },
	{ name = "daytime"; listen = [ "udp:127.0.0.1:$P_DAYTIME" ]; service = "daytime"; },
	{ name = "time"; listen = [ "udp:127.0.0.1:$P_TIME" ]; service = "time"; },$V6_ENDPOINTS
	{ name = "wild"; listen = [ "udp:0.0.0.0:$P_WILD" ]; service = "echo"; },
	{ name = "wildopen"; listen = [ "udp:0.0.0.0:$P_WILDOPEN" ]; service = "echo";
	  udp_guard = false; }
);
EOF

start_sockd "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" "^sockd: listening on udp:127\.0\.0\.1:$P_ECHO \(echo\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on udp:0\.0\.0\.0:$P_WILD \(wild\)$"

# ---- echo
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m "hello udp"
expect_eq "$(cat "$T/out")" "hello udp" "udp echo reply"
expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_ECHO" -s 1400
expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_ECHO" -s 8000
# An empty datagram is echoed as an empty datagram.
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -x
expect_eq "$(cat "$T/out")" "" "reply to an empty datagram"
# Bursts from one socket (on an endpoint without udp_rate, which would
# drop all but udp_burst of them): replies to one peer may leave as
# UDP_SEGMENT trains, which must still arrive as the same separate
# datagrams. Sizes at, above and far above the largest train segment
# (1200 bytes); few enough to fit default socket buffers.
for burst in 64x64 32x1200 32x1201 8x4000; do
	expect_rc 0 "$TCLIENT" dgram-burst -a "udp:127.0.0.1:$P_BURST" -n "${burst%x*}" -s "${burst#*x}"
	expect_eq "$(cat "$T/out")" "ok ${burst%x*} replies" "udp echo burst of $burst bytes"
done

# ---- discard: no reply (exit 3; a closed port would be exit 1, refused).
expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_DISCARD" -m "drop me" -t 1

# ---- chargen: 20 replies of 0..512 bytes, each a prefix of the pattern.
expect_rc 0 "$TCLIENT" chargen -a "udp:127.0.0.1:$P_CHARGEN" -t 20
expect_match "$(cat "$T/out")" '^ok lengths [0-9]+\.\.[0-9]+$' "udp chargen"

# ---- daytime: one datagram, one CRLF line.
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_DAYTIME"
expect_eq "$(wc -l <"$T/out" | tr -d ' ')" 1 "lines in the daytime datagram"
expect_match "$(cat "$T/out")" "^[A-Z][a-z]+day, [A-Z][a-z]+ [0-9]{2}, [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}-[A-Z+0-9-]+$CR\$" "udp daytime"

# ---- time: rdate over UDP, and the raw 4 bytes.
expect_rc 0 timeout 10 rdate -u -p -o "$P_TIME" 127.0.0.1
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_TIME" -x
now=$(date +%s)
hex=$(cat "$T/out")
expect_match "$hex" '^[0-9a-f]{8}$' "udp time reply"
d=$(( 0x$hex - 2208988800 - now ))
[ "$d" -ge -5 ] && [ "$d" -le 5 ] || fail "udp time: server says 0x$hex, clock says $now"

# ---- IPv6
if [ -n "$V6_ENDPOINTS" ]; then
	expect_rc 0 "$TCLIENT" dgram -a "udp:[::1]:$P_ECHO6" -m "hello v6"
	expect_eq "$(cat "$T/out")" "hello v6" "udp echo over IPv6"
	expect_rc 0 "$TCLIENT" dgram-burst -a "udp:[::1]:$P_BURST6" -n 64 -s 100
	expect_eq "$(cat "$T/out")" "ok 64 replies" "udp echo burst over IPv6"
	# A dual-stack [::] socket is not loopback-bound: neither ::1 nor
	# 127.0.0.1 (seen as ::ffff:127.0.0.1) gets a reply.
	expect_rc 3 "$TCLIENT" dgram -a "udp:[::1]:$P_WILD6" -m loop6 -t 1
	expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_WILD6" -m mapped -t 1
	if is_root; then
		expect_rc 3 "$TCLIENT" dgram -a "udp:[::1]:$P_ECHO6" -m guard6 -B "[::1]:1023" -t 1
		expect_rc 0 "$TCLIENT" dgram -a "udp:[::1]:$P_ECHO6" -m guard6 -B "[::1]:1024"
		expect_eq "$(cat "$T/out")" guard6 "IPv6 reply to source port 1024"
	fi
fi

# ---- reflection guard on source ports (binding them needs root).
if is_root; then
	expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m guard -B 127.0.0.1:1023 -t 1
	expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m guard -B 127.0.0.1:2049 -t 1
	expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m guard -B 127.0.0.1:7 -t 1
	expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m guard -B 127.0.0.1:1024
	expect_eq "$(cat "$T/out")" guard "reply to source port 1024"
	expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_TIME" -B 127.0.0.1:1023 -t 1
	expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_CHARGEN" -B 127.0.0.1:19 -t 1
	# udp_guard = false answers even port 1023.
	expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_WILDOPEN" -m open -B 127.0.0.1:1023
	expect_eq "$(cat "$T/out")" open "reply from an unguarded endpoint to port 1023"
else
	note "not root: skipping the privileged source port checks"
fi

# ---- loopback sources are answered only by a loopback-bound socket.
expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_WILD" -m loop -t 1
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_WILDOPEN" -m loop
expect_eq "$(cat "$T/out")" loop "reply from the unguarded wildcard endpoint"

# ---- a wildcard socket answers from the address it was asked on. tclient's
# socket is connected to 127.0.0.2, and the kernel drops a datagram from
# any other address (from 127.0.0.1, which the route back would pick).
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.2:$P_WILDOPEN" -m second -t 3
expect_eq "$(cat "$T/out")" second "reply from 127.0.0.2 on 0.0.0.0"
# A burst leaves as UDP_SEGMENT trains, with the source in the same send.
expect_rc 0 "$TCLIENT" dgram-burst -a "udp:127.0.0.3:$P_WILDOPEN" -n 16 -s 100
expect_eq "$(cat "$T/out")" "ok 16 replies" "burst from 127.0.0.3 on 0.0.0.0"
if [ -n "$V6_ENDPOINTS" ]; then
	# IPv4 clients of a dual-stack [::] socket, as v4-mapped addresses.
	expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.2:$P_WILDOPEN6" -m mapped2 -t 3
	expect_eq "$(cat "$T/out")" mapped2 "reply from 127.0.0.2 on [::]"
	expect_rc 0 "$TCLIENT" dgram -a "udp:[::1]:$P_WILDOPEN6" -m six -t 3
	expect_eq "$(cat "$T/out")" six "reply from ::1 on [::]"
fi

# The guarded endpoints still answer ordinary clients afterwards.
expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_ECHO" -s 100

expect_stop_ok
expect_clean_log
exit 0
