#!/bin/sh
# Several sockd on one host, and a real HAProxy in front (issue 17).
#  (a) Three sockd processes with `reuseport` listen on the same TCP and UDP
#      address; the kernel spreads connections over all three. One of them
#      is upgraded (`sockctl upgrade`) under 200 connections/s and 200
#      datagrams/s: nobody is refused, reset or loses a datagram.
#  (b) HAProxy (send-proxy-v2, health checks with check-send-proxy) balances
#      over the three instances' own addresses, each with proxy_protocol =
#      "v2". The client's address reaches an exec program through PROXY v2.
#  (c) One instance is killed (SIGKILL) under 200 connections/s through
#      HAProxy: the clients see at most the connections that were in flight
#      on it (counted on its port while it is frozen with SIGSTOP just
#      before), HAProxy marks it down, the others serve on.
. "$(dirname "$0")/lib.sh"

command -v haproxy >/dev/null 2>&1 || skip "haproxy is not installed"
command -v socat >/dev/null 2>&1 || skip "socat is not installed"
PROBE=${RESTART_PROBE:-$top_builddir/bench/restart_probe}
SOCKCTL=${SOCKCTL:-$top_builddir/src/sockctl}
[ -x "$PROBE" ] || fail "no restart_probe binary at $PROBE (run make)"
[ -x "$SOCKCTL" ] || fail "no sockctl binary at $SOCKCTL (run make)"

R=$(port 1)             # shared by the three instances (reuseport)
FE_ECHO=$(port 2)       # HAProxy frontends
FE_WHO=$(port 3)
HA_STATS=$T/haproxy.sock

cat >"$T/who.sh" <<'SH'
#!/bin/sh
# One line: the client address sockd saw, and which instance ran us.
echo "$TCPREMOTEIP $INSTANCE"
SH
chmod +x "$T/who.sh"

for i in 1 2 3; do
	eval "E$i=$(port $((10 + i)))"
	eval "W$i=$(port $((20 + i)))"
	eval "e=\$E$i; w=\$W$i"
	cat >"$T/i$i.conf" <<CONF
daemon = { workers = 1; shutdown_timeout = 1.0; control = "$T/ctl$i.sock"; };
endpoints = (
	{ name = "shared"; listen = [ "tcp:127.0.0.1:$R", "udp:127.0.0.1:$R" ];
	  service = "echo"; reuseport = true; udp_rate = 0; },
	{ name = "echo"; listen = "tcp:127.0.0.1:$e"; service = "echo";
	  proxy_protocol = "v2"; proxy_from = [ "127.0.0.1/32" ]; },
	{ name = "who"; listen = "tcp:127.0.0.1:$w"; service = "exec";
	  proxy_protocol = "v2"; proxy_from = [ "127.0.0.1/32" ];
	  command = [ "$T/who.sh" ]; env = [ "INSTANCE=i$i" ]; }
);
CONF
done

# Plain processes (not under systemd: upgrades are allowed).
start_instance() {
	: >"$T/i$1.log"
	# In a subshell: the shell that kills one need not report it.
	( exec "$SOCKD" -F -f "$T/i$1.conf" 2>>"$T/i$1.log" ) &
	eval "PID$1=$!"
	_track "$!"
	wait_for_file_match "$T/i$1.log" '^sockd: ready' 20
}
for i in 1 2 3; do
	start_instance $i
done

# accepted N ENDPOINT: connections instance N accepted on ENDPOINT.
accepted() {
	"$SOCKCTL" -S "$T/ctl$1.sock" --json status |
		sed -n "s/.*\"name\":\"$2\"[^]]*][^}]*\"accepted\":\([0-9]*\).*/\1/p"
}

# ---- (a) reuseport: one address, three processes
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$R" -n 90 -s 64 -t 30
total=0
for i in 1 2 3; do
	n=$(accepted $i shared)
	note "instance $i accepted $n of 90 on the shared address"
	[ -n "$n" ] && [ "$n" -ge 1 ] || fail "instance $i took no connection on the shared address ($n)"
	total=$((total + n))
done
expect_eq "$total" 90 "connections on the shared address, all instances"

# Upgrade instance 2 under load on the shared address.
start_bg probe-a "$PROBE" -j -d 60 -r 200 -H 0 -t 3000 "tcp:127.0.0.1:$R" "udp:127.0.0.1:$R"
PA=$BG_PID
wait_for_file_match "$T/probe-a.err" 'running: 2 targets'
sleep 1
expect_rc 0 "$SOCKCTL" -S "$T/ctl2.sock" upgrade
old=$PID2
PID2=$(sed -n 's/^upgraded: sockd pid \([0-9]*\) serves.*/\1/p' "$T/out")
[ -n "$PID2" ] || fail "sockctl upgrade said no pid: $(cat "$T/out")"
_track "$PID2"
wait_until 10 eval "! kill -0 $old 2>/dev/null" || fail "the upgraded instance's old process did not exit"
_untrack "$old"
sleep 1
kill -INT "$PA"
wait_bg "$PA" 30 || fail "restart_probe on the shared address saw failures: $(cat "$T/probe-a.out")"
grep -q '"pass":true' "$T/probe-a.out" || fail "probe: $(cat "$T/probe-a.out")"
note "$(cat "$T/probe-a.out")"

# ---- (b) HAProxy in front, PROXY v2 to each instance
cat >"$T/haproxy.cfg" <<CONF
global
	maxconn 2000
	stats socket $HA_STATS mode 600 level admin
