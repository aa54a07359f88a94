#!/bin/sh
# daemon.inetd_conf and inetd_dir: every line form of Debian's
# openbsd-inetd is served (internal services answer real clients on their
# /etc/services ports, exec lines run /bin/cat and friends, unix paths,
# the bare "addr:" default, continuation lines, user:group, nowait.N as a
# rate); update-inetd's disabled lines are off and not mentioned; every
# line sockd cannot serve is a "file:line: why" warning that stops nothing
# (a line claiming an address of sockd.conf names both places), also with
# `sockd -n`; names in sockctl status read "echo/tcp"; a missing
# inetd_conf is a warning.
. "$(dirname "$0")/lib.sh"

is_root || skip "the internal services' ports (7, 9, 13, 19, 37) need root"
: "${SOCKCTL:=$top_builddir/src/sockctl}"

# Internal services have their /etc/services port, as in inetd: on an
# address of their own in 127/8, so that two suites do not meet.
A=127.0.36.$(($$ % 200 + 20))
P_NATIVE=$(port 1)      # sockd.conf's echo; an inetd line claims it too
P_CAT=$(port 2)         # /bin/cat as nobody:nogroup, on the default address
P_46=$(port 3)          # tcp46: one socket for both families
P_BUF=$(port 4)         # ,sndbuf=
P_CONT=$(port 5)        # an entry continued on the next lines
P_ARGV0=$(port 6)       # argv[0] apart from the program
P_DIR=$(port 7)         # from a file of inetd_dir
P_OFF=$(port 8)         # disabled by update-inetd
P_IGN=$(port 9)         # in inetd_dir files that are not read
P_MAX=$(port 10)        # nowait.2 on an exec line
P_BAD=$(port 11)        # in broken lines only
P_TAKEN=$(port 12)      # another program listens there
CONF=$T/sockd.conf
INETD=$T/inetd.conf
DIR=$T/inetd.d
CTL=$T/ctl.sock

for p in 7 9 13 19 37; do
	if ss -Htuln "( sport = :$p )" | grep -Eq "(0\.0\.0\.0|\*|\[::\]|$A):$p "; then
		skip "port $p is taken on $A or on all addresses"
	fi
done

cat >"$CONF" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; control = "$CTL";
  inetd_conf = "$INETD"; inetd_dir = "$DIR"; };
endpoints = (
  { name = "native"; listen = "tcp:127.0.0.1:$P_NATIVE"; service = "echo"; }
);
EOF

mkdir "$DIR"
# Line numbers matter: the warnings below name them.
cat >"$INETD" <<EOF
# inetd.conf for test 36 (line 1)
$A:echo	stream	tcp	nowait	root	internal
$A:echo	dgram	udp	wait	root	internal
$A:discard	stream	tcp	nowait	root	internal
$A:daytime	stream	tcp4	nowait	root	internal
$A:time	dgram	udp4	wait	root	internal
$A:chargen	stream	tcp	nowait.30	root	internal
127.0.0.1:
$P_CAT	stream	tcp	nowait	nobody:nogroup	/bin/cat
*:
127.0.0.1:$P_BUF	stream	tcp,sndbuf=64k	nowait	root	/bin/cat	cat
$T/cat.sock	stream	unix	nowait	root	/bin/cat	cat
127.0.0.1:$P_CONT	stream	tcp	nowait
	root.root	/bin/echo	echo
	continued
#<off># 127.0.0.1:$P_OFF	stream	tcp	nowait	root	/bin/cat	cat
127.0.0.1:$P_ARGV0	stream	tcp	nowait	root	/bin/cat	mycat	/proc/self/cmdline
127.0.0.1:$P_MAX	stream	tcp	nowait.2	root	/bin/echo	echo	limited
rstatd/1-3	dgram	rpc/udp	wait	root	/usr/sbin/rpc.rstatd	rpc.rstatd
tcpmux	stream	tcp	nowait	root	internal
127.0.0.1:$P_BAD	raw	tcp	nowait	root	/bin/cat
no-such-service-36	stream	tcp	nowait	root	/bin/cat
127.0.0.1:$P_BAD	stream	tcp	nowait	root	cat
127.0.0.1:$P_NATIVE	stream	tcp	nowait	root	/bin/cat	cat
127.0.0.1:$P_BAD	stream	tcp	nowiat	root	/bin/cat
127.0.0.1:$P_BAD	stream	tcp	nowait	no-such-user-36	/bin/cat
$A:echo	stream	tcp4	nowait	root	internal
127.0.0.1:$P_TAKEN	stream	tcp	nowait	root	/bin/cat	cat
EOF
if have_ipv6; then
	printf '[::1]:daytime\tstream\ttcp6\tnowait\troot\tinternal\n' >>"$INETD"
	printf '%s\tstream\ttcp46\tnowait\troot\t/bin/echo\techo\tboth\n' "$P_46" >>"$INETD"
