#!/bin/sh
# TLS interoperability with real HAProxy and stunnel4, both ways, every
# peer verifying the other's certificate against the test CA:
#   HAProxy as a TLS client of sockd's tls endpoint (server ... ssl verify
#   required ca-file ... sni ...), and as a TLS server (bind ... ssl crt,
#   accept-proxy) behind sockd's upstream_tls, with a PROXY v2 header sent
#   in the clear before the handshake;
#   stunnel4 in client mode towards sockd's tls endpoint (verifyChain,
#   checkHost), and as a TLS server behind sockd's upstream_tls.
# The plaintext ends are sockd's echo built-in; each path carries a line
# and 1 MB checksummed.
. "$(dirname "$0")/lib.sh"

command -v haproxy >/dev/null 2>&1 || skip "haproxy is not installed (Debian package haproxy)"
command -v stunnel4 >/dev/null 2>&1 || skip "stunnel4 is not installed (Debian package stunnel4)"
. "$TESTDIR/tls.sh"

P_TLS=$(port 1)         # sockd: tls endpoint, echo
P_ECHO=$(port 2)        # sockd: plain echo (the TLS servers' backend)
P_TO_HA=$(port 3)       # sockd: forward, upstream_tls -> HAProxy, send_proxy v2
P_TO_ST=$(port 4)       # sockd: forward, upstream_tls -> stunnel
H_CLIENT=$(port 11)     # HAProxy: plain in, TLS to P_TLS
H_SERVER=$(port 12)     # HAProxy: TLS (accept-proxy) in, plain to P_ECHO
S_CLIENT=$(port 13)     # stunnel: plain in, TLS to P_TLS
S_SERVER=$(port 14)     # stunnel: TLS in, plain to P_ECHO
H_WRONG=$(port 15)      # HAProxy: as H_CLIENT, but asks for (and checks) another name

tls_ca ca
tls_cert sockd sockd.test 2001 ec ca
tls_cert haproxy haproxy.test 2002 rsa ca
tls_cert stunnel stunnel.test 2003 ec ca
cat "$PKI/haproxy.pem" "$PKI/haproxy.key" >"$PKI/haproxy.bundle"

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "tls"; listen = "tcp:127.0.0.1:$P_TLS"; service = "echo";
	  tls = { certificate = "$PKI/sockd.pem"; key = "$PKI/sockd.key"; }; },
	{ name = "echo"; listen = "tcp:127.0.0.1:$P_ECHO"; service = "echo"; },
	{ name = "to-haproxy"; listen = "tcp:127.0.0.1:$P_TO_HA"; service = "forward";
	  upstream = "tcp:127.0.0.1:$H_SERVER"; send_proxy = "v2";
	  upstream_tls = { ca = "$PKI/ca.pem"; server_name = "haproxy.test"; }; },
	{ name = "to-stunnel"; listen = "tcp:127.0.0.1:$P_TO_ST"; service = "forward";
	  upstream = "tcp:127.0.0.1:$S_SERVER";
	  upstream_tls = { ca = "$PKI/ca.pem"; server_name = "stunnel.test"; }; }
);
EOF
start_sockd "$T/sockd.conf"

cat >"$T/haproxy.cfg" <<EOF
global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
listen tls_client
    bind 127.0.0.1:$H_CLIENT
    server sockd 127.0.0.1:$P_TLS ssl verify required ca-file $PKI/ca.pem sni str(sockd.test) verifyhost sockd.test
listen tls_client_wrong_name
    bind 127.0.0.1:$H_WRONG
    server sockd 127.0.0.1:$P_TLS ssl verify required ca-file $PKI/ca.pem sni str(other.test)
listen tls_server
    bind 127.0.0.1:$H_SERVER accept-proxy ssl crt $PKI/haproxy.bundle
    server echo 127.0.0.1:$P_ECHO
EOF
haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy-check.out" 2>&1 ||
	fail "haproxy -c: $(cat "$T/haproxy-check.out")"
start_bg haproxy haproxy -db -f "$T/haproxy.cfg"

cat >"$T/stunnel.conf" <<EOF
foreground = yes
pid =
output = $T/stunnel.log
debug = notice
[client]
client = yes
accept = 127.0.0.1:$S_CLIENT
connect = 127.0.0.1:$P_TLS
sni = sockd.test
verifyChain = yes
CAfile = $PKI/ca.pem
checkHost = sockd.test
[server]
accept = 127.0.0.1:$S_SERVER
connect = 127.0.0.1:$P_ECHO
cert = $PKI/stunnel.pem
key = $PKI/stunnel.key
EOF
start_bg stunnel stunnel4 "$T/stunnel.conf"

tcp_listening() {
	_hex=$(printf '%04X' "$1")
	grep -Eq "^ *[0-9]+: 0100007F:$_hex 00000000:0000 0A " /proc/net/tcp
}
for p in "$H_CLIENT" "$H_SERVER" "$H_WRONG"; do
	wait_until 10 tcp_listening "$p" || fail "haproxy does not listen on $p: $(cat "$T/haproxy.err")"
done
for p in "$S_CLIENT" "$S_SERVER"; do
	wait_until 10 tcp_listening "$p" || fail "stunnel does not listen on $p: $(cat "$T/stunnel.log" 2>/dev/null)"
done

head -c 1048576 /dev/urandom >"$T/blob"
# through PORT WHAT: a line, then 1 MB, through a plaintext port of the path
through() {
	_r=$(printf 'interop\n' | socat -T 10 -t 5 - "TCP:127.0.0.1:$1" 2>"$T/through.err")
	expect_eq "$_r" interop "$2: a line"
	socat -T 10 -t 5 - "TCP:127.0.0.1:$1" <"$T/blob" >"$T/blob.back" 2>"$T/through.err" ||
		fail "$2: socat: $(cat "$T/through.err")"
	expect_eq "$(sha256sum <"$T/blob.back")" "$(sha256sum <"$T/blob")" "$2: 1 MB"
}

through "$H_CLIENT" "HAProxy as a TLS client of sockd"
through "$P_TO_HA" "sockd's upstream_tls to HAProxy (PROXY v2 first)"
through "$S_CLIENT" "stunnel as a TLS client of sockd"
through "$P_TO_ST" "sockd's upstream_tls to stunnel"

# The checks are real: HAProxy refuses sockd's certificate for another name.
_r=$(printf 'interop\n' | socat -T 10 -t 5 - "TCP:127.0.0.1:$H_WRONG" 2>/dev/null) || :
expect_eq "$_r" "" "HAProxy expecting other.test"

expect_clean_log "TLS handshake"
expect_stop_ok
