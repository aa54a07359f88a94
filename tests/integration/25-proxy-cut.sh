#!/bin/sh
# PROXY headers cut at every byte: each of four valid headers (v1 TCP4, v1
# TCP6, v2 TCP4, v2 TCP6 with a TLV) is sent cut after 0, 1, ... up to all
# but its last byte, one connection per cut, all at once, to endpoints that
# accept that version (and to one that accepts both). Expectations:
#  - not one cut header is served: no byte comes back, and the exec'd
#    program behind one endpoint never starts for them;
#  - a client that keeps its write side open is closed after proxy_timeout
#    (4 s) -- not before: a header may arrive slowly -- and not long after;
#  - a client that shuts down its write side after the cut is closed at once;
#  - the whole header is served, and meanwhile ordinary clients of a plain
#    endpoint and valid PROXY clients keep their normal service.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust.sh"

P_ANY=$(port 1)         # exec "echo served", proxy_protocol any
P_V1=$(port 2)          # echo, v1
P_V2=$(port 3)          # echo, v2
P_PLAIN=$(port 4)       # echo, no PROXY header
TIMEOUT=4

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; log_level = "debug"; };
endpoints = (
	{ name = "any"; listen = [ "tcp:127.0.0.1:$P_ANY" ]; service = "exec"; command = [ "/bin/echo", "served" ];
	  proxy_protocol = "any"; proxy_from = [ "127.0.0.1/32" ]; proxy_timeout = $TIMEOUT; },
	{ name = "v1"; listen = [ "tcp:127.0.0.1:$P_V1" ]; service = "echo";
	  proxy_protocol = "v1"; proxy_from = [ "127.0.0.1/32" ]; proxy_timeout = $TIMEOUT; },
	{ name = "v2"; listen = [ "tcp:127.0.0.1:$P_V2" ]; service = "echo";
	  proxy_protocol = "v2"; proxy_from = [ "127.0.0.1/32" ]; proxy_timeout = $TIMEOUT; },
	{ name = "plain"; listen = [ "tcp:127.0.0.1:$P_PLAIN" ]; service = "echo"; }
);
EOF

hex() {
	printf "$1" | od -An -v -tx1 | tr -d ' \n'
}
V1_TCP4=$(hex 'PROXY TCP4 127.0.0.9 127.0.0.1 5555 80\r\n')
V1_TCP6=$(hex 'PROXY TCP6 2001:db8::9 2001:db8::1 5555 80\r\n')
SIG=0d0a0d0a000d0a515549540a
V2_TCP4=${SIG}2111000c7f0000097f00000115b30050
V2_TCP6=${SIG}2121002920010db800000000000000000000000920010db800000000000000000000000115b30050040002abcd

start_sockd "$T/sockd.conf"
measure_latency quiet "tcp:127.0.0.1:$P_PLAIN"
QUIET=$P99

CUTS=0
# cut_start NAME PORT HEX MODE: all cuts of one header to one endpoint, and
# the whole header as a control, in the background.
cut_start() {
	start_bg "$1" "$STRESS" proxy-cut -a "tcp:127.0.0.1:$2" -H "$3" -m "$4" -C -T 30 -t 120
	eval "CUT_$(echo "$1" | tr - _)=\$BG_PID"
	eval "LEN_$(echo "$1" | tr - _)=$((${#3} / 2))"
}

