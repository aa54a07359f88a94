#!/bin/sh
# Unix stream, datagram and seqpacket sockets, the abstract namespace, socket
# file ownership and mode, and what sockd does with whatever is already at
# its socket path: a stale socket, a regular file, a live listener.
. "$(dirname "$0")/lib.sh"

CR=$(printf '\r')
ABSTRACT="sockd-test-$$-echo"

if is_root; then
	OWNERSHIP='owner = "nobody"; group = "nogroup";'
	if ! getent passwd nobody >/dev/null || ! getent group nogroup >/dev/null; then
		note "no user nobody or group nogroup: skipping the ownership checks"
		OWNERSHIP=
	fi
else
	note "not root: skipping the ownership checks"
	OWNERSHIP=
fi

# A stale socket: its listener was killed without a chance to unlink it.
start_bg stale socat "UNIX-LISTEN:$T/stale.sock" /dev/null
wait_until 10 test -S "$T/stale.sock" || fail "socat did not create $T/stale.sock"
kill -KILL "$BG_PID"
wait_bg "$BG_PID" || :
test -S "$T/stale.sock" || fail "the stale socket file disappeared"
expect_rc 1 socat -u /dev/null "UNIX-CONNECT:$T/stale.sock"

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "echo"; listen = [ "unix:$T/echo.sock" ]; service = "echo"; mode = "0600"; },
	{ name = "dgram"; listen = [ "unix-dgram:$T/dgram.sock" ]; service = "echo"; },
	{ name = "seq"; listen = [ "unix-seqpacket:$T/seq.sock" ]; service = "echo"; },
	{ name = "abstract"; listen = [ "unix:@$ABSTRACT" ]; service = "echo"; },
	{ name = "daytime"; listen = [ "unix:$T/daytime.sock" ]; service = "daytime";
	  mode = "0640"; $OWNERSHIP },
	{ name = "stale"; listen = [ "unix:$T/stale.sock" ]; service = "echo"; }
);
EOF

start_sockd "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" "^sockd: listening on unix:$T/echo\.sock \(echo\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on unix:@$ABSTRACT \(abstract\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on unix-seqpacket:$T/seq\.sock \(seq\)$"

# ---- unix stream echo
printf 'hello unix\n' >"$T/in"
timeout 10 socat -t 5 - "UNIX-CONNECT:$T/echo.sock" <"$T/in" >"$T/got" ||
	fail "socat to the unix echo failed"
cmp "$T/in" "$T/got" || fail "unix echo: socat got '$(cat "$T/got")'"
expect_rc 0 "$TCLIENT" echo -a "unix:$T/echo.sock" -s 300000
expect_rc 0 "$TCLIENT" echo-many -a "unix:$T/echo.sock" -n 50 -s 1000 -r 2

# ---- unix-dgram: the reply goes to the sender's bound address.
expect_rc 0 "$TCLIENT" dgram -a "unix-dgram:$T/dgram.sock" -m "hello dgram" -B "$T/client.sock"
expect_eq "$(cat "$T/out")" "hello dgram" "unix-dgram echo"
expect_rc 0 "$TCLIENT" echo -a "unix-dgram:$T/dgram.sock" -s 2000 -B "@sockd-test-$$-client"
# An unbound sender has no address to reply to: nothing comes back, and
# sockd goes on serving.
expect_rc 3 "$TCLIENT" dgram -a "unix-dgram:$T/dgram.sock" -m unbound -t 1
expect_rc 0 "$TCLIENT" echo -a "unix-dgram:$T/dgram.sock" -s 100

# ---- seqpacket: two writes come back as two records, not one (tclient
# checks that every record returns alone and whole).
expect_rc 0 "$TCLIENT" echo -a "unix-seqpacket:$T/seq.sock" -s 200 -c 100
expect_eq "$(cat "$T/out")" ok "seqpacket echo of two records"
expect_rc 0 "$TCLIENT" echo -a "unix-seqpacket:$T/seq.sock" -s 100000 -c 1000
expect_rc 0 "$TCLIENT" echo -a "unix-seqpacket:$T/seq.sock" -s 60000
expect_rc 0 "$TCLIENT" echo-many -a "unix-seqpacket:$T/seq.sock" -n 20 -s 500 -r 3

