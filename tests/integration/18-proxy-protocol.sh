#!/bin/sh
# PROXY protocol, against a real HAProxy (started here, in the foreground,
# on loopback): HAProxy's send-proxy and send-proxy-v2 in front of sockd exec
# endpoints whose program reports TCPREMOTEIP/TCPREMOTEPORT (the original
# client's), v1-only and v2-only endpoints, allow/deny and max_per_source on
# the proxied address; sockd's send_proxy v1/v2 on forward endpoints into an
# HAProxy frontend with accept-proxy (its log and the next hop show the
# original client) and into sockd itself. Headers written by hand: an
# untrusted sender, malformed and truncated headers, a header that arrives in
# pieces, TLVs, v2 LOCAL, and the payload after the header left intact.
. "$(dirname "$0")/lib.sh"

command -v haproxy >/dev/null 2>&1 || skip "haproxy is not installed"

# HAProxy frontends
H_V2=$(port 1)          # send-proxy-v2 -> any
H_V1=$(port 2)          # send-proxy    -> any
H_V1ONLY=$(port 3)      # send-proxy    -> v1
H_V2ONLY=$(port 4)      # send-proxy-v2 -> v2
H_WRONG=$(port 5)       # send-proxy    -> v2 (the wrong version)
H_ACL=$(port 6)         # send-proxy-v2 -> acl (deny 127.0.0.2)
H_ACC=$(port 7)         # accept-proxy, logs; send-proxy-v2 -> any
H_ACCECHO=$(port 8)     # accept-proxy, logs; -> plain echo
H_MPS=$(port 9)         # send-proxy-v2 -> mps (max_per_source = 1)
# sockd endpoints
B_ANY=$(port 21)        # exec env.sh, proxy_protocol any
B_V1=$(port 22)         # exec env.sh, v1
B_V2=$(port 23)         # exec env.sh, v2
B_ACL=$(port 24)        # exec env.sh, any, deny 127.0.0.2/32
B_UNTR=$(port 25)       # exec env.sh, any, proxy_from 127.0.0.3/32
B_ECHO=$(port 26)       # echo, any, proxy_timeout = 10
B_READ=$(port 27)       # exec read.sh, any
B_MPS=$(port 28)        # exec hold.sh, any, max_per_source = 1
B_SHORT=$(port 29)      # echo, any, proxy_timeout = 1
S_ECHO=$(port 30)       # echo, no PROXY header
F_V2=$(port 31)         # forward, send_proxy v2 -> H_ACC
F_V1=$(port 32)         # forward, send_proxy v1 -> H_ACC
F_V1SELF=$(port 33)     # forward, send_proxy v1 -> B_V1
F_V2SELF=$(port 34)     # forward, send_proxy v2 -> B_V2
F_V2ECHO=$(port 35)     # forward, send_proxy v2 -> H_ACCECHO
F_RELAY=$(port 36)      # forward, proxy_protocol any + send_proxy v2 -> B_ANY

# tcp_listening PORT: something listens on 127.0.0.1:PORT.
tcp_listening() {
	_hex=$(printf '%04X' "$1")
	grep -Eq "^ *[0-9]+: (0100007F|00000000):$_hex 00000000:0000 0A " /proc/net/tcp
}

