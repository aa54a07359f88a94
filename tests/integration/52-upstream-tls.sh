#!/bin/sh
# forward's upstream_tls: sockd wraps a plaintext client into TLS towards
# openssl s_server (and socat), verifying the upstream's certificate
# against ca and its name against server_name, which is sent as SNI
# (s_server shows its up.test certificate only for that name, and refuses
# any other name). A wrong CA, a wrong name
# and the system store (which does not know the test CA) are refused and
# logged with OpenSSL's reason; mTLS with a client certificate that
# s_server -Verify requires; the CA file is read again at reload (a fixed
# file then works, a missing one refuses the reload); and with the
# endpoint's tls, a TLS client is re-encrypted towards the TLS upstream.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/tls.sh"

P_OK=$(port 1)          # ca, server_name up.test -> s_server (SNI checked)
P_BADCA=$(port 2)       # ca = another CA
P_BADNAME=$(port 3)     # server_name other.test
P_SYSTEM=$(port 4)      # no ca: the system store
P_MTLS=$(port 5)        # client certificate -> s_server -Verify
P_NOCERT=$(port 6)      # no client certificate -> a server that requires one
P_RELOAD=$(port 7)      # ca = a file the test rewrites
P_REENC=$(port 8)       # tls endpoint -> upstream_tls
U_SNI=$(port 11)        # s_server -rev, requires SNI up.test
U_ANY=$(port 12)        # socat TLS echo (survives failed handshakes)
U_MTLS=$(port 13)       # s_server -rev -Verify 1
U_REQ=$(port 14)        # socat TLS echo requiring a client certificate
U_REENC=$(port 15)      # s_server -rev, requires SNI up.test

tls_ca ca
tls_ca other
tls_cert up up.test 1001 ec ca
tls_cert client sockd-client 1002 ec ca
tls_cert front front.test 1003 rsa ca
# s_server's certificate for clients that send no SNI or another name: one
# the upstream_tls endpoints do not trust, so only SNI up.test gets through.
tls_cert decoy decoy.test 1004 ec other
cp "$PKI/other.pem" "$T/reload-ca.pem"

s_server() {
	_port=$1
	shift
	openssl s_server -accept "127.0.0.1:$_port" -cert "$PKI/decoy.pem" -key "$PKI/decoy.key" -rev \
		-servername up.test -servername_fatal -cert2 "$PKI/up.pem" -key2 "$PKI/up.key" "$@"
}
start_bg s-sni s_server "$U_SNI"
start_bg s-mtls s_server "$U_MTLS" -Verify 1 -CAfile "$PKI/ca.pem" -verify_return_error
start_bg s-reenc s_server "$U_REENC"
start_bg s-any socat "OPENSSL-LISTEN:$U_ANY,bind=127.0.0.1,reuseaddr,fork,cert=$PKI/up.pem,key=$PKI/up.key,verify=0" PIPE
start_bg s-req socat "OPENSSL-LISTEN:$U_REQ,bind=127.0.0.1,reuseaddr,fork,cert=$PKI/up.pem,key=$PKI/up.key,cafile=$PKI/ca.pem,verify=1" PIPE

tcp_listening() {
	_hex=$(printf '%04X' "$1")
	grep -Eq "^ *[0-9]+: 0100007F:$_hex 00000000:0000 0A " /proc/net/tcp
}
for p in "$U_SNI" "$U_ANY" "$U_MTLS" "$U_REQ" "$U_REENC"; do
	wait_until 10 tcp_listening "$p" || fail "no TLS server listens on $p"
done

