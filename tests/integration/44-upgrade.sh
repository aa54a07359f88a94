#!/bin/sh
# Binary upgrade without systemd (issue 17): SIGUSR2 and `sockctl upgrade`
# start sockd's binary anew with the listening sockets; the new process
# takes over, the old one stops accepting and drains. Under
# bench/restart_probe at 200 new connections/s on TCP and Unix stream and
# 200 datagrams/s on UDP, no client is refused or reset and no datagram is
# lost. A new process that fails its start (bad configuration, a listen
# address it cannot bind) leaves the old one serving, with the reason in
# sockctl's answer and in the log. Under systemd ($NOTIFY_SOCKET) an
# upgrade is refused with a pointer to `systemctl restart`.
. "$(dirname "$0")/lib.sh"

PROBE=${RESTART_PROBE:-$top_builddir/bench/restart_probe}
SOCKCTL=${SOCKCTL:-$top_builddir/src/sockctl}
[ -x "$PROBE" ] || fail "no restart_probe binary at $PROBE (run make)"
[ -x "$SOCKCTL" ] || fail "no sockctl binary at $SOCKCTL (run make)"
UPGRADES=${UPGRADES:-4}

P=$(port 1)
TCP=tcp:127.0.0.1:$P
UNIX=unix:$T/echo.sock
UDP=udp:127.0.0.1:$P
CTL=$T/control.sock

# conf [EXTRA-LISTEN] [EXTRA-KEYS]
conf() {
	cat >"$T/sockd.conf" <<CONF
daemon = {
	workers = 2;
	shutdown_timeout = 1.0;
	control = "$CTL";
${2:-}
};
endpoints = (
	{ name = "echo"; listen = [ "$TCP", "$UNIX", "$UDP" ${1:-} ]; service = "echo";
	  udp_rate = 0; }
);
CONF
}
conf

# sockd without NOTIFY_SOCKET: not under systemd. Each process of the
# chain is tracked, so that the cleanup stops whichever still runs.
CUR=
start_plain() {
	"$SOCKD" -F -f "$T/sockd.conf" 2>>"$SOCKD_LOG" &
	CUR=$!
	_track "$CUR"
	wait_for_log '^sockd: ready'
}
ctl() {
	"$SOCKCTL" -S "$CTL" "$@"
}
serving_pid() {
	ctl --json status | grep -o '"pid":[0-9]*' | head -n 1 | cut -d: -f2
}
# Exited: gone, or a zombie its parent (init, for all but the first) has
# not reaped yet.
gone() {
	_st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$_st" ] || [ "$_st" = Z ]
}

start_plain
FIRST=$CUR
expect_eq "$(serving_pid)" "$CUR" "pid in sockctl status"

# ---- under systemd, refused (a fake NOTIFY_SOCKET is enough to say so)
NOTIFY_SOCKET=$T/none.sock "$SOCKD" -F -f "$T/sockd.conf" -n >/dev/null
PORT2=$(port 2)
cat >"$T/sd.conf" <<CONF
daemon = { control = "$T/sd-control.sock"; };
endpoints = ( { name = "e"; listen = "tcp:127.0.0.1:$PORT2"; service = "echo"; } );
CONF
NOTIFY_SOCKET=$T/none.sock "$SOCKD" -F -f "$T/sd.conf" 2>"$T/sd.log" &
SD=$!
_track "$SD"
wait_for_file_match "$T/sd.log" '^sockd: ready'
expect_rc 1 "$SOCKCTL" -S "$T/sd-control.sock" upgrade
expect_file_match "$T/err" "runs under systemd: use 'systemctl restart'" "sockctl upgrade under systemd"
kill -USR2 "$SD"
wait_until 10 eval "[ \$(grep -c 'upgrade refused' '$T/sd.log') -ge 2 ]" ||
	fail "SIGUSR2 under systemd: not refused: $(cat "$T/sd.log")"
