#!/bin/sh
# Echo integrity under load: ROUNDTRIPS round trips (default 100,000 here;
# 1,000,000 in the soak, or `ROUNDTRIPS=1000000 22-echo-integrity.sh`) of
# random sizes from 1 to 65536 bytes over 100 connections at once. Each
# message is random bytes and must come back exactly before the next one
# goes; each connection ends with a half-close after which nothing more may
# come, and is replaced by a new one every 1,000 round trips. Expectation:
# zero corrupted, lost, added or reordered bytes, no connection refused,
# reset or stalled. Then the same, a tenth as many, over a Unix socket and
# through a forward endpoint (splice) into the echo; afterwards sockd's fds
# are back at their baseline and its memory did not grow (not checked
# under a sanitizer, whose quarantine holds freed memory).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust.sh"

ROUNDTRIPS=${ROUNDTRIPS:-100000}
SMALL=$((ROUNDTRIPS / 10))
P_ECHO=$(port 1)
P_FWD=$(port 2)

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO", "unix:$T/echo.sock" ]; service = "echo"; },
	{ name = "fwd"; listen = [ "tcp:127.0.0.1:$P_FWD" ]; service = "forward";
	  upstream = [ "unix:$T/echo.sock" ]; }
);
EOF
start_sockd "$T/sockd.conf"
expect_rc 0 "$STRESS" echo-rand -a "tcp:127.0.0.1:$P_ECHO" -c 10 -n 100 -t 60
base_fds=$(settled_fds)
rss0=$(rss_kb)

# run NAME ADDR N: N checked round trips over 100 connections.
run() {
	_rc=0
	"$STRESS" echo-rand -a "$2" -c 100 -n "$3" -S 65536 -r 1000 -T 60 -t 3000 \
		>"$T/$1.out" 2>"$T/$1.err" || _rc=$?
	note "$1: $(cat "$T/$1.out")"
	if [ $_rc != 0 ]; then
		head -n 20 "$T/$1.err" >&2
		fail "$1: $3 round trips over 100 connections to $2 failed"
	fi
	expect_match "$(cat "$T/$1.out")" "^roundtrips=$3 .* refused=0 reset=0 corrupt=0 stalled=0 " "$1"
}

run tcp "tcp:127.0.0.1:$P_ECHO" "$ROUNDTRIPS"
run unix "unix:$T/echo.sock" "$SMALL"
run forward "tcp:127.0.0.1:$P_FWD" "$SMALL"

sockd_alive || fail "sockd died"
wait_until 30 fds_at_most "$base_fds" ||
	fail "sockd has $(fd_count) fds after the clients left, $base_fds before"
[ "$(pipe_count)" -le 128 ] || fail "sockd keeps $(pipe_count) pipe fds, more than 2 workers' pools"
rss1=$(rss_kb)
note "VmRSS $rss0 kB before, $rss1 kB after"
# (A sanitizer's quarantine keeps freed memory for a while: not there.)
sockd_sanitized || [ "$rss1" -lt $((rss0 + 16384)) ] || fail "sockd's VmRSS grew from $rss0 kB to $rss1 kB"
expect_stop_ok
expect_clean_log
exit 0
