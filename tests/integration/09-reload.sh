#!/bin/sh
# Reload (SIGHUP): clients of an unchanged endpoint never notice 20 reloads
# (new endpoints, changed options, 2 -> 3 -> 1 workers, removed endpoints);
# a connection outlives the removal of its endpoint; new endpoints answer;
# changed options apply to new connections; a bad configuration is reported
# as file:line and the old one keeps serving; sockets passed by systemd
# survive every reload.
. "$(dirname "$0")/lib.sh"

CR=$(printf '\r')
P_ECHO=$(port 1)        # "echo": same address in every configuration
P_GONE=$(port 2)        # "gone": removed while a client talks to it
P_FRESH=$(port 3)       # "fresh": added by a reload
P_DAY=$(port 4)         # "daytime": its daytime_format changes
P_EXTRA=$(port 5)       # "extra": comes and goes during the 20 reloads
P_AFTER=$(port 6)       # "after": added by the reload after a failed one
P_SA1=$(port 10)        # passed by systemd as "echo", no configured address
P_SA2=$(port 11)        # passed by systemd, the configured address of "byaddr"
P_SACFG=$(port 12)      # the configured address of "echo" under systemd
P_SACFG2=$(port 13)     # ... after a reload changed it
P_SANEW=$(port 14)      # an endpoint added under systemd
U_ECHO=$T/echo.sock
U_GONE=$T/gone.sock
CONF=$T/sockd.conf

# ---------------------------------------------------------------- helpers

# count_lines FILE ERE: how many lines of FILE match (0 if none).
count_lines() {
	grep -Ec -- "$2" "$1" 2>/dev/null || :
}

count_at_least() {
	[ "$(count_lines "$1" "$2")" -ge "$3" ]
}

# refused ADDR: a new connection to ADDR fails (refused, or no socket file).
refused() {
	_rc=0
	"$TCLIENT" echo -a "$1" -s 16 -t 5 >"$T/refused.out" 2>"$T/refused.err" || _rc=$?
	[ "$_rc" -ne 0 ] && grep -Eq 'Connection refused|No such file' "$T/refused.err"
}

expect_echo() {
	expect_rc 0 "$TCLIENT" echo -a "$1" -s "${2:-65536}" -t 30
}

# The configuration, from these variables (changed between reloads).
WORKERS=2
ECHO_OPTS=
DAYFMT="format-one %Y"
GONE=yes
EXTRA=no
FRESH=no
AFTER=no

