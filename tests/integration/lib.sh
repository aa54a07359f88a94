# Shared helpers of the sockd integration tests (POSIX sh; sourced).
#
#   . "$(dirname "$0")/lib.sh"
#
# Environment (exported by `make check`; fallbacks for running a script by
# hand from the build directory): SOCKD, TCLIENT, top_srcdir, top_builddir.
# PORT_BASE may be set before sourcing; by default a free block of 100 ports
# in 21000-29999 is reserved for the script (see _reserve_ports).
#
# Variables set here:
#   T            private temporary directory, removed on exit
#   TESTDIR      absolute directory of the test scripts
#   SOCKD_PID    pid of the sockd started by start_sockd (empty when none)
#   SOCKD_LOG    $T/sockd.log: stderr of the current sockd
#   NOTIFY_OUT   $T/notify.out: what sockd sent to $NOTIFY_SOCKET ($T/notify.sock), one
#                datagram per line (the assignments inside it on their own lines)
#   SOCKD_STATUS exit status of the last sockd stop_sockd/wait_sockd_exit saw
#   BG_PID       pid of the last start_bg job
#
# Functions:
#   fail MSG...                 print MSG and the tail of sockd's log; exit 1
#   skip MSG...                 exit 77 (automake: SKIP)
#   note MSG...                 progress line on stderr
#   port N                      echo $((PORT_BASE + N))
#   expect_eq ACTUAL EXPECTED [WHAT]
#   expect_match STRING ERE [WHAT]      grep -E on STRING
#   expect_file_match FILE ERE [WHAT]   grep -E on FILE
#   expect_rc RC CMD...         run CMD (stdout $T/out, stderr $T/err); fail
#                               unless it exits RC; output stays in $T/out
#   wait_until SECS CMD...      poll CMD every 0.1 s; returns 1 after SECS
#                               (all SECS arguments here are whole seconds)
#   wait_for_log ERE [SECS]     wait (default 10 s) for ERE in $SOCKD_LOG; fail on timeout
#   wait_for_file_match FILE ERE [SECS]
#   start_sockd CONFIG [ARGS...]  start `$SOCKD -F -f CONFIG ARGS` with
#                               NOTIFY_SOCKET, wait for READY=1 (20 s); fail
#                               with the log when it exits or times out
#   stop_sockd [SECS]           SIGTERM, wait up to SECS (default 20); sets
#                               and returns SOCKD_STATUS (use `stop_sockd || st=$?`
#                               or expect_stop_ok); fails if sockd hangs
#   expect_stop_ok [SECS]       stop_sockd, expect status 0 and "sockd: stopped"
#   expect_clean_log [ERE]      no "sockd: error:"/"sockd: warning:" lines in
#                               $SOCKD_LOG except the root warnings (serving
#                               as root, a Unix upstream reached as root) and ERE
#   wait_sockd_exit [SECS]      wait for sockd to exit by itself; sets/returns SOCKD_STATUS
#   sockd_alive                 true while the started sockd runs
#   start_bg NAME CMD...        run CMD in the background, stdout $T/NAME.out,
#                               stderr $T/NAME.err; sets BG_PID; killed on exit
#   wait_bg PID [SECS]          wait (default 30 s) for a start_bg job; returns
#                               its status; fails if it does not end
#   have_ipv6                   ::1 is configured on lo
#   is_root                     running as uid 0
#
# Every process started through these helpers is killed (by pid) on exit.

set -eu

# Clients and sockd alike: ASCII messages, C collation, English dates.
LC_ALL=C
export LC_ALL

TESTDIR=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$TESTDIR/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
: "${SOCKD:=$top_builddir/src/sockd}"
: "${TCLIENT:=$top_builddir/tests/integration/tclient}"

