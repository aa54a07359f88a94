#!/bin/sh
# Programs and upstreams that misbehave.
#  (a) An exec program that leaves a grandchild behind with the connection
#      and exits: sockd reaps the program at once (no zombie), and the
#      client goes on being served by the grandchild until it is done.
#  (b) A client that resets its connection while the program (or a
#      grandchild it left) still holds the socket: sockd does not spin on
#      the hangup (under 0.5 s of CPU in 2 s); the program, whose client is
#      gone, gets SIGTERM (27-exec-hangup.sh has the details).
#  (c) A program that closes its stdin and stdout early: the client sees EOF
#      at once, while the program lives on, is reaped when it exits.
#  (d) A program that ignores SIGTERM: on sockd's SIGTERM it keeps its
#      connection for shutdown_timeout (2 s) -- not less -- then gets
#      SIGKILL, the client sees EOF, and sockd exits 0; with lifetime = 2 the
#      same program is killed after 2 s.
#  (e) A forward upstream that accepts and never reads: the client gets
#      backpressure (its sending stops well short of 64 MB), sockd's memory
#      stays flat, and idle_timeout (3 s) closes both sides.
#  (f) A Unix upstream that answers and closes at once while its client
#      stays connected and silent: the client gets the answer and EOF, and
#      sockd does not spin on the upstream's hangup (Unix sockets report
#      it to epoll, asked or not).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust.sh"

P_GC=$(port 1)
P_SLEEP=$(port 2)
P_EARLY=$(port 3)
P_STUB=$(port 4)
P_STUBLIFE=$(port 5)
P_FWD=$(port 6)
P_FWDDAY=$(port 7)
U_NOREAD=$(port 30)