kill -0 "$SD" || fail "sockd under systemd exited after a refused upgrade"
kill -TERM "$SD"
wait_until 10 gone "$SD" || fail "sockd under systemd did not stop"
_untrack "$SD"

# ---- upgrades under load
st=$(ctl --json status) || fail "sockctl status before the upgrades"
expect_match "$st" "\"address\":\"$UNIX\",\"origin\":\"bound\"" "status before the upgrades"
start_bg probe "$PROBE" -j -d 120 -r 200 -H 2 -i 1000 -t 3000 "$TCP" "$UNIX" "$UDP"
PROBE_PID=$BG_PID
ERR=$T/probe.err
wait_for_file_match "$ERR" "$TCP: 2 held connections open"
wait_for_file_match "$ERR" "$UNIX: 2 held connections open"

i=0
while [ $i -lt "$UPGRADES" ]; do
	i=$((i + 1))
	old=$CUR
	kill -USR1 "$PROBE_PID"
	wait_for_file_match "$ERR" "window $i begins at"
	if [ $((i % 2)) = 1 ]; then
		expect_rc 0 ctl upgrade
		expect_match "$(cat "$T/out")" "^upgraded: sockd pid [0-9]+ serves, pid $old drains" "sockctl upgrade"
		CUR=$(sed -n 's/^upgraded: sockd pid \([0-9]*\) serves.*/\1/p' "$T/out")
	else
		n=$(grep -c 'serves now; this one' "$SOCKD_LOG" || :)
		kill -USR2 "$old"
		wait_until 15 eval "[ \$(grep -c 'serves now; this one' '$SOCKD_LOG') -gt $n ]" ||
			fail "SIGUSR2: no new sockd served"
		CUR=$(grep 'serves now; this one' "$SOCKD_LOG" | tail -n 1 | sed 's/.*sockd pid \([0-9]*\) serves.*/\1/')
	fi
	_track "$CUR"
	[ "$CUR" != "$old" ] && kill -0 "$CUR" || fail "upgrade $i: no new process ($CUR)"
	# The old one drains (the held connections keep it until
	# shutdown_timeout) and leaves; the new one answers on the same paths.
	wait_until 10 gone "$old" || fail "upgrade $i: the old sockd ($old) did not exit"
	_untrack "$old"
	[ "$old" = "$FIRST" ] && { wait "$old" || fail "the first sockd exited with status $?"; }
	test -S "$T/echo.sock" || fail "upgrade $i: the Unix socket file is gone"
	expect_eq "$(serving_pid)" "$CUR" "upgrade $i: pid in sockctl status"
	kill -USR2 "$PROBE_PID"
	wait_for_file_match "$ERR" "window $i ends at"
done
expect_file_match "$SOCKD_LOG" 'listening on unix:.*echo.sock \(echo, kept from the previous sockd\)'
expect_file_match "$SOCKD_LOG" 'control socket on .* \(kept from the previous sockd\)'
st=$(ctl --json status) || fail "sockctl status after the upgrades"
expect_match "$st" "\"address\":\"$UNIX\",\"origin\":\"kept\"" "status after the upgrades"
expect_match "$(ctl status)" "unix:$T/echo\.sock +kept( |$)" "the status table after the upgrades"

# ---- a new process that fails its start: the old one keeps serving.
conf "" "	bogus_key = 1;"
expect_rc 1 ctl upgrade
expect_file_match "$T/err" 'exited with status 78 \(configuration error\) before it served' "bad config"
: >"$T/blocker"
conf ", \"unix:$T/blocker\""
expect_rc 1 ctl upgrade
expect_file_match "$T/err" 'exited with status 1 before it served' "unbindable address"
expect_file_match "$SOCKD_LOG" "blocker' exists and is not a socket"
n=$(grep -c 'upgrade failed: ' "$SOCKD_LOG")
kill -USR2 "$CUR"
wait_until 15 eval "[ \$(grep -c 'upgrade failed: ' '$SOCKD_LOG') -gt $n ]" || fail "SIGUSR2: no failure logged"
expect_file_match "$SOCKD_LOG" 'upgrade failed: .*; still serving'
kill -0 "$CUR" || fail "the serving sockd exited after failed upgrades"
expect_eq "$(serving_pid)" "$CUR" "pid after failed upgrades"
test -S "$T/echo.sock" || fail "the Unix socket file is gone after failed upgrades"
conf
expect_rc 0 "$TCLIENT" echo -a "$UNIX" -s 100

