#!/bin/sh
# exec handoff = "wait" (inetd's wait): the program gets the socket itself.
#
# (a) in.tftpd (tftpd-hpa) on udp, with tftp-hpa's client: a 300 KB random
#     file, byte-identical, twice in a row, then two transfers at once.
# (b) A udp wait program (actprog udp-wait): datagrams that come while it
#     runs are its own (one pid, one program), it leaves after two quiet
#     seconds, its exit is logged with status and run time, and the next
#     datagram starts a new one.
# (c) A stream wait program (actprog wait 2): it accepts two connections
#     on its stdin itself; a third client waits in the backlog and starts
#     the next program once the first has exited.
# (d) sockd's stop sends the program holding a socket SIGTERM.
#
# in.tftpd drops to user nobody and chroots (-s): that needs root.

. "$(dirname "$0")/lib.sh"

ACTPROG=$top_builddir/tests/integration/actprog
[ -x "$ACTPROG" ] || fail "no $ACTPROG (make check builds it)"
command -v socat >/dev/null || skip "no socat"

P_TFTP=$(port 1)
P_UDPW=$(port 2)
P_STREAMW=$(port 3)
P_ECHO=$(port 4)

TFTP=no
if ! is_root; then
	note "not root: in.tftpd needs root to chroot (-s) and switch to nobody; skipping (a)"
elif [ ! -x /usr/sbin/in.tftpd ] || ! command -v tftp >/dev/null; then
	note "no /usr/sbin/in.tftpd (tftpd-hpa) or tftp (tftp-hpa): skipping (a)"
else
	TFTP=yes
	mkdir "$T/tftp"
	chmod 0755 "$T" "$T/tftp"
	head -c 300000 /dev/urandom >"$T/tftp/big.bin"
	chmod 0644 "$T/tftp/big.bin"
fi

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 3.0; };
endpoints = (
	{ name = "tftp"; listen = [ "udp:127.0.0.1:$P_TFTP" ]; service = "exec";
	  handoff = "wait"; command = [ "/usr/sbin/in.tftpd", "-s", "$T/tftp" ]; },
	{ name = "udpwait"; listen = [ "udp:127.0.0.1:$P_UDPW" ]; service = "exec";
	  handoff = "wait"; command = [ "$ACTPROG", "udp-wait" ]; },
	{ name = "streamwait"; listen = [ "tcp:127.0.0.1:$P_STREAMW" ]; service = "exec";
	  handoff = "wait"; command = [ "$ACTPROG", "wait", "2" ]; },
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; }
);
EOF
if [ $TFTP = no ]; then
	sed -i '/name = "tftp"/,+1d' "$T/sockd.conf"
fi
start_sockd "$T/sockd.conf"

# ---- (a) tftpd-hpa
if [ $TFTP = yes ]; then
	cd "$T"
	for i in 1 2; do
		timeout 30 tftp 127.0.0.1 "$P_TFTP" -c get big.bin "got$i.bin" >"$T/tftp$i.out" 2>&1 ||
			fail "tftp get #$i failed: $(cat "$T/tftp$i.out")"
		cmp "$T/tftp/big.bin" "$T/got$i.bin" || fail "tftp get #$i: the file differs"
	done
	start_bg tftp3 timeout 30 tftp 127.0.0.1 "$P_TFTP" -c get big.bin got3.bin
	bg=$BG_PID
	timeout 30 tftp 127.0.0.1 "$P_TFTP" -c get big.bin got4.bin >"$T/tftp4.out" 2>&1 ||
		fail "tftp get #4 (beside #3) failed: $(cat "$T/tftp4.out")"
	wait_bg "$bg" 40 || fail "tftp get #3 failed: $(cat "$T/tftp3.out" "$T/tftp3.err")"
	cmp "$T/tftp/big.bin" "$T/got3.bin" || fail "tftp get #3: the file differs"
	cmp "$T/tftp/big.bin" "$T/got4.bin" || fail "tftp get #4: the file differs"
	cd - >/dev/null
	note "(a) in.tftpd: 4 gets of 300000 bytes, identical, two of them at once"
fi

# ---- (b) udp wait
udp() {
	printf '%s' "$1" | timeout 10 socat -t 3 - "UDP:127.0.0.1:$P_UDPW" 2>/dev/null || :
}
# Two datagrams 0.2 s apart from one client: the program that answers the
# first (and waits 2 s for more) answers the second.
r=$( { printf one; sleep 0.2; printf two; } | timeout 10 socat -t 3 - "UDP:127.0.0.1:$P_UDPW" 2>/dev/null || :)
r1=$(echo "$r" | sed -n 1p)
r2=$(echo "$r" | sed -n 2p)
expect_match "$r1" '^pid=[0-9]+ one$' "udp wait: first answer"
expect_match "$r2" '^pid=[0-9]+ two$' "udp wait: second answer"
pid1=${r1%% *}
expect_eq "${r2%% *}" "$pid1" "udp wait: the running program takes the second datagram"
wait_for_log "endpoint udpwait: pid ${pid1#pid=} exited with status 0 after [0-9.]+s" 15
r3=$(udp three)
expect_match "$r3" '^pid=[0-9]+ three$' "udp wait: answer after the program left"
[ "${r3%% *}" != "$pid1" ] || fail "udp wait: the third datagram was answered by the old pid"
note "(b) udp wait: ${pid1#pid=} answered two datagrams and left; ${r3%% *} (a new program) the third"

# ---- (c) stream wait: two connections per program
conn() {
	printf '%s\n' "$1" | timeout 20 socat -t 5 - "TCP:127.0.0.1:$P_STREAMW" 2>/dev/null || :
}
s1=$(conn a)
s2=$(conn b)
expect_match "$s1" '^pid=[0-9]+ n=1 fds=1 names= a$' "stream wait: first answer"
expect_match "$s2" '^pid=[0-9]+ n=2 fds=1 names= b$' "stream wait: second answer"
expect_eq "${s2%% *}" "${s1%% *}" "stream wait: one program accepted both"
s1pid=$(echo "$s1" | sed 's/^pid=\([0-9]*\).*/\1/')
wait_for_log "endpoint streamwait: pid $s1pid exited with status 0" 10
s3=$(conn c)
expect_match "$s3" '^pid=[0-9]+ n=1 fds=1 names= c$' "stream wait: answer from the next program"
[ "${s3%% *}" != "${s1%% *}" ] || fail "stream wait: the third connection went to the old program"
note "(c) stream wait: one program accepted two connections, the next one the third"

# The echo endpoint was served all along by the workers.
e=$(printf 'still here\n' | timeout 10 socat -t 3 - "TCP:127.0.0.1:$P_ECHO")
expect_eq "$e" "still here" "echo beside the wait endpoints"

# ---- (d) stop: the program holding the stream socket (started by s3,
# waiting for its second connection) gets SIGTERM.
s3pid=$(echo "$s3" | sed 's/^pid=\([0-9]*\).*/\1/')
kill -0 "$s3pid" 2>/dev/null || fail "stream wait: pid $s3pid is not running before the stop"
expect_stop_ok
expect_file_match "$SOCKD_LOG" "endpoint streamwait: pid $s3pid killed by SIGTERM" "the stop"
! kill -0 "$s3pid" 2>/dev/null || fail "pid $s3pid survived sockd's stop"
expect_clean_log
note "(d) stop: pid $s3pid got SIGTERM"
exit 0
