#!/bin/sh
# Socket activation with systemd-socket-activate: sockd adopts the sockets
# it is given (by FileDescriptorName, else by address and socket type),
# closes the ones that match nothing, binds the rest itself, and refuses a
# connected (Accept=yes) socket.
#
# systemd-socket-activate listens first and execs sockd (same pid) on the
# first connection or datagram, so the first client of each run is also
# what starts sockd.
. "$(dirname "$0")/lib.sh"

SSA=$(command -v systemd-socket-activate 2>/dev/null || :)
[ -n "$SSA" ] || skip "systemd-socket-activate is not installed (package systemd)"

P_NAMED=$(port 1)       # passed, named "echo"; in no config
P_CONFECHO=$(port 2)    # the config address of endpoint "echo"
P_BYADDR=$(port 3)      # passed without a useful name; equals endpoint "byaddr"'s address
P_STRAY=$(port 4)       # passed, matches nothing
P_UDP=$(port 5)         # passed datagram socket, named "uecho"
P_TYPE=$(port 6)        # passed as UDP, configured as TCP: type differs, no match
P_ACCEPT=$(port 7)      # --accept: sockd gets a connected socket

SA_PID=

# sa_start NAME CONFIG SSA-ARGS...: start systemd-socket-activate (which
# becomes sockd) with its own notify listener; sockd's stderr is $SOCKD_LOG.
sa_start() {
	_sa=$1
	_sa_conf=$2
	shift 2
	rm -f "$T/$_sa.notify"
	start_bg "$_sa-notify" "$TCLIENT" notify -p "$T/$_sa.notify" -t 300
	wait_until 10 test -S "$T/$_sa.notify" || fail "notify listener for $_sa did not start"
	# systemd-socket-activate passes on only the environment it is told to.
	start_bg "$_sa" "$SSA" -E NOTIFY_SOCKET="$T/$_sa.notify" "$@" \
		"$SOCKD" -F -f "$_sa_conf"
	SA_PID=$BG_PID
	SOCKD_LOG=$T/$_sa.err
	NOTIFY_OUT=$T/$_sa-notify.out
}

# systemd-socket-activate prints "Listening on ADDR as FD." before it waits.
sa_wait_listening() {
	wait_for_log "Listening on .* as $1\." 10
}

# sa_wait_ready: after the first client, sockd must say READY=1.
sa_wait_ready() {
	wait_for_file_match "$NOTIFY_OUT" '^READY=1$' 20
	kill -0 "$SA_PID" 2>/dev/null || fail "sockd exited after READY=1"
}

# sa_stop [ERE]: SIGTERM, expect exit status 0, "sockd: stopped", and no
# warning or error but those matching ERE.
sa_stop() {
	kill -TERM "$SA_PID" 2>/dev/null || :
	sa_st=0
	wait_bg "$SA_PID" 20 || sa_st=$?
	expect_eq "$sa_st" 0 "sockd's exit status after SIGTERM"
	expect_file_match "$SOCKD_LOG" '^sockd: stopped$' "sockd's log"
	expect_clean_log "${1:-^\$}"
}

refused() {
	_rc=0
	"$TCLIENT" echo -a "$1" -s 16 -t 5 >"$T/refused.out" 2>"$T/refused.err" || _rc=$?
	[ "$_rc" -ne 0 ] && grep -q 'Connection refused' "$T/refused.err"
}

# ---- 1. By name, by address, and a stray fd; three names in LISTEN_FDNAMES.
# fd 3 (named "echo") is not at the config address of endpoint echo: the
# name alone routes it, and sockd still binds the config address itself.
# fd 4 has the name a socket unit gives by default, and the address of
# endpoint "byaddr". fd 5 matches neither.
cat >"$T/named.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_CONFECHO" ]; service = "echo"; },
	{ name = "byaddr"; listen = [ "tcp:127.0.0.1:$P_BYADDR" ]; service = "echo"; }
);
EOF
sa_start named "$T/named.conf" \
	-l "127.0.0.1:$P_NAMED" -l "127.0.0.1:$P_BYADDR" -l "127.0.0.1:$P_STRAY" \
	--fdname=echo:sockd.socket:sockd.socket
