#!/bin/sh
# bench/restart_probe, the client that measures what issue 17 fixes: against
# a sockd that keeps running, every connection and datagram is ok and it
# exits 0; when sockd is stopped (SIGTERM) and started again while it runs,
# it sees the TCP and Unix connections refused, the datagrams lost and the
# held connections closed, all inside the window the test marks with
# SIGUSR1/SIGUSR2, and exits 1.
. "$(dirname "$0")/lib.sh"

PROBE=${RESTART_PROBE:-$top_builddir/bench/restart_probe}
[ -x "$PROBE" ] || fail "no restart_probe binary at $PROBE (run make)"

P=$(port 1)
TCP=tcp:127.0.0.1:$P
UNIX=unix:$T/echo.sock
UDP=udp:127.0.0.1:$P

# udp_rate = 0: the default 20 replies/s per source would drop most of the
# probe's 200 datagrams/s. The guard stays on, as on any loopback socket.
cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 1.0;
};
endpoints = (
	{ name = "echo"; listen = [ "$TCP", "$UNIX", "$UDP" ]; service = "echo";
	  udp_rate = 0; }
);
EOF

# jnum JSON KEY: the first "KEY":N in JSON. jpart JSON OBJ: what follows
# "OBJ":{ (the window or held figures come first in it).
jnum() {
	printf '%s\n' "$1" | grep -o "\"$2\":[0-9]*" | head -n 1 | cut -d: -f2
}
jpart() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":{//p"
}
jline() {
	grep -F "{\"target\":\"$2\"," "$1" || fail "no JSON line for $2 in $1: $(cat "$1")"
}

# ---- usage
expect_rc 64 "$PROBE"
expect_rc 64 "$PROBE" -r 0 "$TCP"
expect_rc 64 "$PROBE" "sctp:127.0.0.1:$P"

start_sockd "$T/sockd.conf"

# ---- a steady sockd: everything ok, exit 0. Attempts are due by the
# clock, so 2 s at 200/s is exactly 400 of them however loaded the machine.
expect_rc 0 "$PROBE" -j -d 2 "$TCP" "$UNIX" "$UDP"
cp "$T/out" "$T/steady.json"
for tg in "$TCP" "$UNIX" "$UDP"; do
	l=$(jline "$T/steady.json" "$tg")
	expect_match "$l" '"pass":true' "$tg, steady"
	case $tg in
	udp:*)	expect_eq "$(jnum "$l" sent)" 400 "$tg: datagrams sent"
		expect_eq "$(jnum "$l" lost)" 0 "$tg: datagrams lost" ;;
	*)	expect_eq "$(jnum "$l" attempts)" 400 "$tg: attempts"
		h=$(jpart "$l" held)
		[ "$(jnum "$h" echoes)" -ge 2 ] || fail "$tg: held connections sent nothing: $l"
		expect_eq "$(jnum "$h" closed)" 0 "$tg: held connections closed" ;;
	esac
	expect_eq "$(jnum "$l" ok)" 400 "$tg: ok"
done
# The table says the same.
expect_rc 0 "$PROBE" -q -d 0.5 -H 1 "$TCP" "$UNIX" "$UDP"
expect_file_match "$T/out" "^tcp:127\.0\.0\.1:$P +all +100 +100 +0 +0 +0 +0 +0 +0 " "table"
expect_file_match "$T/out" '^result: ok$' "table"

# ---- sockd stopped and started again under the probe. Each step waits for
# the probe to say it saw the one before.
start_bg probe "$PROBE" -j -d 15 -t 1000 "$TCP" "$UNIX" "$UDP"
PROBE_PID=$BG_PID
ERR=$T/probe.err
wait_for_file_match "$ERR" "$TCP: 2 held connections open"
wait_for_file_match "$ERR" "$UNIX: 2 held connections open"
kill -USR1 "$PROBE_PID"
wait_for_file_match "$ERR" 'window 1 begins at'
stop_sockd || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after SIGTERM"
wait_for_file_match "$ERR" "$TCP: refused at"
wait_for_file_match "$ERR" "$UNIX: refused at"
wait_for_file_match "$ERR" "$UDP: lost, from the datagram sent at"
wait_for_file_match "$ERR" "$TCP: held connection [01] reopen refused at"
wait_for_file_match "$ERR" "$UNIX: held connection [01] reopen refused at"
start_sockd "$T/sockd.conf"
wait_for_file_match "$ERR" "$TCP: ok again at"
wait_for_file_match "$ERR" "$UNIX: ok again at"
wait_for_file_match "$ERR" "$UDP: answered again"
for tg in "$TCP" "$UNIX"; do
	wait_until 10 eval "[ \$(grep -c '$tg: 2 held connections open' '$ERR') -ge 2 ]" ||
		fail "$tg: the held connections did not come back"
done
kill -USR2 "$PROBE_PID"
wait_for_file_match "$ERR" 'window 1 ends at'
kill -INT "$PROBE_PID"
st=0
wait_bg "$PROBE_PID" 20 || st=$?
expect_eq "$st" 1 "restart_probe's exit status after a restart that refused clients"

for tg in "$TCP" "$UNIX" "$UDP"; do
	l=$(jline "$T/probe.out" "$tg")
	w=$(jpart "$l" window)
	expect_match "$l" '"pass":false' "$tg, restarted"
	expect_match "$l" '"marks_ms":\[\[[0-9.]+,[0-9.]+\]\]' "$tg: one marked window"
	case $tg in
	udp:*)
		lost=$(jnum "$l" lost)
		[ "$lost" -ge 1 ] || fail "$tg: no datagram lost while sockd was down: $l"
		expect_eq "$(jnum "$w" lost)" "$lost" "$tg: datagrams lost inside the window"
		expect_match "$l" '"lost_seq":\[\[[0-9]+,[0-9]+,' "$tg: lost sequence numbers"
		expect_eq "$(jnum "$l" wrong)" 0 "$tg: wrong replies" ;;
	*)
		refused=$(jnum "$l" refused)
		[ "$refused" -ge 1 ] || fail "$tg: nothing refused while sockd was down: $l"
		expect_eq "$(jnum "$w" refused)" "$refused" "$tg: refusals inside the window"
		expect_eq "$(jnum "$l" wrong)" 0 "$tg: wrong echoes"
		h=$(jpart "$l" held)
		ended=$(( $(jnum "$h" closed) + $(jnum "$h" cut) + $(jnum "$h" reset) + $(jnum "$h" timeout) ))
		[ "$ended" -ge 2 ] || fail "$tg: the stop did not end both held connections: $l"
		[ "$(jnum "$h" opened)" -ge 4 ] || fail "$tg: held connections not reopened: $l"
		[ "$(jnum "$h" refused)" -ge 1 ] || fail "$tg: no held reopen was refused: $l" ;;
	esac
	[ "$(jnum "$w" ok)" -ge 1 ] || fail "$tg: nothing served again inside the window: $l"
done

expect_stop_ok
exit 0
