#!/bin/sh
# A reload storm: 100 reloads (SIGHUP), one right after the other, that add
# and remove an endpoint and change the worker count (1, 2, 3) and options,
# while 200 clients run checked echo traffic (150 over TCP, 50 over Unix;
# each reconnects every 20 round trips) on endpoints whose address never
# changes, and 10 more connect and drop at random (close, reset,
# half-close, unread data). Expectations: every reload succeeds; not one
# connection to the unchanged endpoints is refused, reset, stalled or
# corrupted; sockd never crashes; and once the clients are gone its fd count
# and memory are back at the baseline taken after a warm-up (10 reloads
# under the same load; memory not under a sanitizer, whose quarantine holds
# freed memory).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust.sh"

RELOADS=${RELOADS:-100}
P_ECHO=$(port 1)
P_EXTRA=$(port 2)
P_DAY=$(port 3)
CONF=$T/sockd.conf

# write_conf N: the configuration of reload N; "echo" (TCP and Unix) is the
# same in all of them, the rest changes.
write_conf() {
	_w=$(($1 % 3 + 1))
	case $(($1 % 4)) in
	0) _opts= ;;
	1) _opts='backlog = 2048;' ;;
	2) _opts='overload = "wait";' ;;
	*) _opts='backlog = 1024; idle_timeout = 60;' ;;
	esac
	{
		cat <<EOF
daemon = { workers = $_w; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO", "unix:$T/echo.sock" ]; service = "echo"; $_opts },
	{ name = "daytime"; listen = [ "tcp:127.0.0.1:$P_DAY" ]; service = "daytime";
	  daytime_format = "reload $1 %Y"; }
EOF
		[ $(($1 % 2)) = 0 ] || printf ',\n\t{ name = "extra"; listen = [ "tcp:127.0.0.1:%s", "udp:127.0.0.1:%s" ]; service = "echo"; }' \
			"$P_EXTRA" "$P_EXTRA"
		printf '\n);\n'
	} >"$CONF.new"
	mv "$CONF.new" "$CONF"
}

count_lines() {
	grep -Ec -- "$2" "$1" 2>/dev/null || :
}

# reload N: write configuration N, SIGHUP, wait until it is in.
reload() {
	_before=$(count_lines "$SOCKD_LOG" '^sockd: (reloaded: |error: reload failed)')
	write_conf "$1"
	kill -HUP "$SOCKD_PID"
	wait_until 30 eval '[ "$(count_lines "$SOCKD_LOG" "^sockd: (reloaded: |error: reload failed)")" -gt "$_before" ]' ||
		fail "reload $1: no 'reloaded' line within 30 s"
	[ "$(count_lines "$SOCKD_LOG" '^sockd: error: reload failed')" = 0 ] || fail "reload $1 failed"
	sockd_alive || fail "sockd died in reload $1"
}

# traffic NAME: the 200 checked clients and the 10 that drop at random,
# until $T/NAME.stop exists.
traffic_start() {
	rm -f "$T/$1.stop"
	start_bg "$1-tcp" "$STRESS" echo-rand -a "tcp:127.0.0.1:$P_ECHO" -c 150 -S 16384 -r 20 \
		-u "$T/$1.stop" -T 60 -t 900
	TR_TCP=$BG_PID
	start_bg "$1-unix" "$STRESS" echo-rand -a "unix:$T/echo.sock" -c 50 -S 16384 -r 20 \
		-u "$T/$1.stop" -T 60 -t 900
	TR_UNIX=$BG_PID
	start_bg "$1-churn" "$STRESS" churn -a "tcp:127.0.0.1:$P_ECHO" -c 10 -u "$T/$1.stop" -t 900
	TR_CHURN=$BG_PID
}

traffic_stop() {
	touch "$T/$1.stop"
	for _k in tcp unix churn; do
		eval "_p=\$TR_$(echo $_k | tr a-z A-Z)"
		_st=0
		wait_bg "$_p" 120 || _st=$?
		note "$1 $_k: $(cat "$T/$1-$_k.out")"
		if [ $_st != 0 ]; then
			head -n 20 "$T/$1-$_k.err" >&2
			fail "$1: the $_k clients saw failures during the reloads"
		fi
	done
	expect_match "$(cat "$T/$1-tcp.out")" ' refused=0 reset=0 corrupt=0 stalled=0 ' "$1 tcp clients"
	expect_match "$(cat "$T/$1-unix.out")" ' refused=0 reset=0 corrupt=0 stalled=0 ' "$1 unix clients"
	expect_match "$(cat "$T/$1-churn.out")" ' refused=0$' "$1 churn clients"
}

# Traffic flowed: at least this many round trips.
expect_traffic() {
	_n=$(sed -n 's/^roundtrips=\([0-9]*\) .*/\1/p' "$T/$1-tcp.out")
	[ "${_n:-0}" -ge "$2" ] || fail "$1: only ${_n:-0} round trips over TCP"
}

write_conf 0
start_sockd "$CONF"

# ---- warm-up: 10 reloads under load, then the baseline.
traffic_start warm
n=1
while [ $n -le 10 ]; do
	reload $n
	n=$((n + 1))
done
sleep 1
traffic_stop warm
expect_traffic warm 100
base_fds=$(settled_fds)
base_rss=$(rss_kb)
note "baseline after the warm-up: $base_fds fds (and $(pipe_count) pipes), VmRSS $base_rss kB"

# ---- the storm.
traffic_start storm
start=$(date +%s)
last=$((10 + RELOADS))
while [ $n -le $last ]; do
	reload $n
	n=$((n + 1))
done
note "$RELOADS reloads in $(($(date +%s) - start)) s"
sleep 1
traffic_stop storm
expect_traffic storm 1000
sockd_alive || fail "sockd died in the storm"
expect_eq "$(count_lines "$SOCKD_LOG" '^sockd: reloaded: ')" $((RELOADS + 10)) "reloads done"

# ---- back to the baseline's configuration, and its numbers.
reload 10
wait_until 30 fds_at_most "$base_fds" || {
	ls -l "/proc/$SOCKD_PID/fd" >&2
	fail "sockd has $(fd_count) fds after the storm, $base_fds after the warm-up"
}
rss=$(rss_kb)
note "after the storm: $(fd_count) fds, VmRSS $rss kB"
# (A sanitizer's quarantine keeps freed memory for a while: not there.)
sockd_sanitized || [ "$rss" -lt $((base_rss + 4096)) ] ||
	fail "sockd's VmRSS grew from $base_rss kB to $rss kB in the storm"
expect_rc 0 "$STRESS" echo-rand -a "tcp:127.0.0.1:$P_ECHO" -c 20 -n 2000 -t 60
expect_stop_ok
expect_clean_log
exit 0
