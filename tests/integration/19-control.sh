#!/bin/sh
# sockctl and the control socket: every command (status, reload, check,
# stop, probe) and every error (not running, permission denied by the file
# mode and by SO_PEERCRED, unknown command, timeouts, busy, a request too
# long); the counters of status against known traffic, exactly; a refused
# reload shows its file:line errors through `sockctl reload`; counters
# survive a reload; probe against sockd's echo and a plain socat echo.
# check refuses a FIFO at once and a file over 1 MiB with its size, stops a
# check that hangs (an @include of a FIFO) after 5 s, and SIGTERM during such
# a check stops sockd at once; a request far over 4096 bytes gets its error
# message, not a broken pipe.
. "$(dirname "$0")/lib.sh"

: "${SOCKCTL:=$top_builddir/src/sockctl}"
[ -x "$SOCKCTL" ] || fail "no sockctl binary at $SOCKCTL"

P_ECHO=$(port 1)
P_DISCARD=$(port 2)
P_DENIED=$(port 3)
P_NEW=$(port 4)
P_SOCAT=$(port 5)
CTL=$T/control.sock
CONF=$T/sockd.conf

write_conf() {
	cat >"$CONF" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
	control = "$1";
};
endpoints = (
	{ name = "echo"; service = "echo";
	  listen = [ "tcp:127.0.0.1:$P_ECHO", "udp:127.0.0.1:$P_ECHO", "unix:$T/echo.sock" ]; },
	{ name = "discard"; service = "discard"; listen = [ "tcp:127.0.0.1:$P_DISCARD" ]; },
	{ name = "denied"; service = "echo"; listen = [ "tcp:127.0.0.1:$P_DENIED" ];
	  allow = [ "10.0.0.0/8" ]; }$2
);
EOF
}

ctl() {
	"$SOCKCTL" -S "$CTL" "$@"
}

# The JSON object of endpoint $1 in $T/out (a `sockctl --json status`).
ep_json() {
	sed 's/{"name":"/\n{"name":"/g' "$T/out" | grep "^{\"name\":\"$1\"" | head -n 1
}

# ep_num NAME KEY: a number of endpoint NAME (keys inside "refused" and
# "dropped" are unique within the endpoint too).
ep_num() {
	ep_json "$1" | grep -o "\"$2\":[0-9]*" | head -n 1 | cut -d: -f2
}

# counters_are NAME KEY=VALUE...: status --json shows exactly these.
counters_are() {
	_name=$1
	shift
	ctl --json status >"$T/out" 2>"$T/err" || return 1
	for _kv in "$@"; do
		[ "$(ep_num "$_name" "${_kv%%=*}")" = "${_kv#*=}" ] || return 1
	done
}

expect_counters() {
	if ! wait_until 10 counters_are "$@"; then
		echo "--- status of '$1':" >&2
		ep_json "$1" >&2
		fail "counters of '$1' are not $*"
	fi
}

# ---------------------------------------------------------------- not running

note "not running"
expect_rc 69 ctl status
expect_file_match "$T/err" "^sockctl: sockd is not running \\($CTL: No such file or directory\\)$"
expect_rc 69 ctl stop
expect_rc 64 ctl
expect_rc 64 ctl frobnicate
expect_file_match "$T/err" "^sockctl: unknown command 'frobnicate'"
expect_rc 64 ctl status extra
expect_rc 64 ctl check a b
expect_rc 64 "$SOCKCTL" --bogus status
# Options may follow the command, as with git and systemctl; unknown ones
# are still usage errors, wherever they are.
expect_rc 69 ctl status --json
expect_rc 64 ctl status --bogus
expect_file_match "$T/err" "unrecognized option '--bogus'"
expect_rc 64 ctl reload -x
expect_rc 64 ctl stop --json extra
expect_rc 64 ctl check --bogus "$T/x.conf"
expect_rc 0 ctl status --help
expect_file_match "$T/out" '^usage: sockctl '
expect_rc 0 "$SOCKCTL" --help
expect_file_match "$T/out" '^usage: sockctl '

write_conf "$CTL" ""
start_sockd "$CONF"
wait_for_log "^sockd: control socket on $CTL\$"