# Each script reserves a block of 100 ports, so that two suites (two build
# trees, or a suite and a bench) can run on one host. A block is taken by
# creating its directory under $_PORT_LOCKS (mkdir is atomic) and given back
# in _cleanup; a block whose owner died is taken over. The search starts at
# the script's own block (21000 + 100 * NN) and skips blocks with a socket
# on any of their ports.
_PORT_LOCKS=/tmp/sockd-test-ports
_PORT_LOCK=
_port_block_busy() {
	ss -Htuan "( sport >= :$1 and sport <= :$(($1 + 99)) )" 2>/dev/null | grep -q .
}
_reserve_ports() {
	mkdir -p "$_PORT_LOCKS" 2>/dev/null && chmod 1777 "$_PORT_LOCKS" 2>/dev/null
	_nn=$(basename "$0" | sed -n 's/^\([0-9][0-9]*\)-.*/\1/p' | sed 's/^0*//')
	_b0=$((${_nn:-89} % 90))
	for _try in $(seq 0 89); do
		_b=$((21000 + (_b0 + _try) % 90 * 100))
		_d=$_PORT_LOCKS/$_b
		if ! mkdir "$_d" 2>/dev/null; then
			_owner=$(cat "$_d/pid" 2>/dev/null) || _owner=
			[ -n "$_owner" ] && kill -0 "$_owner" 2>/dev/null && continue
			# The owner is gone (or is still writing its pid: then the
			# block is only a few seconds old and we leave it).
			[ -z "$_owner" ] && [ -n "$(find "$_d" -maxdepth 0 -newermt '5 seconds ago' 2>/dev/null)" ] && continue
			rm -rf "$_d" && mkdir "$_d" 2>/dev/null || continue
		fi
		echo $$ >"$_d/pid"
		if _port_block_busy "$_b"; then
			rm -rf "$_d"
			continue
		fi
		_PORT_LOCK=$_d
		PORT_BASE=$_b
		return 0
	done
	echo "FAIL: $(basename "$0"): no free block of 100 ports in 21000-29999" >&2
	exit 1
}
[ -n "${PORT_BASE:-}" ] || _reserve_ports

SOCKD_PID=
SOCKD_STATUS=
SOCKD_RUNS=0
NOTIFY_PID=
BG_PID=
_PIDS=

