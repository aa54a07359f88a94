#!/bin/sh
# Hostile clients, and what ordinary clients see meanwhile. For each kind the
# p99 latency of ordinary clients (a fresh connection, 1000 bytes echoed and
# checked) is measured before and during the attack; during it must stay
# within 20 times the quiet figure (at least 50 ms, at most 1 s), and every
# ordinary client must be served.
#  (a) 100 clients that never read from chargen: sockd's memory stays
#      bounded (at most one buffer each), readers still get the right stream.
#  (b) UDP floods from source ports a reflection attack would forge (7, 13,
#      19, 37, 53, 123, 1023 and 2049; below 1024 only as root) at the echo
#      and chargen datagram endpoints: the guard drops every one (not one
#      reply), while a client from an ordinary port is answered.
#  (c) slowloris: 2,000 connections that each send a byte every 2 s, so
#      that idle_timeout (4 s) never fires: lifetime (8 s) ends every one of
#      them -- not before it, not long after it, and not as idle.
#  (d) the same 2,000 from one address against max_per_source = 50: 50 are
#      held, the other 1,950 are closed at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust.sh"

P_ECHO=$(port 1)
P_CHARGEN=$(port 2)
P_SLOW=$(port 3)
P_MPS=$(port 4)
P_SRC=$(port 50)

SLOW=2000
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((SLOW + 1000)) ]; then
	ulimit -n $((SLOW + 1000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || :
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((SLOW + 500)) ]; then
	skip "ulimit -n is $(ulimit -n): too low for $SLOW connections"
fi

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; log_level = "debug"; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO", "udp:127.0.0.1:$P_ECHO" ]; service = "echo"; },
	{ name = "chargen"; listen = [ "tcp:127.0.0.1:$P_CHARGEN", "udp:127.0.0.1:$P_CHARGEN" ];
	  service = "chargen"; },
	{ name = "slow"; listen = [ "tcp:127.0.0.1:$P_SLOW" ]; service = "echo";
	  idle_timeout = 4; lifetime = 8; backlog = 4096; },
	{ name = "mps"; listen = [ "tcp:127.0.0.1:$P_MPS" ]; service = "echo";
	  max_per_source = 50; backlog = 4096; }
);
EOF
start_sockd "$T/sockd.conf"
measure_latency warmup "tcp:127.0.0.1:$P_ECHO" 50
measure_latency quiet "tcp:127.0.0.1:$P_ECHO"
QUIET=$P99
base_fds=$(settled_fds)

# ---- (a) never reading from chargen
rss0=$(rss_kb)
start_bg noread "$STRESS" noread-many -a "tcp:127.0.0.1:$P_CHARGEN" -n 100 -b 0 -t 300
NOREAD=$BG_PID
wait_for_file_match "$T/noread.out" '^held open=100 ' 60
sleep 2
rss1=$(rss_kb)
note "100 chargen clients that never read: VmRSS $rss0 kB -> $rss1 kB"
# One 64 kB chunk each at most, and some slack.
[ $((rss1 - rss0)) -lt 12288 ] ||
	fail "sockd's VmRSS grew by $((rss1 - rss0)) kB for 100 chargen clients that do not read"
measure_latency noread "tcp:127.0.0.1:$P_ECHO"
expect_latency_ok "$QUIET" "$P99" "100 chargen clients that never read"
expect_rc 0 "$TCLIENT" chargen -a "tcp:127.0.0.1:$P_CHARGEN" -b 2000000 -t 30
sleep 2
rss2=$(rss_kb)
[ $((rss2 - rss0)) -lt 12288 ] ||
	fail "sockd's VmRSS grew by $((rss2 - rss0)) kB (from $rss0 kB) with chargen clients that do not read"
stop_bg "$NOREAD"
wait_until 20 fds_at_most "$base_fds" || fail "sockd has $(fd_count) fds, $base_fds before the chargen clients"

# ---- (b) UDP floods from forged-looking source ports
if is_root; then
	PORTS=7,13,19,37,53,123,1023,2049
else
	note "not root: flooding from port 2049 only"
	PORTS=2049