# 0660, group root: sockd runs as root without daemon.user here.
expect_eq "$(stat -c '%a' "$CTL")" 660 "mode of the control socket"
expect_eq "$(stat -c '%g' "$CTL")" "$(id -g)" "group of the control socket"

# ---------------------------------------------------------------- status

note "status"
expect_rc 0 ctl status
expect_file_match "$T/out" "^sockd [0-9.]+ \\(pid $SOCKD_PID\\), up [0-9]+s, config $CONF\$"
expect_file_match "$T/out" '^last reload: none$'
expect_file_match "$T/out" '^workers 2, queue 0/4096, connections 0/65536, served 0$'
expect_file_match "$T/out" '^ENDPOINT +SERVICE +ADDRESS +ORIGIN +ACTIVE +ACCEPTED +REFUSED +BYTES IN +BYTES OUT +DGRAMS IN/OUT +FAILED$'
expect_file_match "$T/out" "^echo +echo +tcp:127\\.0\\.0\\.1:$P_ECHO +bound +0 +0 +0 +0 +0 +0/0 +0\$"
expect_file_match "$T/out" "^ +udp:127\\.0\\.0\\.1:$P_ECHO +bound\$"
expect_file_match "$T/out" "^ +unix:$T/echo\\.sock +bound\$"
expect_file_match "$T/out" "^discard +discard +tcp:127\\.0\\.0\\.1:$P_DISCARD +bound "

# Known traffic: 5 TCP connections of 1000 bytes, one Unix connection with
# 3 round trips of 100 bytes, 4 datagrams of 50 bytes, 3 refused clients.
note "counters"
for i in 1 2 3 4 5; do
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 1000 -t 20
done
expect_rc 0 ctl probe "unix:$T/echo.sock" -c 3 -s 100 -i 0
expect_rc 0 ctl probe "udp:127.0.0.1:$P_ECHO" -c 4 -s 50 -i 0
for i in 1 2 3; do
	"$TCLIENT" echo -a "tcp:127.0.0.1:$P_DENIED" -s 10 -t 10 >/dev/null 2>&1 || :
done
expect_counters echo accepted=6 active=0 bytes_in=5500 bytes_out=5500 datagrams_in=4 datagrams_out=4 \
	acl=0 failed=0
expect_counters denied accepted=0 acl=3 active=0 bytes_in=0
expect_counters discard accepted=0
# discard drops TCP input in the kernel, uncopied (MSG_TRUNC): still counted.
head -c 300000 /dev/zero | timeout 15 socat -u - "TCP:127.0.0.1:$P_DISCARD" || fail "socat to discard"
expect_counters discard accepted=1 active=0 bytes_in=300000
expect_match "$(cat "$T/out")" '^\{"ok":true,"version":"[0-9.]+","pid":[0-9]+,' "status --json"
expect_match "$(cat "$T/out")" '"reload":\{"ok":true,"time":0\.000,"errors":\[\]\}' "status --json"
expect_match "$(ep_json echo)" "\"listen\":\\[\\{\"address\":\"tcp:127\\.0\\.0\\.1:$P_ECHO\",\"origin\":\"bound\"\\}," \
	"status --json"
# The same with --json after the command, and -S there too.
expect_rc 0 "$SOCKCTL" status --json -S "$CTL"
expect_match "$(cat "$T/out")" '^\{"ok":true,"version":"[0-9.]+","pid":[0-9]+,' "status --json (after the command)"
expect_match "$(ep_json echo)" '"accepted":6,' "status --json (after the command)"
# An open connection is active, and counted once it closes.
start_bg hold "$TCLIENT" hold -a "tcp:127.0.0.1:$P_ECHO" -n 2 -t 60
HOLD_PID=$BG_PID
expect_counters echo active=2 accepted=8
kill "$HOLD_PID" 2>/dev/null || :
wait_bg "$HOLD_PID" || :
expect_counters echo active=0 accepted=8
expect_rc 0 ctl status
expect_file_match "$T/out" "^denied +echo +tcp:127\\.0\\.0\\.1:$P_DENIED +bound +0 +0 +3 "
expect_file_match "$T/out" '^denied: refused acl 3$'

# ---------------------------------------------------------------- probe

