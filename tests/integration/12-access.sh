#!/bin/sh
# Access control per endpoint: allow/deny CIDR lists over TCP and UDP (the
# most specific rule wins, a tie denies, no match is allowed only without
# allow rules, IPv4-mapped peers match IPv4 rules), allow_uid/allow_gid on
# Unix sockets, and the log line that counts refusals. Different clients are
# different source addresses in 127.0.0.0/8 (socat's bind=, tclient's -B).
. "$(dirname "$0")/lib.sh"

P_MIXED=$(port 1)       # allow 127/8, deny 127.0.0.2/32
P_ONLY2=$(port 2)       # allow 127.0.0.2 only
P_SPECIFIC=$(port 3)    # deny 127/8, allow 127.0.0.3/32
P_TIE=$(port 4)         # 127.0.0.0/24 both allowed and denied
P_DENYONLY=$(port 5)    # deny 127.0.0.2/32, no allow rule
P_UDP=$(port 6)         # UDP: allow 127/8, deny 127.0.0.2/32
P_V6=$(port 7)          # [::1], allow 127/8 only
P_V6OK=$(port 8)        # [::1], allow ::1/128
P_DUAL=$(port 9)        # [::] dual-stack, allow 127.0.0.1/32
SRC_UDP=$(port 50)      # source ports of the UDP clients

# Unix peers by credentials: root is the test, nobody the other user.
UNIX=no
if ! is_root; then
	note "not root: skipping the allow_uid/allow_gid checks"
elif ! getent passwd nobody >/dev/null || ! getent group nogroup >/dev/null; then
	note "no user nobody or group nogroup: skipping the allow_uid/allow_gid checks"
elif ! command -v runuser >/dev/null; then
	note "no runuser: skipping the allow_uid/allow_gid checks"
else
	UNIX=yes
	# nobody must reach the sockets: only sockd's check may refuse it.
	chmod 0711 "$T"
fi
# Without a second user, the test's own uid and gid against another one.
if is_root; then OTHER_ID=65534; else OTHER_ID=0; fi
UNIX_ENDPOINTS="
	{ name = \"uidself\"; listen = [ \"unix:$T/uidself.sock\" ]; service = \"echo\";
	  allow_uid = $(id -u); },
	{ name = \"uidother\"; listen = [ \"unix:$T/uidother.sock\" ]; service = \"echo\";
	  allow_uid = [ $OTHER_ID ]; allow_gid = [ $OTHER_ID ]; },"