fi
for target in "$P_ECHO" "$P_CHARGEN"; do
	start_bg "flood$target" "$STRESS" udp-flood -a "udp:127.0.0.1:$target" -p "$PORTS" -s 512 \
		-R 20000 -d 6 -w 2 -t 60
	FLOOD=$BG_PID
	sleep 1
	# -x: a chargen reply may be empty (0 to 512 characters, RFC 864),
	# and is then still one line of hex. -r 5: the client retransmits each
	# second, as real ones do: on a loaded machine the flood can overflow
	# the socket's receive buffer and drop its one datagram.
	expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$target" -m "ordinary client" -B "127.0.0.1:$P_SRC" -r 5 -t 6 -x
	[ -s "$T/out" ] || fail "no reply to an ordinary client during the flood on port $target"
	measure_latency "flood$target" "tcp:127.0.0.1:$P_ECHO"
	expect_latency_ok "$QUIET" "$P99" "UDP flood on port $target"
	wait_bg "$FLOOD" 60 || fail "udp-flood failed: $(cat "$T/flood$target.err")"
	note "flood on port $target from $PORTS: $(tail -n 1 "$T/flood$target.out")"
	expect_match "$(tail -n 1 "$T/flood$target.out")" '^sent=[0-9]{5,} replies=0 ' \
		"replies to forged source ports on port $target"
	sockd_alive || fail "sockd died in the UDP flood"
done
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m "after the flood" -B "127.0.0.1:$((P_SRC + 1))" -t 5
expect_eq "$(cat "$T/out")" "after the flood" "udp echo after the flood"

# ---- (c) slowloris against lifetime
start_bg slow "$STRESS" slowloris -a "tcp:127.0.0.1:$P_SLOW" -n $SLOW -i 2 -t 60
SLOWPID=$BG_PID
wait_for_file_match "$T/slow.out" '^connected ' 30
note "slowloris: $(cat "$T/slow.out")"
expect_match "$(cat "$T/slow.out")" "^connected open=[0-9]+ failed=0 " "slowloris connects"
measure_latency slow "tcp:127.0.0.1:$P_SLOW"
expect_latency_ok "$QUIET" "$P99" "2,000 slowloris connections"
wait_bg "$SLOWPID" 60 || fail "slowloris client failed: $(cat "$T/slow.err")"
note "slowloris: $(tail -n 1 "$T/slow.out")"
end=$(tail -n 1 "$T/slow.out")
expect_match "$end" "^end open=0 failed=0 closed=$SLOW " "slowloris connections ended by sockd"
min_life=$(echo "$end" | sed -n 's/.* min_life=\([0-9.]*\) .*/\1/p')
max_life=$(echo "$end" | sed -n 's/.* max_life=\([0-9.]*\)$/\1/p')
awk -v a="$min_life" -v b="$max_life" 'BEGIN { exit !(a >= 7.5 && b < 14) }' ||
	fail "slowloris connections lasted $min_life to $max_life s with lifetime = 8"
expect_eq "$(grep -c '^sockd: debug: conn endpoint=slow .* outcome=lifetime$' "$SOCKD_LOG")" $SLOW \
	"slowloris connections ended by lifetime"
expect_eq "$(grep -c '^sockd: debug: conn endpoint=slow .* outcome=idle-timeout$' "$SOCKD_LOG")" 0 \
	"slowloris connections ended as idle"

# ---- (d) slowloris from one address against max_per_source
start_bg mps "$STRESS" slowloris -a "tcp:127.0.0.1:$P_MPS" -n $SLOW -i 2 -B 127.0.0.2 -v -t 120
MPSPID=$BG_PID
wait_for_file_match "$T/mps.out" '^connected ' 30
mps_settled() {
	tail -n 1 "$T/mps.out" | grep -Eq "^status open=50 failed=0 closed=$((SLOW - 50))\$"
}
wait_until 30 mps_settled || fail "max_per_source = 50: $(tail -n 1 "$T/mps.out")"
measure_latency mps "tcp:127.0.0.1:$P_MPS"
expect_latency_ok "$QUIET" "$P99" "2,000 slowloris connections from 127.0.0.2 (max_per_source)"
sleep 3
mps_settled || fail "max_per_source = 50, later: $(tail -n 1 "$T/mps.out")"
stop_bg "$MPSPID"

sockd_alive || fail "sockd died"
wait_until 20 fds_at_most "$base_fds" || fail "sockd has $(fd_count) fds at the end, $base_fds at the start"
measure_latency after "tcp:127.0.0.1:$P_ECHO"
expect_stop_ok
expect_clean_log
exit 0
