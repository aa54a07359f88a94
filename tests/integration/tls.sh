# Helpers of the TLS integration tests (47-50; POSIX sh, sourced after
# lib.sh). Certificates are made by the test, in $T/pki, with openssl.
#
#   tls_ca NAME                        CA NAME.key/NAME.pem (RSA 2048)
#   tls_cert NAME CN SERIAL TYPE CA [DAYS] [SAN]
#                                      NAME.key/NAME.pem signed by CA; TYPE
#                                      rsa or ec (P-256); SERIAL in hex;
#                                      SAN e.g. "DNS:a.test,DNS:b.test"
#   tls_peer_serial PORT [S_CLIENT ARGS...]
#                                      the serial (hex) of the certificate
#                                      sockd shows on 127.0.0.1:PORT
#   tls_peer_subject PORT [S_CLIENT ARGS...]
#   metrics_get PORT                   GET /metrics into $T/metrics
#   metric ENDPOINT FAMILY [REASON]    a value from $T/metrics (0 if absent)
#   tls_echo PORT MSG [SOCAT OPTS]     MSG through a TLS echo, verified
#                                      against $PKI/ca.pem; prints the reply

command -v openssl >/dev/null 2>&1 || skip "openssl not installed"
command -v socat >/dev/null 2>&1 || skip "socat not installed"

PKI=$T/pki
mkdir -p "$PKI"

tls_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.pem" \
		-days 30 -subj "/CN=$1 test CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign >"$T/openssl.out" 2>&1 ||
		fail "openssl: cannot make CA $1: $(cat "$T/openssl.out")"
}

tls_cert() {
	_name=$1 _cn=$2 _serial=$3 _type=$4 _ca=$5 _days=${6:-30} _san=${7:-DNS:$2}
	case $_type in
	rsa) _newkey="-newkey rsa:2048" ;;
	ec) _newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	*) fail "tls_cert: type $_type" ;;
	esac
	# shellcheck disable=SC2086
	openssl req -new $_newkey -nodes -keyout "$PKI/$_name.key" -out "$PKI/$_name.csr" \
		-subj "/CN=$_cn/O=sockd tests" >"$T/openssl.out" 2>&1 ||
		fail "openssl: cannot make a request for $_name: $(cat "$T/openssl.out")"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$_san" >"$PKI/$_name.ext"
	openssl x509 -req -in "$PKI/$_name.csr" -CA "$PKI/$_ca.pem" -CAkey "$PKI/$_ca.key" \
		-set_serial "0x$_serial" -days "$_days" -extfile "$PKI/$_name.ext" \
		-out "$PKI/$_name.pem" >"$T/openssl.out" 2>&1 ||
		fail "openssl: cannot sign $_name: $(cat "$T/openssl.out")"
	chmod 600 "$PKI/$_name.key"
}

tls_peer_cert() {
	_port=$1
	shift
	timeout 10 openssl s_client -connect "127.0.0.1:$_port" "$@" </dev/null 2>/dev/null |
		openssl x509 -noout "$_what" 2>/dev/null
}

tls_peer_serial() {
	_what=-serial
	tls_peer_cert "$@" | sed -n 's/^serial=//p'
}

tls_peer_subject() {
	_what=-subject
	tls_peer_cert "$@" | sed -n 's/^subject=//p'
}

metrics_get() {
	printf 'GET /metrics HTTP/1.0\r\n\r\n' | timeout 10 socat -t 5 - "TCP:127.0.0.1:$1" >"$T/metrics" 2>&1 ||
		fail "cannot read /metrics: $(cat "$T/metrics")"
}

metric() {
	if [ $# -ge 3 ]; then
		_sel="$2{endpoint=\"$1\",reason=\"$3\"}"
	else
		_sel="$2{endpoint=\"$1\"}"
	fi
	_v=$(grep -F "$_sel " "$T/metrics" | sed 's/.* //')
	echo "${_v:-0}"
}

tls_echo() {
	_port=$1 _msg=$2
	shift 2
	printf '%s\n' "$_msg" | timeout 10 socat -t 5 - \
		"OPENSSL:127.0.0.1:$_port,cafile=$PKI/ca.pem,commonname=localhost${1:+,$1}" 2>"$T/socat.err"
}
