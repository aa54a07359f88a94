#!/bin/sh
# Hostile TLS clients cost no more than their own connection: garbage
# instead of a ClientHello, handshakes that stall (before and within the
# ClientHello) while others are served, a 16 KB ClientHello over two
# records, a client that closes mid-handshake, a TLS 1.2 renegotiation
# (refused) and TLS 1.3 key updates (allowed). Each failure is counted by
# reason; the log says it once, not once per client.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/tls.sh"

P_METRICS=$(port 1)
P_ECHO=$(port 2)
CONF=$T/sockd.conf
N_STALL=20

tls_ca ca
tls_cert srv localhost 5001 rsa ca

cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; log_level = "info"; };
endpoints = (
	{ name = "metrics"; service = "metrics"; listen = "tcp:127.0.0.1:$P_METRICS"; },
	{ name = "echo"; service = "echo"; listen = "tcp:127.0.0.1:$P_ECHO";
	  tls = { certificate = "$PKI/srv.pem"; key = "$PKI/srv.key"; handshake_timeout = 5; }; }
);
EOF

# b N...: the bytes whose decimal values are given.
b() {
	for _x in "$@"; do
		# shellcheck disable=SC2059
		printf "\\$(printf %03o "$_x")"
	done
}
u16() { b $(($1 >> 8)) $(($1 & 255)); }
u24() { b $(($1 >> 16)) $((($1 >> 8) & 255)) $(($1 & 255)); }

# A TLS 1.2 ClientHello that sockd can answer (ECDHE-RSA/ECDSA with
# AES-128-GCM, X25519 or P-256, SHA-256 signatures), grown past 16 KB by
# a padding extension (RFC 7685) of $1 bytes.
client_hello() {
	_pad=$1
	u24_body=$((77 + _pad))
	b 1
	u24 "$u24_body"
	b 3 3
	head -c 32 /dev/zero
	b 0
	u16 4
	b 192 47 192 43
	b 1 0
	u16 $((32 + _pad))
	u16 10; u16 6; u16 4; u16 29; u16 23
	u16 11; u16 2; b 1 0
	u16 13; u16 8; u16 6; b 4 1 8 4 4 3
	u16 21; u16 "$_pad"
	head -c "$_pad" /dev/zero
}
client_hello 16384 >"$T/hello.msg"
size=$(wc -c <"$T/hello.msg")
expect_eq "$size" 16465 "ClientHello message size"
{
	b 22 3 1; u16 16384; head -c 16384 "$T/hello.msg"
	b 22 3 1; u16 $((size - 16384)); tail -c $((size - 16384)) "$T/hello.msg"
} >"$T/hello.big"
{
	b 22 3 1; u16 $((81 + 100)); client_hello 100
} >"$T/hello.small"

start_sockd "$CONF"

note "a 16 KB ClientHello in two records is answered"
timeout 10 socat -t 2 - "TCP:127.0.0.1:$P_ECHO" <"$T/hello.big" >"$T/resp.big" 2>"$T/socat.err" || :
# A handshake record (22) holding a ServerHello (2).
[ "$(od -An -tu1 -N1 "$T/resp.big" | tr -d ' ')" = 22 ] &&
	[ "$(od -An -tu1 -j5 -N1 "$T/resp.big" | tr -d ' ')" = 2 ] ||
	fail "no ServerHello for the 16 KB ClientHello: $(od -An -tx1 -N16 "$T/resp.big")"
timeout 10 socat -t 2 - "TCP:127.0.0.1:$P_ECHO" <"$T/hello.small" >"$T/resp.small" 2>/dev/null || :
expect_eq "$(od -An -tu1 -N1 "$T/resp.small" | tr -d ' ')" 22 "answer to a small hand-made ClientHello"

note "garbage instead of a ClientHello"
# The same 2000 noise bytes on every run (AES-CTR under the key i), so
# the count below is exact: fresh random bytes can, about once in 50
# runs, begin like a record (an SSLv2 hello header, or 22 3 and a length)
# whose rest never comes, which OpenSSL rightly waits for and which ends
# as "closed", not "protocol". These begin with none of those.
noise() {
	head -c 2000 /dev/zero | openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$1")" \
		-iv 00000000000000000000000000000000
}
for i in $(seq 1 10); do
	noise "$i" >"$T/noise"
	# shellcheck disable=SC2046 # three numbers, split on purpose
	set -- $(od -An -tu1 -N3 "$T/noise")
	if [ "$2" -eq 3 ] || { [ "$1" -ge 128 ] && [ "$3" -eq 1 ]; }; then
		fail "noise $i begins like a TLS record header ($*): pick other keys"
	fi
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 socat -t 2 - "TCP:127.0.0.1:$P_ECHO" >/dev/null 2>&1 || :
	timeout 10 socat -t 2 - "TCP:127.0.0.1:$P_ECHO" <"$T/noise" >/dev/null 2>&1 || :