sleep 1
kill -INT "$PROBE_PID"
st=0
wait_bg "$PROBE_PID" 30 || st=$?
for tg in "$TCP" "$UNIX" "$UDP"; do
	l=$(grep -F "{\"target\":\"$tg\"," "$T/probe.out") || fail "no probe line for $tg: $(cat "$T/probe.out")"
	note "$l"
	for k in refused reset timeout closed wrong error lost; do
		v=$(printf '%s\n' "$l" | grep -o "\"$k\":[0-9]*" | head -n 1 | cut -d: -f2)
		[ -z "$v" ] || expect_eq "$v" 0 "$tg: $k"
	done
	w=$(printf '%s\n' "$l" | sed -n 's/.*"window":{"count":\([0-9]*\),.*/\1/p')
	expect_eq "$w" "$UPGRADES" "$tg: marked windows"
	case $tg in
	udp:*) ;;
	*)	# Held connections stayed with the old process and were
		# closed when its shutdown_timeout ended, then reopened.
		h=$(printf '%s\n' "$l" | sed -n 's/.*"held":{//p')
		closed=$(printf '%s\n' "$h" | grep -o '"closed":[0-9]*' | head -n 1 | cut -d: -f2)
		[ "$closed" -ge 1 ] || fail "$tg: no held connection was closed cleanly: $l" ;;
	esac
done
# A held connection whose line was in flight when the old process closed
# it counts as cut: the one thing that may go wrong, and only for them.
[ "$st" = 0 ] || note "probe status $st (held connections cut at shutdown_timeout)"

# ---- an upgrade to a configuration without the Unix address, whose
# control socket moved: the new sockd removes both files of the old one
# once it serves (and not before: a failed start left them above).
OLD_CTL=$CTL
CTL=$T/control2.sock
cat >"$T/sockd.conf" <<CONF
daemon = { workers = 2; shutdown_timeout = 1.0; control = "$CTL"; };
endpoints = ( { name = "echo"; listen = [ "$TCP", "$UDP" ]; service = "echo"; udp_rate = 0; } );
CONF
old=$CUR
"$SOCKCTL" -S "$OLD_CTL" upgrade >"$T/out" 2>"$T/err" || fail "upgrade to the smaller configuration: $(cat "$T/err")"
CUR=$(sed -n 's/^upgraded: sockd pid \([0-9]*\) serves.*/\1/p' "$T/out")
[ -n "$CUR" ] || fail "upgrade to the smaller configuration: $(cat "$T/out")"
_track "$CUR"
wait_until 10 gone "$old" || fail "the old sockd ($old) did not exit"
_untrack "$old"
expect_file_match "$SOCKD_LOG" "removed $T/echo\.sock: the previous sockd's socket, no longer configured"
expect_file_match "$SOCKD_LOG" "removed $OLD_CTL: the previous sockd's socket, no longer configured"
test ! -e "$T/echo.sock" || fail "the dropped Unix address left its file"
test ! -e "$OLD_CTL" || fail "the old control socket file stayed"
expect_eq "$(serving_pid)" "$CUR" "pid on the moved control socket"
expect_rc 0 "$TCLIENT" echo -a "$TCP" -s 100

# ---- the last one stops as any sockd does, removing its files.
kill -TERM "$CUR"
wait_until 20 gone "$CUR" || fail "the last sockd did not stop"
_untrack "$CUR"
test ! -e "$T/echo.sock" || fail "the Unix socket file stayed after the stop"
test ! -e "$CTL" || fail "the control socket file stayed after the stop"
exit 0
