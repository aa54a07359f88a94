#!/bin/sh
# systemd's fd store (issue 17), as far as it can be checked without
# systemd (tests/system/package-test.sh checks the real thing):
#  - with $FDSTORE set (systemd 254 sets it from FileDescriptorStoreMax=;
#    sockd.service sets it for 252), sockd sends FDSTORE=1 with one
#    FDNAME=sockd/ENDPOINT/ADDRESS per listening socket it owns, and none
#    for the sockets of a .socket unit;
#  - the sockets that come back under such names (systemd-socket-activate
#    plays the store here) are taken back by address: a renamed endpoint
#    keeps its socket (stored again under the new name, the old name
#    removed), an address no longer configured is closed and removed from
#    the store (FDSTOREREMOVE=1);
#  - a reload that drops an address removes it from the store;
#  - on a stop, the files of stored Unix sockets stay (the next start takes
#    them back), and without $FDSTORE they go, as before;
#  - while a stop drains stream connections, datagrams are still answered.
. "$(dirname "$0")/lib.sh"

SSA=$(command -v systemd-socket-activate 2>/dev/null || :)
[ -n "$SSA" ] || skip "systemd-socket-activate is not installed (package systemd)"

P_KEPT=$(port 1)        # stored under an old endpoint name, configured under "echo"
P_GONE=$(port 2)        # stored, no longer configured
P_UNIT=$(port 3)        # from a .socket unit, named "echo"
P_UDP=$(port 4)         # bound by sockd itself
U_KEPT=$T/kept.sock     # stored Unix socket
U_OWN=$T/own.sock       # bound by sockd itself

# enc TEXT: an address as it appears in an fd name (':' -> %3A).
enc() {
	printf '%s' "$1" | sed 's/%/%25/g; s/:/%3A/g'
}

conf() {
	cat >"$T/sockd.conf" <<CONF
daemon = { workers = 2; shutdown_timeout = 1.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_KEPT", "tcp:127.0.0.1:$P_UNIT",
	  "unix:$U_KEPT", "unix:$U_OWN" ${1:-} ]; service = "echo"; udp_rate = 0; }
);
CONF
}
conf ", \"udp:127.0.0.1:$P_UDP\""

N_KEPT="sockd/old/$(enc "tcp:127.0.0.1:$P_KEPT")"
N_GONE="sockd/gone/$(enc "tcp:127.0.0.1:$P_GONE")"
N_UKEPT="sockd/echo/$(enc "unix:$U_KEPT")"

rm -f "$T/sa.notify"
start_bg sa-notify "$TCLIENT" notify -p "$T/sa.notify" -t 300
wait_until 10 test -S "$T/sa.notify" || fail "notify listener did not start"
NOTIFY_OUT=$T/sa-notify.out
SOCKD_LOG=$T/sa.err
start_bg sa "$SSA" -E NOTIFY_SOCKET="$T/sa.notify" -E FDSTORE=16 \
	-l "127.0.0.1:$P_KEPT" -l "127.0.0.1:$P_GONE" -l "127.0.0.1:$P_UNIT" -l "$U_KEPT" \
	--fdname="$N_KEPT:$N_GONE:echo:$N_UKEPT" "$SOCKD" -F -f "$T/sockd.conf"
SA_PID=$BG_PID
wait_for_log "Listening on .* as 6\." 10
# A client makes systemd-socket-activate start sockd.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_KEPT" -s 1000 -t 30
wait_for_file_match "$NOTIFY_OUT" '^READY=1$' 20

expect_file_match "$SOCKD_LOG" "listening on tcp:127\.0\.0\.1:$P_KEPT \(echo, kept from the previous sockd\)"
expect_file_match "$SOCKD_LOG" "listening on unix:$U_KEPT \(echo, kept from the previous sockd\)"
expect_file_match "$SOCKD_LOG" "listening on tcp:127\.0\.0\.1:$P_UNIT \(echo, from systemd\)"
expect_file_match "$SOCKD_LOG" "tcp:127\.0\.0\.1:$P_GONE \($N_GONE\) is no longer configured: closing it"
expect_file_match "$SOCKD_LOG" "listening sockets go into systemd's fd store \(at most 16\)"
if grep -E "listening on tcp:127\.0\.0\.1:$P_GONE" "$SOCKD_LOG" >&2; then
	fail "sockd serves an address no longer configured"
fi

