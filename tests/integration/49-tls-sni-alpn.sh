#!/bin/sh
# The choices a TLS client makes: SNI (an exact name, a wildcard, an
# unknown name that gets the default certificate or is refused, no name
# at all), ALPN (the server's preference, no protocol in common), session
# resumption (tickets in TLS 1.2 and 1.3, 20 in a row each from the last
# session, the session cache without
# tickets), curl against an exec program that speaks HTTP from the SSL_*
# environment, and gnutls-cli as a second TLS stack.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/tls.sh"

P_METRICS=$(port 1)
P_SNI=$(port 2)
P_REFUSE=$(port 3)
P_ALPN=$(port 4)
P_DAYTIME=$(port 5)
P_NOTICKET=$(port 6)
P_HTTP=$(port 7)
CONF=$T/sockd.conf

tls_ca ca
tls_cert default default.test 49D0 rsa ca
tls_cert a a.test 49A0 ec ca
tls_cert wild wild.test 49F0 rsa ca 30 "DNS:*.wild.test"
tls_cert local localhost 4901 rsa ca 30 "DNS:localhost,IP:127.0.0.1"

cat >"$T/http.sh" <<'EOF'
#!/bin/sh
# A one-request HTTP server for exec: what the TLS layer told it.
cr=$(printf '\r')
while IFS= read -r line; do
	line=${line%"$cr"}
	[ -z "$line" ] && break
done
body="protocol=$SSL_PROTOCOL
cipher=$SSL_CIPHER
sni=$SSL_SERVER_NAME
alpn=$SSL_ALPN
verify=$SSL_CLIENT_VERIFY
resumed=$SSL_SESSION_RESUMED
"
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-SSL-Protocol: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
	"$SSL_PROTOCOL" "${#body}" "$body"
EOF
chmod +x "$T/http.sh"