# ---- abstract namespace: no file anywhere.
printf 'hello abstract\n' >"$T/in"
timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$ABSTRACT" <"$T/in" >"$T/got" ||
	fail "socat to the abstract echo failed"
cmp "$T/in" "$T/got" || fail "abstract echo: socat got '$(cat "$T/got")'"
expect_rc 0 "$TCLIENT" echo -a "unix:@$ABSTRACT" -s 100000
[ ! -e "@$ABSTRACT" ] || fail "a file named @$ABSTRACT was created"

# ---- daytime over a Unix stream socket
timeout 10 socat -u "UNIX-CONNECT:$T/daytime.sock" - >"$T/daytime" || fail "socat to the unix daytime failed"
expect_eq "$(wc -l <"$T/daytime" | tr -d ' ')" 1 "lines from daytime"
expect_match "$(cat "$T/daytime")" "^[A-Z][a-z]+day, [A-Z][a-z]+ [0-9]{2}, [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}-[A-Z+0-9-]+$CR\$" "unix daytime"

# ---- mode, owner, group
expect_eq "$(stat -c %a "$T/echo.sock")" 600 "mode of echo.sock"
expect_eq "$(stat -c %a "$T/daytime.sock")" 640 "mode of daytime.sock"
if [ -n "$OWNERSHIP" ]; then
	expect_eq "$(stat -c %U:%G "$T/daytime.sock")" nobody:nogroup "owner of daytime.sock"
fi

# ---- the stale socket was replaced by a working one.
expect_rc 0 "$TCLIENT" echo -a "unix:$T/stale.sock" -s 1000

# ---- a clean stop removes the socket files sockd created.
expect_stop_ok
for f in echo dgram seq daytime stale; do
	[ ! -e "$T/$f.sock" ] || fail "$T/$f.sock is still there after sockd stopped"
done
expect_clean_log

# ---- a regular file at the socket path: refuse to start, leave the file
# alone, and remove the socket already bound for the endpoint before it.
echo "precious data" >"$T/regular.sock"
cat >"$T/regular.conf" <<EOF
endpoints = (
	{ name = "first"; listen = [ "unix:$T/first.sock" ]; service = "echo"; },
	{ name = "echo"; listen = [ "unix:$T/regular.sock" ]; service = "echo"; }
);
EOF
expect_rc 1 timeout 20 "$SOCKD" -F -f "$T/regular.conf"
expect_file_match "$T/err" "^sockd: error: .*$T/regular\.sock" "sockd's error about a regular file"
expect_eq "$(cat "$T/regular.sock")" "precious data" "the regular file at the socket path"
[ ! -e "$T/first.sock" ] || fail "a failed start left $T/first.sock behind"

# ---- another live listener at the path: refuse to start, and its socket
# keeps working.
start_bg live socat "UNIX-LISTEN:$T/live.sock,fork" EXEC:cat
LIVE_PID=$BG_PID
wait_until 10 test -S "$T/live.sock" || fail "socat did not create $T/live.sock"
cat >"$T/live.conf" <<EOF
endpoints = (
	{ name = "echo"; listen = [ "unix:$T/live.sock" ]; service = "echo"; }
);
EOF
expect_rc 1 timeout 20 "$SOCKD" -F -f "$T/live.conf"
expect_file_match "$T/err" "^sockd: error: .*$T/live\.sock" "sockd's error about a live socket"
printf 'still mine\n' >"$T/in"
timeout 10 socat -t 5 - "UNIX-CONNECT:$T/live.sock" <"$T/in" >"$T/got" ||
	fail "the other process's socket no longer works"
cmp "$T/in" "$T/got" || fail "the other process's socket answered '$(cat "$T/got")'"
kill -TERM "$LIVE_PID"
wait_bg "$LIVE_PID" || :
exit 0