defaults
	mode tcp
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout check 1s
	retries 3
	option redispatch 1
frontend fe_echo
	bind 127.0.0.1:$FE_ECHO
	default_backend be_echo
backend be_echo
	balance roundrobin
	server i1 127.0.0.1:$E1 send-proxy-v2 check check-send-proxy inter 200 fall 2 rise 2
	server i2 127.0.0.1:$E2 send-proxy-v2 check check-send-proxy inter 200 fall 2 rise 2
	server i3 127.0.0.1:$E3 send-proxy-v2 check check-send-proxy inter 200 fall 2 rise 2
frontend fe_who
	bind 127.0.0.1:$FE_WHO
	default_backend be_who
backend be_who
	balance roundrobin
	server i1 127.0.0.1:$W1 send-proxy-v2 check check-send-proxy port $E1 inter 500
	server i2 127.0.0.1:$W2 send-proxy-v2 check check-send-proxy port $E2 inter 500
	server i3 127.0.0.1:$W3 send-proxy-v2 check check-send-proxy port $E3 inter 500
CONF
expect_rc 0 haproxy -c -f "$T/haproxy.cfg"
start_bg haproxy haproxy -db -f "$T/haproxy.cfg"
HAPROXY_PID=$BG_PID

# state BACKEND SERVER: UP, DOWN, ... from HAProxy's own statistics.
state() {
	echo "show stat" | socat -T 2 - "UNIX-CONNECT:$HA_STATS" 2>/dev/null |
		awk -F, -v b="$1" -v s="$2" '$1 == b && $2 == s { print $18 }'
}
all_up() {
	for _s in i1 i2 i3; do
		[ "$(state be_echo $_s)" = UP ] && [ "$(state be_who $_s)" = UP ] || return 1
	done
}
wait_until 20 all_up || fail "HAProxy does not see the three instances up: $(echo 'show stat' | socat - "UNIX-CONNECT:$HA_STATS")"

# The client's address (127.0.0.2, not HAProxy's 127.0.0.1) reaches the
# exec program of each instance; round robin visits all three.
: >"$T/who.all"
for k in 1 2 3 4 5 6; do
	timeout 20 socat -T 10 -u "TCP:127.0.0.1:$FE_WHO,bind=127.0.0.2" STDOUT >"$T/who.got" 2>"$T/who.err" ||
		fail "socat through HAProxy failed: $(cat "$T/who.err")"
	cat "$T/who.got" >>"$T/who.all"
	expect_match "$(cat "$T/who.got")" '^127\.0\.0\.2 i[123]$' "exec environment through PROXY v2 (try $k)"
done
for i in 1 2 3; do
	grep -q " i$i\$" "$T/who.all" || fail "instance $i never ran the program: $(cat "$T/who.all")"
done

# ---- (c) one instance killed under load through HAProxy
start_bg probe-c "$PROBE" -j -d 60 -r 200 -H 3 -i 200 -t 3000 "tcp:127.0.0.1:$FE_ECHO"
PC=$BG_PID
wait_for_file_match "$T/probe-c.err" "3 held connections open"
sleep 2
# Frozen, instance 1 accepts nothing more and answers nothing; the kernel
# still completes handshakes into its backlog. What is established on its
# port now is what it holds: connections in flight, queued ones, checks.
# Between the count and the kill, HAProxy may still hand it one more now
# and then (a third of 200/s: one per 15 ms): the bound allows for those.
kill -STOP "$PID1"
t0=$(date +%s%N)
inflight=$(ss -Htn state established "( sport = :$E1 )" | wc -l)
kill -KILL "$PID1"
t1=$(date +%s%N)
gap_ms=$(( (t1 - t0) / 1000000 ))
slack=$(( 1 + gap_ms / 15 ))
_untrack "$PID1"
wait "$PID1" 2>/dev/null || :
note "instance 1 killed with $inflight connections established on its port; $gap_ms ms from the count to the kill"
wait_until 10 eval '[ "$(state be_echo i1)" = DOWN ]' || fail "HAProxy did not mark the killed instance down"
sleep 2
kill -INT "$PC"
st=0
wait_bg "$PC" 30 || st=$?
l=$(cat "$T/probe-c.out")
note "$l"
num() {
	printf '%s\n' "$1" | grep -o "\"$2\":[0-9]*" | head -n 1 | cut -d: -f2
}
h=$(printf '%s\n' "$l" | sed -n 's/.*"held":{//p')
seen=0
for k in refused reset timeout closed wrong error; do
	seen=$((seen + $(num "$l" $k)))
done
for k in closed cut reset timeout wrong error; do
	seen=$((seen + $(num "$h" $k)))
done
note "clients saw $seen connections fail or end (status $st); $inflight were in flight on the killed instance (+$slack)"
[ "$(num "$l" ok)" -ge 600 ] || fail "too few connections served through HAProxy: $l"
[ "$seen" -le $((inflight + slack)) ] ||
	fail "clients saw $seen failures, more than the $inflight connections on the killed instance (+$slack)"
# The others served on: every later attempt was ok (checked above), and
# they still answer directly.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$R" -s 100

kill -TERM "$HAPROXY_PID"
wait_bg "$HAPROXY_PID" 10 || :
for i in 2 3; do
	eval "p=\$PID$i"
	kill -TERM "$p"
	wait_until 10 eval "! kill -0 $p 2>/dev/null" || fail "instance $i did not stop"
	_untrack "$p"
done
exit 0
