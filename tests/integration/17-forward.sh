#!/bin/sh
# service "forward": TCP->TCP, TCP->Unix, Unix->TCP and seqpacket relays with
# 10 MB each way (checksummed), urgent bytes in a TCP stream, half-close carried in each direction, an
# upstream that is down and then up, failover to the next upstream (refused,
# or no answer within connect_timeout), balance "first" and "roundrobin",
# every upstream down (one warning line), and UDP forwarding with one
# session per client and idle expiry. The upstreams are a second sockd and
# socat; the sockd under test is the forwarder.
. "$(dirname "$0")/lib.sh"

# The forwarder (the sockd under test)
P_TT=$(port 1)          # tcp -> tcp echo
P_TU=$(port 2)          # tcp -> unix echo
P_HALF=$(port 3)        # tcp -> socat: replies after the client's EOF
P_GREET=$(port 4)       # tcp -> socat: greets, shuts its write side, then reads
P_LATE=$(port 5)        # tcp -> an upstream started later
P_FAIL=$(port 6)        # tcp -> [refusing, echo]
P_FAILTO=$(port 7)      # tcp -> [no answer, unix echo], connect_timeout = 1
P_RR=$(port 8)          # tcp -> [A, B] roundrobin
P_FIRST=$(port 9)       # tcp -> [A, B] first
P_DEAD=$(port 10)       # tcp -> [refusing, missing unix socket]
P_UDP=$(port 11)        # udp -> udp echo
P_UDPW=$(port 12)       # udp on 0.0.0.0 -> udp echo
# The upstreams
U_ECHO=$(port 31)       # second sockd: echo
U_A=$(port 32)          # second sockd: exec printing A
U_B=$(port 33)          # second sockd: exec printing B
U_UDP=$(port 34)        # second sockd: udp echo
U_HALF=$(port 35)       # socat
U_GREET=$(port 36)      # socat
U_LATE=$(port 37)       # socat, started later
U_DEAD=$(port 38)       # nothing listens here
SRC=$(port 50)          # client source ports for UDP: SRC, SRC+1, ...
# TEST-NET-1 (RFC 5737): nothing answers there; unreachable or silent.
BLACKHOLE=192.0.2.1

# tcp_listening PORT: something listens on 127.0.0.1:PORT or *:PORT.
tcp_listening() {
	_hex=$(printf '%04X' "$1")
	grep -Eq "^ *[0-9]+: (0100007F|00000000):$_hex 00000000:0000 0A " /proc/net/tcp
}

# ---- the upstream sockd
cat >"$T/up.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$U_ECHO", "unix:$T/up-echo.sock" ]; service = "echo"; },
	{ name = "seq"; listen = [ "unix-seqpacket:$T/up-seq.sock" ]; service = "echo"; },
	{ name = "a"; listen = [ "tcp:127.0.0.1:$U_A" ]; service = "exec"; command = [ "/bin/echo", "A" ]; },
	{ name = "b"; listen = [ "tcp:127.0.0.1:$U_B" ]; service = "exec"; command = [ "/bin/echo", "B" ]; },
	{ name = "udp"; listen = [ "udp:127.0.0.1:$U_UDP" ]; service = "echo"; udp_guard = false; }
);
EOF
start_bg up "$SOCKD" -F -f "$T/up.conf"
UP_PID=$BG_PID
wait_for_file_match "$T/up.err" '^sockd: ready: ' 20

# ---- socat upstreams for half-close, one connection each.
cat >"$T/half-up.sh" <<'EOF'
#!/bin/sh
# Read to EOF, then answer: only works if the client's EOF came through.
n=$(wc -c | tr -d ' ')
echo "after-eof $n"
EOF
chmod 0755 "$T/half-up.sh"
# (A socketpair, socat's default: its EOF is seen when the program exits.)
start_bg half socat -t 30 "TCP-LISTEN:$U_HALF,bind=127.0.0.1,reuseaddr" "EXEC:$T/half-up.sh"
# Sends the greeting file; at its end socat shuts down the write side of
# the connection, and goes on writing what still comes into greet.up.
echo greeting >"$T/greeting.txt"
start_bg greet socat -t 30 "TCP-LISTEN:$U_GREET,bind=127.0.0.1,reuseaddr" \
	"OPEN:$T/greeting.txt!!CREATE:$T/greet.up"
