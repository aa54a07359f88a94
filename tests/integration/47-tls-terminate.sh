#!/bin/sh
# TLS terminated by sockd in front of every kind of service: echo (TCP and
# a Unix socket), daytime, forward (plaintext to the upstream) and exec
# (plaintext on a socketpair, the SSL_* environment); bulk data through
# each, compared byte for byte; an RSA and an ECDSA certificate on one
# endpoint, each chosen by what the client accepts; verify_client none,
# optional and require, with a good, a foreign and no client certificate;
# handshakes and failures by reason in the metrics and `sockctl status`;
# a failed handshake logged with the peer and OpenSSL's reason.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/tls.sh"

: "${SOCKCTL:=$top_builddir/src/sockctl}"

P_METRICS=$(port 1)
P_ECHO=$(port 2)
P_FWD=$(port 3)
P_PLAIN=$(port 4)
P_DAYTIME=$(port 5)
P_CAT=$(port 6)
P_ENV=$(port 7)
P_REQ=$(port 8)
CONF=$T/sockd.conf
CTL=$T/ctl.sock

tls_ca ca
tls_ca rogue
tls_cert rsa localhost 4701 rsa ca
tls_cert ecdsa localhost 47EC ec ca
tls_cert client client1 4711 rsa ca 30 DNS:client1
tls_cert foreign client2 4712 rsa rogue 30 DNS:client2

TLS_BOTH="certificate = [ \"$PKI/rsa.pem\", \"$PKI/ecdsa.pem\" ]; key = [ \"$PKI/rsa.key\", \"$PKI/ecdsa.key\" ];"
TLS_RSA="certificate = \"$PKI/rsa.pem\"; key = \"$PKI/rsa.key\";"
cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; log_level = "debug"; control = "$CTL"; };
endpoints = (
	{ name = "metrics"; service = "metrics"; listen = "tcp:127.0.0.1:$P_METRICS"; },
	{ name = "echo"; service = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO", "unix:$T/echo.sock" ];
	  tls = { $TLS_BOTH }; },
	{ name = "fwd"; service = "forward"; listen = "tcp:127.0.0.1:$P_FWD";
	  upstream = "tcp:127.0.0.1:$P_PLAIN"; tls = { $TLS_RSA }; },
	{ name = "plain"; service = "echo"; listen = "tcp:127.0.0.1:$P_PLAIN"; },
	{ name = "daytime"; service = "daytime"; listen = "tcp:127.0.0.1:$P_DAYTIME";
	  tls = { $TLS_RSA }; },
	{ name = "cat"; service = "exec"; command = [ "/bin/cat" ]; listen = "tcp:127.0.0.1:$P_CAT";
	  tls = { $TLS_RSA }; },
	{ name = "env"; service = "exec"; command = [ "/usr/bin/env" ]; listen = "tcp:127.0.0.1:$P_ENV";
	  tls = { $TLS_RSA client_ca = "$PKI/ca.pem"; verify_client = "optional"; }; },
	{ name = "req"; service = "echo"; listen = "tcp:127.0.0.1:$P_REQ";
	  tls = { $TLS_RSA client_ca = "$PKI/ca.pem"; verify_client = "require"; }; }
);
EOF

expect_rc 0 "$SOCKD" -n -f "$CONF"
start_sockd "$CONF"
expect_file_match "$SOCKD_LOG" 'TLS: the kernel offers (no )?kTLS' "the kTLS notice at start"

note "echo, daytime, forward and exec behind TLS"
out=$(tls_echo "$P_ECHO" "hello through tls") || fail "TLS echo failed: $(cat "$T/socat.err")"
expect_eq "$out" "hello through tls" "TLS echo"
# s_client cannot half-close: stdin stays open until the echo is back.
out=$( (printf 'over a unix socket\n'; sleep 2) | timeout 10 openssl s_client -unix "$T/echo.sock" \
	-quiet -no_ign_eof -CAfile "$PKI/ca.pem" -verify_return_error 2>/dev/null | head -n 1)
expect_eq "$out" "over a unix socket" "TLS echo on a Unix socket"
out=$(timeout 10 socat -t 5 -u "OPENSSL:127.0.0.1:$P_DAYTIME,cafile=$PKI/ca.pem,commonname=localhost" - 2>"$T/socat.err") ||
	fail "TLS daytime failed: $(cat "$T/socat.err")"
