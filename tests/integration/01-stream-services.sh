#!/bin/sh
# The five RFC services over TCP, talked to by real clients: socat, rdate,
# and tclient for the large transfers; IPv6, dual-stack and v6only.
. "$(dirname "$0")/lib.sh"

CR=$(printf '\r')
P_ECHO=$(port 1)
P_DISCARD=$(port 2)
P_CHARGEN=$(port 3)
P_DAYTIME=$(port 4)
P_DAYCUSTOM=$(port 5)
P_TIME=$(port 6)
P_ECHO6=$(port 7)
P_DUAL=$(port 8)
P_V6ONLY=$(port 9)

IPV6=no
if have_ipv6; then
	IPV6=yes
	V6_ENDPOINTS="
	{ name = \"echo6\"; listen = [ \"tcp:[::1]:$P_ECHO6\" ]; service = \"echo\"; },
	{ name = \"dual\"; listen = [ \"tcp:[::]:$P_DUAL\" ]; service = \"echo\"; },
	{ name = \"v6only\"; listen = [ \"tcp:[::]:$P_V6ONLY\" ]; service = \"echo\"; v6only = true; },"
	N_LISTENERS=9
else
	note "::1 is not configured on lo: skipping the IPv6 checks"
	V6_ENDPOINTS=
	N_LISTENERS=6
fi

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; },
	{ name = "discard"; listen = [ "tcp:127.0.0.1:$P_DISCARD" ]; service = "discard"; },
	{ name = "chargen"; listen = [ "tcp:127.0.0.1:$P_CHARGEN" ]; service = "chargen"; },
	{ name = "daytime"; listen = [ "tcp:127.0.0.1:$P_DAYTIME" ]; service = "daytime"; },
	{ name = "daycustom"; listen = [ "tcp:127.0.0.1:$P_DAYCUSTOM" ]; service = "daytime";
	  daytime_format = "day %j of %Y"; },$V6_ENDPOINTS
	{ name = "time"; listen = [ "tcp:127.0.0.1:$P_TIME" ]; service = "time"; }
);
EOF

start_sockd "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_ECHO \(echo\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_TIME \(time\)$"
expect_file_match "$SOCKD_LOG" "^sockd: ready: $N_LISTENERS listeners, 2 workers$"

# ---- echo: socat carries the half-close through; sockd must flush and close.
printf 'hello\nworld\n' >"$T/in"
timeout 10 socat -t 5 - "TCP:127.0.0.1:$P_ECHO" <"$T/in" >"$T/got" ||
	fail "socat to echo failed"
cmp "$T/in" "$T/got" || fail "echo: socat got '$(cat "$T/got")'"

# netcat-openbsd: -N shuts down the write side at the end of stdin.
printf 'via nc\n' >"$T/in"
timeout 10 nc -N 127.0.0.1 "$P_ECHO" <"$T/in" >"$T/got" || fail "nc to echo failed"
cmp "$T/in" "$T/got" || fail "echo: nc got '$(cat "$T/got")'"

# Half-close then EOF from the server: tclient fails if sockd keeps it open.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 1048576 -t 30
expect_eq "$(cat "$T/out")" ok "tclient echo 1 MB"

# ---- discard: nothing comes back, and sockd closes after our EOF (socat
# would wait 30 s for that; timeout kills it after 15 s).
head -c 200000 /dev/zero >"$T/zeros"
rc=0
timeout 15 socat -t 30 - "TCP:127.0.0.1:$P_DISCARD" <"$T/zeros" >"$T/got" || rc=$?
[ "$rc" -ne 124 ] || fail "discard: sockd did not close the connection after the client's EOF"
expect_eq "$rc" 0 "socat to discard"
expect_eq "$(wc -c <"$T/got" | tr -d ' ')" 0 "bytes from discard"

# ---- chargen: 1 MB checked by tclient, then one full period (95 lines of
# 74 bytes) through socat, compared with a pattern made here from the RFC.
expect_rc 0 "$TCLIENT" chargen -a "tcp:127.0.0.1:$P_CHARGEN" -b 1048576 -t 30
expect_eq "$(cat "$T/out")" ok "tclient chargen 1 MB"

awk 'BEGIN {
	for (l = 0; l < 95; l++) {
		s = "";
		for (k = 0; k < 72; k++)
			s = s sprintf("%c", 32 + (l + k) % 95);
		printf "%s\r\n", s;
	}
}' >"$T/chargen.want"
expect_eq "$(wc -c <"$T/chargen.want" | tr -d ' ')" 7030 "size of the expected chargen period"
timeout 10 socat -u "TCP:127.0.0.1:$P_CHARGEN" - 2>/dev/null | head -c 7030 >"$T/chargen.got" || :
cmp "$T/chargen.want" "$T/chargen.got" || fail "chargen: the first 7030 bytes differ from RFC 864"