GREET_PID=$BG_PID
wait_until 10 tcp_listening "$U_HALF" || fail "socat did not listen on $U_HALF: $(cat "$T/half.err")"
wait_until 10 tcp_listening "$U_GREET" || fail "socat did not listen on $U_GREET: $(cat "$T/greet.err")"
tcp_listening "$U_DEAD" && fail "something listens on port $U_DEAD, which must be free"
tcp_listening "$U_LATE" && fail "something listens on port $U_LATE, which must be free"

# ---- the forwarder
cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "tt"; listen = [ "tcp:127.0.0.1:$P_TT" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_ECHO" ]; },
	{ name = "tu"; listen = [ "tcp:127.0.0.1:$P_TU" ]; service = "forward";
	  upstream = [ "unix:$T/up-echo.sock" ]; },
	{ name = "ut"; listen = [ "unix:$T/fwd.sock" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_ECHO" ]; },
	{ name = "seq"; listen = [ "unix-seqpacket:$T/fwd-seq.sock" ]; service = "forward";
	  upstream = [ "unix-seqpacket:$T/up-seq.sock" ]; },
	{ name = "half"; listen = [ "tcp:127.0.0.1:$P_HALF" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_HALF" ]; },
	{ name = "greet"; listen = [ "tcp:127.0.0.1:$P_GREET" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_GREET" ]; },
	{ name = "late"; listen = [ "tcp:127.0.0.1:$P_LATE" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_LATE" ]; connect_timeout = 2.0; },
	{ name = "fail"; listen = [ "tcp:127.0.0.1:$P_FAIL" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_DEAD", "tcp:127.0.0.1:$U_ECHO" ]; },
	{ name = "failto"; listen = [ "tcp:127.0.0.1:$P_FAILTO" ]; service = "forward";
	  upstream = [ "tcp:$BLACKHOLE:9", "unix:$T/up-echo.sock" ]; connect_timeout = 1.0; },
	{ name = "rr"; listen = [ "tcp:127.0.0.1:$P_RR" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_A", "tcp:127.0.0.1:$U_B" ]; balance = "roundrobin"; },
	{ name = "first"; listen = [ "tcp:127.0.0.1:$P_FIRST" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_A", "tcp:127.0.0.1:$U_B" ]; balance = "first"; },
	{ name = "dead"; listen = [ "tcp:127.0.0.1:$P_DEAD" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$U_DEAD", "unix:$T/nothing.sock" ]; },
	{ name = "udp"; listen = [ "udp:127.0.0.1:$P_UDP" ]; service = "forward";
	  upstream = [ "udp:127.0.0.1:$U_UDP" ]; idle_timeout = 2.0; },
	{ name = "udpwild"; listen = [ "udp:0.0.0.0:$P_UDPW" ]; service = "forward";
	  upstream = [ "udp:127.0.0.1:$U_UDP" ]; udp_guard = false; }
);
EOF
start_sockd "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_TT \(tt\)$"

# fetch NAME SOCAT-ADDRESS: read until the server closes (nothing sent)
# into $T/NAME.got; fail unless it ends well within the time limit.
fetch() {
	_rc=0
	timeout 20 socat -u "$2" STDOUT >"$T/$1.got" 2>"$T/$1.err" || _rc=$?
	[ $_rc = 0 ] || fail "$1: socat $2: status $_rc ($(cat "$T/$1.err"))"
}

# closed_at_once NAME SOCAT-ADDRESS: connected, then closed by the server
# with nothing sent (EOF or reset, long before the time limit).
closed_at_once() {
	_rc=0
	timeout 20 socat -u "$2" STDOUT >"$T/$1.got" 2>"$T/$1.err" || _rc=$?
	[ $_rc != 124 ] || fail "$1: socat $2 was not closed (still open after 20 s)"
	[ ! -s "$T/$1.got" ] || fail "$1: socat $2 got '$(cat "$T/$1.got")'"
}

# big_roundtrip WHAT SOCAT-ADDRESS: 10 MB through the echo behind it,
# compared by SHA-256.
big_roundtrip() {
	_rc=0
	timeout 120 socat -t 60 - "$2" <"$T/big" >"$T/big.back" 2>"$T/big.err" || _rc=$?
	[ $_rc = 0 ] || fail "$1: socat $2: status $_rc ($(cat "$T/big.err"))"
	expect_eq "$(sha256sum <"$T/big.back" | cut -d' ' -f1) $(wc -c <"$T/big.back" | tr -d ' ')" \
		"$BIG_SUM 10000000" "$1: SHA-256 and size of the 10 MB that came back"
}

# ---- 10 MB each way: TCP->TCP, TCP->Unix, Unix->TCP. tclient checks every
# byte and shuts its write side after the last one (the rest must still
# come back); socat carries random data checked by SHA-256.
head -c 10000000 /dev/urandom >"$T/big"
BIG_SUM=$(sha256sum <"$T/big" | cut -d' ' -f1)
big_roundtrip "tcp->tcp" "TCP:127.0.0.1:$P_TT"
big_roundtrip "tcp->unix" "TCP:127.0.0.1:$P_TU"
big_roundtrip "unix->tcp" "UNIX-CONNECT:$T/fwd.sock"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_TT" -s 10000000 -t 120
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_TU" -s 10000000 -t 120
expect_rc 0 "$TCLIENT" echo -a "unix:$T/fwd.sock" -s 10000000 -t 120
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_TT" -n 50 -s 20000 -r 2 -t 60
expect_rc 0 "$TCLIENT" echo-many -a "unix:$T/fwd.sock" -n 50 -s 20000 -r 2 -t 60
# seqpacket cannot splice: records are copied, each one whole.
expect_rc 0 "$TCLIENT" echo -a "unix-seqpacket:$T/fwd-seq.sock" -s 200000 -c 1000 -t 60
expect_rc 0 "$TCLIENT" echo -a "unix-seqpacket:$T/fwd-seq.sock" -s 60000 -t 60
# Urgent data: a read stops short at the urgent mark, with bytes still
# queued behind it that no new edge will announce. The relay must read on
# (it is edge-triggered), or the rest of each round never comes back.
expect_rc 0 "$TCLIENT" urgent -a "tcp:127.0.0.1:$P_TT" -r 30 -t 20
expect_rc 0 "$TCLIENT" urgent -a "tcp:127.0.0.1:$P_TU" -r 30 -t 20
# Bulk (spliced), then small messages queued behind it, nothing closed: a
# short splice read must not be taken for an empty socket.
for a in "tcp:127.0.0.1:$P_TT" "tcp:127.0.0.1:$P_TU" "unix:$T/fwd.sock"; do
	expect_rc 0 "$TCLIENT" bulk-tail -a "$a" -s 2000000 -n 400 -t 30
done

# ---- half-close, client first: the client shuts its write side after 12
# bytes; the upstream answers only once it sees that EOF, and the client
# still receives the answer, then EOF (long before socat's own -t 60).
printf 'twelve bytes' >"$T/half.in"
_rc=0
timeout 20 socat -t 60 - "TCP:127.0.0.1:$P_HALF" <"$T/half.in" >"$T/half.got" 2>"$T/half-client.err" || _rc=$?
[ $_rc != 124 ] || fail "half-close from the client: no EOF after the upstream's answer ('$(cat "$T/half.got")')"
[ $_rc = 0 ] || fail "half-close from the client: socat status $_rc ($(cat "$T/half-client.err"))"
expect_eq "$(cat "$T/half.got")" "after-eof 12" "the upstream's answer after the client's EOF"

# ---- half-close, upstream first: the upstream greets and shuts its write
# side; the client reads to EOF (socat -d -d says when) and only then sends
# from a FIFO, which the upstream still receives.
mkfifo "$T/client.fifo"
start_bg greetclient socat -d -d -t 30 "TCP:127.0.0.1:$P_GREET" "OPEN:$T/client.fifo!!CREATE:$T/greet.client"
GREET_CLIENT=$BG_PID
# Opened after socat started, so that socat holds no writer itself.
exec 3<>"$T/client.fifo"
wait_for_file_match "$T/greetclient.err" 'socket 1 .*is at EOF' 20
expect_eq "$(cat "$T/greet.client")" greeting "what the client read before EOF"
printf 'late data\n' >&3
exec 3>&-
wait_bg "$GREET_CLIENT" 30 || fail "half-close from the upstream: client socat status $? ($(tail -n 3 "$T/greetclient.err"))"
wait_bg "$GREET_PID" 30 || fail "half-close from the upstream: upstream socat status $? ($(cat "$T/greet.err"))"
expect_eq "$(cat "$T/greet.up")" "late data" "what the upstream read after its own shutdown"

# ---- an upstream that is down: the client is closed and one warning
# says why; once the upstream is up, the next client is served.
closed_at_once late "TCP:127.0.0.1:$P_LATE"
wait_for_log "^sockd: warning: endpoint late: no upstream reachable \(last: tcp:127\.0\.0\.1:$U_LATE: Connection refused\), closing the client$"
start_bg lateup socat "TCP-LISTEN:$U_LATE,bind=127.0.0.1,reuseaddr,fork" EXEC:cat
LATE_PID=$BG_PID
wait_until 10 tcp_listening "$U_LATE" || fail "socat did not listen on $U_LATE: $(cat "$T/lateup.err")"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_LATE" -s 100000 -t 30
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_LATE" -n 10 -s 1000 -t 30
# ... and down again.
kill -TERM "$LATE_PID"
wait_bg "$LATE_PID" || :
wait_until 10 eval '! tcp_listening "$U_LATE"' || fail "socat still listens on $U_LATE"
closed_at_once late2 "TCP:127.0.0.1:$P_LATE"
wait_until 10 eval '[ "$(grep -c "endpoint late: no upstream reachable" "$SOCKD_LOG")" -ge 2 ]' ||
	fail "the second failure of endpoint late was not logged"

# ---- failover: the first upstream refuses, the second serves.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_FAIL" -s 100000 -t 30
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_FAIL" -n 20 -s 1000 -t 30
# The first one does not answer (or the network is unreachable): after
# connect_timeout at most, the Unix upstream serves.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_FAILTO" -s 100000 -t 30
if grep -E 'endpoint (fail|failto): no upstream' "$SOCKD_LOG" >&2; then
	fail "a failover was logged as a failure"
fi

# ---- every upstream down: the warning names the last one tried.
closed_at_once dead "TCP:127.0.0.1:$P_DEAD"
wait_for_log "^sockd: warning: endpoint dead: no upstream reachable \(last: unix:$T/nothing\.sock: No such file or directory\), closing the client$"

# ---- balance: "first" always takes A while it is up; "roundrobin" takes
# each in turn.
for i in 1 2 3; do
	fetch first$i "TCP:127.0.0.1:$P_FIRST"
	expect_eq "$(cat "$T/first$i.got")" A "balance first, client $i"
done
RR=
for i in 1 2 3 4 5 6; do
	fetch rr$i "TCP:127.0.0.1:$P_RR"
	RR="$RR$(cat "$T/rr$i.got")"
done
case $RR in
ABABAB | BABABA) ;;
*) fail "balance roundrobin: six clients were served by '$RR' (A and B in turn expected)" ;;
esac

# ---- UDP: five clients at once, each from its own port, each gets its
# own reply back; then a longer exchange; sessions expire after
# idle_timeout (2 s), closing their upstream sockets.
fd_count() {
	ls "/proc/$SOCKD_PID/fd" | wc -l | tr -d ' '
}
FDS_BEFORE=$(fd_count)
UDP_PIDS=
for k in 1 2 3 4 5; do
	start_bg udp$k "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "client $k from $((SRC + k))" \
		-B "127.0.0.1:$((SRC + k))" -t 10
	UDP_PIDS="$UDP_PIDS $BG_PID"
done
k=0
for pid in $UDP_PIDS; do
	k=$((k + 1))
	wait_bg "$pid" 20 || fail "udp client $k: status $? ($(cat "$T/udp$k.err"))"
	expect_eq "$(cat "$T/udp$k.out")" "client $k from $((SRC + k))" "udp client $k's reply"
done
# A client that sends again from the same port is in the same session.
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "again" -B "127.0.0.1:$((SRC + 1))" -t 10
expect_eq "$(cat "$T/out")" again "udp client 1's second reply"
expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_UDP" -s 3000 -B "127.0.0.1:$((SRC + 10))" -t 20
fds_back() {
	[ "$(fd_count)" -le "$FDS_BEFORE" ]
}
wait_until 15 fds_back ||
	fail "sockd had $FDS_BEFORE fds before the UDP sessions, $(fd_count) 15 s after they went idle"
# An expired session comes back on the next datagram.
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "after expiry" -B "127.0.0.1:$((SRC + 1))" -t 10
expect_eq "$(cat "$T/out")" "after expiry" "udp reply after the session expired"
# On 0.0.0.0 the upstream's reply goes back from the address the client
# sent to (the client's socket, connected to 127.0.0.2, takes no other).
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.2:$P_UDPW" -m "to .2" -t 10
expect_eq "$(cat "$T/out")" "to .2" "udp relay reply from 127.0.0.2"

expect_stop_ok
expect_clean_log "endpoint (late|dead): no upstream reachable"

kill -TERM "$UP_PID"
wait_bg "$UP_PID" 20 || fail "the upstream sockd exited with status $?: $(tail -n 5 "$T/up.err")"
exit 0