# cut_check NAME MODE: what its cut connections saw.
cut_check() {
	eval "_pid=\$CUT_$(echo "$1" | tr - _) _len=\$LEN_$(echo "$1" | tr - _)"
	wait_bg "$_pid" 120 || {
		cat "$T/$1.err" >&2
		fail "$1: a cut header was served or not closed: $(cat "$T/$1.out")"
	}
	note "$1 ($_len bytes): $(cat "$T/$1.out")"
	_out=$(cat "$T/$1.out")
	expect_match "$_out" "^cuts=$_len closed=$_len served=0 " "$1"
	expect_match "$_out" ' control_bytes=[1-9]' "$1: the whole header"
	_min=$(echo "$_out" | sed -n 's/.* min_wait=\([0-9.]*\) .*/\1/p')
	_max=$(echo "$_out" | sed -n 's/.* max_wait=\([0-9.]*\) .*/\1/p')
	if [ "$2" = open ]; then
		awk -v a="$_min" -v b="$_max" -v t=$TIMEOUT 'BEGIN { exit !(a >= t - 0.5 && b < t + 5) }' ||
			fail "$1: cut headers were closed after $_min to $_max s with proxy_timeout = $TIMEOUT"
	else
		awk -v b="$_max" -v t=$TIMEOUT 'BEGIN { exit !(b < t - 1) }' ||
			fail "$1: a cut header followed by EOF was closed only after $_max s"
	fi
	CUTS=$((CUTS + _len))
}

# Ordinary clients while cut headers wait for their timeout.
start_bg during "$STRESS" proxy-cut -a "tcp:127.0.0.1:$P_V2" -H "$V2_TCP6" -m open -T 30 -t 120
DURING=$BG_PID
sleep 0.5
measure_latency plain "tcp:127.0.0.1:$P_PLAIN"
expect_latency_ok "$QUIET" "$P99" "PROXY headers cut and held open"
printf 'PROXY TCP4 127.0.0.9 127.0.0.1 5555 80\r\nvalid client\n' >"$T/valid.in"
expect_rc 0 timeout 20 socat -t 5 - "TCP:127.0.0.1:$P_V1" <"$T/valid.in"
expect_eq "$(cat "$T/out")" "valid client" "a valid PROXY client while cut headers wait"
wait_bg "$DURING" 60 || fail "cut headers held open: $(cat "$T/during.out" "$T/during.err")"
expect_match "$(cat "$T/during.out")" '^cuts=57 closed=57 served=0 ' "cut headers held open"
CUTS=$((CUTS + 57))

# Every header to every endpoint that takes it, first with the write side
# held open (all at once: each waits for the timeout), then shut down.
for mode in open shut; do
	for h in V1_TCP4 V1_TCP6 V2_TCP4 V2_TCP6; do
		eval "hex=\$$h"
		case $h in
		V1*) ep=v1 p=$P_V1 ;;
		*) ep=v2 p=$P_V2 ;;
		esac
		cut_start "any-$h-$mode" "$P_ANY" "$hex" $mode
		cut_start "$ep-$h-$mode" "$p" "$hex" $mode
		[ $mode = open ] || cut_check "any-$h-$mode" $mode
		[ $mode = open ] || cut_check "$ep-$h-$mode" $mode
	done
	[ $mode = open ] || continue
	for h in V1_TCP4 V1_TCP6 V2_TCP4 V2_TCP6; do
		case $h in
		V1*) ep=v1 ;;
		*) ep=v2 ;;
		esac
		cut_check "any-$h-$mode" $mode
		cut_check "$ep-$h-$mode" $mode
	done
done

# The program behind "any" ran for the whole headers only.
wait_until 10 eval '[ "$(grep -c "^sockd: endpoint any: pid [0-9]* exited" "$SOCKD_LOG")" -ge 8 ]' || :
expect_eq "$(grep -c '^sockd: endpoint any: pid [0-9]* exited' "$SOCKD_LOG")" 8 \
	"programs started behind endpoint any (8 whole headers)"
refusals=$(grep -Ec '^sockd: debug: endpoint (any|v1|v2): 127\.0\.0\.1:[0-9]+: (no complete PROXY header in time|closed before its PROXY header was complete)$' "$SOCKD_LOG" || :)
expect_eq "$refusals" "$CUTS" "cut headers refused (timed out or closed early)"
expect_rc 0 "$STRESS" echo-rand -a "tcp:127.0.0.1:$P_PLAIN" -c 10 -n 1000 -t 60
expect_stop_ok
expect_clean_log
exit 0
