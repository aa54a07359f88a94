#!/bin/sh
# Golden configuration tests.
#
#   ok-NN.conf   `sockd -n -v -f ok-NN.conf` exits 0 and prints ok-NN.out;
#                ok-NN.out itself loads and prints itself again (round trip)
#   bad-NN.conf  `sockd -n -f bad-NN.conf` exits 78 and prints bad-NN.err
#                on stderr: one "file:line: message" line per error
#
# and the shipped conf/sockd.conf and conf/dev.conf pass `sockd -n`, and
#   conf-NAME.out  is `sockd -n -v` of conf/NAME.conf (user, group and
#                include_dir made host-neutral), with the same round trip.
# Each case runs inside tests/conf, so messages name the file as given.
#
# Environment (set by `make check`): SOCKD, the daemon to test, and
# top_srcdir. To bless a changed output, run the command shown in the
# failure and review the diff before copying it over the expected file.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
SOCKD=${SOCKD:-src/sockd}
case $SOCKD in
/*) ;;
*) SOCKD=$(pwd)/$SOCKD ;;
esac
if [ ! -x "$SOCKD" ]; then
	echo "golden.sh: $SOCKD is not an executable (set SOCKD)" >&2
	exit 99
fi
confdir=$top_srcdir/tests/conf

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-golden.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

failed=0
passed=0

fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

# run FILE ARGS...: run sockd in $confdir; sets $rc, leaves $tmp/out, $tmp/err
run() {
	rc=0
	(cd "$confdir" && "$SOCKD" "$@") >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
}

for conf in "$confdir"/ok-*.conf; do
	[ -e "$conf" ] || continue
	name=$(basename "$conf")
	expected=${name%.conf}.out
	run -n -v -f "$name"
	if [ "$rc" -ne 0 ]; then
		fail "$name: sockd -n -v exited $rc, expected 0; stderr:"
		cat "$tmp/err"
		continue
	fi
	if ! diff -u "$confdir/$expected" "$tmp/out"; then
		fail "$name: output differs from $expected (cd tests/conf && sockd -n -v -f $name)"
		continue
	fi
	run -n -v -f "$expected"
	if [ "$rc" -ne 0 ]; then
		fail "$expected: the printed config does not load again (exit $rc):"
		cat "$tmp/err"
		continue
	fi
	if ! diff -u "$confdir/$expected" "$tmp/out"; then
		fail "$expected: printing the printed config changes it"
		continue
	fi
	passed=$((passed + 1))
done

for conf in "$confdir"/bad-*.conf; do
	[ -e "$conf" ] || continue
	name=$(basename "$conf")
	expected=${name%.conf}.err
	run -n -f "$name"
	if [ "$rc" -ne 78 ]; then
		fail "$name: sockd -n exited $rc, expected 78; stderr:"
		cat "$tmp/err"
		continue
	fi
	if ! diff -u "$confdir/$expected" "$tmp/err"; then
		fail "$name: stderr differs from $expected (cd tests/conf && sockd -n -f $name)"
		continue
	fi
	passed=$((passed + 1))
done

# The shipped sockd.conf names the user and group sockd, which the package
# creates and `sockd -n` resolves. Where they do not exist (a build
# machine), a copy that names root instead is checked: the rest of the file
# is what this test is about.
shipped_conf() {
	if getent passwd sockd >/dev/null && getent group sockd >/dev/null; then
		echo "$1"
		return
	fi
	sed -e 's/^\([[:space:]]*user[[:space:]]*=[[:space:]]*\)"sockd";/\1"root";/' \
	    -e 's/^\([[:space:]]*group[[:space:]]*=[[:space:]]*\)"sockd";/\1"root";/' \
	    "$1" >"$tmp/shipped-sockd.conf"
	echo "$tmp/shipped-sockd.conf"
}

for conf in "$top_srcdir/conf/sockd.conf" "$top_srcdir/conf/dev.conf"; do
	rc=0
	checked=$conf
	[ "$(basename "$conf")" = sockd.conf ] && checked=$(shipped_conf "$conf")
	"$SOCKD" -n -f "$checked" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		[ "$checked" = "$conf" ] || echo "($conf checked as $checked: user and group sockd do not exist here)"
		fail "$conf: sockd -n exited $rc, expected 0; stderr:"
		cat "$tmp/err"
		continue
	fi
	passed=$((passed + 1))
done

# The shipped files, normalised: conf-NAME.out is `sockd -n -v` of
# conf/NAME.conf with user and group root (sockd need not exist here) and
# an include_dir and inetd_conf that do not exist (whatever this host has
# in /etc/sockd/conf.d and /etc/inetd.conf is not part of the file), and
# it prints itself again.
for conf in "$top_srcdir"/conf/*.conf; do
	[ -e "$conf" ] || continue
	name=$(basename "$conf")
	expected=conf-${name%.conf}.out
	sed -e 's/^\([[:space:]]*user[[:space:]]*=[[:space:]]*\)"[^"]*";/\1"root";/' \
	    -e 's/^\([[:space:]]*group[[:space:]]*=[[:space:]]*\)"[^"]*";/\1"root";/' \
	    -e 's|^\([[:space:]]*include_dir[[:space:]]*=[[:space:]]*\)"[^"]*";|\1"/nonexistent/sockd-golden/conf.d";|' \
	    -e 's|^\([[:space:]]*inetd_conf[[:space:]]*=[[:space:]]*\)"[^"]*";|\1"/nonexistent/sockd-golden/inetd.conf";|' \
	    "$conf" >"$tmp/$name"
	run -n -v -f "$tmp/$name"
	if [ "$rc" -ne 0 ]; then
		fail "conf/$name (as $tmp/$name): sockd -n -v exited $rc, expected 0; stderr:"
		cat "$tmp/err"
		continue
	fi
	if [ ! -e "$confdir/$expected" ]; then
		fail "conf/$name: no $expected in tests/conf; its output is:"
		cat "$tmp/out"
		continue
	fi
	if ! diff -u "$confdir/$expected" "$tmp/out"; then
		fail "conf/$name: output differs from tests/conf/$expected"
		continue
	fi
	run -n -v -f "$expected"
	if [ "$rc" -ne 0 ] || ! diff -u "$confdir/$expected" "$tmp/out"; then
		fail "$expected: the printed config does not load and print itself again (exit $rc)"
		cat "$tmp/err"
		continue
	fi
	passed=$((passed + 1))
done

echo "golden.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
