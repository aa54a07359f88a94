# Helpers of the robustness tests (21-26) and the soak, on top of lib.sh
# (POSIX sh; sourced after it):
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/robust.sh"
#
# Environment: STRESS, the stress client (default: the one built next to
# tclient).
#
# Functions:
#   fd_count                   open fds of the current sockd but pipes
#   pipe_count                 its pipe fds: the forward service's pools of
#                              empty pipes, up to 32 pairs (64 fds) per worker
#   rss_kb                     its VmRSS in kB
#   settled_fds                its fd count once unchanged for 0.5 s (at most 20 s)
#   fds_at_most N              fd_count <= N (for wait_until)
#   sockd_sanitized            sockd is built with ASan, TSan or MSan (their
#                              runtimes reserve terabytes of address space:
#                              no `ulimit -v` under them)
#   measure_latency NAME ADDR [N]
#                              N (default 200) fresh connections, each 1000
#                              bytes echoed and checked; sets P99 and P50 (µs)
#   expect_latency_ok BEFORE DURING WHAT
#                              DURING <= max(20 * BEFORE, 50 ms) and <= 1 s
#   stop_bg PID                SIGTERM a start_bg job and reap it (status ignored)

: "${STRESS:=$top_builddir/tests/integration/stress}"
[ -x "$STRESS" ] || fail "no stress binary at $STRESS"

fd_count() {
	ls -l "/proc/$SOCKD_PID/fd" 2>/dev/null | grep -c -- ' -> [^p]' || :
}

pipe_count() {
	ls -l "/proc/$SOCKD_PID/fd" 2>/dev/null | grep -c -- ' -> pipe:' || :
}

rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$SOCKD_PID/status"
}

settled_fds() {
	_prev=-1
	_i=0
	while [ $_i -lt 40 ]; do
		_cur=$(fd_count)
		[ "$_cur" = "$_prev" ] && break
		_prev=$_cur
		sleep 0.5
		_i=$((_i + 1))
	done
	echo "$_cur"
}

fds_at_most() {
	[ "$(fd_count)" -le "$1" ]
}

sockd_sanitized() {
	[ -n "${SOCKD_SANITIZED:-}" ] && return 0
	nm "$SOCKD" 2>/dev/null | grep -Eq '__(asan|tsan|msan)_init' && return 0
	ldd "$SOCKD" 2>/dev/null | grep -Eq 'lib(asan|tsan|msan)\.so'
}

measure_latency() {
	"$STRESS" latency -a "$2" -n "${3:-200}" -s 1000 -t 120 >"$T/$1.lat" 2>"$T/$1.laterr" ||
		fail "latency $1: an ordinary client was not served: $(cat "$T/$1.laterr")"
	P99=$(sed -n 's/.* p99_us=\([0-9]*\) .*/\1/p' "$T/$1.lat")
	P50=$(sed -n 's/.* p50_us=\([0-9]*\) .*/\1/p' "$T/$1.lat")
	[ -n "$P99" ] || fail "latency $1: no result: $(cat "$T/$1.lat")"
	note "latency $1: $(cat "$T/$1.lat")"
}

# A loaded 2-core machine has its own hiccups: 20 times the quiet p99, but
# never less than 50 ms, and never more than 1 s whatever the baseline.
expect_latency_ok() {
	_lim=$(($1 * 20))
	[ "$_lim" -ge 50000 ] || _lim=50000
	[ "$_lim" -le 1000000 ] || _lim=1000000
	[ "$2" -le "$_lim" ] ||
		fail "$3: p99 latency of ordinary clients went from $1 us to $2 us (limit $_lim us)"
}

stop_bg() {
	kill -TERM "$1" 2>/dev/null || :
	wait_bg "$1" 30 || :
}
