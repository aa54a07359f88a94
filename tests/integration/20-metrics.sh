#!/bin/sh
# service "metrics": GET /metrics over HTTP/1.0 and 1.1 (TCP and a Unix
# socket) in the Prometheus text format that `promtool check metrics`
# accepts, with exactly the counts of known traffic; HEAD, 404, 405; garbage
# and oversized requests get a closed connection; STATUS= is refreshed with
# "N endpoints, A active, S served"; one debug line per connection.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null 2>&1 || skip "promtool not installed (Debian package prometheus)"

P_METRICS=$(port 1)
P_ECHO=$(port 2)
CONF=$T/sockd.conf
CRLF=$(printf '\r\n')

cat >"$CONF" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
	log_level = "debug";
};
endpoints = (
	{ name = "metrics"; service = "metrics";
	  listen = [ "tcp:127.0.0.1:$P_METRICS", "unix:$T/metrics.sock" ]; },
	{ name = "echo"; service = "echo";
	  listen = [ "tcp:127.0.0.1:$P_ECHO", "udp:127.0.0.1:$P_ECHO" ]; },
	{ name = "idle"; service = "discard"; listen = [ "unix-seqpacket:$T/idle.sock" ]; }
);
EOF

# http ADDRESS REQUEST: send REQUEST (printf format), the response in
# $T/resp: headers in $T/head (CR removed), body in $T/body.
http() {
	printf "$2" | timeout 20 socat -t 10 - "$1" >"$T/resp" 2>"$T/http.err" ||
		fail "socat $1: $(cat "$T/http.err")"
	sed -n '1,/^\r\{0,1\}$/p' "$T/resp" | tr -d '\r' >"$T/head"
	sed '1,/^\r\{0,1\}$/d' "$T/resp" >"$T/body"
}

metric_is() {
	grep -qxF -- "$1" "$T/body"
}

expect_metric() {
	metric_is "$1" || {
		grep -F -- "${1%% *}" "$T/body" >&2 || :
		fail "/metrics has no line '$1'"
	}
}

start_sockd "$CONF"

note "known traffic"
for i in 1 2 3; do
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 100 -t 20
done
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m "twelve bytes" -t 10
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m "eight by" -t 10

# Bytes of a stream connection count once it is closed: wait for all three.
traffic_counted() {
	http "TCP:127.0.0.1:$P_METRICS" 'GET /metrics HTTP/1.0\r\n\r\n'
	metric_is 'sockd_endpoint_received_bytes_total{endpoint="echo"} 320'
}
wait_until 10 traffic_counted || fail "the echo traffic is not in /metrics: $(grep echo "$T/body")"

note "GET /metrics, HTTP/1.0"
expect_eq "$(head -n 1 "$T/head")" "HTTP/1.0 200 OK" "status line"
expect_file_match "$T/head" '^Content-Type: text/plain; version=0\.0\.4; charset=utf-8$'
expect_file_match "$T/head" "^Content-Length: $(wc -c <"$T/body")\$"
expect_file_match "$T/head" '^Connection: close$'
promtool check metrics <"$T/body" >"$T/promtool.out" 2>&1 || {
	cat "$T/promtool.out" >&2
	fail "promtool check metrics rejects /metrics"
}
expect_metric 'sockd_endpoint_accepted_total{endpoint="echo"} 3'
expect_metric 'sockd_endpoint_sent_bytes_total{endpoint="echo"} 320'
expect_metric 'sockd_endpoint_received_datagrams_total{endpoint="echo"} 2'
expect_metric 'sockd_endpoint_sent_datagrams_total{endpoint="echo"} 2'
expect_metric 'sockd_endpoint_connections_active{endpoint="echo"} 0'
expect_metric 'sockd_endpoint_refused_total{endpoint="echo",reason="acl"} 0'
expect_metric 'sockd_endpoint_dropped_datagrams_total{endpoint="echo",reason="guard"} 0'
expect_metric 'sockd_endpoint_accepted_total{endpoint="idle"} 0'
expect_metric 'sockd_endpoint_info{endpoint="echo",service="echo"} 1'
expect_metric "sockd_listener_info{endpoint=\"metrics\",address=\"unix:$T/metrics.sock\",origin=\"bound\"} 1"
expect_metric 'sockd_workers 2'
expect_metric 'sockd_queue_capacity 4096'
expect_metric 'sockd_config_last_reload_successful 1'
expect_metric '# TYPE sockd_endpoint_refused_total counter'
expect_metric '# TYPE sockd_endpoint_connections_active gauge'
# This very request is open.
expect_metric 'sockd_endpoint_connections_active{endpoint="metrics"} 1'
expect_file_match "$T/body" '^sockd_info\{version="[0-9.]+"\} 1$'

