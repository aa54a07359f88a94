#!/bin/bash
# Capture the ClientHello of real TLS clients on loopback, as the test
# vectors of tests/unit/check_tls_hello.c. Run by hand; the files it writes
# are committed next to it:
#
#   tests/unit/data/capture-client-hellos.sh [-p PORT] [DIR]
#
# For each client, socat listens on 127.0.0.1:PORT and writes what it
# receives to DIR/NAME.bin; no server answers, so the client sends its
# ClientHello and waits. Once the file holds the whole ClientHello (the
# records' handshake bytes reach 4 + the message length) the client is
# stopped by pid, and the file is cut to exactly those records.
#
# Needs socat, openssl, gnutls-cli (gnutls-bin) and curl.
set -euo pipefail

port=20443
while getopts p: o; do
	case $o in
	p) port=$OPTARG ;;
	*) echo "usage: $0 [-p PORT] [DIR]" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
dir=${1:-$(cd "$(dirname "$0")" && pwd)}

for t in socat openssl gnutls-cli curl; do
	command -v "$t" >/dev/null || { echo "$0: $t not found" >&2; exit 1; }
done

pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT

# Bytes of the records that carry the whole first handshake message of
# FILE, or nothing while it is incomplete.
hello_size() {
	local -a b
	read -r -a b <<<"$(od -An -v -tu1 "$1" | tr -s ' \n' '  ')"
	local n=${#b[@]} pos=0 hs=() want=-1
	while [ $((pos + 5)) -le "$n" ]; do
		[ "${b[pos]}" -eq 22 ] || { echo "$1: record type ${b[pos]}, not handshake" >&2; return 1; }
		local rlen=$((b[pos + 3] * 256 + b[pos + 4]))
		[ $((pos + 5 + rlen)) -le "$n" ] || return 0
		hs+=("${b[@]:pos+5:rlen}")
		pos=$((pos + 5 + rlen))
		if [ "$want" -lt 0 ] && [ ${#hs[@]} -ge 4 ]; then
			want=$((4 + hs[1] * 65536 + hs[2] * 256 + hs[3]))
		fi
		if [ "$want" -ge 0 ] && [ ${#hs[@]} -ge "$want" ]; then
			echo "$pos"
			return 0
		fi
	done
}

# capture NAME CLIENT-COMMAND...: CLIENT-COMMAND connects to 127.0.0.1:$port.
capture() {
	local name=$1 out=$dir/$1.bin size="" i
	shift
	rm -f "$out"
	socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$out" &
	local spid=$!
	pids+=("$spid")
	for i in $(seq 100); do
		ss -Hltn "sport = :$port" | grep -q . && break
		[ "$i" -lt 100 ] || { echo "$0: socat does not listen on $port" >&2; exit 1; }
		sleep 0.05
	done
	"$@" </dev/null >/dev/null 2>&1 &
	local cpid=$!
	pids+=("$cpid")
	for i in $(seq 200); do
		[ -s "$out" ] && size=$(hello_size "$out")
		[ -n "$size" ] && break
		[ "$i" -lt 200 ] || { echo "$0: $name: no complete ClientHello in 10 s" >&2; exit 1; }
		sleep 0.05
	done
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	truncate -s "$size" "$out"
	printf '%-28s %5d bytes\n' "$name.bin" "$size"
}

# OpenSSL 3.0: TLS 1.3 with 1.2 offered too, SNI and ALPN.
capture openssl-sni-alpn \
	openssl s_client -connect "127.0.0.1:$port" -servername www.Example.COM -alpn h2,http/1.1
# OpenSSL limited to TLS 1.2: no supported_versions extension.
capture openssl-tls12 \
	openssl s_client -connect "127.0.0.1:$port" -servername tls12.example.org -tls1_2
# OpenSSL without SNI.
capture openssl-nosni \
	openssl s_client -connect "127.0.0.1:$port" -noservername
# OpenSSL with records of at most 512 bytes and a ClientHello longer than
# that (a long ALPN list): a real client splitting its hello across records.
capture openssl-fragmented \
	openssl s_client -connect "127.0.0.1:$port" -servername frag.example.net -max_send_frag 512 \
	-alpn "h2,http/1.1,$(printf 'proto-%03d,' $(seq 40))last"
# GnuTLS, the second stack.
capture gnutls-sni-alpn \
	gnutls-cli --insecure --port="$port" --sni-hostname=gnutls.example.com --alpn=h2 --alpn=http/1.1 127.0.0.1
# curl (OpenSSL inside, but its own extension choices: ALPN from nghttp2).
capture curl-sni \
	curl -sk --max-time 20 --resolve "curl.example.com:$port:127.0.0.1" "https://curl.example.com:$port/"
