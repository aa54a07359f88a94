# Helpers of the socket option tests 40-43 (POSIX sh; sourced before lib.sh
# with NETNS set, after it for the rest).
#
#   netns_enter required|optional
#       Run the script again inside a network namespace of its own
#       (unshare -rn: a user namespace whose root holds CAP_NET_ADMIN over
#       that namespace only), with lo up: interfaces, sysctls and marks are
#       then the test's own, and its ports private. "required": SKIP when
#       that is impossible here; "optional": go on in the host's namespace.
#       Sets IN_NETNS=1 inside.
#   peek PORT KIND      sockpeek's line for sockd's KIND (listen|conn) socket
#                       on PORT ($SOCKPEEK_PID, default $SOCKD_PID); SKIP when
#                       sockd's fds cannot be copied here
#   opt LINE NAME       the value of NAME=... in such a line
#   has_conn PORT       sockd holds an accepted socket on PORT

netns_enter() {
	if [ "${IN_NETNS:-}" = 1 ]; then
		ip link set lo up || { echo "FAIL: $(basename "$0"): ip link set lo up" >&2; exit 1; }
		echo "# in a network namespace of its own (unshare -rn)" >&2
		return 0
	fi
	if command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
		unshare -rn true 2>/dev/null; then
		IN_NETNS=1 exec unshare -rn sh "$0" "$@"
	fi
	if [ "$1" = required ]; then
		echo "SKIP: $(basename "$0"): cannot make a network namespace (unshare -rn: user namespaces off, or no util-linux/iproute2)" >&2
		exit 77
	fi
	IN_NETNS=0
}

: "${SOCKPEEK:=${top_builddir:-$(pwd)}/tests/integration/sockpeek}"

peek() {
	_rc=0
	"$SOCKPEEK" "${SOCKPEEK_PID:-$SOCKD_PID}" "$1" >"$T/peek.out" 2>"$T/peek.err" || _rc=$?
	[ "$_rc" != 77 ] || skip "cannot read sockd's sockets here (pidfd_getfd needs Linux 5.6 and ptrace rights): $(cat "$T/peek.err")"
	grep "^$2 " "$T/peek.out" | head -n 1
}

opt() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

has_conn() {
	[ -n "$(peek "$1" conn)" ]
}
