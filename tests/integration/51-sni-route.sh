#!/bin/sh
# forward's routes: TLS clients are routed by the server name (SNI) of
# their ClientHello, which sockd peeks at and never terminates. The
# upstreams are socat TLS servers with certificates from a CA this test
# makes (openssl req); the clients (socat, openssl s_client) verify the
# upstream's certificate and name through sockd, which proves the bytes
# pass untouched. Covered: exact and wildcard names, the one-label rule of
# "*.", an unknown name refused with an unrecognized_name alert or sent to
# the default upstream, a hello without SNI (both ways), garbage, a client
# that sends nothing (while others are served), a ClientHello over 16 KB,
# a ClientHello split over two TCP segments 0.5 s apart and one trickled
# in many records and segments, 4 MB each way checksummed, and the
# refused/sni counter in sockctl status.
. "$(dirname "$0")/lib.sh"

for t in openssl socat sha256sum; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
: "${SOCKCTL:=$top_builddir/src/sockctl}"
[ -x "$SOCKCTL" ] || fail "no sockctl binary at $SOCKCTL"

P_STRICT=$(port 1)      # routes, no default upstream
P_DEF=$(port 2)         # routes and a default upstream
U_A=$(port 11)          # a.example, *.b.example: says "upstream-a"
U_C=$(port 12)          # c.example: says "upstream-c"
U_D=$(port 13)          # d.example, the default: says "upstream-d"
U_DN=$(port 14)         # dn.example: sends the blob
U_UP=$(port 15)         # up.example: stores what it gets

# ---- certificates: a CA and one leaf per upstream
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$T/ca.key" -out "$T/ca.crt" -subj "/CN=sockd test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
	>"$T/openssl.log" 2>&1 || fail "openssl req (CA): $(cat "$T/openssl.log")"
leaf() {
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$2" >"$T/$1.ext"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$1" >"$T/openssl.log" 2>&1 &&
		openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" \
			-CAcreateserial -days 2 -extfile "$T/$1.ext" -out "$T/$1.crt" \
			>>"$T/openssl.log" 2>&1 ||
		fail "openssl (leaf $1): $(cat "$T/openssl.log")"
}
leaf a "DNS:a.example,DNS:*.b.example"
leaf c "DNS:c.example"
leaf d "DNS:d.example"
leaf bulk "DNS:dn.example,DNS:up.example"

# ---- the upstreams
tls_listen() {
	echo "OPENSSL-LISTEN:$1,bind=127.0.0.1,reuseaddr,cert=$T/$2.crt,key=$T/$2.key,verify=0"
}
start_bg up-a socat "$(tls_listen "$U_A" a),fork" SYSTEM:"echo upstream-a"
start_bg up-c socat "$(tls_listen "$U_C" c),fork" SYSTEM:"echo upstream-c"
start_bg up-d socat "$(tls_listen "$U_D" d),fork" SYSTEM:"echo upstream-d"
head -c 4194304 /dev/urandom >"$T/blob"
start_bg up-dn socat -U "$(tls_listen "$U_DN" bulk)" "OPEN:$T/blob,rdonly"
start_bg up-up socat -u "$(tls_listen "$U_UP" bulk)" "CREATE:$T/uploaded"
UP_UP_PID=$BG_PID

tcp_listening() {
	_hex=$(printf '%04X' "$1")
	grep -Eq "^ *[0-9]+: 0100007F:$_hex 00000000:0000 0A " /proc/net/tcp
}
for p in "$U_A" "$U_C" "$U_D" "$U_DN" "$U_UP"; do
	wait_until 10 tcp_listening "$p" || fail "socat did not listen on $p"
done

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
	control = "$T/control.sock";
	log_level = "debug";
};
endpoints = (
	{ name = "strict"; listen = [ "tcp:127.0.0.1:$P_STRICT" ]; service = "forward";
	  sni_timeout = 1.0;
	  routes = (
	    { server_name = [ "a.example", "*.B.example" ]; upstream = "tcp:127.0.0.1:$U_A"; },
	    { server_name = "c.example"; upstream = [ "tcp:127.0.0.1:$U_C" ]; },
	    { server_name = "dn.example"; upstream = "tcp:127.0.0.1:$U_DN"; },
	    { server_name = "up.example"; upstream = "tcp:127.0.0.1:$U_UP"; }
	  ); },
	{ name = "def"; listen = [ "tcp:127.0.0.1:$P_DEF" ]; service = "forward";
	  upstream = "tcp:127.0.0.1:$U_D";
	  routes = ( { server_name = "a.example"; upstream = "tcp:127.0.0.1:$U_A"; } ); }
);
EOF
start_sockd "$T/sockd.conf"

# tls_get PORT SNI CHECKNAME: what the upstream says, through a client that
# verifies its certificate against the CA and CHECKNAME (SNI "-": none).
tls_get() {
	if [ "$2" = - ]; then
		_sni=nosni=1
	else
		_sni=snihost=$2
	fi
	socat -T 10 -u "OPENSSL:127.0.0.1:$1,cafile=$T/ca.crt,commonname=$3,$_sni" - \
		</dev/null 2>"$T/client.err"
}

expect_eq "$(tls_get "$P_STRICT" a.example a.example)" upstream-a "a.example"
expect_eq "$(tls_get "$P_STRICT" A.EXAMPLE a.example)" upstream-a "A.EXAMPLE (names ignore case)"
expect_eq "$(tls_get "$P_STRICT" x.b.example x.b.example)" upstream-a "x.b.example (wildcard)"
expect_eq "$(tls_get "$P_STRICT" c.example c.example)" upstream-c "c.example"
expect_eq "$(tls_get "$P_DEF" a.example a.example)" upstream-a "a.example on the endpoint with a default"
expect_eq "$(tls_get "$P_DEF" zz.example d.example)" upstream-d "unknown name to the default"
expect_eq "$(tls_get "$P_DEF" - d.example)" upstream-d "no SNI to the default"
wait_for_log "conn endpoint=strict proto=tcp peer=127\.0\.0\.1:[0-9]+ in=[0-9]+ out=[0-9]+ sni=x\.b\.example duration=[0-9.]+s outcome=closed"