fi
printf '127.0.0.1:%s\tstream\ttcp\tnowait\troot\t/bin/echo\techo\tfrom-dir\n' "$P_DIR" >"$DIR/mine"
# wait: the program would get the socket itself (never started here).
printf '%s\tdgram\tunix\twait\troot\t/bin/cat\tcat\n' "$T/wait.sock" >"$DIR/wait"
for f in '.hidden' 'mine~' 'mine.dpkg-old' 'mine.ucf-dist'; do
	printf '127.0.0.1:%s\tstream\ttcp\tnowait\troot\t/bin/cat\tcat\n' "$P_IGN" >"$DIR/$f"
done

HAVE_ARGV0=no
HAVE_BUF=no
"$SOCKD" --list-keys | grep -q "	argv0	" && HAVE_ARGV0=yes
"$SOCKD" --list-keys | grep -q "	sndbuf	" && HAVE_BUF=yes

# ---- sockd -n: exit 0, every skipped line named with its file:line.
expect_rc 0 "$SOCKD" -n -f "$CONF"
ERR=$T/check.err
cp "$T/err" "$ERR"
expect_line() {
	expect_file_match "$ERR" "^$INETD:$1: $2, ignoring\$" "sockd -n, line $1"
}
expect_line 19 "RPC services are not supported \\('rstatd/1-3' 'rpc/udp'\\)"
expect_line 20 "tcpmux services are not supported \\('tcpmux'\\)"
expect_line 21 "socket type 'raw' is not supported \\(stream, dgram or seqpacket\\)"
expect_line 22 "unknown service 'no-such-service-36/tcp' \\(not in /etc/services\\)"
expect_line 23 "server program 'cat' is not an absolute path"
expect_line 24 "address 'tcp:127.0.0.1:$P_NATIVE' is already used by endpoint 'native' \\($CONF:4\\)"
expect_line 25 "expected wait or nowait\\[.max\\], not 'nowiat'"
expect_line 26 ".*no-such-user-36.*"
# The same address as line 2 (tcp there: IPv4 only, for an IPv4 address).
expect_line 27 "address 'tcp:$A:7' is already used by endpoint 'echo/tcp' \\($INETD:2\\)"
if [ "$HAVE_BUF" = no ]; then
	expect_line 11 "sndbuf=65536 is not supported by this sockd"
fi
if [ "$HAVE_ARGV0" = no ]; then
	expect_line 17 "argv\\[0\\] 'mycat' apart from the program '/bin/cat' is not supported by this sockd"
fi
grep -E "^$INETD:16:|:$P_OFF|$DIR/(\\.hidden|mine~|mine\\.dpkg-old|mine\\.ucf-dist)" "$ERR" &&
	fail "a disabled line or an ignored file is mentioned"
_n=$(grep -c "^$INETD:" "$ERR")
_want=9
[ "$HAVE_BUF" = yes ] || _want=$((_want + 1))
[ "$HAVE_ARGV0" = yes ] || _want=$((_want + 1))
expect_eq "$_n" "$_want" "warnings about $INETD"

# -nv: names, the rate of nowait.N, and the file the endpoints came from.
expect_rc 0 "$SOCKD" -nv -f "$CONF"
NV=$T/nv.out
cp "$T/out" "$NV"
expect_file_match "$NV" "^  # inetd_conf = \"$INETD\";" "-nv: inetd_conf once read is a comment"
expect_file_match "$NV" "^  # from \"$INETD\"" "-nv: the file"
expect_file_match "$NV" '^  \{ name = "chargen/tcp";' "-nv: chargen/tcp"
sed -n '/^  { name = "chargen\/tcp";/,/^  }/p' "$NV" >"$T/chargen.nv"
grep -q '^    rate = 0.5;' "$T/chargen.nv" || fail "-nv: nowait.30 is not rate 0.5"
grep -q '^    burst = 30;' "$T/chargen.nv" || fail "-nv: nowait.30 is not burst 30"
if [ "$HAVE_ARGV0" = yes ]; then
	sed -n '/^  { name = "wait.sock\/unix";/,/^  }/p' "$NV" | grep -q '^    handoff = "wait";' ||
		fail "-nv: a wait line is not handoff \"wait\""
fi
if [ "$HAVE_BUF" = yes ]; then
	sed -n "/^  { name = \"$P_BUF\\/tcp\";/,/^  }/p" "$NV" | grep -q '^    sndbuf = 65536;' ||
		fail "-nv: ,sndbuf=64k is not sndbuf 65536"
fi
expect_file_match "$NV" '^  \{ name = "echo/udp";' "-nv: echo/udp"
expect_file_match "$NV" "^  \\{ name = \"$P_CAT/tcp\";" "-nv: a numeric service"
expect_file_match "$NV" '^  \{ name = "cat.sock/unix";' "-nv: a unix path"
expect_file_match "$NV" "^    user = \"nobody:nogroup\";" "-nv: user:group"
# -nv's output loads again, inetd.conf's services as sockd.conf endpoints,
# to the same endpoints.
cp "$NV" "$T/nv1.out"
expect_rc 0 "$SOCKD" -nv -f "$T/nv1.out"
grep -v '^  #' "$T/out" >"$T/nv2.out"
grep -v '^  #' "$T/nv1.out" | diff -u - "$T/nv2.out" >&2 || fail "-nv of -nv differs"