expect_match "$out" '^[A-Z][a-z]+day, [A-Z][a-z]+ [0-9]{2}, [0-9]{4} [0-9:]{8}-' "TLS daytime line"
out=$(tls_echo "$P_FWD" "forwarded") || fail "TLS forward failed: $(cat "$T/socat.err")"
expect_eq "$out" "forwarded" "TLS forward"
head -c 3000000 /dev/urandom >"$T/big"
for p in "$P_ECHO" "$P_FWD" "$P_CAT"; do
	timeout 30 socat -t 5 - "OPENSSL:127.0.0.1:$p,cafile=$PKI/ca.pem,commonname=localhost" \
		<"$T/big" >"$T/big.back" 2>"$T/socat.err" || fail "bulk through port $p: $(cat "$T/socat.err")"
	cmp -s "$T/big" "$T/big.back" || fail "3 MB through the TLS endpoint on port $p came back different" \
		"($(wc -c <"$T/big.back") bytes)"
done

note "RSA and ECDSA certificates on one endpoint"
expect_eq "$(tls_peer_serial "$P_ECHO" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)" 4701 "RSA-only client"
expect_eq "$(tls_peer_serial "$P_ECHO" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)" 47EC "ECDSA-only client"
expect_eq "$(tls_peer_serial "$P_ECHO" -tls1_3 -sigalgs rsa_pss_rsae_sha256)" 4701 "TLS 1.3, RSA signatures only"
expect_eq "$(tls_peer_serial "$P_ECHO" -tls1_3 -sigalgs ecdsa_secp256r1_sha256)" 47EC "TLS 1.3, ECDSA only"

note "the minimum version is TLS 1.2"
if timeout 10 openssl s_client -connect "127.0.0.1:$P_ECHO" -tls1_1 </dev/null >"$T/s.out" 2>&1 &&
	grep -q '^New, TLS' "$T/s.out"; then
	fail "a TLS 1.1 handshake succeeded"
fi

note "exec gets the SSL_* environment"
timeout 10 openssl s_client -connect "127.0.0.1:$P_ENV" -quiet -CAfile "$PKI/ca.pem" \
	-servername localhost -alpn http/1.1 </dev/null >"$T/env.none" 2>/dev/null
expect_file_match "$T/env.none" '^SSL_PROTOCOL=TLSv1\.3$'
expect_file_match "$T/env.none" '^SSL_CIPHER=TLS_'
expect_file_match "$T/env.none" '^SSL_SERVER_NAME=localhost$'
expect_file_match "$T/env.none" '^SSL_CLIENT_VERIFY=NONE$' "no client certificate: NONE"
expect_file_match "$T/env.none" '^TCPREMOTEIP=127\.0\.0\.1$'
if grep -q '^SSL_ALPN=' "$T/env.none"; then
	fail "SSL_ALPN is set without an alpn list on the endpoint"
fi
timeout 10 openssl s_client -connect "127.0.0.1:$P_ENV" -quiet -CAfile "$PKI/ca.pem" -tls1_2 \
	-cert "$PKI/client.pem" -key "$PKI/client.key" </dev/null >"$T/env.cert" 2>/dev/null