write_conf() {
	{
		cat <<EOF
daemon = { workers = $WORKERS; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO", "unix:$U_ECHO" ]; service = "echo"; $ECHO_OPTS },
	{ name = "daytime"; listen = [ "tcp:127.0.0.1:$P_DAY" ]; service = "daytime";
	  daytime_format = "$DAYFMT"; }
EOF
		[ "$GONE" = no ] || printf ',\n\t{ name = "gone"; listen = [ "tcp:127.0.0.1:%s", "unix:%s" ]; service = "echo"; }' \
			"$P_GONE" "$U_GONE"
		[ "$EXTRA" = no ] || printf ',\n\t{ name = "extra"; listen = [ "tcp:127.0.0.1:%s" ]; service = "echo"; }' \
			"$P_EXTRA"
		[ "$FRESH" = no ] || printf ',\n\t{ name = "fresh"; listen = [ "tcp:127.0.0.1:%s" ]; service = "echo"; }' \
			"$P_FRESH"
		[ "$AFTER" = no ] || printf ',\n\t{ name = "after"; listen = [ "tcp:127.0.0.1:%s" ]; service = "echo"; }' \
			"$P_AFTER"
		printf '\n);\n'
	} >"$CONF.new"
	mv "$CONF.new" "$CONF"
}

# reload_ok WORKERS: SIGHUP, wait for "reloaded: ..., WORKERS workers".
RELOADS=0
reload_ok() {
	_rl_ok=$(count_lines "$SOCKD_LOG" '^sockd: reloaded: ')
	_rl_bad=$(count_lines "$SOCKD_LOG" '^sockd: error: reload failed')
	kill -HUP "$SOCKD_PID"
	RELOADS=$((RELOADS + 1))
	wait_until 20 eval 'count_at_least "$SOCKD_LOG" "^sockd: (reloaded: |error: reload failed)" $((_rl_ok + _rl_bad + 1))' ||
		fail "reload $RELOADS: no 'reloaded' line within 20 s"
	[ "$(count_lines "$SOCKD_LOG" '^sockd: error: reload failed')" -eq "$_rl_bad" ] ||
		fail "reload $RELOADS failed"
	_last=$(grep -E '^sockd: reloaded: ' "$SOCKD_LOG" | tail -n 1)
	expect_match "$_last" "^sockd: reloaded: [0-9]+ endpoints, [0-9]+ listeners \([0-9]+ kept, [0-9]+ new\), $1 workers$" \
		"reload $RELOADS"
	sockd_alive || fail "sockd died in reload $RELOADS"
}

# held_conv GOFILE CMD...: CMD is a client whose stdin gets "before", then,
# once GOFILE exists (at most 60 s later), "after", then EOF.
held_conv() {
	_go=$1
	shift
	{
		printf 'before\n'
		_i=0
		while [ ! -e "$_go" ] && [ $_i -lt 600 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		printf 'after\n'
	} | "$@"
}

# client_loop: rounds of echo connections (tclient with random payloads,
# nc with a payload unique to the round) on the unchanged endpoint until
# $T/loop.stop exists; at most 2000 rounds and 180 s. Every failure is
# counted and described in $T/loop.fail; $T/loop.rounds is the round count.
client_loop() {
	_r=0
	_fails=0
	_end=$(($(date +%s) + 180))
	: >"$T/loop.fail"
	while [ ! -e "$T/loop.stop" ] && [ $_r -lt 2000 ] && [ "$(date +%s)" -lt $_end ]; do
		_r=$((_r + 1))
		if ! "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_ECHO" -n 4 -s 2000 -r 3 -t 20 \
			>/dev/null 2>"$T/loop.err"; then
			_fails=$((_fails + 1))
			echo "round $_r tcp echo-many: $(cat "$T/loop.err")" >>"$T/loop.fail"
		fi
		if ! "$TCLIENT" echo-many -a "unix:$U_ECHO" -n 3 -s 2000 -r 2 -t 20 \
			>/dev/null 2>"$T/loop.err"; then
			_fails=$((_fails + 1))
			echo "round $_r unix echo-many: $(cat "$T/loop.err")" >>"$T/loop.fail"
		fi
		if ! "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 30000 -t 20 \
			>/dev/null 2>"$T/loop.err"; then
			_fails=$((_fails + 1))
			echo "round $_r tcp echo 30000: $(cat "$T/loop.err")" >>"$T/loop.fail"
		fi
		_msg="round $_r of loop $$: unique payload $_r-$_r-$_r"
		_got=$(printf '%s\n' "$_msg" | timeout 20 nc -N 127.0.0.1 "$P_ECHO" 2>&1) || :
		if [ "$_got" != "$_msg" ]; then
			_fails=$((_fails + 1))
			echo "round $_r nc: sent '$_msg', got '$_got'" >>"$T/loop.fail"
		fi
		echo "$_r" >"$T/loop.rounds.new"
		mv "$T/loop.rounds.new" "$T/loop.rounds"
	done
	echo "$_fails" >"$T/loop.fails"
}

loop_rounds() {
	cat "$T/loop.rounds" 2>/dev/null || echo 0
}

write_conf
start_sockd "$CONF"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_ECHO \(echo\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on unix:$U_ECHO \(echo\)$"
expect_file_match "$SOCKD_LOG" '^sockd: ready: 5 listeners, 2 workers$'
expect_echo "tcp:127.0.0.1:$P_ECHO"
expect_echo "unix:$U_GONE"
refused "tcp:127.0.0.1:$P_FRESH" || fail "port $P_FRESH answers before endpoint fresh exists"
ino_before=$(stat -c %i "$U_ECHO")

# ---- (a) 20 reloads under a client loop. Before each one the loop has done
# at least one more round, so reloads and connections interleave.
# One connection stays open across all of them (its worker may be retired
# when the pool shrinks: it must finish its connections first).
start_bg held_echo held_conv "$T/go.echo" nc -N 127.0.0.1 "$P_ECHO"
HELD_ECHO=$BG_PID
wait_for_file_match "$T/held_echo.out" '^before$' 20
start_bg loop client_loop
LOOP_PID=$BG_PID
for i in $(seq 1 20); do
	wait_until 60 eval '[ "$(loop_rounds)" -ge '"$i"' ]' ||
		fail "the client loop is stuck at round $(loop_rounds): $(cat "$T/loop.fail")"
	case $i in
	2) EXTRA=yes ;;                                     # add an endpoint
	3) ECHO_OPTS='backlog = 64;' ;;                     # change options of echo
	4) WORKERS=3 ;;
	5) WORKERS=1 ;;
	6) EXTRA=no ;;                                      # remove an endpoint
	7) ECHO_OPTS='backlog = 64; overload = "reject";' ;;
	8) WORKERS=2 ;;
	10) EXTRA=yes; WORKERS=3 ;;
	12) ECHO_OPTS= ;;
	13) WORKERS=1 ;;
	15) EXTRA=no; WORKERS=2 ;;
	17) WORKERS=3; ECHO_OPTS='overload = "wait";' ;;
	19) WORKERS=2 ;;
	esac
	write_conf
	reload_ok "$WORKERS"
	case $i in
	2|10) expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_EXTRA \(extra\)$" ;;
	6|15) expect_file_match "$SOCKD_LOG" "^sockd: closing tcp:127\.0\.0\.1:$P_EXTRA \(extra\)$" ;;
	esac