# The upstream's certificate is what the client checks: a name the route's
# upstream has no certificate for fails verification (not terminated).
if tls_get "$P_STRICT" c.example a.example >/dev/null; then
	fail "a client expecting a.example accepted c.example's upstream"
fi

# Refused: the client hears why (alert 112, unrecognized_name).
TC=$TCLIENT
expect_eq "$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -m zz.example -t 10)" "reply type=21 alert=112" "unknown name"
expect_eq "$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -m y.x.b.example -t 10)" "reply type=21 alert=112" \
	"y.x.b.example: '*.' is one label"
expect_eq "$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -m b.example -t 10)" "reply type=21 alert=112" \
	"b.example: '*.b.example' needs a label"
expect_eq "$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -t 10)" "reply type=21 alert=112" "no SNI, no default"
echo Q | openssl s_client -connect "127.0.0.1:$P_STRICT" -servername zz.example >"$T/s_client.out" 2>&1 || :
expect_file_match "$T/s_client.out" "unrecognized name" "openssl s_client for zz.example"
wait_for_log "conn endpoint=strict .* sni=zz\.example duration=[0-9.]+s outcome=refused-sni"
wait_for_log "conn endpoint=strict .* sni=none duration=[0-9.]+s outcome=refused-sni"

# The tclient hello reaches the upstream whole: its TLS server answers it
# with a handshake record (a damaged hello gets an alert). Split over two
# TCP segments half a second apart, then trickled in records of 512 bytes,
# 200 bytes at a time.
expect_eq "$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -m a.example -t 10)" "reply type=22" "tclient hello"
expect_eq "$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -m a.example -c 60 -h 0.5 -t 10)" "reply type=22" \
	"hello in two segments"
expect_eq "$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -m a.example -s 6000 -n 512 -c 200 -h 0.01 -t 10)" \
	"reply type=22" "hello in 13 records and 32 segments"

# Hostile: garbage, a hello over 16 KB, nothing at all (sni_timeout = 1 s;
# tclient holds its 20 connections for 6 s, and says how many were closed).
# None takes service away from the others.
printf 'GET / HTTP/1.0\r\n\r\n' | socat -T 10 - "TCP:127.0.0.1:$P_STRICT" >"$T/garbage.out" 2>&1 || :
expect_eq "$(wc -c <"$T/garbage.out" | tr -d ' ')" 0 "bytes sent back to garbage"
wait_for_log "conn endpoint=strict .* hello=not-tls duration=[0-9.]+s outcome=refused-sni"
_r=$("$TC" tls-hello -a "tcp:127.0.0.1:$P_STRICT" -m a.example -s 17000 -t 10)
expect_match "$_r" '^(eof|reset)$' "a 17 KB hello"
wait_for_log "conn endpoint=strict .* hello=malformed duration=[0-9.]+s outcome=refused-sni"
start_bg idle "$TC" hold -a "tcp:127.0.0.1:$P_STRICT" -n 20 -t 6
IDLE_PID=$BG_PID
wait_for_file_match "$T/idle.out" '^held 20$' 10
expect_eq "$(tls_get "$P_STRICT" c.example c.example)" upstream-c "a client among 20 silent ones"
wait_bg "$IDLE_PID" 20 || fail "tclient hold failed: $(cat "$T/idle.err")"
expect_file_match "$T/idle.err" "20 of 20 connections were closed by the server" "silent clients"
_n=$(grep -cE "conn endpoint=strict .* hello=timeout duration=[0-9.]+s outcome=refused-sni" "$SOCKD_LOG") || :
expect_eq "$_n" 20 "silent clients closed by sni_timeout"

# 4 MB each way through the routes, checksummed.
socat -T 20 -u "OPENSSL:127.0.0.1:$P_STRICT,cafile=$T/ca.crt,commonname=dn.example,snihost=dn.example" \
	"CREATE:$T/downloaded" 2>"$T/dn.err" || fail "download: $(cat "$T/dn.err")"
expect_eq "$(sha256sum <"$T/downloaded")" "$(sha256sum <"$T/blob")" "4 MB from the upstream"
socat -T 20 -u "OPEN:$T/blob,rdonly" \
	"OPENSSL:127.0.0.1:$P_STRICT,cafile=$T/ca.crt,commonname=up.example,snihost=up.example" \
	2>"$T/up.err" || fail "upload: $(cat "$T/up.err")"
wait_bg "$UP_UP_PID" 20 || fail "the upload's upstream failed: $(cat "$T/up-up.err")"
expect_eq "$(sha256sum <"$T/uploaded")" "$(sha256sum <"$T/blob")" "4 MB to the upstream"

# Counted: refused, reason sni (5 unknown or no name, garbage, the big
# hello, 20 silent ones).
"$SOCKCTL" -S "$T/control.sock" status >"$T/status.out" 2>&1 || fail "sockctl status: $(cat "$T/status.out")"
expect_file_match "$T/status.out" "^strict: refused .*sni 27" "sockctl status"
# Routed: on def, a.example by its route, an unknown name and no name to
# the default upstream.
expect_file_match "$T/status.out" "^def: sni routed 1, default 2\$" "sockctl status, def's routing"
expect_file_match "$T/status.out" "^strict: .*; sni routed [0-9]+\$" "sockctl status, strict's routing"

expect_clean_log
expect_stop_ok
