#!/bin/sh
# Exec programs whose client has gone.
#  (a) instances = 2 with /bin/sleep 100000: a third client is refused while
#      two hold the slots; clients that reset their connection free their
#      slot (the program gets SIGTERM about 1 s later), and five clients in
#      all are served, their programs gone (checked by pid).
#  (b) A Unix client that closes its socket (both directions: a hang-up
#      there) frees its slot the same way.
#  (c) A client that only half-closes (printf x | nc -N) is not gone: its
#      program, which reads stdin to EOF and answers 2 s later, still
#      answers it; the same over a Unix socket.
#  (d) A program that ignores SIGTERM gets SIGKILL 5 s after it, and that
#      is logged as a warning.
#  (e) The connection log line of an exec program says its pid and exit
#      status, no byte counts.
#  (f) A program's TCP connection has keepalive on (40 s), which is how a
#      client that closed normally (FIN) shows as gone once its system has
#      dropped the socket (tcp_fin_timeout, 60 s): with SOCKD_TEST_SLOW=1
#      such a client is checked to free its slot within 150 s.
. "$(dirname "$0")/lib.sh"

P_SLEEP=$(port 1)
P_WC=$(port 2)
P_STUB=$(port 3)
U_SLEEP=$T/sleep.sock
U_WC=$T/wc.sock

command -v nc >/dev/null || skip "no nc"

cat >"$T/stubborn.sh" <<'EOF'
#!/bin/sh
trap '' TERM
exec sleep 100000
EOF
chmod 0755 "$T/stubborn.sh"

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "sleep"; listen = [ "tcp:127.0.0.1:$P_SLEEP", "unix:$U_SLEEP" ]; service = "exec";
	  command = [ "/bin/sleep", "100000" ]; instances = 2; },
	{ name = "wc"; listen = [ "tcp:127.0.0.1:$P_WC", "unix:$U_WC" ]; service = "exec";
	  command = [ "/bin/sh", "-c", "wc -c; sleep 2; echo answered" ]; },
	{ name = "stubborn"; listen = [ "tcp:127.0.0.1:$P_STUB" ]; service = "exec";
	  command = [ "$T/stubborn.sh" ]; }
);
EOF
start_sockd "$T/sockd.conf"

# children: the pids of sockd's children running CMD (pgrep -x on the name).
children() {
	ps --ppid "$SOCKD_PID" -o pid=,comm= | awk -v c="$1" '$2 == c { print $1 }' | sort -n | tr '\n' ' '
}
n_children() {
	set -- $(children "$1")
	echo $#
}
gone() {
	! kill -0 "$1" 2>/dev/null
}
# new_child CMD KNOWN: wait until a child CMD not in KNOWN runs; print its pid.
new_child() {
	_i=0
	while [ $_i -lt 200 ]; do
		for _p in $(children "$1"); do
			case " $2 " in *" $_p "*) ;; *) echo "$_p"; return 0 ;; esac
		done
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# ---- (a) two clients hold both slots
start_bg c1 "$TCLIENT" connect-rst -a "tcp:127.0.0.1:$P_SLEEP" -n 1 -p "$T/go1" -t 60
C1=$BG_PID
wait_for_file_match "$T/c1.out" '^connected 1$' 10
K1=$(new_child sleep "") || fail "no program for the first client"
start_bg c2 "$TCLIENT" connect-rst -a "tcp:127.0.0.1:$P_SLEEP" -n 1 -p "$T/go2" -t 60
C2=$BG_PID
wait_for_file_match "$T/c2.out" '^connected 1$' 10
K2=$(new_child sleep "$K1") || fail "no program for the second client"
# A third is refused: accepted and closed at once.
expect_rc 0 timeout 10 socat -u "TCP:127.0.0.1:$P_SLEEP" STDOUT
wait_for_log '^sockd: endpoint sleep: refused 127\.0\.0\.1:[0-9]+ \(instances reached\)'
expect_eq "$(n_children sleep)" 2 "programs running for two held clients"
# Both reset: their programs go, the slots with them.
touch "$T/go1" "$T/go2"
wait_bg "$C1" 10 || fail "client 1: $(cat "$T/c1.err")"
wait_bg "$C2" 10 || fail "client 2: $(cat "$T/c2.err")"
wait_until 10 gone "$K1" || fail "the program of a client that reset ($K1) still runs"
wait_until 10 gone "$K2" || fail "the program of a client that reset ($K2) still runs"
wait_for_log "^sockd: endpoint sleep: pid $K1 killed by SIGTERM after [0-9.]+s$"
wait_for_log "^sockd: conn endpoint=sleep proto=tcp peer=127\.0\.0\.1:[0-9]+ pid=$K1 signal=TERM duration=[0-9.]+s outcome=client-gone$"
# Three more, in turn: each is served (a program starts for it), resets,
# and its program goes.
known="$K1 $K2"
for i in 3 4 5; do
	start_bg c$i "$TCLIENT" connect-rst -a "tcp:127.0.0.1:$P_SLEEP" -n 1 -p "$T/go$i" -t 60
	ci=$BG_PID
	wait_for_file_match "$T/c$i.out" '^connected 1$' 10
	k=$(new_child sleep "$known") || fail "no program for client $i: $(grep refused "$SOCKD_LOG" | tail -n 1)"
	known="$known $k"
	touch "$T/go$i"
	wait_bg "$ci" 10 || fail "client $i: $(cat "$T/c$i.err")"
	wait_until 10 gone "$k" || fail "the program of client $i ($k) still runs after its reset"