# ---- the programs
cat >"$T/env.sh" <<'EOF'
#!/bin/sh
tr '\0' '\n' </proc/$$/environ
echo "--end--"
EOF
cat >"$T/read.sh" <<'EOF'
#!/bin/sh
# The first line after the PROXY header is the program's to read.
IFS= read -r line
echo "got:$line from $TCPREMOTEIP:$TCPREMOTEPORT"
EOF
cat >"$T/hold.sh" <<'EOF'
#!/bin/sh
echo "started $TCPREMOTEIP"
exec cat >/dev/null
EOF
chmod 0755 "$T/env.sh" "$T/read.sh" "$T/hold.sh"

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
	log_level = "debug";
};
endpoints = (
	{ name = "any"; listen = [ "tcp:127.0.0.1:$B_ANY" ]; service = "exec"; command = [ "$T/env.sh" ];
	  proxy_protocol = "any"; proxy_from = [ "127.0.0.1/32" ]; },
	{ name = "v1"; listen = [ "tcp:127.0.0.1:$B_V1" ]; service = "exec"; command = [ "$T/env.sh" ];
	  proxy_protocol = "v1"; proxy_from = [ "127.0.0.1/32" ]; },
	{ name = "v2"; listen = [ "tcp:127.0.0.1:$B_V2" ]; service = "exec"; command = [ "$T/env.sh" ];
	  proxy_protocol = "v2"; proxy_from = [ "127.0.0.1/32" ]; },
	{ name = "acl"; listen = [ "tcp:127.0.0.1:$B_ACL" ]; service = "exec"; command = [ "$T/env.sh" ];
	  proxy_protocol = "any"; proxy_from = [ "127.0.0.1/32" ]; deny = [ "127.0.0.2/32" ]; },
	{ name = "untr"; listen = [ "tcp:127.0.0.1:$B_UNTR" ]; service = "exec"; command = [ "$T/env.sh" ];
	  proxy_protocol = "any"; proxy_from = [ "127.0.0.3/32" ]; },
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$B_ECHO" ]; service = "echo";
	  proxy_protocol = "any"; proxy_from = [ "127.0.0.1/32" ]; proxy_timeout = 10.0; },
	{ name = "read"; listen = [ "tcp:127.0.0.1:$B_READ" ]; service = "exec"; command = [ "$T/read.sh" ];
	  proxy_protocol = "any"; },
	{ name = "mps"; listen = [ "tcp:127.0.0.1:$B_MPS" ]; service = "exec"; command = [ "$T/hold.sh" ];
	  proxy_protocol = "any"; proxy_from = [ "127.0.0.1/32" ]; max_per_source = 1; },
	{ name = "short"; listen = [ "tcp:127.0.0.1:$B_SHORT" ]; service = "echo";
	  proxy_protocol = "any"; proxy_timeout = 1.0; },
	{ name = "plain"; listen = [ "tcp:127.0.0.1:$S_ECHO" ]; service = "echo"; },
	{ name = "fv2"; listen = [ "tcp:127.0.0.1:$F_V2", "unix:$T/fv2.sock" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$H_ACC" ]; send_proxy = "v2"; },
	{ name = "fv1"; listen = [ "tcp:127.0.0.1:$F_V1" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$H_ACC" ]; send_proxy = "v1"; },
	{ name = "fv1self"; listen = [ "tcp:127.0.0.1:$F_V1SELF" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$B_V1" ]; send_proxy = "v1"; },
	{ name = "fv2self"; listen = [ "tcp:127.0.0.1:$F_V2SELF" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$B_V2" ]; send_proxy = "v2"; },
	{ name = "fv2echo"; listen = [ "tcp:127.0.0.1:$F_V2ECHO" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$H_ACCECHO" ]; send_proxy = "v2"; },
	{ name = "relay"; listen = [ "tcp:127.0.0.1:$F_RELAY" ]; service = "forward";
	  proxy_protocol = "any"; proxy_from = [ "127.0.0.1/32" ];
	  upstream = [ "tcp:127.0.0.1:$B_ANY" ]; send_proxy = "v2"; }
);
EOF

# One frontend per case; no health checks (they would be connections too).
# HAProxy logs each accept-proxy session, with the client address its
# header announced, to its stdout when the session ends.
cat >"$T/haproxy.cfg" <<EOF
global
	maxconn 200
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend fe_v2
	bind 127.0.0.1:$H_V2
	default_backend be_v2
backend be_v2
	server any 127.0.0.1:$B_ANY send-proxy-v2
frontend fe_v1
	bind 127.0.0.1:$H_V1
	default_backend be_v1
backend be_v1
	server any 127.0.0.1:$B_ANY send-proxy
frontend fe_v1only
	bind 127.0.0.1:$H_V1ONLY
	default_backend be_v1only
backend be_v1only
	server v1 127.0.0.1:$B_V1 send-proxy
frontend fe_v2only
	bind 127.0.0.1:$H_V2ONLY
	default_backend be_v2only
backend be_v2only
	server v2 127.0.0.1:$B_V2 send-proxy-v2
frontend fe_wrong
	bind 127.0.0.1:$H_WRONG
	default_backend be_wrong
backend be_wrong
	server v2 127.0.0.1:$B_V2 send-proxy
frontend fe_acl
	bind 127.0.0.1:$H_ACL
	default_backend be_acl
backend be_acl
	server acl 127.0.0.1:$B_ACL send-proxy-v2
frontend fe_mps
	bind 127.0.0.1:$H_MPS
	default_backend be_mps
backend be_mps
	server mps 127.0.0.1:$B_MPS send-proxy-v2
frontend fe_acc
	bind 127.0.0.1:$H_ACC accept-proxy
	log stdout format raw local0
	option tcplog
	default_backend be_acc
backend be_acc
	server any 127.0.0.1:$B_ANY send-proxy-v2
frontend fe_accecho
	bind 127.0.0.1:$H_ACCECHO accept-proxy
	log stdout format raw local0
	option tcplog
	default_backend be_accecho
backend be_accecho
	server plain 127.0.0.1:$S_ECHO
EOF
expect_rc 0 haproxy -c -f "$T/haproxy.cfg"

start_sockd "$T/sockd.conf"
start_bg haproxy haproxy -db -f "$T/haproxy.cfg"
HAPROXY_PID=$BG_PID
for p in $H_V2 $H_V1 $H_V1ONLY $H_V2ONLY $H_WRONG $H_ACL $H_ACC $H_ACCECHO $H_MPS; do
	wait_until 20 tcp_listening "$p" ||
		fail "HAProxy does not listen on $p: $(tail -n 5 "$T/haproxy.err")"
done

# Clients bind to an address of 127/8 with a port the kernel picks (a
# fixed one could still be in TIME_WAIT from an earlier run); socat -d -d
# says which, and client_port sets CLIENT_PORT to it.
client_port() {
	CLIENT_PORT=$(sed -n 's/.*successfully connected from local address AF=[0-9]* .*:\([0-9][0-9]*\)$/\1/p' "$T/$1.err" | head -n 1)
	[ -n "$CLIENT_PORT" ] || fail "$1: socat did not say its local port: $(cat "$T/$1.err")"
}

# fetch NAME SOCAT-ADDRESS: read until the server closes (nothing sent)
# into $T/NAME.got; fail unless that ends well within the time limit.
fetch() {
	_rc=0
	timeout 30 socat -d -d -u "$2" STDOUT >"$T/$1.got" 2>"$T/$1.err" || _rc=$?
	[ $_rc = 0 ] || fail "$1: socat $2: status $_rc ($(grep ' [EW] ' "$T/$1.err"))"
	case $2 in
	TCP*) client_port "$1" ;;
	esac
}

# env_of NAME VAR: VAR's value in $T/NAME.got, or "<unset>".
env_of() {
	if grep -q "^$2=" "$T/$1.got"; then
		sed -n "s/^$2=//p" "$T/$1.got" | head -n 1
	else
		echo "<unset>"
	fi
}

# expect_client NAME IP PORT [LOCALIP LOCALPORT]: the program behind NAME
# saw the client IP:PORT (and, if given, the local address LOCALIP:LOCALPORT).
expect_client() {
	grep -q '^--end--$' "$T/$1.got" || fail "$1: the program did not run to its end: '$(cat "$T/$1.got")'"
	expect_eq "$(env_of "$1" TCPREMOTEIP):$(env_of "$1" TCPREMOTEPORT)" "$2:$3" "$1: TCPREMOTEIP:TCPREMOTEPORT"
	expect_eq "$(env_of "$1" REMOTE_ADDR):$(env_of "$1" REMOTE_PORT)" "$2:$3" "$1: REMOTE_ADDR:REMOTE_PORT"
	if [ $# -ge 5 ]; then
		expect_eq "$(env_of "$1" TCPLOCALIP):$(env_of "$1" TCPLOCALPORT)" "$4:$5" "$1: TCPLOCALIP:TCPLOCALPORT"
	fi
}

# refused NAME SOCAT-ADDRESS [DATA]: the connection is closed (EOF or a
# reset, long before the time limit) with nothing sent back, after the
# client sent DATA (printf format; empty: nothing) and shut its write side.
refused() {
	_rc=0
	printf "${3:-}" | timeout 30 socat -d -d -t 20 - "$2" >"$T/$1.got" 2>"$T/$1.err" || _rc=$?
	[ $_rc != 124 ] || fail "$1: socat $2 still open after 30 s"
	[ ! -s "$T/$1.got" ] || fail "$1: refused, yet the client got '$(cat "$T/$1.got")'"
	client_port "$1"
}

# send NAME SOCAT-ADDRESS DATA: send DATA (printf format), shut the write
# side, and keep what comes back in $T/NAME.got.
send() {
	_rc=0
	printf "$3" | timeout 30 socat -d -d -t 20 - "$2" >"$T/$1.got" 2>"$T/$1.err" || _rc=$?
	[ $_rc = 0 ] || fail "$1: socat $2: status $_rc ($(grep ' [EW] ' "$T/$1.err"))"
	case $2 in
	TCP*) client_port "$1" ;;
	esac
}

# v2 headers by hand: signature, version 2 + command, family, length.
V2SIG='\015\012\015\012\000\015\012\121\125\111\124\012'
# TCP4 127.0.0.9:5555 -> 127.0.0.1:80
V2_TCP4="$V2SIG"'\041\021\000\014\177\000\000\011\177\000\000\001\025\263\000\120'
# The same with two TLVs after the addresses: NOOP (0x04, 3 bytes) and an
# unknown type 0xE0 (2 bytes): length 12 + 6 + 5 = 23.
V2_TLV="$V2SIG"'\041\021\000\027\177\000\000\011\177\000\000\001\025\263\000\120\004\000\003abc\340\000\002xy'
# LOCAL (a health check): no addresses; the real ones stay.
V2_LOCAL="$V2SIG"'\040\000\000\000'
V1_TCP4='PROXY TCP4 127.0.0.9 127.0.0.1 5555 80\r\n'

# ---- HAProxy send-proxy-v2 and send-proxy in front of proxy_protocol
# "any": the program sees the client (127.0.0.2 and its port), and as local
# address the frontend the client connected to.
fetch hv2 "TCP:127.0.0.1:$H_V2,bind=127.0.0.2"
expect_client hv2 127.0.0.2 "$CLIENT_PORT" 127.0.0.1 "$H_V2"
expect_eq "$(env_of hv2 PROTO)" TCP "PROTO behind HAProxy"
fetch hv1 "TCP:127.0.0.1:$H_V1,bind=127.0.0.2"
expect_client hv1 127.0.0.2 "$CLIENT_PORT" 127.0.0.1 "$H_V1"
fetch hv1only "TCP:127.0.0.1:$H_V1ONLY,bind=127.0.0.3"
expect_client hv1only 127.0.0.3 "$CLIENT_PORT" 127.0.0.1 "$H_V1ONLY"
fetch hv2only "TCP:127.0.0.1:$H_V2ONLY,bind=127.0.0.3"
expect_client hv2only 127.0.0.3 "$CLIENT_PORT" 127.0.0.1 "$H_V2ONLY"
# Without HAProxy, the same endpoint wants a header: a client that sends
# none is not served (it gets nothing, even after waiting).
refused noheader "TCP:127.0.0.1:$B_ANY" 'hello\n'

# ---- the wrong version: v1 to a v2-only endpoint is refused; so is v2
# to a v1-only one.
fetch hwrong "TCP:127.0.0.1:$H_WRONG,bind=127.0.0.2"
[ ! -s "$T/hwrong.got" ] || fail "a v1 header to a v2-only endpoint: the client got '$(cat "$T/hwrong.got")'"
wait_for_log '^sockd: debug: endpoint v2: .*PROXY header of the wrong version'
refused v2tov1 "TCP:127.0.0.1:$B_V1" "$V2_TCP4"
refused v1tov2 "TCP:127.0.0.1:$B_V2" "$V1_TCP4"

# ---- allow/deny apply to the proxied client, not to HAProxy's address.
fetch acl2 "TCP:127.0.0.1:$H_ACL,bind=127.0.0.2"
[ ! -s "$T/acl2.got" ] || fail "deny 127.0.0.2: the proxied client from 127.0.0.2 got '$(cat "$T/acl2.got")'"
# The log names the proxied client, too.
wait_for_log "^sockd: conn endpoint=acl proto=tcp peer=127\.0\.0\.2:$CLIENT_PORT proxied=yes .*outcome=refused-acl\$"
fetch acl3 "TCP:127.0.0.1:$H_ACL,bind=127.0.0.3"
expect_client acl3 127.0.0.3 "$CLIENT_PORT"

# ---- max_per_source = 1 counts proxied clients: a second one from
# 127.0.0.2 is refused while the first is held, one from 127.0.0.3 is not.
start_bg mps1 socat -u "TCP:127.0.0.1:$H_MPS,bind=127.0.0.2" STDOUT
MPS1=$BG_PID
wait_for_file_match "$T/mps1.out" '^started 127\.0\.0\.2$' 20
fetch mps2 "TCP:127.0.0.1:$H_MPS,bind=127.0.0.2"
[ ! -s "$T/mps2.got" ] || fail "max_per_source 1: a second client from 127.0.0.2 got '$(cat "$T/mps2.got")'"
wait_for_log "^sockd: conn endpoint=mps proto=tcp peer=127\.0\.0\.2:$CLIENT_PORT proxied=yes .*outcome=refused-limit\$"
start_bg mps3 socat -u "TCP:127.0.0.1:$H_MPS,bind=127.0.0.3" STDOUT
MPS3=$BG_PID
wait_for_file_match "$T/mps3.out" '^started 127\.0\.0\.3$' 20
kill -TERM "$MPS1" "$MPS3"
wait_bg "$MPS1" || :
wait_bg "$MPS3" || :

# ---- sockd's send_proxy into HAProxy's accept-proxy: HAProxy logs the
# original client, and passes it on (send-proxy-v2) to an exec endpoint.
fetch fv2 "TCP:127.0.0.1:$F_V2,bind=127.0.0.2"
expect_client fv2 127.0.0.2 "$CLIENT_PORT"
wait_for_file_match "$T/haproxy.out" "^127\.0\.0\.2:$CLIENT_PORT \[[^]]*\] fe_acc be_acc/any " 20
fetch fv1 "TCP:127.0.0.1:$F_V1,bind=127.0.0.3"
expect_client fv1 127.0.0.3 "$CLIENT_PORT"
wait_for_file_match "$T/haproxy.out" "^127\.0\.0\.3:$CLIENT_PORT \[[^]]*\] fe_acc be_acc/any " 20
# Data both ways through sockd (send_proxy) -> HAProxy -> echo, and the
# client's address in HAProxy's log.
send fv2echo "TCP:127.0.0.1:$F_V2ECHO,bind=127.0.0.2" 'through haproxy\n'
expect_eq "$(cat "$T/fv2echo.got")" "through haproxy" "echo through sockd and HAProxy"
wait_for_file_match "$T/haproxy.out" "^127\.0\.0\.2:$CLIENT_PORT \[[^]]*\] fe_accecho be_accecho/plain " 20
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$F_V2ECHO" -s 1000000 -t 60
# A Unix client has no address to announce: the header says so (v2
# LOCAL), and the next hop keeps the real addresses (HAProxy's).
fetch fv2unix "UNIX-CONNECT:$T/fv2.sock"
expect_eq "$(env_of fv2unix TCPREMOTEIP)" 127.0.0.1 "TCPREMOTEIP behind a Unix client's LOCAL header"

# ---- sockd to sockd: send_proxy v1 and v2 into proxy_protocol v1 and v2.
fetch fv1self "TCP:127.0.0.1:$F_V1SELF,bind=127.0.0.2"
expect_client fv1self 127.0.0.2 "$CLIENT_PORT" 127.0.0.1 "$F_V1SELF"
fetch fv2self "TCP:127.0.0.1:$F_V2SELF,bind=127.0.0.3"
expect_client fv2self 127.0.0.3 "$CLIENT_PORT" 127.0.0.1 "$F_V2SELF"

# ---- sockd as a middle hop: the client its own header announced is the
# one it announces upstream (both addresses).
send relay "TCP:127.0.0.1:$F_RELAY" "$V1_TCP4"
expect_client relay 127.0.0.9 5555 127.0.0.1 80
send relay6 "TCP:127.0.0.1:$F_RELAY" 'PROXY TCP6 2001:db8::9 2001:db8::1 6000 443\r\n'
expect_client relay6 2001:db8::9 6000 2001:db8::1 443

# ---- an untrusted sender: its valid header is refused, and the service
# never starts; from a trusted address the same header is honoured.
refused untr1 "TCP:127.0.0.1:$B_UNTR,bind=127.0.0.1" "$V1_TCP4"
wait_for_log "^sockd: endpoint untr: refused 127\.0\.0\.1:$CLIENT_PORT \(not a trusted PROXY sender\)"
if grep -q '^sockd: endpoint untr: pid' "$SOCKD_LOG"; then
	fail "a program was started for an untrusted PROXY sender"
fi
send untr3 "TCP:127.0.0.1:$B_UNTR,bind=127.0.0.3" "$V1_TCP4"
expect_client untr3 127.0.0.9 5555 127.0.0.1 80

# ---- malformed headers: each connection closed, nothing served.
n=0
for h in \
	'PROXY TCP4 999.0.0.1 127.0.0.1 5555 80\r\nhello\n' \
	'PROXY TCP4 127.0.0.9 127.0.0.1 5555\r\nhello\n' \
	'PROXY TCP4 127.0.0.9 127.0.0.1 5555 80\nhello\n' \
	'PROXY TCP4 127.0.0.9 127.0.0.1 5555 70000\r\nhello\n' \
	'PROXY TCP6 127.0.0.9 127.0.0.1 5555 80\r\nhello\n' \
	'PROXY SCTP 127.0.0.9 127.0.0.1 5555 80\r\nhello\n' \
	'GET / HTTP/1.0\r\n\r\n' \
	'PROXY TCP4 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n' \
	"$V2SIG"'\061\021\000\014\177\000\000\011\177\000\000\001\025\263\000\120hello\n' \
	"$V2SIG"'\042\021\000\014\177\000\000\011\177\000\000\001\025\263\000\120hello\n' \
	"$V2SIG"'\041\101\000\014\177\000\000\011\177\000\000\001\025\263\000\120hello\n' \
	"$V2SIG"'\041\021\000\004\177\000\000\011hello\n' \
	'\015\012\015\012\000\015\012\121\125\111\124\013\041\021\000\014\177\000\000\011\177\000\000\001\025\263\000\120hello\n'
do
	n=$((n + 1))
	refused "bad$n" "TCP:127.0.0.1:$B_ECHO" "$h"
done
expect_file_match "$SOCKD_LOG" '^sockd: debug: endpoint echo: .*invalid PROXY header' "sockd's log"

# ---- truncated headers: the client keeps its write side open, and sockd
# closes the connection after proxy_timeout (1 s).
# partial NAME PORT DATA: send DATA (printf format) from a FIFO kept open;
# sockd must close the connection without a byte back.
partial() {
	rm -f "$T/partial.fifo"
	mkfifo "$T/partial.fifo"
	start_bg "$1" socat -d -d -t 30 "TCP:127.0.0.1:$2" "OPEN:$T/partial.fifo!!CREATE:$T/$1.got"
	_pid=$BG_PID
	exec 3<>"$T/partial.fifo"
	printf "$3" >&3
	# sockd closes the connection while the client is still sending.
	wait_for_file_match "$T/$1.err" 'socket 1 .*is at EOF' 20
	exec 3>&-
	wait_bg "$_pid" 20 || :
	[ ! -s "$T/$1.got" ] || fail "$1: a truncated header got '$(cat "$T/$1.got")'"
}
partial partial1 "$B_SHORT" 'PROXY TCP4 127.0.0.9 127.0.0.1'
partial partial2 "$B_SHORT" '\015\012\015\012\000\015\012\121\125'
partial partial3 "$B_SHORT" "$V2SIG"'\041\021\000\014\177\000\000\011'
expect_eq "$(grep -c '^sockd: debug: endpoint short: .*no complete PROXY header in time' "$SOCKD_LOG")" 3 \
	"timeouts logged for the truncated headers"
# A v2 length beyond what sockd accepts (0xFFFF) is refused as soon as
# the length is in, not waited for (proxy_timeout is 10 s there).
partial toolong "$B_ECHO" "$V2SIG"'\041\021\377\377\177\000\000\011\177\000\000\001\025\263\000\120hello'
client_port toolong
expect_file_match "$SOCKD_LOG" \
	"^sockd: debug: endpoint echo: 127\\.0\\.0\\.1:$CLIENT_PORT: (invalid PROXY header|PROXY header too long)\$" "sockd's log"

# ---- a header that arrives in pieces, within the time limit (10 s), is
# fine.
rm -f "$T/pieces.fifo"
mkfifo "$T/pieces.fifo"
start_bg pieces socat -t 20 "TCP:127.0.0.1:$B_ECHO" "OPEN:$T/pieces.fifo!!CREATE:$T/pieces.got"
PIECES=$BG_PID
exec 3<>"$T/pieces.fifo"
printf 'PROXY TCP4 127.0.0' >&3
sleep 0.2
printf '.9 127.0.0.1 5555 80\r\nin pieces\n' >&3
exec 3>&-
wait_bg "$PIECES" 30 || fail "a header in pieces: socat status $? ($(cat "$T/pieces.err"))"
expect_eq "$(cat "$T/pieces.got")" "in pieces" "echo after a header that came in pieces"

# ---- the payload after a valid header is the service's, byte for byte.
send echov1 "TCP:127.0.0.1:$B_ECHO" "${V1_TCP4}hello payload\\n"
expect_eq "$(cat "$T/echov1.got")" "hello payload" "echo after a v1 header"
send echov2 "TCP:127.0.0.1:$B_ECHO" "${V2_TCP4}hello payload\\n"
expect_eq "$(cat "$T/echov2.got")" "hello payload" "echo after a v2 header"
send echotlv "TCP:127.0.0.1:$B_ECHO" "${V2_TLV}hello tlv\\n"
expect_eq "$(cat "$T/echotlv.got")" "hello tlv" "echo after a v2 header with TLVs"
send echolocal "TCP:127.0.0.1:$B_ECHO" "${V2_LOCAL}hello local\\n"
expect_eq "$(cat "$T/echolocal.got")" "hello local" "echo after a v2 LOCAL header"
send echounknown "TCP:127.0.0.1:$B_ECHO" 'PROXY UNKNOWN\r\nhello unknown\n'
expect_eq "$(cat "$T/echounknown.got")" "hello unknown" "echo after PROXY UNKNOWN"
# The longest v1 line there is (104 bytes), with the payload in the same
# segment: sockd looks ahead for the LF but takes nothing past it.
F8=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
send echolong "TCP:127.0.0.1:$B_ECHO" "PROXY TCP6 $F8 $F8 65535 65535\r\nafter the longest line\n"
expect_eq "$(cat "$T/echolong.got")" "after the longest line" "echo after a 104-byte v1 header"
# ... and an exec'd program reads it from its stdin, right after the header.
send readv1 "TCP:127.0.0.1:$B_READ,bind=127.0.0.1" "${V1_TCP4}line for the program\\n"
expect_eq "$(cat "$T/readv1.got")" "got:line for the program from 127.0.0.9:5555" "the program after a v1 header"
send readv2 "TCP:127.0.0.1:$B_READ,bind=127.0.0.1" "${V2_TLV}line for the program\\n"
expect_eq "$(cat "$T/readv2.got")" "got:line for the program from 127.0.0.9:5555" "the program after a v2 header"
# IPv6 in a v1 header.
send readv6 "TCP:127.0.0.1:$B_READ" 'PROXY TCP6 2001:db8::9 ::1 4000 80\r\nsix\n'
expect_eq "$(cat "$T/readv6.got")" "got:six from 2001:db8::9:4000" "the program after a TCP6 header"
# LOCAL: the real addresses stay.
send readlocal "TCP:127.0.0.1:$B_READ,bind=127.0.0.3" "${V2_LOCAL}local line\\n"
expect_eq "$(cat "$T/readlocal.got")" "got:local line from 127.0.0.3:$CLIENT_PORT" "the program after a v2 LOCAL header"

# ---- after all of this sockd still serves.
fetch last "TCP:127.0.0.1:$H_V2,bind=127.0.0.2"
expect_client last 127.0.0.2 "$CLIENT_PORT"

kill -TERM "$HAPROXY_PID"
wait_bg "$HAPROXY_PID" 20 || :
expect_stop_ok
expect_clean_log
exit 0
