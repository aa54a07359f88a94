#!/bin/sh
# Certificates that reload live: a client loop sees the new certificate's
# serial after `sockctl reload`, with no failed handshake on the way, while
# a TLS connection opened before the reload still echoes; a reload with a
# key that does not match, a missing certificate or an expired one is
# refused, names the file, and the running certificate keeps serving; a key
# file others may read gets a warning.
. "$(dirname "$0")/lib.sh"
. "$TESTDIR/tls.sh"

: "${SOCKCTL:=$top_builddir/src/sockctl}"

P_ECHO=$(port 1)
CONF=$T/sockd.conf
CTL=$T/ctl.sock

tls_ca ca
tls_cert old localhost 48A1 rsa ca
tls_cert new localhost 48B2 ec ca
tls_cert stale localhost 48C3 rsa ca -1
cp "$PKI/old.pem" "$PKI/live.pem"
cp "$PKI/old.key" "$PKI/live.key"

cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; log_level = "info"; control = "$CTL"; };
endpoints = (
	{ name = "echo"; service = "echo"; listen = "tcp:127.0.0.1:$P_ECHO";
	  tls = { certificate = "$PKI/live.pem"; key = "$PKI/live.key"; }; }
);
EOF

sockctl() {
	"$SOCKCTL" -S "$CTL" "$@" >"$T/ctl.out" 2>&1
}

start_sockd "$CONF"
expect_eq "$(tls_peer_serial "$P_ECHO")" 48A1 "serial before the reload"

note "a connection opened before the reload"
mkfifo "$T/long.in"
# The FIFO is opened by the job itself: a redirection of start_bg would
# block this shell (and an asynchronous list gets /dev/null anyway).
start_bg long sh -c 'exec timeout 60 openssl s_client -connect "127.0.0.1:$1" -quiet -no_ign_eof \
	-CAfile "$2/ca.pem" -verify_return_error <"$3"' long "$P_ECHO" "$PKI" "$T/long.in"
exec 3>"$T/long.in"
echo "before the reload" >&3
wait_for_file_match "$T/long.out" '^before the reload$' 10

note "a client loop across the reload"
: >"$T/serials"
start_bg loop sh -c '
	i=0
	while [ $i -lt 400 ] && [ ! -e "$1/stop" ]; do
		s=$(timeout 10 openssl s_client -connect "127.0.0.1:$2" -CAfile "$1/pki/ca.pem" \
			-verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null)
		echo "${s#serial=}" >>"$1/serials"
		i=$((i + 1))
	done' loop "$T" "$P_ECHO"
LOOP_PID=$BG_PID
wait_until 20 sh -c "[ \$(wc -l <'$T/serials') -ge 3 ]" || fail "the client loop got no certificates"
cp "$PKI/new.pem" "$PKI/live.pem"
cp "$PKI/new.key" "$PKI/live.key"
sockctl reload || fail "reload with a new certificate refused: $(cat "$T/ctl.out")"
n_reload=$(wc -l <"$T/serials")
wait_until 30 grep -qx 48B2 "$T/serials" || fail "the client loop never saw the new certificate"
wait_until 30 sh -c "[ \$(wc -l <'$T/serials') -ge $((n_reload + 3)) ]" ||
	fail "the client loop stalled after the reload"
touch "$T/stop"
wait_bg "$LOOP_PID" 30 || fail "the client loop failed"
if grep -vqxE '48A1|48B2' "$T/serials"; then
	fail "handshakes failed across the reload: $(grep -cvxE '48A1|48B2' "$T/serials") of $(wc -l <"$T/serials")"
fi
# The loop is sequential: once one connection got the new certificate,
# every later one must too.
if sed -n '/^48B2$/,$p' "$T/serials" | grep -qx 48A1; then
	fail "the old certificate was served after the new one"
fi
note "$(grep -cx 48A1 "$T/serials") old, $(grep -cx 48B2 "$T/serials") new certificates seen"

echo "after the reload" >&3
wait_for_file_match "$T/long.out" '^after the reload$' 10

note "a key that does not match is refused, naming the file"
cp "$PKI/old.key" "$PKI/live.key"
if sockctl reload; then
	fail "a reload with a key that does not match its certificate was accepted"
fi
expect_file_match "$T/ctl.out" "key '$PKI/live\.key' does not match certificate '$PKI/live\.pem'"
expect_eq "$(tls_peer_serial "$P_ECHO")" 48B2 "serial after a refused reload"
out=$(tls_echo "$P_ECHO" "still serving") || fail "echo after a refused reload: $(cat "$T/socat.err")"
expect_eq "$out" "still serving"

note "a missing certificate and an expired one are refused"
cp "$PKI/new.key" "$PKI/live.key"
rm "$PKI/live.pem"
if sockctl reload; then
	fail "a reload with a missing certificate was accepted"
fi
expect_file_match "$T/ctl.out" "certificate '$PKI/live\.pem': No such file or directory"
cp "$PKI/stale.pem" "$PKI/live.pem"
cp "$PKI/stale.key" "$PKI/live.key"
if sockctl reload; then
	fail "a reload with an expired certificate was accepted"
fi
expect_file_match "$T/ctl.out" "certificate '$PKI/live\.pem': expired"
expect_eq "$(tls_peer_serial "$P_ECHO")" 48B2 "serial after refused reloads"

note "a key file others may read is a warning"
cp "$PKI/new.pem" "$PKI/live.pem"
cp "$PKI/new.key" "$PKI/live.key"
chmod 644 "$PKI/live.key"
sockctl reload || fail "reload refused: $(cat "$T/ctl.out")"
wait_for_log "warning: .*key file '$PKI/live\.key' is readable by group or others"

exec 3>&-
expect_stop_ok
expect_clean_log "$PKI/live\.(pem|key)|reload failed"
echo "48-tls-reload: ok"