fwd() {
	echo "{ name = \"$1\"; listen = [ \"tcp:127.0.0.1:$2\" ]; service = \"forward\";"
	echo "  upstream = \"tcp:127.0.0.1:$3\"; connect_timeout = 5.0; upstream_tls = { $4 }; ${5:-} }"
}
cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
$(fwd ok "$P_OK" "$U_SNI" "ca = \"$PKI/ca.pem\"; server_name = \"up.test\";"),
$(fwd badca "$P_BADCA" "$U_ANY" "ca = \"$PKI/other.pem\"; server_name = \"up.test\";"),
$(fwd badname "$P_BADNAME" "$U_ANY" "ca = \"$PKI/ca.pem\"; server_name = \"other.test\";"),
$(fwd system "$P_SYSTEM" "$U_ANY" "server_name = \"up.test\";"),
$(fwd mtls "$P_MTLS" "$U_MTLS" "ca = \"$PKI/ca.pem\"; server_name = \"up.test\"; certificate = \"$PKI/client.pem\"; key = \"$PKI/client.key\";"),
$(fwd nocert "$P_NOCERT" "$U_REQ" "ca = \"$PKI/ca.pem\"; server_name = \"up.test\";"),
$(fwd reload "$P_RELOAD" "$U_ANY" "ca = \"$T/reload-ca.pem\"; server_name = \"up.test\";"),
$(fwd reenc "$P_REENC" "$U_REENC" "ca = \"$PKI/ca.pem\"; server_name = \"up.test\";" \
	"tls = { certificate = \"$PKI/front.pem\"; key = \"$PKI/front.key\"; };")
);
EOF
start_sockd "$T/sockd.conf"

# plain PORT MSG: MSG through sockd as a plaintext client; the reply
plain() {
	printf '%s\n' "$2" | socat -T 10 -t 5 - "TCP:127.0.0.1:$1" 2>"$T/plain.err"
}

expect_eq "$(plain "$P_OK" hello)" olleh "through upstream_tls to s_server (SNI up.test, verified)"
expect_eq "$(plain "$P_MTLS" client-cert)" trec-tneilc "mTLS to s_server -Verify 1"

expect_eq "$(plain "$P_BADCA" x)" "" "reply with the wrong CA"
wait_for_log "warning: endpoint badca: no upstream reachable \(last: tcp:127\.0\.0\.1:$U_ANY: TLS handshake failed: certificate verify failed"
expect_eq "$(plain "$P_BADNAME" x)" "" "reply with the wrong name"
wait_for_log "warning: endpoint badname: no upstream reachable \(last: tcp:127\.0\.0\.1:$U_ANY: TLS handshake failed: certificate verify failed: hostname mismatch"
expect_eq "$(plain "$P_SYSTEM" x)" "" "reply with the system store"
wait_for_log "warning: endpoint system: no upstream reachable \(last: tcp:127\.0\.0\.1:$U_ANY: TLS handshake failed: certificate verify failed"
# In TLS 1.3 the client's handshake ends before the server has checked
# the client's certificate: the server's alert ends the relay instead.
expect_eq "$(plain "$P_NOCERT" x)" "" "reply without a client certificate"
wait_for_log "conn endpoint=nocert proto=tcp peer=127\.0\.0\.1:[0-9]+ in=2 out=0 "
wait_for_file_match "$T/s-req.err" "did not return a certificate|certificate required"

# Reload: the CA file is read again.
expect_eq "$(plain "$P_RELOAD" x)" "" "reply before the CA file is fixed"
cp "$PKI/ca.pem" "$T/reload-ca.pem"
kill -HUP "$SOCKD_PID"
wait_for_log "reloaded"
expect_eq "$(plain "$P_RELOAD" after-reload)" after-reload "after the CA file was fixed and reloaded"
rm "$T/reload-ca.pem"
kill -HUP "$SOCKD_PID"
wait_for_log "reload-ca\.pem"
expect_eq "$(plain "$P_RELOAD" still)" still "the running context after a refused reload"

# Re-encrypt: a TLS client of sockd's own certificate, a TLS upstream.
_r=$(printf 'both-ways\n' | socat -T 10 -t 5 - \
	"OPENSSL:127.0.0.1:$P_REENC,cafile=$PKI/ca.pem,commonname=front.test,snihost=front.test" 2>"$T/reenc.err") ||
	fail "TLS client of the reenc endpoint: $(cat "$T/reenc.err")"
expect_eq "$_r" "syaw-htob" "TLS in, TLS out"

expect_clean_log "no upstream reachable|reload|reload-ca"
expect_stop_ok