fp=$(openssl x509 -in "$PKI/client.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
expect_file_match "$T/env.cert" '^SSL_PROTOCOL=TLSv1\.2$'
expect_file_match "$T/env.cert" '^SSL_CLIENT_VERIFY=SUCCESS$'
expect_file_match "$T/env.cert" '^SSL_CLIENT_S_DN=(.*,)?CN=client1(,.*)?$'
expect_file_match "$T/env.cert" '^SSL_CLIENT_I_DN=CN=ca test CA$'
expect_file_match "$T/env.cert" '^SSL_CLIENT_M_SERIAL=4711$'
expect_eq "$(sed -n 's/^SSL_CLIENT_FINGERPRINT=//p' "$T/env.cert")" "$fp" "SSL_CLIENT_FINGERPRINT"

note "verify_client: optional refuses a foreign certificate, require refuses none"
metrics_get "$P_METRICS"
cert0=$(metric env sockd_endpoint_tls_failed_total certificate)
timeout 10 openssl s_client -connect "127.0.0.1:$P_ENV" -quiet -tls1_2 \
	-cert "$PKI/foreign.pem" -key "$PKI/foreign.key" </dev/null >"$T/env.foreign" 2>/dev/null || :
if grep -q '^SSL_' "$T/env.foreign"; then
	fail "a certificate of another CA was let through verify_client = \"optional\""
fi
out=$(tls_echo "$P_REQ" "no certificate" || :)
[ -z "$out" ] || fail "verify_client = \"require\" echoed to a client without a certificate: $out"
out=$(tls_echo "$P_REQ" "with certificate" "cert=$PKI/client.pem,key=$PKI/client.key") ||
	fail "verify_client = \"require\" refused a good certificate: $(cat "$T/socat.err")"
expect_eq "$out" "with certificate" "require, good certificate"
wait_for_log "TLS handshake with 127\.0\.0\.1:[0-9]+ failed \(certificate\)"

metrics_get "$P_METRICS"
expect_eq "$(metric env sockd_endpoint_tls_failed_total certificate)" $((cert0 + 1)) \
	"env: failed handshakes (certificate)"
[ "$(metric req sockd_endpoint_tls_failed_total certificate)" -ge 1 ] ||
	fail "req: no failed handshake counted for the client without a certificate"
# 1 + 1 (Unix) + 1 (bulk) + 4 (certificate choice); TLS 1.1 failed.
expect_eq "$(metric echo sockd_endpoint_tls_handshakes_total)" 7 "echo: handshakes"
expect_eq "$(metric echo sockd_endpoint_tls_failed_total protocol)" 1 "echo: failed handshakes (protocol)"
expect_eq "$(metric plain sockd_endpoint_tls_handshakes_total)" 0 "plain: no handshakes"
"$SOCKCTL" -S "$CTL" status >"$T/status" 2>&1 || fail "sockctl status: $(cat "$T/status")"
expect_file_match "$T/status" '^req: tls handshakes [0-9]+ \(resumed [0-9]+\), failed certificate [0-9]+'
"$SOCKCTL" -S "$CTL" --json status >"$T/status.json" 2>&1 || fail "sockctl --json status failed"
expect_file_match "$T/status.json" '"tls":\{"handshakes":[1-9][0-9]*,"resumed":[0-9]+\},"tls_failed":\{"protocol":'


note "TLS connections run with TCP_NODELAY, plaintext ones keep the default"
# OpenSSL writes record by record: under Nagle's algorithm the second record
# of a flight waits for the client's delayed ACK (40 ms). sockpeek reads
# the option off sockd's own accepted sockets (pidfd_getfd).
SOCKPEEK=$top_builddir/tests/integration/sockpeek
conn_line() {
	"$SOCKPEEK" "$SOCKD_PID" "$1" >"$T/peek.out" 2>"$T/peek.err"
	_rc=$?
	[ "$_rc" = 77 ] && return 77
	grep '^conn ' "$T/peek.out" | head -n 1
}
start_bg held_tls sh -c "(printf 'held\n'; sleep 6) | timeout 10 openssl s_client -connect 127.0.0.1:$P_ECHO -quiet"
held_tls=$BG_PID
start_bg held_plain sh -c "(printf 'held\n'; sleep 6) | timeout 10 socat - TCP:127.0.0.1:$P_PLAIN"
held_plain=$BG_PID
conn_line "$P_ECHO" >/dev/null
if [ $? = 77 ]; then
	note "SKIP (part): cannot read sockd's sockets here: $(cat "$T/peek.err")"
else
	wait_until 10 eval '[ -n "$(conn_line "$P_ECHO")" ] && [ -n "$(conn_line "$P_PLAIN")" ]' ||
		fail "sockd holds no accepted socket on $P_ECHO and $P_PLAIN"
	tls_line=$(conn_line "$P_ECHO")
	plain_line=$(conn_line "$P_PLAIN")
	expect_match "$tls_line" ' nodelay=1( |$)' "TCP_NODELAY on a TLS connection"
	expect_match "$plain_line" ' nodelay=0( |$)' "no TCP_NODELAY on a plaintext one (nodelay unset)"
fi
wait_bg "$held_tls" 15 || true
wait_bg "$held_plain" 15 || true

expect_stop_ok
expect_clean_log
echo "47-tls-terminate: ok"