# ---- daytime: one CRLF line in the default format, today's date.
day_before=$(date '+%A, %B %d, %Y')
timeout 10 socat -u "TCP:127.0.0.1:$P_DAYTIME" - >"$T/daytime" || fail "socat to daytime failed"
day_after=$(date '+%A, %B %d, %Y')
expect_eq "$(wc -l <"$T/daytime" | tr -d ' ')" 1 "lines from daytime"
line=$(cat "$T/daytime")
expect_match "$line" "^[A-Z][a-z]+day, [A-Z][a-z]+ [0-9]{2}, [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}-[A-Z+0-9-]+$CR\$" "daytime"
case "$line" in
"$day_before "* | "$day_after "*) ;;
*) fail "daytime: '$line' is not today ($day_before)" ;;
esac

# The classic query, nc with stdin at EOF: the half-close must not stop the reply.
timeout 10 nc -N 127.0.0.1 "$P_DAYTIME" </dev/null >"$T/daytime" || fail "nc to daytime failed"
expect_match "$(cat "$T/daytime")" "^[A-Z][a-z]+day, .*$CR\$" "daytime through nc -N"

# A custom daytime_format.
day_before=$(date '+day %j of %Y')
timeout 10 socat -u "TCP:127.0.0.1:$P_DAYCUSTOM" - >"$T/daytime" || fail "socat to daycustom failed"
day_after=$(date '+day %j of %Y')
line=$(cat "$T/daytime")
[ "$line" = "$day_before$CR" ] || [ "$line" = "$day_after$CR" ] ||
	fail "daytime_format: got '$line', expected '$day_before' + CRLF"

# ---- time: rdate accepts it, and the 4 bytes are now + 70 years.
expect_rc 0 timeout 10 rdate -p -o "$P_TIME" 127.0.0.1
timeout 10 socat -u "TCP:127.0.0.1:$P_TIME" - >"$T/time" || fail "socat to time failed"
now=$(date +%s)
expect_eq "$(wc -c <"$T/time" | tr -d ' ')" 4 "bytes from time"
# shellcheck disable=SC2046
set -- $(od -An -tu1 "$T/time")
t=$(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 - 2208988800 ))
d=$((t - now))
[ "$d" -ge -5 ] && [ "$d" -le 5 ] || fail "time: server says $t, clock says $now"

# ---- IPv6, dual-stack [::] (the default) and v6only.
if [ "$IPV6" = yes ]; then
	printf 'over IPv6\n' >"$T/in"
	timeout 10 socat -t 5 - "TCP6:[::1]:$P_ECHO6" <"$T/in" >"$T/got" ||
		fail "socat to [::1] failed"
	cmp "$T/in" "$T/got" || fail "echo over IPv6: got '$(cat "$T/got")'"
	expect_rc 0 "$TCLIENT" echo -a "tcp:[::1]:$P_ECHO6" -s 65536

	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_DUAL" -s 65536
	expect_rc 0 "$TCLIENT" echo -a "tcp:[::1]:$P_DUAL" -s 65536

	expect_rc 0 "$TCLIENT" echo -a "tcp:[::1]:$P_V6ONLY" -s 65536
	expect_rc 1 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_V6ONLY" -t 5
	expect_file_match "$T/err" "Connection refused" "IPv4 client of a v6only endpoint"
fi

# ---- chargen after a half-close: that is not a close, the stream goes on, as
# inetd's does (`nc -N HOST 19 </dev/null` shuts down at once). sockd is
# stopped while the client connects and shuts down its write side, so the
# FIN is already there when sockd first sees the connection; the kernel
# completes the handshake meanwhile.
expect_rc 0 "$TCLIENT" chargen -a "tcp:127.0.0.1:$P_CHARGEN" -b 100000 -H -t 10
kill -STOP "$SOCKD_PID"
start_bg halfclose "$TCLIENT" chargen -a "tcp:127.0.0.1:$P_CHARGEN" -b 100000 -H -t 20
sleep 1
kill -CONT "$SOCKD_PID"
wait_bg "$BG_PID" 30 || fail "chargen after a half-close: $(cat "$T/halfclose.err")"

# Still serving after all that, then a clean stop.
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 20 -s 100
expect_stop_ok
expect_clean_log
exit 0
