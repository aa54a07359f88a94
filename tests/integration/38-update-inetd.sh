#!/bin/sh
# Debian's own update-inetd against the inetd.conf sockd serves: --add,
# --disable, --enable and --remove each take effect in the running sockd
# without a signal (update-inetd only signals a process named inetd, or
# runs invoke-rc.d on /etc/init.d/*inetd), and two connections held open
# through all of it (to a sockd.conf echo and to an inetd.conf /bin/cat)
# keep echoing.
. "$(dirname "$0")/lib.sh"

command -v update-inetd >/dev/null 2>&1 || skip "update-inetd is not installed (package update-inetd)"

P_ECHO=$(port 1)        # sockd.conf's echo
P_CAT=$(port 2)         # inetd.conf's /bin/cat, there all along
P_NEW=$(port 3)         # added, disabled, enabled and removed by update-inetd
CONF=$T/sockd.conf
INETD=$T/inetd.conf
ME=$(id -un)            # the lines' user: sockd switches to no other when not root

# Only the file: never signal or restart an inetd or xinetd of this host.
UPDATE_INETD_FAKE_IT=1
UPDATE_INETD_NOXINETD=1
export UPDATE_INETD_FAKE_IT UPDATE_INETD_NOXINETD

cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; inetd_conf = "$INETD"; };
endpoints = (
  { name = "echo"; listen = "tcp:127.0.0.1:$P_ECHO"; service = "echo"; }
);
EOF
printf '127.0.0.1:\n%s\tstream\ttcp\tnowait\t%s\t/bin/cat\tcat\n' "$P_CAT" "$ME" >"$INETD"

# held DIR CMD...: CMD's stdin gets "ping 0", then "ping N" once DIR/N
# exists (N = 1, 2, ...), then EOF once DIR/end exists; 120 s at most.
held() {
	_d=$1
	shift
	{
		printf 'ping 0\n'
		_n=1
		_i=0
		while [ ! -e "$_d/end" ] && [ $_i -lt 1200 ]; do
			if [ -e "$_d/$_n" ]; then
				printf 'ping %s\n' "$_n"
				_n=$((_n + 1))
			fi
			sleep 0.1
			_i=$((_i + 1))
		done
	} | "$@"
}

PINGS=0
# ping: both held connections echo the next line.
ping() {
	PINGS=$((PINGS + 1))
	touch "$T/h/$PINGS"
	wait_for_file_match "$T/held_echo.out" "^ping $PINGS\$" 20
	wait_for_file_match "$T/held_cat.out" "^ping $PINGS\$" 20
}

answers() {
	timeout 5 socat -u "TCP:127.0.0.1:$P_NEW" - 2>/dev/null | grep -qx added
}

refused() {
	! timeout 5 socat -u "TCP:127.0.0.1:$P_NEW" - >/dev/null 2>&1
}

changes() {
	grep -c '^sockd: inetd.conf changed' "$SOCKD_LOG" || :
}

# update_inetd ARGS...: run it, then wait for sockd to have reloaded.
update_inetd() {
	_before=$(grep -c '^sockd: reloaded: ' "$SOCKD_LOG" || :)
	expect_rc 0 update-inetd --file "$INETD" "$@"
	wait_until 20 eval '[ "$(grep -c "^sockd: reloaded: " "$SOCKD_LOG" || :)" -gt '"$_before"' ]' ||
		fail "no reload within 20 s of update-inetd $*"
}

start_sockd "$CONF"
mkdir "$T/h"
start_bg held_echo held "$T/h" socat -t 10 - "TCP:127.0.0.1:$P_ECHO"
HELD_ECHO=$BG_PID
start_bg held_cat held "$T/h" socat -t 10 - "TCP:127.0.0.1:$P_CAT"
HELD_CAT=$BG_PID
wait_for_file_match "$T/held_echo.out" '^ping 0$' 20
wait_for_file_match "$T/held_cat.out" '^ping 0$' 20
refused || fail "port $P_NEW answers before --add"

update_inetd --add "$P_NEW	stream	tcp	nowait	$ME	/bin/echo	echo	added"
expect_file_match "$INETD" "^$P_NEW	stream	tcp	nowait	$ME	/bin/echo	echo	added\$"
wait_until 10 answers || fail "--add: port $P_NEW does not answer"
ping

update_inetd --disable "$P_NEW"
expect_file_match "$INETD" "^#<off># $P_NEW	"
wait_until 10 refused || fail "--disable: port $P_NEW still answers"
ping

update_inetd --enable "$P_NEW"
wait_until 10 answers || fail "--enable: port $P_NEW does not answer"
ping

update_inetd --remove "$P_NEW"
grep -q "^$P_NEW	" "$INETD" && fail "--remove left the line in $INETD"
wait_until 10 refused || fail "--remove: port $P_NEW still answers"
ping

touch "$T/h/end"
wait_bg "$HELD_ECHO" 30 || fail "the held echo connection failed: $(cat "$T/held_echo.err")"
wait_bg "$HELD_CAT" 30 || fail "the held /bin/cat connection failed: $(cat "$T/held_cat.err")"
for i in $(seq 0 "$PINGS"); do
	grep -qx "ping $i" "$T/held_echo.out" || fail "held echo: no 'ping $i'"
	grep -qx "ping $i" "$T/held_cat.out" || fail "held cat: no 'ping $i'"
done
[ "$(changes)" -ge 4 ] || fail "expected 4 changes seen, got $(changes)"
grep -q '^sockd: error: reload failed' "$SOCKD_LOG" && fail "a reload failed"
expect_stop_ok
expect_clean_log