# ---- served. A line whose address another program holds is left out
# with a warning, and sockd starts all the same.
start_bg taken socat "TCP-LISTEN:$P_TAKEN,bind=127.0.0.1,reuseaddr" EXEC:/bin/true
wait_until 10 eval "ss -Htln '( sport = :$P_TAKEN )' | grep -q ." || fail "socat did not listen on $P_TAKEN"
start_sockd "$CONF"
expect_file_match "$SOCKD_LOG" "^sockd: warning: $INETD:28: endpoint $P_TAKEN/tcp is not served on tcp:127.0.0.1:$P_TAKEN: Address already in use, ignoring\$" \
	"start-up log"
expect_file_match "$SOCKD_LOG" "^sockd: warning: $INETD:19: RPC services are not supported" "start-up log"

expect_rc 0 "$TCLIENT" echo -a "tcp:$A:7" -s 65536 -t 20
expect_rc 0 "$TCLIENT" dgram -a "udp:$A:7" -m hello-36 -t 10
expect_file_match "$T/out" 'hello-36' "udp echo"
expect_rc 0 "$TCLIENT" chargen -a "tcp:$A:19" -b 10000 -t 20
printf 'dropped\n' | timeout 10 socat -u - "TCP:$A:9" || fail "discard refused the data"
expect_rc 0 timeout 10 socat -u "TCP:$A:13" -
expect_file_match "$T/out" "^[A-Z][a-z]+day, [A-Z][a-z]+ [0-9]{2}, [0-9]{4} [0-9:]{8}-[A-Z]+" "daytime"
expect_rc 0 timeout 10 rdate -p -u "$A"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_CAT" -s 4096 -t 20
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_BUF" -s 4096 -t 20
expect_rc 0 "$TCLIENT" echo -a "unix:$T/cat.sock" -s 4096 -t 20
expect_rc 0 timeout 10 socat -u "TCP:127.0.0.1:$P_CONT" -
expect_file_match "$T/out" '^continued$' "the continued entry"
expect_rc 0 timeout 10 socat -u "TCP:127.0.0.1:$P_DIR" -
expect_file_match "$T/out" '^from-dir$' "inetd_dir"
# The native endpoint keeps its address: echo, not the inetd line's cat.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_NATIVE" -s 4096 -t 20
if [ "$HAVE_ARGV0" = yes ]; then
	expect_rc 0 timeout 10 socat -u "TCP:127.0.0.1:$P_ARGV0" -
	expect_eq "$(tr '\0' ' ' <"$T/out")" "mycat /proc/self/cmdline " "argv[0] of the program"
fi
if have_ipv6; then
	expect_rc 0 timeout 10 socat -u "TCP6:[::1]:13" -
	expect_file_match "$T/out" "day, " "daytime over tcp6"
	expect_rc 0 timeout 10 socat -u "TCP6:[::1]:$P_46" -
	expect_file_match "$T/out" '^both$' "tcp46 over IPv6"
	expect_rc 0 timeout 10 socat -u "TCP4:127.0.0.1:$P_46" -
	expect_file_match "$T/out" '^both$' "tcp46 over IPv4"
fi

# nowait.2: two connections at once, the third within the minute refused.
for i in 1 2; do
	expect_rc 0 timeout 10 socat -u "TCP:127.0.0.1:$P_MAX" -
	expect_file_match "$T/out" '^limited$' "nowait.2, connection $i"
done
timeout 10 socat -u "TCP:127.0.0.1:$P_MAX" - >"$T/third" 2>&1 || :
grep -q limited "$T/third" && fail "nowait.2: a third connection within a minute was served"

# Not served: the disabled line, files of inetd_dir that do not count.
for p in "$P_OFF" "$P_IGN" "$P_BAD"; do
	if ss -Htln "( sport = :$p )" | grep -q .; then
		fail "port $p is listened on: $(ss -Htlnp "( sport = :$p )")"
	fi
done

# sockctl status: the names an operator recognises.
expect_rc 0 "$SOCKCTL" -S "$CTL" status
for n in echo/tcp echo/udp discard/tcp daytime/tcp4 time/udp4 chargen/tcp "$P_CAT/tcp" cat.sock/unix \
    mine; do
	case $n in
	mine) n=$P_DIR/tcp ;;
	esac
	grep -q -- "$n" "$T/out" || fail "sockctl status has no '$n': $(cat "$T/out")"
done
expect_stop_ok

# ---- A missing inetd_conf is a warning; sockd.conf's endpoints are served.
sed "s|inetd_conf = \"$INETD\"|inetd_conf = \"$T/none.conf\"|" "$CONF" >"$T/missing.conf"
expect_rc 0 "$SOCKD" -n -f "$T/missing.conf"
expect_file_match "$T/err" "^$T/none.conf: cannot read: No such file or directory, ignoring\$" "missing inetd_conf"