note "an open connection is a gauge"
start_bg hold "$TCLIENT" hold -a "unix-seqpacket:$T/idle.sock" -n 3 -t 60
HOLD_PID=$BG_PID
held() {
	http "TCP:127.0.0.1:$P_METRICS" 'GET /metrics HTTP/1.0\r\n\r\n'
	metric_is 'sockd_endpoint_connections_active{endpoint="idle"} 3'
}
wait_until 10 held || fail "3 open connections are not in /metrics"
expect_metric 'sockd_connections_active 4'
kill "$HOLD_PID" 2>/dev/null || :
wait_bg "$HOLD_PID" || :

note "HTTP/1.1 over the Unix socket, HEAD, a query"
http "UNIX-CONNECT:$T/metrics.sock" 'GET /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n'
expect_eq "$(head -n 1 "$T/head")" "HTTP/1.1 200 OK" "status line"
promtool check metrics <"$T/body" >"$T/promtool.out" 2>&1 || {
	cat "$T/promtool.out" >&2
	fail "promtool check metrics rejects /metrics over the Unix socket"
}
http "TCP:127.0.0.1:$P_METRICS" 'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
expect_eq "$(head -n 1 "$T/head")" "HTTP/1.1 200 OK" "HEAD status line"
expect_file_match "$T/head" '^Content-Length: [1-9][0-9]*$'
expect_eq "$(wc -c <"$T/body")" 0 "bytes of a HEAD body"

note "404, 405"
http "TCP:127.0.0.1:$P_METRICS" 'GET /other HTTP/1.1\r\nHost: x\r\n\r\n'
expect_eq "$(head -n 1 "$T/head")" "HTTP/1.1 404 Not Found" "status line of /other"
http "TCP:127.0.0.1:$P_METRICS" 'GET /metricsx HTTP/1.0\r\n\r\n'
expect_eq "$(head -n 1 "$T/head")" "HTTP/1.0 404 Not Found" "status line of /metricsx"
http "TCP:127.0.0.1:$P_METRICS" 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'
expect_eq "$(head -n 1 "$T/head")" "HTTP/1.1 405 Method Not Allowed" "status line of a POST"
expect_file_match "$T/head" '^Allow: GET, HEAD$'

note "garbage"
for req in 'hello\r\n\r\n' 'GET /metrics\r\n' 'GET /metrics HTTP/2.0\r\n\r\n' '\026\003\001\002\000\001\000\001' \
	'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'; do
	http "TCP:127.0.0.1:$P_METRICS" "$req"
	expect_eq "$(wc -c <"$T/resp")" 0 "bytes sent in reply to '$req'"
done
# More head than any scraper sends: 9000 bytes without an empty line.
{
	printf 'GET /metrics HTTP/1.1\r\nX-Long: '
	head -c 9000 /dev/zero | tr '\0' 'a'
	printf '\r\n\r\n'
} >"$T/long"
timeout 20 socat -t 10 - "TCP:127.0.0.1:$P_METRICS" <"$T/long" >"$T/resp" 2>/dev/null || :
expect_eq "$(wc -c <"$T/resp")" 0 "bytes sent in reply to a 9 KiB head"
expect_file_match "$SOCKD_LOG" "^sockd: debug: conn endpoint=metrics proto=tcp peer=127\\.0\\.0\\.1:[0-9]+ in=[0-9]+ out=0 duration=[0-9.]+s outcome=bad-request\$"
http "TCP:127.0.0.1:$P_METRICS" 'GET /metrics HTTP/1.0\r\n\r\n'
expect_eq "$(head -n 1 "$T/head")" "HTTP/1.0 200 OK" "status line after garbage"

note "logs and STATUS="
# One debug line per connection of a built-in service, with its counts.
expect_file_match "$SOCKD_LOG" "^sockd: debug: conn endpoint=echo proto=tcp peer=127\\.0\\.0\\.1:[0-9]+ in=100 out=100 duration=[0-9.]+s outcome=closed\$"
expect_file_match "$SOCKD_LOG" '^sockd: debug: conn endpoint=idle proto=unix-seqpacket peer=unix in=0 out=0 duration=[0-9.]+s outcome=closed$'
# STATUS= every 5 s.
wait_for_file_match "$NOTIFY_OUT" '^STATUS=3 endpoints, [0-9]+ active, [0-9]+(\.[0-9])?[kMGTPE]? served$' 15
expect_stop_ok
expect_clean_log
exit 0