done
note "programs of the five clients: $known"
for k in $known; do
	gone "$k" || fail "program $k still runs"
done
expect_eq "$(grep -c '^sockd: endpoint sleep: refused' "$SOCKD_LOG")" 1 "refusals (only the third client, while both slots were held)"
expect_eq "$(grep -c '^sockd: conn endpoint=sleep .* outcome=client-gone$' "$SOCKD_LOG")" 5 "connections ended as client-gone"

# ---- (b) a Unix client that closes: a hang-up both ways
start_bg u1 socat -u "UNIX-CONNECT:$U_SLEEP" STDOUT
U1=$BG_PID
KU=$(new_child sleep "$known") || fail "no program for the Unix client"
kill -TERM "$U1"
wait_bg "$U1" 10 || :
wait_until 10 gone "$KU" || fail "the program of a Unix client that closed ($KU) still runs"
wait_for_log "^sockd: conn endpoint=sleep proto=unix peer=unix pid=$KU signal=TERM duration=[0-9.]+s outcome=client-gone$"

# ---- (c) half-closed clients are still there
printf x | timeout 20 nc -N 127.0.0.1 "$P_WC" >"$T/wc.got" 2>"$T/wc.err" || fail "nc -N: $(cat "$T/wc.err")"
expect_eq "$(tr '\n' ' ' <"$T/wc.got")" "1 answered " "what a half-closed TCP client got"
printf xyz | timeout 20 socat -t 10 - "UNIX-CONNECT:$U_WC" >"$T/wcu.got" 2>"$T/wcu.err" || fail "socat: $(cat "$T/wcu.err")"
expect_eq "$(tr '\n' ' ' <"$T/wcu.got")" "3 answered " "what a half-closed Unix client got"
wait_for_log '^sockd: conn endpoint=wc proto=tcp peer=127\.0\.0\.1:[0-9]+ pid=[0-9]+ status=0 duration=[0-9.]+s outcome=closed$'
wait_for_log '^sockd: conn endpoint=wc proto=unix peer=unix pid=[0-9]+ status=0 duration=[0-9.]+s outcome=closed$'

# ---- (d) SIGTERM ignored: SIGKILL 5 s later, logged
start_bg s1 "$TCLIENT" connect-rst -a "tcp:127.0.0.1:$P_STUB" -n 1 -p "$T/gos" -t 60
S1=$BG_PID
wait_for_file_match "$T/s1.out" '^connected 1$' 10
KS=$(new_child sleep "$known $KU") || fail "no program for the stubborn endpoint"
touch "$T/gos"
wait_bg "$S1" 10 || fail "stubborn client: $(cat "$T/s1.err")"
wait_for_log "^sockd: warning: endpoint stubborn: pid $KS still running [0-9.]+s after its client hung up, killing it \(SIGKILL\)$" 20
wait_until 10 gone "$KS" || fail "the program that ignores SIGTERM ($KS) still runs"
wait_for_log "^sockd: endpoint stubborn: pid $KS killed by SIGKILL after [0-9.]+s$"

# ---- (f) keepalive on the program's connection
start_bg k1 socat -u "TCP:127.0.0.1:$P_SLEEP" STDOUT
KA_CLIENT=$BG_PID
KA=$(new_child sleep "$known $KU $KS") || fail "no program for the keepalive client"
ka_timer() {
	ss -tnoH state established "( sport = :$P_SLEEP )" | grep -q 'timer:(keepalive,'
}
wait_until 10 ka_timer || fail "no keepalive timer on the program's connection: $(ss -tnoH "( sport = :$P_SLEEP )")"
if [ "${SOCKD_TEST_SLOW:-}" = 1 ]; then
	# socat closes its socket normally (a FIN): only the keepalive
	# probe after the client's FIN_WAIT2 is gone shows the hang-up.
	kill -TERM "$KA_CLIENT"
	wait_bg "$KA_CLIENT" 10 || :
	start=$(date +%s)
	wait_until 150 gone "$KA" || fail "the program of a client that closed normally ($KA) still runs after 150 s"
	note "a client that closed normally: its program went $(($(date +%s) - start)) s later"
else
	note "SOCKD_TEST_SLOW unset: not waiting the minute a normally closed client takes"
	kill -TERM "$KA_CLIENT"
	wait_bg "$KA_CLIENT" 10 || :
fi

# ---- (e) no byte counts on exec lines
if grep -E '^sockd: conn endpoint=(sleep|wc|stubborn) .* in=' "$SOCKD_LOG" >&2; then
	fail "an exec connection line has byte counts"
fi
expect_stop_ok
expect_clean_log 'still running .* after its client hung up'
exit 0