note "probe"
expect_rc 0 ctl probe "tcp:127.0.0.1:$P_ECHO" -c 3 -s 2000 -i 0.05
expect_file_match "$T/out" "^PROBE tcp:127\\.0\\.0\\.1:$P_ECHO: 2000 bytes, one connection\$"
expect_file_match "$T/out" "^2000 bytes from tcp:127\\.0\\.0\\.1:$P_ECHO: seq=3 time=[0-9.]+ ms\$"
expect_file_match "$T/out" '^3 sent, 3 received, 0 errors, 0% loss, time [0-9]+ ms$'
expect_file_match "$T/out" '^rtt min/avg/max/p99 = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms$'
expect_rc 0 ctl --json probe -c 2 -i 0 "tcp:127.0.0.1:$P_ECHO"
expect_file_match "$T/out" "^\\{\"address\":\"tcp:127\\.0\\.0\\.1:$P_ECHO\",\"size\":64,\"sent\":2,\"received\":2,\"errors\":0,"
# discard answers nothing: every probe times out.
expect_rc 1 ctl probe "tcp:127.0.0.1:$P_DISCARD" -c 2 -i 0 -W 0.3
expect_file_match "$T/out" "^error from tcp:127\\.0\\.0\\.1:$P_DISCARD: seq=2: timeout\$"
expect_file_match "$T/out" '^2 sent, 0 received, 2 errors, 100% loss'
expect_rc 69 ctl probe "tcp:127.0.0.1:$P_NEW" -c 1
expect_file_match "$T/err" "^sockctl: cannot reach tcp:127\\.0\\.0\\.1:$P_NEW: Connection refused\$"
expect_rc 64 ctl probe "bogus:1"
expect_rc 64 ctl probe "tcp:127.0.0.1:$P_ECHO" -c x
expect_rc 64 ctl probe
# Anyone's echo: a plain socat.
start_bg socat socat "TCP-LISTEN:$P_SOCAT,bind=127.0.0.1,fork,reuseaddr" EXEC:cat
SOCAT_PID=$BG_PID
wait_until 10 sh -c "ss -ltn | grep -q '127.0.0.1:$P_SOCAT '" || fail "socat did not listen"
expect_rc 0 ctl probe "tcp:127.0.0.1:$P_SOCAT" -c 5 -s 5000 -i 0
expect_file_match "$T/out" '^5 sent, 5 received, 0 errors, 0% loss'
kill "$SOCAT_PID"
wait_bg "$SOCAT_PID" || :

# ---------------------------------------------------------------- reload, check

