#!/bin/sh
# exec handoff: the quick-exit throttle, and the keys that do not fit a mode.
#
# (a) A udp "wait" program that exits at once without reading (a shell
#     script, like /bin/true, until a flag file appears) under a flood of
#     datagrams: sockd neither spins nor forks in a loop (the program runs
#     a bounded number of times), logs the episode once, and an echo
#     endpoint answers throughout. Once the program behaves (the flag),
#     the next datagram is answered, and sockd logs that restarts are no
#     longer delayed: the endpoint never stays failed.
# (b) `sockd -n` refuses keys that make no sense for the mode, each with
#     its file:line: instances > 1 with wait, accept-fds and nowait on udp,
#     start_at_launch without listen-fds, per-client keys with wait and
#     listen-fds, an unknown mode; argv0 of the wrong type.

. "$(dirname "$0")/lib.sh"

ACTPROG=$top_builddir/tests/integration/actprog
[ -x "$ACTPROG" ] || fail "no $ACTPROG (make check builds it)"
command -v socat >/dev/null || skip "no socat"

P_FLAKY=$(port 1)
P_ECHO=$(port 2)
P_B1=$(port 11)
P_B2=$(port 12)
P_B3=$(port 13)
P_B4=$(port 14)
P_B5=$(port 15)
P_B6=$(port 16)

# ---- (b) first: no daemon needed
cat >"$T/bad.conf" <<EOF
endpoints = (
	{ name = "w1"; listen = [ "udp:127.0.0.1:$P_B1" ]; service = "exec";
	  handoff = "wait";
	  instances = 2;
	  command = [ "/bin/cat" ]; },
	{ name = "a1"; listen = [ "udp:127.0.0.1:$P_B2" ]; service = "exec";
	  handoff = "accept-fds";
	  command = [ "/bin/cat" ]; },
	{ name = "n1";
	  listen = [ "tcp:127.0.0.1:$P_B3", "unix-dgram:$T/n1.sock" ]; service = "exec";
	  command = [ "/bin/cat" ]; },
	{ name = "s1"; listen = [ "tcp:127.0.0.1:$P_B4" ]; service = "exec";
	  handoff = "wait";
	  start_at_launch = true;
	  command = [ "/bin/cat" ]; },
	{ name = "p1"; listen = [ "tcp:127.0.0.1:$P_B5" ]; service = "exec";
	  handoff = "listen-fds";
	  max_per_source = 3;
	  rate = 10.0;
	  command = [ "/bin/cat" ]; },
	{ name = "u1"; listen = [ "tcp:127.0.0.1:$P_B6" ]; service = "exec";
	  handoff = "sometimes";
	  argv0 = 7;
	  command = [ "/bin/cat" ]; }
);
EOF
expect_rc 78 "$SOCKD" -n -f "$T/bad.conf"
cat >"$T/bad.want" <<EOF
$T/bad.conf:4: 'instances' must be 0 or 1 with handoff = "wait": one program holds the socket at a time
$T/bad.conf:7: service 'exec' serves datagram addresses like 'udp:127.0.0.1:$P_B2' only with handoff = "wait" or "listen-fds" (handoff = "accept-fds" hands over connections)
$T/bad.conf:10: service 'exec' serves datagram addresses like 'unix-dgram:$T/n1.sock' only with handoff = "wait" or "listen-fds" (handoff = "nowait" hands over connections)
$T/bad.conf:14: 'start_at_launch' requires handoff = "listen-fds"
$T/bad.conf:18: 'max_per_source' does not apply with handoff = "listen-fds": the program takes the clients off the socket, not sockd
$T/bad.conf:19: 'rate' does not apply with handoff = "listen-fds": the program takes the clients off the socket, not sockd
$T/bad.conf:22: unknown handoff 'sometimes' (nowait, wait, listen-fds, accept-fds)
$T/bad.conf:23: 'argv0' must be a string
EOF
if ! diff -u "$T/bad.want" "$T/err" >&2; then
	fail "sockd -n: the errors differ from the expected ones (above)"
fi
note "(b) $(wc -l <"$T/err") errors with their file:line"

# ---- (a)
cat >"$T/flaky.sh" <<EOF
#!/bin/sh
echo run >>"$T/runs"
[ -e "$T/good" ] && exec "$ACTPROG" udp-wait
exit 0
EOF
chmod 0755 "$T/flaky.sh"
: >"$T/runs"
cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "flaky"; listen = [ "udp:127.0.0.1:$P_FLAKY" ]; service = "exec";
	  handoff = "wait"; command = [ "$T/flaky.sh" ]; },
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; }
);
EOF
start_sockd "$T/sockd.conf"

# A flood of datagrams for 5 s (each line one datagram), bounded by time.
start_bg flood timeout 5 sh -c "yes x | socat -u -b 2 - UDP:127.0.0.1:$P_FLAKY"
flood=$BG_PID
wait_until 10 eval '[ "$(wc -l <"$T/runs")" -ge 3 ]' || fail "the flood did not start the program"
e=$(printf 'during the flood\n' | timeout 10 socat -t 3 - "TCP:127.0.0.1:$P_ECHO")
expect_eq "$e" "during the flood" "echo during the flood"
wait_bg "$flood" 20 || :
runs=$(wc -l <"$T/runs")
note "(a) the flaky program ran $runs times during a 5 s flood"
# Without the back-off it runs hundreds of times a second. With it: 3
# quick runs, then one after 0.25, 0.5, 1, 2, 4 s... (about 8 in 5 s).
[ "$runs" -le 15 ] || fail "the flaky program ran $runs times in 5 s: restarts are not throttled"
[ "$runs" -ge 3 ] || fail "the flaky program ran only $runs times: the flood did not start it"
wait_for_log 'endpoint flaky: its program .* ended or failed 3 times in a row' 10
n=$(grep -c 'ended or failed .* times in a row' "$SOCKD_LOG")
expect_eq "$n" 1 "lines logged about the episode"

# The program behaves from now on: a datagram gets an answer within the
# longest back-off (8 s) and what the flood left queued.
touch "$T/good"
answered=no
i=0
while [ $i -lt 20 ]; do
	r=$(printf ping | timeout 5 socat -t 1 - "UDP:127.0.0.1:$P_FLAKY" 2>/dev/null || :)
	if printf '%s\n' "$r" | grep -Eq '^pid=[0-9]+ ping$'; then
		answered=yes
		break
	fi
	i=$((i + 1))
done
[ $answered = yes ] || fail "the endpoint did not recover once its program behaved"
wait_for_log 'endpoint flaky: its program runs normally again; restarts no longer delayed' 15
note "(a) recovered: answered after the flood; one warning for the episode"
expect_stop_ok
expect_clean_log 'ended or failed 3 times in a row'
exit 0