cat >"$T/gc.sh" <<'EOF'
#!/bin/sh
# Leave the connection to a grandchild, and go. (sh gives a background
# job /dev/null as stdin, even with <&0: pass it on as fd 3.)
echo "child $$"
exec 3<&0
(
	sleep 2
	echo "grandchild $(sh -c 'echo $PPID')"
	exec cat <&3 3<&-
) &
exit 0
EOF
cat >"$T/gcsleep.sh" <<'EOF'
#!/bin/sh
# A grandchild that holds the connection without reading it.
exec 3<&0
(exec sleep 4 <&3 3<&-) &
exit 0
EOF
cat >"$T/early.sh" <<'EOF'
#!/bin/sh
echo "bye $$"
exec >&- <&-
sleep 3
echo "early child $$ done" >&2
EOF
cat >"$T/stubborn.sh" <<'EOF'
#!/bin/sh
trap '' TERM
echo "started $$"
exec sleep 30
EOF
chmod 0755 "$T/gc.sh" "$T/gcsleep.sh" "$T/early.sh" "$T/stubborn.sh"

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "gc"; listen = [ "tcp:127.0.0.1:$P_GC" ]; service = "exec"; command = [ "$T/gc.sh" ]; },
	{ name = "gcsleep"; listen = [ "tcp:127.0.0.1:$((P_GC + 10))" ]; service = "exec";
	  command = [ "$T/gcsleep.sh" ]; },
	{ name = "sleep"; listen = [ "tcp:127.0.0.1:$P_SLEEP" ]; service = "exec"; command = [ "/bin/sleep", "4" ]; },
	{ name = "early"; listen = [ "tcp:127.0.0.1:$P_EARLY" ]; service = "exec"; command = [ "$T/early.sh" ]; },
	{ name = "stubborn"; listen = [ "tcp:127.0.0.1:$P_STUB" ]; service = "exec"; command = [ "$T/stubborn.sh" ]; },
	{ name = "stublife"; listen = [ "tcp:127.0.0.1:$P_STUBLIFE" ]; service = "exec";
	  command = [ "$T/stubborn.sh" ]; lifetime = 2; },
	{ name = "fwd"; listen = [ "tcp:127.0.0.1:$P_FWD" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_NOREAD" ]; idle_timeout = 3; },
	{ name = "fwdday"; listen = [ "tcp:127.0.0.1:$P_FWDDAY" ]; service = "forward";
	  upstream = [ "unix:$T/day.sock" ]; }
);
EOF

# utime + stime of sockd, in clock ticks.
cpu_ticks() {
	sed 's/.*) //' "/proc/$SOCKD_PID/stat" | awk '{ print $12 + $13 }'
}
TCK=$(getconf CLK_TCK)

# expect_no_spin WHAT: sockd uses under 0.5 s of CPU in the next 2 s.
expect_no_spin() {
	_c0=$(cpu_ticks)
	sleep 2
	_c1=$(cpu_ticks)
	note "$1: sockd used $((_c1 - _c0)) ticks (CLK_TCK $TCK) in 2 s"
	[ $(((_c1 - _c0) * 2)) -lt "$TCK" ] ||
		fail "$1: sockd used $((_c1 - _c0)) ticks of CPU in 2 s (CLK_TCK $TCK)"
}

no_zombies() {
	! ps --ppid "$SOCKD_PID" -o stat= | grep -q Z
}

elapsed() {
	awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", e - s }'
}

start_sockd "$T/sockd.conf"
base_fds=$(settled_fds)

# ---- (a) the grandchild serves on
mkfifo "$T/gc.fifo"
start_bg gcclient socat -t 10 "TCP:127.0.0.1:$P_GC" "OPEN:$T/gc.fifo!!CREATE:$T/gc.got"
GCCLIENT=$BG_PID
exec 3<>"$T/gc.fifo"
wait_for_file_match "$T/gc.got" '^child [0-9]+$' 20
GC_CHILD=$(sed -n 's/^child //p' "$T/gc.got")
wait_for_log "^sockd: endpoint gc: pid $GC_CHILD exited with status 0 after [0-9.]+s$" 20
kill -0 "$GCCLIENT" 2>/dev/null || fail "the client of gc.sh ended with its program: $(cat "$T/gc.got")"
wait_until 10 no_zombies || fail "zombies among sockd's children: $(ps --ppid "$SOCKD_PID" -o pid=,stat=,args=)"
wait_for_file_match "$T/gc.got" '^grandchild [0-9]+$' 20
GRANDCHILD=$(sed -n 's/^grandchild //p' "$T/gc.got")
kill -0 "$GRANDCHILD" 2>/dev/null || fail "no grandchild $GRANDCHILD"
printf 'for the grandchild\n' >&3
wait_for_file_match "$T/gc.got" '^for the grandchild$' 20
exec 3>&-
wait_bg "$GCCLIENT" 20 || fail "the client of the grandchild failed: $(cat "$T/gcclient.err")"
printf 'child %s\ngrandchild %s\nfor the grandchild\n' "$GC_CHILD" "$GRANDCHILD" >"$T/gc.want"
cmp -s "$T/gc.want" "$T/gc.got" || fail "the client of gc.sh got '$(cat "$T/gc.got")'"
wait_until 10 eval '! kill -0 "$GRANDCHILD" 2>/dev/null' || fail "the grandchild $GRANDCHILD outlived its client"

# ---- (b) a reset while the program, then a grandchild, holds the socket
expect_rc 0 "$TCLIENT" connect-rst -a "tcp:127.0.0.1:$P_SLEEP" -n 1 -t 10
expect_no_spin "a client reset while its program runs"
expect_rc 0 "$TCLIENT" connect-rst -a "tcp:127.0.0.1:$((P_GC + 10))" -n 1 -t 10
wait_for_log '^sockd: endpoint gcsleep: pid [0-9]+ exited with status 0' 20
expect_no_spin "a client reset while a grandchild holds its socket"
wait_for_log '^sockd: endpoint sleep: pid [0-9]+ killed by SIGTERM after' 20

# ---- (c) stdout closed early
start=$(date +%s.%N)
expect_rc 0 timeout 20 socat -u "TCP:127.0.0.1:$P_EARLY" STDOUT
took=$(elapsed "$start")
expect_match "$(cat "$T/out")" '^bye [0-9]+$' "what the client of early.sh got"
EARLY=$(sed -n 's/^bye //p' "$T/out")
note "early.sh closed its stdout: the client saw EOF after $took s"
awk -v t="$took" 'BEGIN { exit !(t < 2.5) }' || fail "the client saw EOF only after $took s"
kill -0 "$EARLY" 2>/dev/null || fail "early.sh ($EARLY) is gone already: it should sleep 3 s"
if grep -q "^sockd: endpoint early: pid $EARLY exited" "$SOCKD_LOG"; then
	fail "early.sh was reaped before the client saw EOF"
fi
wait_for_log "^early child $EARLY done$" 20
wait_for_log "^sockd: endpoint early: pid $EARLY exited with status 0 after [0-9.]+s$" 20
wait_until 10 no_zombies || fail "zombies among sockd's children: $(ps --ppid "$SOCKD_PID" -o pid=,stat=,args=)"

# ---- (e) an upstream that never reads
start_bg noread "$STRESS" listen-noread -a "tcp:127.0.0.1:$U_NOREAD" -k 4096 -t 120
NOREAD=$BG_PID
wait_for_file_match "$T/noread.out" '^listening$' 10
wait_until 30 fds_at_most "$base_fds" || fail "sockd has $(fd_count) fds, $base_fds at the start"
rss0=$(rss_kb)
start=$(date +%s.%N)
start_bg push "$STRESS" push -a "tcp:127.0.0.1:$P_FWD" -b 67108864 -w 2 -t 60
PUSH=$BG_PID
wait_for_file_match "$T/push.out" '^sent [0-9]+$' 60
sent=$(sed -n 's/^sent //p' "$T/push.out")
rss1=$(rss_kb)
note "the client sent $sent bytes toward an upstream that never reads; sockd VmRSS $rss0 kB -> $rss1 kB"
[ "$sent" -lt 33554432 ] || fail "the client sent $sent bytes toward an upstream that never reads: no backpressure"
[ $((rss1 - rss0)) -lt 4096 ] || fail "sockd's VmRSS grew by $((rss1 - rss0)) kB toward an upstream that never reads"
wait_bg "$PUSH" 30 || fail "forward to an upstream that never reads was not closed: $(cat "$T/push.out" "$T/push.err")"
note "$(tail -n 1 "$T/push.out") (the last byte went out); $(elapsed "$start") s in all"
wait_for_log '^sockd: conn endpoint=fwd proto=tcp .* outcome=idle-timeout$' 10
expect_file_match "$T/noread.out" '^accepted 1$' "the upstream that never reads"
wait_until 10 fds_at_most "$base_fds" ||
	fail "sockd has $(fd_count) fds after idle_timeout closed the forward pair, $base_fds at the start"
stop_bg "$NOREAD"

# ---- (f) an upstream that hangs up while its client stays
start_bg dayup socat "UNIX-LISTEN:$T/day.sock" "SYSTEM:echo upstream says hi"
DAYUP=$BG_PID
wait_until 10 test -S "$T/day.sock" || fail "socat did not listen on $T/day.sock: $(cat "$T/dayup.err")"
start_bg dayclient "$TCLIENT" hold -a "tcp:127.0.0.1:$P_FWDDAY" -n 1 -t 8
DAYCLIENT=$BG_PID
wait_for_file_match "$T/dayclient.out" '^held 1$' 10
wait_for_log '^sockd: conn endpoint=fwdday proto=tcp .* out=17 .* outcome=closed$' 10
expect_no_spin "a forward client that stays after its upstream hung up"
wait_bg "$DAYCLIENT" 20 || fail "the client of fwdday failed: $(cat "$T/dayclient.err")"
expect_file_match "$T/dayclient.err" '1 of 1 connections were closed by the server' "the client of fwdday"
wait_bg "$DAYUP" 10 || fail "the upstream of fwdday failed: $(cat "$T/dayup.err")"

# ---- (d) SIGTERM ignored: killed after shutdown_timeout, or at lifetime
start_bg life socat -u "TCP:127.0.0.1:$P_STUBLIFE" STDOUT
LIFE=$BG_PID
wait_for_file_match "$T/life.out" '^started [0-9]+$' 20
LIFE_CHILD=$(sed -n 's/^started //p' "$T/life.out")
wait_bg "$LIFE" 20 || fail "the client of stublife failed: $(cat "$T/life.err")"
wait_for_log "^sockd: endpoint stublife: pid $LIFE_CHILD killed by SIGKILL after [0-9.]+s$" 10
kill -0 "$LIFE_CHILD" 2>/dev/null && fail "the program past its lifetime ($LIFE_CHILD) still runs"

start_bg stub socat -u "TCP:127.0.0.1:$P_STUB" STDOUT
STUB=$BG_PID
wait_for_file_match "$T/stub.out" '^started [0-9]+$' 20
STUB_CHILD=$(sed -n 's/^started //p' "$T/stub.out")
start=$(date +%s.%N)
expect_stop_ok 20
took=$(elapsed "$start")
note "sockd exited $took s after SIGTERM (shutdown_timeout = 2)"
awk -v t="$took" 'BEGIN { exit !(t >= 1.8 && t < 8) }' ||
	fail "sockd exited $took s after SIGTERM with a program that ignores it (shutdown_timeout = 2)"
expect_file_match "$SOCKD_LOG" "^sockd: endpoint stubborn: pid $STUB_CHILD killed by SIGKILL after [0-9.]+s$"
kill -0 "$STUB_CHILD" 2>/dev/null && fail "the program that ignores SIGTERM ($STUB_CHILD) outlived sockd"
wait_bg "$STUB" 10 || fail "the client of the stubborn program did not end well: $(cat "$T/stub.err")"
expect_clean_log
exit 0