note "reload"
write_conf "$CTL" ",
	{ name = \"new\"; service = \"echo\"; listen = [ \"tcp:127.0.0.1:$P_NEW\" ]; }"
expect_rc 0 ctl reload
expect_file_match "$T/out" '^reloaded: 4 endpoints, 6 listeners, 2 workers$'
expect_rc 0 ctl probe "tcp:127.0.0.1:$P_NEW" -c 1
# The echo endpoint is a new object after the reload: its history stays
# (8 connections and 5500 bytes above, then the probes: 3 x 2000 and
# 2 x 64 bytes on 2 connections).
expect_counters echo accepted=10 bytes_in=11628 bytes_out=11628 datagrams_in=4
expect_counters new accepted=1
expect_match "$(cat "$T/out")" '"reload":\{"ok":true,"time":[1-9][0-9.]*,"errors":\[\]\}' "status after a reload"
expect_rc 0 ctl status
expect_file_match "$T/out" '^last reload: ok, [0-9]+s ago$'

note "refused reload"
cp "$CONF" "$T/good.conf"
cat >"$CONF" <<EOF
daemon = {
	control = "$CTL";
	colour = "blue";
};
endpoints = (
	{ name = "echo"; service = "qotd"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; }
);
EOF
expect_rc 1 ctl reload
expect_eq "$(cat "$T/out")" "" "stdout of a refused reload"
expect_eq "$(cat "$T/err")" "sockctl: reload refused (2 errors): still serving the previous configuration
$CONF:3: unknown key 'colour' in daemon
$CONF:6: unknown service 'qotd' (echo, discard, chargen, daytime, time, exec, forward, metrics)" \
	"stderr of a refused reload"
expect_file_match "$SOCKD_LOG" "^sockd: error: $CONF:3: unknown key 'colour' in daemon\$"
expect_rc 0 ctl probe "tcp:127.0.0.1:$P_NEW" -c 1
expect_rc 1 ctl --json reload
expect_match "$(cat "$T/out")" '^\{"ok":false,"error":"reload refused \(2 errors\): still serving the previous configuration","errors":\[".*:3: unknown key' \
	"reload --json"
expect_rc 0 ctl status
expect_file_match "$T/out" '^last reload: FAILED \(still serving the previous configuration\), [0-9]+s ago$'
expect_file_match "$T/out" "^  $CONF:6: unknown service 'qotd'"
expect_file_match "$T/out" '^new +echo '

note "check"
expect_rc 1 ctl check
expect_file_match "$T/err" '^sockctl: 2 errors$'
expect_file_match "$T/err" "^$CONF:3: unknown key 'colour' in daemon\$"
# A relative name is the caller's.
expect_rc 0 sh -c "cd '$T' && '$SOCKCTL' -S '$CTL' check good.conf"
expect_eq "$(cat "$T/out")" "$T/good.conf: ok (4 endpoints)" "check good.conf"
expect_rc 1 ctl check "$T/missing.conf"
expect_file_match "$T/err" "^$T/missing.conf: No such file or directory$"
expect_rc 0 ctl --json check "$T/good.conf"
expect_eq "$(cat "$T/out")" "{\"ok\":true,\"file\":\"$T/good.conf\",\"endpoints\":4,\"warnings\":[]}" "check --json"
expect_rc 0 ctl check "$T/good.conf" --json
expect_eq "$(cat "$T/out")" "{\"ok\":true,\"file\":\"$T/good.conf\",\"endpoints\":4,\"warnings\":[]}" "check FILE --json"
# A FIFO is refused at once, never opened for reading (that would wait for
# a writer with sockd's main thread).
mkfifo "$T/fifo.conf"
expect_rc 1 timeout 20 "$SOCKCTL" -S "$CTL" -t 3 check "$T/fifo.conf"
expect_eq "$(cat "$T/err")" "sockctl: 1 error
$T/fifo.conf: not a regular file" "check of a FIFO"
# Over the size limit: refused unread, with the size.
{ printf 'endpoints = ();\n#'; head -c 1048576 /dev/zero | tr '\0' 'x'; } >"$T/big.conf"
expect_rc 1 ctl check "$T/big.conf"
expect_eq "$(cat "$T/err")" "sockctl: 1 error
$T/big.conf: too large (1048593 bytes, limit 1048576)" "check of a file too large"
# A check that hangs (libconfig opens an @include itself, and waits on a
# FIFO) is stopped after 5 s; sockd serves meanwhile.
printf 'endpoints = ();\n@include "%s"\n' "$T/fifo.conf" >"$T/hang.conf"
start_bg hang "$SOCKCTL" -S "$CTL" check "$T/hang.conf"
HANG_PID=$BG_PID
wait_until 10 pgrep -P "$SOCKD_PID" >/dev/null || fail "no checker process under sockd"
expect_rc 75 ctl check "$T/good.conf"
expect_eq "$(cat "$T/err")" "sockctl: busy: another check is running, try again" "a second check meanwhile"
expect_rc 0 ctl status
_rc=0
wait_bg "$HANG_PID" 15 || _rc=$?
expect_eq "$_rc" 1 "sockctl's exit status for a check that hangs"
expect_eq "$(cat "$T/hang.err")" "sockctl: check stopped after 5 s: the file, an @include or a name lookup takes too long" \
	"a check that hangs"
wait_until 5 eval '! pgrep -P "$SOCKD_PID" >/dev/null' || fail "the checker process is still there"
expect_rc 0 ctl check "$T/good.conf"
cp "$T/good.conf" "$CONF"
expect_rc 0 ctl reload
expect_rc 0 ctl check

# ---------------------------------------------------------------- the protocol, raw

note "protocol"
raw() {
	printf '%s' "$1" | timeout 20 socat -t 10 - "UNIX-CONNECT:$CTL"
}
expect_eq "$(raw 'frob
')" '{"ok":false,"error":"unknown command '"'frob'"' (commands: status, reload, check [FILE], stop, upgrade, help)"}' \
	"an unknown command"
expect_eq "$(raw 'status now
')" '{"ok":false,"error":"'"'status'"' takes no argument"}' "status with an argument"
expect_eq "$(raw 'check relative.conf
')" '{"ok":false,"error":"check needs an absolute path"}' "check with a relative path"
expect_eq "$(raw 'help')" '{"ok":true,"commands":["status","reload","check [FILE]","stop","upgrade","help"]}' \
	"a request without a line feed"
for n in 5000 300000; do
	# socat writes it all before it reads: sockd must read the rest
	# rather than close on it (a broken pipe, and no message).
	head -c $n /dev/zero | tr '\0' 'x' >"$T/long"
	expect_rc 0 timeout 20 socat -t 10 - "UNIX-CONNECT:$CTL" <"$T/long"
	expect_eq "$(cat "$T/out")" '{"ok":false,"error":"bad request: longer than 4096 bytes"}' \
		"a request of $n bytes"
done

# A client that says nothing is dropped after 5 s, and does not hold sockd
# up meanwhile.
note "timeouts"
start_bg silent sh -c "sleep 8 | socat -t 10 - 'UNIX-CONNECT:$CTL'"
SILENT_PID=$BG_PID
sleep 1
expect_rc 0 ctl status
wait_bg "$SILENT_PID" 20 || :
expect_file_match "$T/silent.out" '^\{"ok":false,"error":"timeout: no complete request line within 5 s"\}$'
# A control socket that never answers: sockctl gives up.
start_bg mute socat "UNIX-LISTEN:$T/mute.sock,fork" "EXEC:sleep 30"
MUTE_PID=$BG_PID
wait_until 10 test -S "$T/mute.sock" || fail "socat did not listen on $T/mute.sock"
expect_rc 75 "$SOCKCTL" -S "$T/mute.sock" -t 1 status
expect_file_match "$T/err" '^sockctl: timeout: no reply from sockd within 1 s$'
kill "$MUTE_PID"
wait_bg "$MUTE_PID" || :

# 16 clients at once at most; the 17th is told to come back.
note "busy"
i=0
HOLDERS=
while [ $i -lt 16 ]; do
	start_bg "holder$i" sh -c "sleep 9 | socat -u - 'UNIX-CONNECT:$CTL'"
	HOLDERS="$HOLDERS $BG_PID"
	i=$((i + 1))
done
connected_holders() {
	[ "$(ss -xn | grep -cF " $CTL ")" -ge 16 ]
}
wait_until 10 connected_holders || fail "the 16 holders did not connect"
expect_rc 75 ctl status
expect_file_match "$T/err" '^sockctl: busy: too many control clients, try again$'
for p in $HOLDERS; do
	kill "$p" 2>/dev/null || :
	wait_bg "$p" || :
done
wait_until 10 ctl status >/dev/null 2>&1 || fail "sockd did not serve sockctl again after the holders left"

# ---------------------------------------------------------------- permissions

if is_root && command -v runuser >/dev/null 2>&1 && id nobody >/dev/null 2>&1 &&
	chmod 755 "$T" && runuser -u nobody -- test -x "$SOCKCTL"; then
	note "permissions"
	# The file mode keeps a stranger out.
	expect_rc 77 runuser -u nobody -- "$SOCKCTL" -S "$CTL" status
	expect_file_match "$T/err" "^sockctl: permission denied on $CTL: root and members of its group may use it\$"
	expect_rc 77 runuser -u nobody -- "$SOCKCTL" -S "$CTL" stop
	sockd_alive || fail "sockd stopped for a stranger"

	# An abstract socket has no file mode: SO_PEERCRED decides. A member
	# of the socket's group (root) by a supplementary group gets in.
	expect_rc 0 ctl stop
	expect_eq "$(cat "$T/out")" stopping "sockctl stop"
	wait_sockd_exit 20 || :
	expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after sockctl stop"
	ABS="@sockd-test-$$"
	write_conf "$ABS" ""
	start_sockd "$CONF"
	expect_rc 77 runuser -u nobody -- "$SOCKCTL" -S "$ABS" status
	expect_file_match "$T/err" "^sockctl: permission denied: uid [0-9]+ is not root, not sockd's user and not in group $(id -g)\$"
	expect_rc 77 runuser -u nobody -- "$SOCKCTL" -S "$ABS" stop
	sockd_alive || fail "sockd stopped for a stranger"
	wait_for_log "^sockd: warning: control socket: refused uid [0-9]+ \\(pid [0-9]+\\): not root"
	expect_eq "$(grep -c 'control socket: refused uid' "$SOCKD_LOG")" 1 "refusals logged (rate-limited)"
	expect_rc 0 runuser -u nobody -G "$(id -gn)" -- "$SOCKCTL" -S "$ABS" status
	expect_rc 0 "$SOCKCTL" -S "$ABS" status
	CTL=$ABS
else
	note "not root, or no runuser/nobody: skipping the permission checks"
fi

# ---------------------------------------------------------------- stop

note "stop"
expect_rc 0 ctl stop
expect_eq "$(cat "$T/out")" stopping "sockctl stop"
wait_sockd_exit 20 || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after sockctl stop"
expect_file_match "$SOCKD_LOG" '^sockd: stop requested on the control socket$'
expect_file_match "$SOCKD_LOG" '^sockd: stopped$'
[ ! -e "$T/control.sock" ] || fail "the control socket file is still there after stop"
expect_rc 69 ctl status
expect_clean_log "control socket: refused uid|unknown key 'colour'|unknown service 'qotd'|reload failed|check stopped after 5 s"

# ---------------------------------------------------------------- SIGTERM during a check

note "SIGTERM during a check"
start_sockd "$CONF"
start_bg hang2 "$SOCKCTL" -S "$CTL" check "$T/hang.conf"
HANG_PID=$BG_PID
wait_until 10 pgrep -P "$SOCKD_PID" >/dev/null || fail "no checker process under sockd"
CHECKER=$(pgrep -P "$SOCKD_PID")
t0=$(date +%s)
expect_stop_ok 4
expect_eq "$(($(date +%s) - t0 < 4))" 1 "SIGTERM during a check: sockd stopped within 4 s"
# Dead: gone, or a zombie waiting for whoever inherited it.
checker_dead() {
	! kill -0 "$CHECKER" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$CHECKER/stat" 2>/dev/null)" = Z ]
}
wait_until 5 checker_dead || fail "the checker process outlived sockd"
wait_bg "$HANG_PID" 10 || :
expect_clean_log