if [ $UNIX = yes ]; then
	UNIX_ENDPOINTS="$UNIX_ENDPOINTS
	{ name = \"uid\"; listen = [ \"unix:$T/uid.sock\" ]; service = \"echo\";
	  mode = \"0666\"; allow_uid = [ \"root\" ]; },
	{ name = \"uidnum\"; listen = [ \"unix:$T/uidnum.sock\" ]; service = \"echo\";
	  mode = \"0666\"; allow_uid = [ \"$(id -u nobody)\" ]; },
	{ name = \"gid\"; listen = [ \"unix:$T/gid.sock\" ]; service = \"echo\";
	  mode = \"0666\"; allow_gid = [ \"nogroup\" ]; },
	{ name = \"gidroot\"; listen = [ \"unix:$T/gidroot.sock\" ]; service = \"echo\";
	  mode = \"0666\"; allow_gid = [ \"root\" ]; },
	{ name = \"gidsupp\"; listen = [ \"unix:$T/gidsupp.sock\" ]; service = \"echo\";
	  mode = \"0666\"; allow_gid = [ \"adm\" ]; },"
fi

IPV6=no
V6_ENDPOINTS=
if have_ipv6; then
	IPV6=yes
	V6_ENDPOINTS="
	{ name = \"v6\"; listen = [ \"tcp:[::1]:$P_V6\" ]; service = \"echo\";
	  allow = [ \"127.0.0.0/8\" ]; },
	{ name = \"v6ok\"; listen = [ \"tcp:[::1]:$P_V6OK\" ]; service = \"echo\";
	  allow = [ \"::1/128\" ]; deny = [ \"127.0.0.0/8\" ]; },
	{ name = \"dual\"; listen = [ \"tcp:[::]:$P_DUAL\" ]; service = \"echo\";
	  allow = [ \"127.0.0.1/32\" ]; },"
else
	note "::1 is not configured on lo: skipping the IPv6 checks"
fi

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
};
endpoints = (
	{ name = "mixed"; listen = [ "tcp:127.0.0.1:$P_MIXED" ]; service = "echo";
	  allow = [ "127.0.0.0/8" ]; deny = [ "127.0.0.2/32" ]; },
	{ name = "only2"; listen = [ "tcp:127.0.0.1:$P_ONLY2" ]; service = "echo";
	  allow = [ "127.0.0.2" ]; },
	{ name = "specific"; listen = [ "tcp:127.0.0.1:$P_SPECIFIC" ]; service = "echo";
	  deny = [ "127.0.0.0/8" ]; allow = [ "127.0.0.3/32" ]; },
	{ name = "tie"; listen = [ "tcp:127.0.0.1:$P_TIE" ]; service = "echo";
	  allow = [ "127.0.0.0/8", "127.0.0.0/24" ]; deny = [ "127.0.0.0/24" ]; },
	{ name = "denyonly"; listen = [ "tcp:127.0.0.1:$P_DENYONLY" ]; service = "echo";
	  deny = [ "127.0.0.2/32" ]; },$V6_ENDPOINTS$UNIX_ENDPOINTS
	{ name = "udp"; listen = [ "udp:127.0.0.1:$P_UDP" ]; service = "echo";
	  udp_guard = false; allow = [ "127.0.0.0/8" ]; deny = [ "127.0.0.2/32" ]; }
);
EOF

# served WHAT SOCAT-ADDRESS [COMMAND-PREFIX...]: an echo round trip works.
served() {
	_what=$1
	_addr=$2
	shift 2
	printf 'hello %s\n' "$_addr" >"$T/in"
	_rc=0
	timeout 15 "$@" socat -t 5 - "$_addr" <"$T/in" >"$T/got" 2>"$T/socat.err" || _rc=$?
	if [ $_rc != 0 ] || ! cmp -s "$T/in" "$T/got"; then
		fail "$_what: ${*:+$* }socat $_addr was not served (status $_rc, got '$(cat "$T/got")'; $(cat "$T/socat.err"))"
	fi
}

# refused WHAT SOCAT-ADDRESS [COMMAND-PREFIX...]: the connection is accepted
# and closed at once (EOF well before the 8 s timeout, nothing sent), and
# data sent on a second one is not echoed.
refused() {
	_what=$1
	_addr=$2
	shift 2
	_rc=0
	timeout 8 "$@" socat -u "$_addr" STDOUT </dev/null >"$T/got" 2>"$T/socat.err" || _rc=$?
	[ $_rc != 124 ] || fail "$_what: ${*:+$* }socat $_addr was not closed at once (still open after 8 s)"
	[ $_rc = 0 ] || fail "$_what: ${*:+$* }socat $_addr could not connect (status $_rc; $(cat "$T/socat.err"))"
	[ ! -s "$T/got" ] || fail "$_what: ${*:+$* }socat $_addr was refused but got '$(cat "$T/got")'"
	printf 'ping\n' >"$T/in"
	_rc=0
	timeout 15 "$@" socat -t 5 - "$_addr" <"$T/in" >"$T/got" 2>"$T/socat.err" || _rc=$?
	[ $_rc != 124 ] || fail "$_what: ${*:+$* }socat $_addr (with data) still open after 15 s"
	[ ! -s "$T/got" ] || fail "$_what: ${*:+$* }socat $_addr was refused but echoed '$(cat "$T/got")'"
}

start_sockd "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_MIXED \(mixed\)$"
expect_file_match "$SOCKD_LOG" "^sockd: listening on udp:127\.0\.0\.1:$P_UDP \(udp\)$"

# ---- allow 127/8, deny 127.0.0.2/32: the longer prefix decides.
served "mixed" "TCP:127.0.0.1:$P_MIXED,bind=127.0.0.1"
refused "mixed" "TCP:127.0.0.1:$P_MIXED,bind=127.0.0.2"
MIXED_REFUSED_AT=$(date +%s)
served "mixed" "TCP:127.0.0.1:$P_MIXED,bind=127.0.0.3"
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_MIXED" -n 20 -s 1000
# The refusal is logged with the peer's address and the reason.
wait_for_log "^sockd: endpoint mixed: refused 127\.0\.0\.2:[0-9]+ \(access denied\)$"
expect_eq "$(grep -c 'endpoint mixed: refused' "$SOCKD_LOG")" 1 \
	"refusal lines of endpoint mixed (at most one per 10 s)"

# ---- allow rules only: whatever matches none of them is refused.
served "only2" "TCP:127.0.0.1:$P_ONLY2,bind=127.0.0.2"
refused "only2" "TCP:127.0.0.1:$P_ONLY2,bind=127.0.0.1"
refused "only2" "TCP:127.0.0.1:$P_ONLY2,bind=127.0.0.3"

# ---- deny 127/8 but allow 127.0.0.3/32: the more specific allow wins.
served "specific" "TCP:127.0.0.1:$P_SPECIFIC,bind=127.0.0.3"
refused "specific" "TCP:127.0.0.1:$P_SPECIFIC,bind=127.0.0.1"
refused "specific" "TCP:127.0.0.1:$P_SPECIFIC,bind=127.0.0.2"

# ---- the same /24 in allow and deny: a tie goes to deny, while the wider
# allow (/8) still admits what the /24 does not cover.
refused "tie" "TCP:127.0.0.1:$P_TIE,bind=127.0.0.1"
refused "tie" "TCP:127.0.0.1:$P_TIE,bind=127.0.0.2"
served "tie" "TCP:127.0.0.1:$P_TIE,bind=127.0.1.1"

# ---- deny rules only: no match means allowed.
served "denyonly" "TCP:127.0.0.1:$P_DENYONLY,bind=127.0.0.1"
served "denyonly" "TCP:127.0.0.1:$P_DENYONLY,bind=127.0.0.3"
refused "denyonly" "TCP:127.0.0.1:$P_DENYONLY,bind=127.0.0.2"

# ---- UDP: a refused source gets no reply; the others still do.
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "from one" -B "127.0.0.1:$SRC_UDP" -t 5
expect_eq "$(cat "$T/out")" "from one" "udp echo to 127.0.0.1"
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "from three" -B "127.0.0.3:$SRC_UDP" -t 5
expect_eq "$(cat "$T/out")" "from three" "udp echo to 127.0.0.3"
expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "from two" -B "127.0.0.2:$SRC_UDP" -t 2
expect_rc 3 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_UDP" -m "from two again" -B "127.0.0.2:$((SRC_UDP + 1))" -t 2
expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_UDP" -s 500 -B "127.0.0.3:$((SRC_UDP + 2))" -t 10

# ---- IPv6: IPv4 rules do not admit ::1; IPv6 rules do; on a dual-stack
# socket, IPv4 clients (IPv4-mapped peers) are matched against IPv4 rules.
if [ $IPV6 = yes ]; then
	refused "v6" "TCP6:[::1]:$P_V6"
	served "v6ok" "TCP6:[::1]:$P_V6OK"
	served "dual" "TCP:127.0.0.1:$P_DUAL,bind=127.0.0.1"
	refused "dual" "TCP:127.0.0.1:$P_DUAL,bind=127.0.0.2"
	refused "dual" "TCP6:[::1]:$P_DUAL"
	wait_for_log "^sockd: endpoint v6: refused \[::1\]:[0-9]+ \(access denied\)$"
	wait_for_log "^sockd: endpoint dual: refused 127\.0\.0\.2:[0-9]+ \(access denied\)$"
fi

# ---- Unix: allow_uid/allow_gid against the peer's credentials (numbers
# here, names below).
served "uidself" "UNIX-CONNECT:$T/uidself.sock"
refused "uidother" "UNIX-CONNECT:$T/uidother.sock"
wait_for_log "^sockd: endpoint uidother: refused .* \(access denied\)$"

# Another user: every socket is mode 0666, so nobody can connect and only
# sockd refuses it.
if [ $UNIX = yes ]; then
	NOBODY="runuser -u nobody --"
	served "uid" "UNIX-CONNECT:$T/uid.sock"
	refused "uid" "UNIX-CONNECT:$T/uid.sock" $NOBODY
	served "uidnum" "UNIX-CONNECT:$T/uidnum.sock" $NOBODY
	refused "uidnum" "UNIX-CONNECT:$T/uidnum.sock"
	served "gid" "UNIX-CONNECT:$T/gid.sock" $NOBODY
	refused "gid" "UNIX-CONNECT:$T/gid.sock"
	served "gidroot" "UNIX-CONNECT:$T/gidroot.sock"
	refused "gidroot" "UNIX-CONNECT:$T/gidroot.sock" $NOBODY
	# allow_gid also admits a supplementary group of the peer (SO_PEERGROUPS).
	refused "gidsupp" "UNIX-CONNECT:$T/gidsupp.sock" $NOBODY
	served "gidsupp" "UNIX-CONNECT:$T/gidsupp.sock" runuser -u nobody -G adm --
	expect_rc 0 "$TCLIENT" echo-many -a "unix:$T/uid.sock" -n 10 -s 1000
	wait_for_log "^sockd: endpoint uid: refused .* \(access denied\)$"
fi

# ---- refusals are counted between log lines: endpoint mixed refused two
# connections of 127.0.0.2 at MIXED_REFUSED_AT and logged only the first.
# Ten seconds later the next refusal is logged with the one left unsaid.
while [ $(($(date +%s) - MIXED_REFUSED_AT)) -le 11 ]; do
	sleep 0.5
done
refused "mixed" "TCP:127.0.0.1:$P_MIXED,bind=127.0.0.2"
wait_for_log "^sockd: endpoint mixed: refused 127\.0\.0\.2:[0-9]+ \(access denied\), and 1 more since the last such line$"
expect_eq "$(grep -c 'endpoint mixed: refused' "$SOCKD_LOG")" 2 "refusal lines of endpoint mixed"

# ---- the refusals left sockd serving everyone else.
served "mixed" "TCP:127.0.0.1:$P_MIXED,bind=127.0.0.3"
expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_UDP" -s 100 -t 10
expect_stop_ok
expect_clean_log
exit 0