done
wait_until 60 eval '[ "$(loop_rounds)" -ge 22 ]' ||
	fail "the client loop is stuck at round $(loop_rounds): $(cat "$T/loop.fail")"
touch "$T/loop.stop"
wait_bg "$LOOP_PID" 90 || fail "the client loop failed: $(cat "$T/loop.err" 2>/dev/null)"
note "client loop: $(loop_rounds) rounds across 20 reloads"
if [ -s "$T/loop.fail" ]; then
	head -n 20 "$T/loop.fail" >&2
fi
expect_eq "$(cat "$T/loop.fails")" 0 "failed connections on the unchanged endpoint during 20 reloads"
touch "$T/go.echo"
wait_bg "$HELD_ECHO" 30 || fail "nc held across 20 reloads failed: $(cat "$T/held_echo.err")"
printf 'before\nafter\n' >"$T/want"
cmp "$T/want" "$T/held_echo.out" || fail "the connection held across 20 reloads got '$(cat "$T/held_echo.out")'"
expect_eq "$(count_lines "$SOCKD_LOG" '^sockd: reloading ')" 20 "'reloading' lines"
expect_eq "$(count_lines "$SOCKD_LOG" '^sockd: reloaded: ')" 20 "'reloaded' lines"
expect_eq "$(count_lines "$NOTIFY_OUT" '^RELOADING=1$')" 20 "RELOADING=1 notifications"
expect_eq "$(count_lines "$NOTIFY_OUT" '^READY=1$')" 21 "READY=1 notifications"
expect_eq "$(count_lines "$NOTIFY_OUT" '^MONOTONIC_USEC=[0-9]+$')" 20 "MONOTONIC_USEC with RELOADING=1"
# The kept listeners were never closed or re-created.
if grep -E "^sockd: (closing|listening on) (tcp:127\.0\.0\.1:$P_ECHO|unix:$U_ECHO|tcp:127\.0\.0\.1:$P_GONE) " \
	"$SOCKD_LOG" | tail -n +4 | grep . >&2; then
	fail "a reload closed or re-bound a listener whose address did not change"
fi
expect_eq "$(stat -c %i "$U_ECHO")" "$ino_before" "inode of $U_ECHO (the kept Unix socket)"
expect_file_match "$SOCKD_LOG" '^sockd: reloaded: 3 endpoints, 5 listeners \(5 kept, 0 new\), 2 workers$'

# ---- (b) A connection outlives the reload that removes its endpoint.
start_bg held_tcp held_conv "$T/go" nc -N 127.0.0.1 "$P_GONE"
HELD_TCP=$BG_PID
start_bg held_unix held_conv "$T/go" socat -t 10 - "UNIX-CONNECT:$U_GONE"
HELD_UNIX=$BG_PID
wait_for_file_match "$T/held_tcp.out" '^before$' 20
wait_for_file_match "$T/held_unix.out" '^before$' 20
GONE=no
write_conf
reload_ok 2
expect_file_match "$SOCKD_LOG" "^sockd: closing tcp:127\.0\.0\.1:$P_GONE \(gone\)$"
expect_file_match "$SOCKD_LOG" "^sockd: closing unix:$U_GONE \(gone\)$"
expect_file_match "$SOCKD_LOG" '^sockd: reloaded: 2 endpoints, 3 listeners \(3 kept, 0 new\), 2 workers$'
wait_until 10 refused "tcp:127.0.0.1:$P_GONE" ||
	fail "the removed endpoint's port still accepts connections: $(cat "$T/refused.err")"