# removed NAME / stored NAME: the assignment right after FDSTOREREMOVE=1 /
# in the same message as FDSTORE=1 (tclient prints one per line).
removed() {
	awk -v n="FDNAME=$1" '$0 == "FDSTOREREMOVE=1" { r = 1; next } r && $0 == n { f = 1 } { r = 0 } END { exit !f }' "$NOTIFY_OUT"
}
stored() {
	awk -v n="FDNAME=$1" '$0 == "FDSTORE=1" { s = 1; next } s && $0 == n { f = 1 } /^FDSTORE=1$|^READY|^STATUS|^FDSTOREREMOVE/ { s = 0 } END { exit !f }' "$NOTIFY_OUT"
}
removed "$N_GONE" || fail "no FDSTOREREMOVE for $N_GONE: $(cat "$NOTIFY_OUT")"
removed "$N_KEPT" || fail "no FDSTOREREMOVE for the old name $N_KEPT: $(cat "$NOTIFY_OUT")"
stored "sockd/echo/$(enc "tcp:127.0.0.1:$P_KEPT")" || fail "kept TCP socket not stored under its new name: $(cat "$NOTIFY_OUT")"
stored "$N_UKEPT" || fail "kept Unix socket not stored: $(cat "$NOTIFY_OUT")"
stored "sockd/echo/$(enc "unix:$U_OWN")" || fail "own Unix socket not stored"
stored "sockd/echo/$(enc "udp:127.0.0.1:$P_UDP")" || fail "own UDP socket not stored"
expect_file_match "$NOTIFY_OUT" '^FDPOLL=0$'
if grep -F "$(enc "tcp:127.0.0.1:$P_UNIT")" "$NOTIFY_OUT" >&2; then
	fail "the .socket unit's socket went into the fd store"
fi

# Everything serves.
for a in "tcp:127.0.0.1:$P_KEPT" "tcp:127.0.0.1:$P_UNIT" "unix:$U_KEPT" "unix:$U_OWN"; do
	expect_rc 0 "$TCLIENT" echo -a "$a" -s 1000
done
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m ping

# A reload without the UDP address: out of the store.
conf
kill -HUP "$SA_PID"
wait_for_log 'reloaded: '
removed "sockd/echo/$(enc "udp:127.0.0.1:$P_UDP")" || fail "no FDSTOREREMOVE for the dropped UDP address"

# Stop: the stored Unix sockets keep their files (a restart brings the
# sockets back from the store; a stop leaves them stale, and the next start
# replaces them).
kill -TERM "$SA_PID"
st=0
wait_bg "$SA_PID" 20 || st=$?
expect_eq "$st" 0 "sockd's exit status"
test -S "$U_OWN" || fail "the stored socket file $U_OWN went on a stop with the fd store"
test -S "$U_KEPT" || fail "the stored socket file $U_KEPT went on a stop with the fd store"

# The next start (the store is gone: stop + start) replaces the stale files.
SOCKD_LOG=$T/sockd.log
start_sockd "$T/sockd.conf"
expect_rc 0 "$TCLIENT" echo -a "unix:$U_OWN" -s 1000
expect_rc 0 "$TCLIENT" echo -a "unix:$U_KEPT" -s 1000
if grep -q '^FDSTORE=1$' "$NOTIFY_OUT"; then
	fail "FDSTORE sent without \$FDSTORE"
fi
expect_stop_ok
test ! -e "$U_OWN" || fail "without the fd store, $U_OWN stayed after the stop"

# While stream connections drain on a stop, datagrams are still answered
# (under the fd store, the next sockd reads the socket only after this one
# has exited).
cat >"$T/drain.conf" <<CONF
daemon = { workers = 2; shutdown_timeout = 10.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_KEPT", "udp:127.0.0.1:$P_UDP" ];
	  service = "echo"; udp_rate = 0; }
);
CONF
start_sockd "$T/drain.conf"
start_bg hold "$TCLIENT" hold -a "tcp:127.0.0.1:$P_KEPT" -n 1 -t 60
HOLD_PID=$BG_PID
wait_until 10 eval "[ \$(ss -Htn state established '( sport = :$P_KEPT )' | wc -l) -ge 1 ]" ||
	fail "the held connection did not open"
kill -TERM "$SOCKD_PID"
wait_for_log '^sockd: stopping'
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m draining -t 5
sockd_alive || fail "sockd did not wait for its open connection"
expect_match "$(cat "$T/out")" draining "the answer while draining"
kill -TERM "$HOLD_PID" 2>/dev/null || :
wait_sockd_exit 20 || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after the drain"
exit 0