sa_wait_listening 5
# The first client starts sockd and must be served by it.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_NAMED" -s 100000 -t 30
sa_wait_ready
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_NAMED \(echo, from systemd\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_CONFECHO \(echo\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_BYADDR \(byaddr, from systemd\)$"
if grep -E "^sockd: listening on tcp:127\.0\.0\.1:$P_BYADDR \(byaddr\)$" "$SOCKD_LOG" >&2; then
	fail "sockd bound an address that systemd had passed"
fi
expect_file_match "$SOCKD_LOG" "^sockd: warning: .*127\.0\.0\.1:$P_STRAY.* matches no endpoint, closing it$"
expect_file_match "$SOCKD_LOG" '^sockd: ready: 3 listeners, 2 workers$'
if grep -E "^sockd: listening on .*:$P_STRAY" "$SOCKD_LOG" >&2; then
	fail "sockd listens on the stray fd"
fi

expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_NAMED" -s 65536
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_CONFECHO" -s 65536
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_BYADDR" -s 65536
printf 'through socat\n' >"$T/in"
timeout 10 socat -t 5 - "TCP:127.0.0.1:$P_BYADDR" <"$T/in" >"$T/got" || fail "socat to byaddr failed"
cmp "$T/in" "$T/got" || fail "echo on the adopted socket: socat got '$(cat "$T/got")'"
# sockd holds the only copy of the stray socket, so closing it means refusing.
wait_until 10 refused "tcp:127.0.0.1:$P_STRAY" ||
	fail "the stray fd still accepts connections: $(cat "$T/refused.err")"
sa_stop 'matches no endpoint, closing it$'

# ---- 2. Unix stream and seqpacket sockets, no LISTEN_FDNAMES at all: matched
# by path and type. The socket files belong to systemd: sockd must leave
# them in place when it exits.
U_STREAM=$T/u.sock
cat >"$T/unix.conf" <<EOF
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "uecho"; listen = [ "unix:$U_STREAM" ]; service = "echo"; }
);
EOF
sa_start unix "$T/unix.conf" -l "$U_STREAM"
sa_wait_listening 3
expect_rc 0 "$TCLIENT" echo -a "unix:$U_STREAM" -s 100000 -t 30
sa_wait_ready
expect_file_match "$SOCKD_LOG" "^sockd: listening on unix:$U_STREAM \(uecho, from systemd\)$"
expect_file_match "$SOCKD_LOG" '^sockd: ready: 1 listeners, 1 workers$'
expect_rc 0 "$TCLIENT" echo-many -a "unix:$U_STREAM" -n 50 -s 1000
sa_stop
test -S "$U_STREAM" || fail "sockd removed $U_STREAM, a socket file that systemd created"

U_SEQ=$T/seq.sock
cat >"$T/seq.conf" <<EOF
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "seqecho"; listen = [ "unix-seqpacket:$U_SEQ" ]; service = "echo"; }
);
EOF
sa_start seq "$T/seq.conf" --seqpacket -l "$U_SEQ"
sa_wait_listening 3
expect_rc 0 "$TCLIENT" echo -a "unix-seqpacket:$U_SEQ" -s 3000 -c 1000 -t 30
sa_wait_ready
expect_file_match "$SOCKD_LOG" "^sockd: listening on unix-seqpacket:$U_SEQ \(seqecho, from systemd\)$"
sa_stop

# ---- 3. Datagram sockets (--datagram): one named for its endpoint, one at the
# port of a TCP endpoint. The second has the right address but the wrong
# type, so it matches nothing, and sockd binds the TCP address itself.
cat >"$T/dgram.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "uecho"; listen = [ "udp:127.0.0.1:$P_UDP" ]; service = "echo"; },
	{ name = "techo"; listen = [ "tcp:127.0.0.1:$P_TYPE" ]; service = "echo"; }
);
EOF
sa_start dgram "$T/dgram.conf" --datagram \
	-l "127.0.0.1:$P_UDP" -l "127.0.0.1:$P_TYPE" --fdname=uecho:sockd.socket
sa_wait_listening 4
# tclient resends every second until the reply comes.
expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_UDP" -s 512 -t 30
sa_wait_ready
expect_file_match "$SOCKD_LOG" "^sockd: listening on udp:127\.0\.0\.1:$P_UDP \(uecho, from systemd\)$"
expect_file_match "$SOCKD_LOG" "^sockd: warning: .*udp:127\.0\.0\.1:$P_TYPE.* matches no endpoint, closing it$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_TYPE \(techo\)$"
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "datagram one" -t 10
expect_eq "$(cat "$T/out")" "datagram one" "UDP echo reply"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_TYPE" -s 65536
sa_stop 'matches no endpoint, closing it$'

# ---- 4. --accept hands sockd a connected socket: it must refuse to run
# with a message that says what is wrong, and exit non-zero.
cat >"$T/accept.conf" <<EOF
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ACCEPT" ]; service = "echo"; }
);
EOF
start_bg accept "$SSA" --accept -l "127.0.0.1:$P_ACCEPT" "$SOCKD" -F -f "$T/accept.conf"
A_PID=$BG_PID
SOCKD_LOG=$T/accept.err
sa_wait_listening 3
# The connection is the child's only socket; when the child exits, we see EOF.
timeout 20 socat -u "TCP:127.0.0.1:$P_ACCEPT" - >"$T/accept.got" 2>/dev/null || :
expect_eq "$(wc -c <"$T/accept.got" | tr -d ' ')" 0 "bytes from sockd on a connected socket"
wait_for_log '^Child [0-9]+ died with code [0-9]+' 20
expect_file_match "$SOCKD_LOG" '^sockd: error: .*connected socket'
code=$(sed -n 's/^Child [0-9]* died with code \([0-9]*\).*/\1/p' "$SOCKD_LOG" | head -n 1)
[ "$code" -ne 0 ] || fail "sockd exited 0 on a connected socket"
note "sockd's exit status on a connected socket: $code"
if grep -E '^sockd: (listening|ready)' "$SOCKD_LOG" >&2; then
	fail "sockd went on serving after refusing a connected socket"
fi
kill -TERM "$A_PID" 2>/dev/null || :
wait_bg "$A_PID" 10 || :
exit 0