[ ! -e "$U_GONE" ] || fail "the removed endpoint's socket file $U_GONE is still there"
refused "unix:$U_GONE" || fail "the removed Unix endpoint still accepts connections"
# The held connections still echo, both ways, and end normally.
touch "$T/go"
wait_bg "$HELD_TCP" 30 || fail "nc over the removed endpoint failed: $(cat "$T/held_tcp.err")"
wait_bg "$HELD_UNIX" 30 || fail "socat over the removed endpoint failed: $(cat "$T/held_unix.err")"
printf 'before\nafter\n' >"$T/want"
cmp "$T/want" "$T/held_tcp.out" || fail "TCP connection across the reload got '$(cat "$T/held_tcp.out")'"
cmp "$T/want" "$T/held_unix.out" || fail "Unix connection across the reload got '$(cat "$T/held_unix.out")'"

# ---- (c) A new endpoint answers after the reload.
FRESH=yes
write_conf
reload_ok 2
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_FRESH \(fresh\)$"
expect_file_match "$SOCKD_LOG" '^sockd: reloaded: 3 endpoints, 4 listeners \(3 kept, 1 new\), 2 workers$'
expect_echo "tcp:127.0.0.1:$P_FRESH"
printf 'fresh one\n' >"$T/in"
timeout 10 nc -N 127.0.0.1 "$P_FRESH" <"$T/in" >"$T/got" || fail "nc to the new endpoint failed"
cmp "$T/in" "$T/got" || fail "the new endpoint echoed '$(cat "$T/got")'"

# ---- (d) A changed option applies to new connections.
daytime() {
	timeout 15 socat -u "TCP:127.0.0.1:$P_DAY" - >"$T/day" 2>"$T/day.err" ||
		fail "daytime client failed: $(cat "$T/day.err")"
	cat "$T/day"
}
year=$(date +%Y)
expect_match "$(daytime)" "^format-one ($year|$((year + 1)))$CR$" "daytime before the reload"
DAYFMT="format-two %Y"
write_conf
reload_ok 2
expect_match "$(daytime)" "^format-two ($year|$((year + 1)))$CR$" "daytime after the reload"

# ---- (e) A configuration with two errors: both reported as file:line, the
# old configuration keeps serving, RELOADING=1 then READY=1, and the next
# valid reload works.
cp "$CONF" "$T/good.conf"
cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0;
	frobnicate = 1; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; },
	{ name = "broken"; listen = [ "tcp:127.0.0.1:$P_AFTER" ];
	  service = "nosuch"; }
);
EOF
notify_before=$(wc -l <"$NOTIFY_OUT")
kill -HUP "$SOCKD_PID"
wait_for_log '^sockd: error: reload failed \(.*\): still serving the previous configuration$' 20
C=$(printf '%s' "$CONF" | sed 's/[.[\*^$]/\\&/g')
expect_file_match "$SOCKD_LOG" "^sockd: error: $C:2: .*frobnicate" "error about frobnicate"
expect_file_match "$SOCKD_LOG" "^sockd: error: $C:6: .*nosuch" "error about the unknown service"
expect_eq "$(count_lines "$SOCKD_LOG" "^sockd: error: $C:[0-9]+: ")" 2 "file:line errors logged"
wait_until 10 eval 'tail -n +$((notify_before + 1)) "$NOTIFY_OUT" | grep -q "^READY=1$"' ||
	fail "no READY=1 after the failed reload"
tail -n +$((notify_before + 1)) "$NOTIFY_OUT" >"$T/notify.after"
r_line=$(grep -n '^RELOADING=1$' "$T/notify.after" | head -n 1 | cut -d: -f1)
y_line=$(grep -n '^READY=1$' "$T/notify.after" | head -n 1 | cut -d: -f1)
[ -n "$r_line" ] || fail "no RELOADING=1 for the failed reload: $(cat "$T/notify.after")"
[ "$r_line" -lt "$y_line" ] || fail "READY=1 came before RELOADING=1: $(cat "$T/notify.after")"
expect_file_match "$T/notify.after" '^STATUS=.*reload failed' "STATUS after the failed reload"
sockd_alive || fail "sockd exited after a failed reload"
# Still the old configuration: fresh serves, broken's port is not bound.
expect_echo "tcp:127.0.0.1:$P_ECHO"
expect_echo "unix:$U_ECHO"
expect_echo "tcp:127.0.0.1:$P_FRESH"
refused "tcp:127.0.0.1:$P_AFTER" || fail "the failed configuration's endpoint was bound"
expect_match "$(daytime)" "^format-two ($year|$((year + 1)))$CR$" "daytime after the failed reload"
# A valid configuration again.
cp "$T/good.conf" "$CONF"
AFTER=yes
write_conf
reload_ok 2
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_AFTER \(after\)$"
expect_echo "tcp:127.0.0.1:$P_AFTER"
expect_echo "tcp:127.0.0.1:$P_ECHO"