SNI="sni = ( { server_name = \"a.test\"; certificate = \"$PKI/a.pem\"; key = \"$PKI/a.key\"; },
	             { server_name = [ \"*.wild.test\" ]; certificate = \"$PKI/wild.pem\"; key = \"$PKI/wild.key\"; } );"
DEFAULT="certificate = \"$PKI/default.pem\"; key = \"$PKI/default.key\";"
LOCAL="certificate = \"$PKI/local.pem\"; key = \"$PKI/local.key\";"
cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; log_level = "info"; };
endpoints = (
	{ name = "metrics"; service = "metrics"; listen = "tcp:127.0.0.1:$P_METRICS"; },
	{ name = "sni"; service = "echo"; listen = "tcp:127.0.0.1:$P_SNI";
	  tls = { $DEFAULT $SNI }; },
	{ name = "refuse"; service = "echo"; listen = "tcp:127.0.0.1:$P_REFUSE";
	  tls = { $DEFAULT $SNI unknown_sni = "refuse"; }; },
	{ name = "alpn"; service = "echo"; listen = "tcp:127.0.0.1:$P_ALPN";
	  tls = { $LOCAL alpn = [ "h2", "http/1.1" ]; }; },
	{ name = "daytime"; service = "daytime"; listen = "tcp:127.0.0.1:$P_DAYTIME";
	  tls = { $LOCAL }; },
	{ name = "noticket"; service = "daytime"; listen = "tcp:127.0.0.1:$P_NOTICKET";
	  tls = { $LOCAL session_tickets = false; }; },
	{ name = "http"; service = "exec"; command = [ "$T/http.sh" ]; listen = "tcp:127.0.0.1:$P_HTTP";
	  tls = { $LOCAL alpn = [ "http/1.1" ]; }; }
);
EOF

start_sockd "$CONF"

note "SNI"
expect_eq "$(tls_peer_serial "$P_SNI" -servername a.test)" 49A0 "a.test"
expect_eq "$(tls_peer_serial "$P_SNI" -servername A.Test)" 49A0 "A.Test (names ignore case)"
expect_eq "$(tls_peer_serial "$P_SNI" -servername x.wild.test)" 49F0 "x.wild.test (wildcard)"
expect_eq "$(tls_peer_serial "$P_SNI" -servername a.b.wild.test)" 49D0 "a.b.wild.test (a wildcard is one label)"
expect_eq "$(tls_peer_serial "$P_SNI" -servername wild.test)" 49D0 "wild.test (not the wildcard)"
expect_eq "$(tls_peer_serial "$P_SNI" -servername unknown.test)" 49D0 "unknown name, unknown_sni = default"
expect_eq "$(tls_peer_serial "$P_SNI" -noservername)" 49D0 "no name"
expect_eq "$(tls_peer_serial "$P_REFUSE" -servername a.test)" 49A0 "a.test, unknown_sni = refuse"
expect_eq "$(tls_peer_serial "$P_REFUSE" -noservername)" 49D0 "no name, unknown_sni = refuse"
expect_eq "$(tls_peer_serial "$P_REFUSE" -servername unknown.test)" "" "unknown name, unknown_sni = refuse"
wait_for_log "endpoint refuse: TLS handshake with 127\.0\.0\.1:[0-9]+ failed \(sni\): unknown server name 'unknown\.test' refused"
out=$(tls_echo "$P_SNI" "via sni" "commonname=a.test,openssl-commonname=a.test" || :)
[ -n "$out" ] || out=$(printf 'via sni\n' | timeout 10 socat -t 5 - \
	"OPENSSL:127.0.0.1:$P_SNI,cafile=$PKI/ca.pem,commonname=a.test" 2>"$T/socat.err")
expect_eq "$out" "via sni" "echo with the SNI certificate"

note "ALPN"
alpn() {
	timeout 10 openssl s_client -connect "127.0.0.1:$P_ALPN" "$@" </dev/null 2>/dev/null |
		sed -n 's/^ALPN protocol: //p; s/^\(No ALPN negotiated\)$/\1/p'
}
expect_eq "$(alpn -alpn http/1.1)" "http/1.1" "ALPN http/1.1"
expect_eq "$(alpn -alpn http/1.1,h2)" "h2" "ALPN: the server's preference"
expect_eq "$(alpn)" "No ALPN negotiated" "a client without ALPN"
timeout 10 openssl s_client -connect "127.0.0.1:$P_ALPN" -alpn spdy/1 </dev/null >"$T/s.out" 2>&1 || :
expect_file_match "$T/s.out" 'alert no application protocol' "no ALPN protocol in common"

note "session resumption"
resume() {
	rm -f "$T/sess"
	# s_client leaves at the EOF of its input: it must stay until the
	# ticket (after the handshake) and daytime's close have come.
	sleep 1 | timeout 10 openssl s_client -connect "127.0.0.1:$1" -sess_out "$T/sess" "$2" >"$T/s1" 2>&1
	grep -q '^New, TLS' "$T/s1" || fail "first handshake on port $1 $2 failed: $(cat "$T/s1")"
	timeout 10 openssl s_client -connect "127.0.0.1:$1" -sess_in "$T/sess" "$2" </dev/null >"$T/s2" 2>&1
	sed -n 's/^\(Reused\|New\), .*/\1/p' "$T/s2"
}
expect_eq "$(resume "$P_DAYTIME" -tls1_3)" Reused "TLS 1.3 ticket"
expect_eq "$(resume "$P_DAYTIME" -tls1_2)" Reused "TLS 1.2 ticket"
expect_eq "$(resume "$P_NOTICKET" -tls1_2)" Reused "TLS 1.2 session cache, no tickets"
timeout 10 openssl s_client -connect "127.0.0.1:$P_DAYTIME" -sess_in "$T/sess" -tls1_2 </dev/null >"$T/s3" 2>&1
grep -q '^New, TLS' "$T/s3" || fail "a session of another endpoint resumed: $(grep -E '^(New|Reused)' "$T/s3")"

# A client keeps the newest session it has and offers that one next. In
# TLS 1.3 each resumed connection must bring a new ticket (OpenSSL's
# client resumes a session once): 20 resumptions in a row, each from the
# session the previous connection left, all reused. In TLS 1.2 a resumed
# connection may keep its ticket: then the client offers it again.
# -ign_eof: s_client stays until daytime closes, so it has the ticket.
# chain VERSION [PORT]
chain() {
	cport=${2:-$P_DAYTIME}
	rm -f "$T"/chain.*
	timeout 10 openssl s_client -connect "127.0.0.1:$cport" -ign_eof -sess_out "$T/chain.0" \
		"$1" </dev/null >"$T/c.out" 2>&1
	grep -q '^New, TLS' "$T/c.out" && [ -s "$T/chain.0" ] ||
		fail "$1: first handshake gave no session: $(cat "$T/c.out")"
	cur=$T/chain.0
	for i in $(seq 1 20); do
		timeout 10 openssl s_client -connect "127.0.0.1:$cport" -ign_eof -sess_in "$cur" \
			-sess_out "$T/chain.$i" "$1" </dev/null >"$T/c.out" 2>&1
		grep -q '^Reused, TLS' "$T/c.out" ||
			fail "$1: resumption $i of 20 not reused: $(grep -E '^(New|Reused),' "$T/c.out")"
		if [ -s "$T/chain.$i" ]; then
			cur=$T/chain.$i
		elif [ "$1" = -tls1_3 ]; then
			fail "$1: resumption $i of 20 brought no new ticket"
		fi
	done
	echo 20
}
expect_eq "$(chain -tls1_3)" 20 "TLS 1.3: 20 resumptions in a row, each with the last ticket"
expect_eq "$(chain -tls1_2)" 20 "TLS 1.2: 20 resumptions in a row"
expect_eq "$(chain -tls1_3 "$P_NOTICKET")" 20 "TLS 1.3 stateful tickets: 20 resumptions in a row"

if command -v curl >/dev/null 2>&1; then
	note "curl against an exec program that speaks HTTP"
	timeout 20 curl -sS --http1.1 --cacert "$PKI/ca.pem" --resolve "localhost:$P_HTTP:127.0.0.1" \
		-D "$T/curl.head" -o "$T/curl.body" "https://localhost:$P_HTTP/" 2>"$T/curl.err" ||
		fail "curl failed: $(cat "$T/curl.err")"
	expect_file_match "$T/curl.head" '^HTTP/1\.1 200 OK'
	expect_file_match "$T/curl.head" '^X-SSL-Protocol: TLSv1\.3'
	expect_file_match "$T/curl.body" '^protocol=TLSv1\.3$'
	expect_file_match "$T/curl.body" '^sni=localhost$'
	expect_file_match "$T/curl.body" '^alpn=http/1\.1$'
	expect_file_match "$T/curl.body" '^verify=NONE$'
	timeout 20 curl -sS --http1.1 --tlsv1.2 --tls-max 1.2 --cacert "$PKI/ca.pem" \
		--resolve "localhost:$P_HTTP:127.0.0.1" -o "$T/curl.body" "https://localhost:$P_HTTP/" \
		2>"$T/curl.err" || fail "curl (TLS 1.2) failed: $(cat "$T/curl.err")"
	expect_file_match "$T/curl.body" '^protocol=TLSv1\.2$'
	expect_file_match "$T/curl.body" '^cipher=ECDHE-RSA-'
else
	note "curl not installed: its part is not run"
fi

if command -v gnutls-cli >/dev/null 2>&1; then
	note "gnutls-cli, another TLS stack"
	for prio in NORMAL NORMAL:-VERS-TLS1.3; do
		(printf 'from gnutls\n'; sleep 2) | timeout 15 gnutls-cli --x509cafile "$PKI/ca.pem" \
			--priority "$prio" -p "$P_ALPN" 127.0.0.1 >"$T/gnutls.out" 2>"$T/gnutls.err" || :
		expect_file_match "$T/gnutls.out" '^from gnutls$' "echo through gnutls-cli ($prio)"
	done
	timeout 15 gnutls-cli --x509cafile "$PKI/ca.pem" --priority NORMAL:-VERS-TLS1.3 --resume \
		-p "$P_DAYTIME" 127.0.0.1 </dev/null >"$T/gnutls.out" 2>"$T/gnutls.err" || :
	expect_file_match "$T/gnutls.out" 'This is a resumed session' "gnutls-cli --resume"
else
	note "gnutls-cli not installed (gnutls-bin): its part is not run"
fi

metrics_get "$P_METRICS"
expect_eq "$(metric refuse sockd_endpoint_tls_failed_total sni)" 1 "refuse: failed (sni)"
expect_eq "$(metric alpn sockd_endpoint_tls_failed_total alpn)" 1 "alpn: failed (alpn)"
expect_eq "$(metric noticket sockd_endpoint_tls_resumed_total)" 21 "noticket: resumed"
[ "$(metric daytime sockd_endpoint_tls_resumed_total)" -ge 42 ] ||
	fail "daytime: $(metric daytime sockd_endpoint_tls_resumed_total) resumed, expected 42 or more"

expect_stop_ok
expect_clean_log
echo "49-tls-sni-alpn: ok"