done

note "$N_STALL stalled handshakes while others are served"
# Half say nothing at all (tclient hold), half stop within their
# ClientHello; handshake_timeout (5 s) must close every one.
start_bg hold "$TCLIENT" hold -a "tcp:127.0.0.1:$P_ECHO" -n $((N_STALL / 2)) -t 12
HOLD_PID=$BG_PID
i=0
while [ $i -lt $((N_STALL / 2)) ]; do
	start_bg "stall$i" sh -c '{ head -c 50 "$2"; sleep 12; } | exec socat -t 1 - "TCP:127.0.0.1:$1"' \
		stall "$P_ECHO" "$T/hello.small"
	eval "STALL_$i=\$BG_PID"
	i=$((i + 1))
done
if ! wait_until 10 sh -c "[ \$(ss -Htn state established '( dport = :$P_ECHO )' | wc -l) -ge $N_STALL ]"; then
	metrics_get "$P_METRICS"
	[ "$(metric echo sockd_endpoint_tls_failed_total timeout)" -eq 0 ] ||
		skip "the machine is too loaded: the first stalled clients timed out before the last connected"
	fail "the stalled clients did not connect"
fi
out=$(tls_echo "$P_ECHO" "served meanwhile") || fail "echo while handshakes stall: $(cat "$T/socat.err")"
expect_eq "$out" "served meanwhile"
wait_until 20 sh -c "[ \$(ss -Htn state established '( dport = :$P_ECHO )' | wc -l) -eq 0 ]" ||
	fail "handshake_timeout did not close the stalled handshakes"
wait_bg "$HOLD_PID" 20 || :
expect_file_match "$T/hold.err" "$((N_STALL / 2)) of $((N_STALL / 2)) connections were closed by the server"
i=0
while [ $i -lt $((N_STALL / 2)) ]; do
	eval "wait_bg \$STALL_$i 20" || :
	i=$((i + 1))
done

note "clients that close mid-handshake"
for i in 1 2 3; do
	head -c 100 "$T/hello.small" | timeout 10 socat -t 0 - "TCP:127.0.0.1:$P_ECHO" >/dev/null 2>&1 || :
done

note "renegotiation is refused, key updates are not"
(printf 'before\n'; sleep 1; printf 'R\n'; sleep 1; printf 'after\n'; sleep 1) |
	timeout 10 openssl s_client -connect "127.0.0.1:$P_ECHO" -tls1_2 -CAfile "$PKI/ca.pem" \
	>"$T/reneg.out" 2>&1 || :
expect_file_match "$T/reneg.out" '^before$' "echo before the renegotiation"
expect_file_match "$T/reneg.out" 'RENEGOTIATING'
expect_file_match "$T/reneg.out" 'no renegotiation' "the no_renegotiation alert"
if grep -q '^after$' "$T/reneg.out"; then
	fail "the connection went on after a refused renegotiation"
fi
(printf 'one\n'; sleep 1; printf 'K\n'; sleep 1; printf 'two\n'; sleep 1) |
	timeout 10 openssl s_client -connect "127.0.0.1:$P_ECHO" -tls1_3 -CAfile "$PKI/ca.pem" \
	>"$T/keyupdate.out" 2>&1 || :
expect_file_match "$T/keyupdate.out" 'KEYUPDATE'
expect_file_match "$T/keyupdate.out" '^two$' "echo after a TLS 1.3 key update"

note "sockd serves on, and counted every failure"
out=$(tls_echo "$P_ECHO" "still here") || fail "echo after the hostile clients: $(cat "$T/socat.err")"
expect_eq "$out" "still here"
metrics_get "$P_METRICS"
expect_eq "$(metric echo sockd_endpoint_tls_failed_total protocol)" 20 "failed (protocol): 10 HTTP + 10 random"
expect_eq "$(metric echo sockd_endpoint_tls_failed_total timeout)" "$N_STALL" "failed (timeout)"
expect_eq "$(metric echo sockd_endpoint_tls_failed_total closed)" 5 \
	"failed (closed): 2 hand-made hellos, 3 cut short"
expect_eq "$(metric echo sockd_endpoint_connections_active)" 0 "connections left open"
n=$(grep -c 'TLS handshake with .* failed' "$SOCKD_LOG" || :)
[ "$n" -le 6 ] || fail "$n lines for failed handshakes: not rate-limited"
expect_file_match "$SOCKD_LOG" 'TLS handshake with 127\.0\.0\.1:[0-9]+ failed \((closed|protocol)\): '

expect_stop_ok
expect_clean_log
echo "50-tls-hostile: ok"