# Unix socket paths must fit in 108 bytes: keep T short.
_tmp=${TMPDIR:-/tmp}
[ ${#_tmp} -le 40 ] || _tmp=/tmp
T=$(mktemp -d "$_tmp/sockd-test.XXXXXX")
SOCKD_LOG=$T/sockd.log
NOTIFY_OUT=$T/notify.out
: >"$SOCKD_LOG"

_cleanup() {
	_rc=$?
	trap - EXIT INT TERM HUP
	# stderr may be a closed pipe (`./01-*.sh 2>&1 | head`): cleaning up
	# must not die of it.
	trap '' PIPE
	for _p in $_PIDS; do
		kill -TERM "$_p" 2>/dev/null || :
	done
	for _p in $_PIDS; do
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 30 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$_p" 2>/dev/null || :
	done
	rm -rf "$T"
	[ -z "$_PORT_LOCK" ] || rm -rf "$_PORT_LOCK"
	exit $_rc
}
trap _cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

_track() {
	_PIDS="$_PIDS $1"
}

_untrack() {
	_new=
	for _p in $_PIDS; do
		[ "$_p" = "$1" ] || _new="$_new $_p"
	done
	_PIDS=$_new
}

note() {
	echo "# $*" >&2
}

fail() {
	echo "FAIL: $(basename "$0"): $*" >&2
	if [ -s "$SOCKD_LOG" ]; then
		echo "--- last lines of sockd's log ($SOCKD_LOG):" >&2
		tail -n 40 "$SOCKD_LOG" >&2
		echo "---" >&2
	fi
	exit 1
}

skip() {
	echo "SKIP: $(basename "$0"): $*" >&2
	exit 77
}

port() {
	echo $((PORT_BASE + $1))
}

is_root() {
	[ "$(id -u)" = 0 ]
}

have_ipv6() {
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'
}

expect_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

expect_match() {
	printf '%s\n' "$1" | grep -Eq -- "$2" || fail "${3:-output}: '$1' does not match /$2/"
}

expect_file_match() {
	grep -Eq -- "$2" "$1" || {
		echo "--- $1:" >&2
		tail -n 20 "$1" >&2
		fail "${3:-$1}: no line matches /$2/"
	}
}

expect_rc() {
	_want=$1
	shift
	_got=0
	"$@" >"$T/out" 2>"$T/err" || _got=$?
	if [ "$_got" != "$_want" ]; then
		echo "--- stdout of: $*" >&2
		head -c 2000 "$T/out" >&2
		echo "--- stderr:" >&2
		head -c 2000 "$T/err" >&2
		fail "expected exit status $_want, got $_got from: $*"
	fi
}

wait_until() {
	_n=$(($1 * 10))
	shift
	while [ $_n -gt 0 ]; do
		if "$@"; then
			return 0
		fi
		sleep 0.1
		_n=$((_n - 1))
	done
	"$@"
}

_grep_q() {
	grep -Eq -- "$2" "$1" 2>/dev/null
}

wait_for_file_match() {
	wait_until "${3:-10}" _grep_q "$1" "$2" || {
		echo "--- $1:" >&2
		tail -n 20 "$1" >&2 2>/dev/null || :
		fail "timed out after ${3:-10} s waiting for /$2/ in $1"
	}
}

wait_for_log() {
	wait_until "${2:-10}" _grep_q "$SOCKD_LOG" "$1" ||
		fail "timed out after ${2:-10} s waiting for /$1/ in sockd's log"
}

sockd_alive() {
	[ -n "$SOCKD_PID" ] && kill -0 "$SOCKD_PID" 2>/dev/null
}

_sockd_ready_or_dead() {
	grep -qx 'READY=1' "$NOTIFY_OUT" 2>/dev/null || ! sockd_alive
}

_stop_notify() {
	if [ -n "$NOTIFY_PID" ]; then
		kill -TERM "$NOTIFY_PID" 2>/dev/null || :
		wait "$NOTIFY_PID" 2>/dev/null || :
		_untrack "$NOTIFY_PID"
		NOTIFY_PID=
	fi
}

start_sockd() {
	_conf=$1
	shift
	[ -x "$SOCKD" ] || fail "no sockd binary at $SOCKD"
	[ -x "$TCLIENT" ] || fail "no tclient binary at $TCLIENT"
	if sockd_alive; then
		fail "start_sockd: a sockd (pid $SOCKD_PID) is still running"
	fi
	SOCKD_RUNS=$((SOCKD_RUNS + 1))
	# Keep the logs of earlier runs; $SOCKD_LOG is always the current one.
	if [ -s "$SOCKD_LOG" ]; then
		cp "$SOCKD_LOG" "$T/sockd-$((SOCKD_RUNS - 1)).log"
	fi
	: >"$SOCKD_LOG"

	_stop_notify
	rm -f "$T/notify.sock"
	: >"$NOTIFY_OUT"
	"$TCLIENT" notify -p "$T/notify.sock" -t 3600 >"$NOTIFY_OUT" 2>"$T/notify.err" &
	NOTIFY_PID=$!
	_track "$NOTIFY_PID"
	wait_until 10 test -S "$T/notify.sock" || fail "notify listener did not start: $(cat "$T/notify.err")"

	NOTIFY_SOCKET=$T/notify.sock "$SOCKD" -F -f "$_conf" "$@" 2>"$SOCKD_LOG" &
	SOCKD_PID=$!
	SOCKD_STATUS=
	_track "$SOCKD_PID"
	wait_until 20 _sockd_ready_or_dead || :
	if ! sockd_alive; then
		SOCKD_STATUS=0
		wait "$SOCKD_PID" || SOCKD_STATUS=$?
		_untrack "$SOCKD_PID"
		SOCKD_PID=
		fail "sockd exited with status $SOCKD_STATUS before READY=1 (config $_conf)"
	fi
	grep -qx 'READY=1' "$NOTIFY_OUT" || fail "sockd sent no READY=1 within 20 s"
}

# Wait up to $1 seconds for sockd to exit; set SOCKD_STATUS, return 1 if it did not.
_reap_sockd() {
	wait_until "$1" eval '! sockd_alive' || return 1
	SOCKD_STATUS=0
	wait "$SOCKD_PID" || SOCKD_STATUS=$?
	_untrack "$SOCKD_PID"
	SOCKD_PID=
	return 0
}

stop_sockd() {
	[ -n "$SOCKD_PID" ] || fail "stop_sockd: no sockd started"
	kill -TERM "$SOCKD_PID" 2>/dev/null || :
	if ! _reap_sockd "${1:-20}"; then
		kill -KILL "$SOCKD_PID" 2>/dev/null || :
		fail "sockd did not exit within ${1:-20} s of SIGTERM"
	fi
	return "$SOCKD_STATUS"
}

wait_sockd_exit() {
	[ -n "$SOCKD_PID" ] || fail "wait_sockd_exit: no sockd started"
	_reap_sockd "${1:-20}" || fail "sockd did not exit within ${1:-20} s"
	return "$SOCKD_STATUS"
}

expect_stop_ok() {
	stop_sockd "${1:-20}" || :
	expect_eq "$SOCKD_STATUS" 0 "sockd's exit status after SIGTERM"
	expect_file_match "$SOCKD_LOG" '^sockd: stopped' "sockd's log"
}

expect_clean_log() {
	if grep -E '^sockd: (error|warning):' "$SOCKD_LOG" |
		grep -Ev -- "${1:-^\$}" | grep -v 'serving as root' |
		grep -v ' as root: the upstream sees uid 0 ' >&2; then
		fail "unexpected errors or warnings in sockd's log"
	fi
}

start_bg() {
	_name=$1
	shift
	"$@" >"$T/$_name.out" 2>"$T/$_name.err" &
	BG_PID=$!
	_track "$BG_PID"
}

wait_bg() {
	_pid=$1
	wait_until "${2:-30}" eval "! kill -0 $_pid 2>/dev/null" ||
		fail "background job $_pid still running after ${2:-30} s"
	_st=0
	wait "$_pid" || _st=$?
	_untrack "$_pid"
	return $_st
}