# ---------------------------------------------------------------- README's first run

# README's first command runs conf/dev.conf, and the next one it shows is
# `sockctl -S PATH status`: dev.conf's control socket must be that PATH and
# answer. dev.conf runs here moved to this script's ports and directory.
note "README: the first command's config answers sockctl status"
README=$top_srcdir/README.md
DEV=$top_srcdir/conf/dev.conf
first_conf=$(sed -n 's|.* src/sockd -F -f \.\./\(conf/[a-z.]*\)$|\1|p' "$README" | head -n 1)
expect_eq "$first_conf" conf/dev.conf "the configuration of README's first command"
ctl_path=$(sed -n 's|^src/sockctl -S \([^ ]*\) status$|\1|p' "$README" | head -n 1)
[ -n "$ctl_path" ] || fail "README shows no 'src/sockctl -S PATH status' line"
expect_eq "$(sed -n 's|^ *control = "\([^"]*\)";.*|\1|p' "$DEV")" "$ctl_path" \
	"dev.conf's control socket and README's sockctl -S"
case $ctl_path in
/tmp/*) ;;
*) fail "dev.conf's control socket $ctl_path is not under /tmp" ;;
esac
set --
for nn in $(grep -o '127\.0\.0\.1:70[0-9][0-9]' "$DEV" | sed 's/.*:70//' | sort -u); do
	set -- "$@" -e "s|127\.0\.0\.1:70$nn\([^0-9]\)|127.0.0.1:$(port $((50 + ${nn#0})))\1|g"
done
sed "$@" -e "s|\"/tmp/|\"$T/dev-|g" "$DEV" >"$T/dev.conf"
if grep -n '127\.0\.0\.1:70[0-9][0-9]\|"/tmp/[^/"]*"' "$T/dev.conf" >&2; then
	fail "dev.conf has an address this test does not move"
fi
start_sockd "$T/dev.conf"
DEV_CTL=$T/dev-${ctl_path#/tmp/}
expect_rc 0 "$SOCKCTL" -S "$DEV_CTL" status
expect_file_match "$T/out" '^echo +echo ' "sockctl status on dev.conf"
expect_stop_ok
expect_clean_log
exit 0