expect_stop_ok
expect_clean_log "$C:[0-9]+: |reload failed"
[ ! -e "$U_ECHO" ] || fail "sockd left $U_ECHO behind"

# ---- (f) Sockets passed by systemd survive reloads, also ones that change
# the endpoint's options and its configured address. fd 3 is named "echo" but
# stands for no configured address; fd 4 ("sockd.socket", the default name)
# is at the configured address of "byaddr".
SSA=$(command -v systemd-socket-activate 2>/dev/null || :)
if [ -z "$SSA" ]; then
	note "systemd-socket-activate is not installed (package systemd): skipping the systemd part"
	exit 0
fi
SA_CFG=$P_SACFG
SA_ECHO_OPTS=
SA_NEW=no
SA_WORKERS=2
write_sa_conf() {
	{
		cat <<EOF
daemon = { workers = $SA_WORKERS; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$SA_CFG" ]; service = "echo"; $SA_ECHO_OPTS },
	{ name = "byaddr"; listen = [ "tcp:127.0.0.1:$P_SA2" ]; service = "echo"; $SA_ECHO_OPTS }
EOF
		[ "$SA_NEW" = no ] || printf ',\n\t{ name = "sanew"; listen = [ "tcp:127.0.0.1:%s" ]; service = "echo"; }' \
			"$P_SANEW"
		printf '\n);\n'
	} >"$CONF.new"
	mv "$CONF.new" "$CONF"
}
write_sa_conf
for p in "$P_SA1" "$P_SA2"; do
	if [ -n "$(ss -Htln "( sport = :$p )" 2>/dev/null)" ]; then
		ss -Htlnp "( sport = :$p )" >&2 || :
		fail "port $p is taken by another process: cannot run the systemd part"
	fi
done
rm -f "$T/sa.notify"
start_bg sa-notify "$TCLIENT" notify -p "$T/sa.notify" -t 600
wait_until 10 test -S "$T/sa.notify" || fail "notify listener did not start"
start_bg sa "$SSA" -E NOTIFY_SOCKET="$T/sa.notify" -l "127.0.0.1:$P_SA1" -l "127.0.0.1:$P_SA2" \
	--fdname=echo:sockd.socket "$SOCKD" -F -f "$CONF"
# systemd-socket-activate execs sockd: same pid.
SOCKD_PID=$BG_PID
SOCKD_LOG=$T/sa.err
NOTIFY_OUT=$T/sa-notify.out
wait_for_log 'Listening on .* as 4\.' 10
# The first client makes systemd-socket-activate exec sockd.
expect_echo "tcp:127.0.0.1:$P_SA1" 100000
wait_for_file_match "$NOTIFY_OUT" '^READY=1$' 20
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_SA1 \(echo, from systemd\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_SA2 \(byaddr, from systemd\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_SACFG \(echo\)$"

sa_serves() {
	expect_echo "tcp:127.0.0.1:$P_SA1"
	expect_echo "tcp:127.0.0.1:$P_SA2"
	expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_SA1" -n 20 -s 1000 -t 30
	expect_echo "tcp:127.0.0.1:$SA_CFG"
}
sa_serves
for step in 1 2 3 4 5 6; do
	case $step in
	1) ;;                                               # unchanged
	2) SA_ECHO_OPTS='backlog = 32; overload = "reject";' ;;
	3) SA_NEW=yes; SA_WORKERS=3 ;;
	4) SA_CFG=$P_SACFG2 ;;                              # echo's own address moves
	5) SA_ECHO_OPTS='backlog = 200;'; SA_WORKERS=1 ;;
	6) SA_NEW=no; SA_ECHO_OPTS= ;;
	esac
	write_sa_conf
	reload_ok "$SA_WORKERS"
	sa_serves
done
expect_file_match "$SOCKD_LOG" "^sockd: closing tcp:127\.0\.0\.1:$P_SACFG \(echo\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_SACFG2 \(echo\)$"
refused "tcp:127.0.0.1:$P_SACFG" || fail "echo's old configured address still answers"
if grep -E "^sockd: closing tcp:127\.0\.0\.1:($P_SA1|$P_SA2) " "$SOCKD_LOG" >&2; then
	fail "a reload closed a socket passed by systemd"
fi
expect_eq "$(count_lines "$SOCKD_LOG" 'from systemd\)$')" 2 "'from systemd' listening lines"
stop_sockd || :
expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after SIGTERM (under systemd-socket-activate)"
expect_file_match "$SOCKD_LOG" '^sockd: stopped$'
exit 0
