#!/bin/sh
# sockd --convert (issue 16, Migration): inetd.conf lines and xinetd.d files
# become sockd.conf endpoints. The output passes sockd -n, names every key
# it does not translate in a comment with its file:line, and serves: the
# converted internal services, programs (server_args, env, NAMEINARGS'
# argv[0]) and only_from/no_access answer real clients as under xinetd,
# which serves the same files first as the reference (when installed).
# Bad inputs (missing, FIFO, directory of junk, binary garbage, too large)
# give a clear message and a defined exit status.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "socat is not installed"
FIX=$top_srcdir/tests/integration/convert
XD=$FIX/xinetd.d

# has FILE TEXT [WHAT]: FILE holds TEXT as a fixed string.
has() {
	grep -qF -- "$2" "$1" || {
		echo "--- $1:" >&2
		cat "$1" >&2
		fail "${3:-$1}: no line holds '$2'"
	}
}

lacks() {
	! grep -qF -- "$2" "$1" || fail "${3:-$1}: a line holds '$2'"
}

# ------------------------------------------------ 1. Debian-style files

# xinetd.d as a directory: includedir rules (no file with a '.' or a final
# '~'), one endpoint per service, comments for the rest.
expect_rc 0 "$SOCKD" --convert xinetd "$XD"
cp "$T/out" "$T/xd.conf"
cp "$T/err" "$T/xd.err"
expect_rc 0 "$SOCKD" -n -f "$T/xd.conf"
C=$T/xd.conf
has "$C" '		name = "echo-stream";'
has "$C" '		listen = [ "tcp:127.0.0.1:7" ];'
has "$C" '		allow = [ "127.0.0.1/32" ];'
# disable = yes: written commented out, with the line that said so.
has "$C" '	#	name = "echo-dgram";'
has "$C" "# $XD/echo:21: disabled: written commented out"
# A program with arguments, limits and an environment. It is live when
# rsync is installed here, else commented out with the loader's reason: the
# keys are the same either way (N: the output with those lines uncommented).
N=$T/xd.norm
sed 's/^	#	/		/' "$C" >"$N"
if [ -x /usr/bin/rsync ]; then
	has "$C" '		command = [ "/usr/bin/rsync", "--daemon", "--config=/etc/rsyncd.conf" ];'
else
	has "$C" "	# sockd -n: command '/usr/bin/rsync': No such file or directory"
	has "$C" '	#	command = [ "/usr/bin/rsync", "--daemon", "--config=/etc/rsyncd.conf" ];'
fi
has "$N" '		command = [ "/usr/bin/rsync", "--daemon", "--config=/etc/rsyncd.conf" ];'
has "$N" '		listen = [ "tcp:[::]:873" ];'
has "$N" '		instances = 20;'
has "$N" '		max_per_source = 5;'
has "$N" '		rate = 50.0;'
has "$N" '		burst = 50;'
has "$N" '		env = [ "HOME=/srv/rsync", "LANG=C" ];'
has "$N" '		nice = 5;'
# What does not translate, each with its file:line.
has "$C" "# $XD/rsync:14: cps = 50 10: rate 50 a second"
has "$C" "# $XD/rsync:16: passenv TZ: not translated"
has "$C" "# $XD/rsync:17: log_on_success = PID HOST DURATION: not translated"
has "$C" "# $XD/rsync:18: log_on_failure = USERID: not translated"
has "$C" "# $XD/rsync:20: banner = /etc/issue.net: not translated"
has "$C" "# $XD/rsync:21: frobnicate = 12: not translated (not an xinetd attribute either"
# NAMEINARGS with tcpd: the program, and argv[0] apart; a no_access host
# name sockd cannot match keeps it commented out.
has "$C" '	#	command = [ "/usr/sbin/tcpd", "-w" ];'
has "$C" '	#	argv0 = "/usr/sbin/in.fingerd";'
has "$C" "# $XD/finger:9: no_access badhost.example.com: not translated"
# flags KEEPALIVE is the endpoint's keepalive (issue 17's socket options).
has "$C" '	#	keepalive = true;'
# xinetd's address forms.
has "$C" '		allow = [ "10.0.0.0/8", "192.168.1.5/32", "192.168.1.6/32", "127.0.0.0/8" ];'
has "$C" '		deny = [ "10.1.0.0/16" ];'
# udp wait: the program takes the clients, so only_from cannot be checked
# by sockd: commented out, with the reason.
has "$C" '	#	listen = [ "udp:[::]:69" ];'
has "$C" '	#	handoff = "wait";'
has "$C" "# $XD/tftp:9: only_from: not translated: with handoff \"wait\" the program takes the clients"
# RPC: not converted, said at the top and on stderr.
has "$C" "# $XD/rpc:3: service rstatd: not converted: RPC services are not supported"
has "$T/xd.err" "sockd: warning: $XD/rpc:3: service rstatd: RPC services are not supported, skipped"
lacks "$C" "README"
lacks "$C" "echo~"

# xinetd.conf with defaults and an includedir: inherited values are named
# where the defaults set them.
cat >"$T/xinetd.conf" <<EOF
defaults
{
	instances	= 60
	log_type	= SYSLOG daemon info
	only_from	= 127.0.0.1
}

includedir $XD
EOF
expect_rc 0 "$SOCKD" --convert xinetd "$T/xinetd.conf"
cp "$T/out" "$T/xc.conf"
expect_rc 0 "$SOCKD" -n -f "$T/xc.conf"
has "$T/xc.conf" "# $T/xinetd.conf:4: defaults: log_type = SYSLOG daemon info: not translated"
has "$T/xc.conf" '		allow = [ "127.0.0.1/32" ];'
# rsync sets its own instances; finger (commented out) takes the defaults'.
sed 's/^	#	/		/' "$T/xc.conf" >"$T/xc.norm"
has "$T/xc.norm" '		instances = 20;'
has "$T/xc.conf" '	#	instances = 60;'

# inetd.conf: every line form the parser takes, disabled and broken lines.
expect_rc 0 "$SOCKD" --convert inetd "$FIX/inetd.conf"
cp "$T/out" "$T/in.conf"
cp "$T/err" "$T/in.err"
expect_rc 0 "$SOCKD" -n -f "$T/in.conf"
C=$T/in.conf
I=$FIX/inetd.conf
has "$C" '		name = "echo/tcp4";'
has "$C" '		listen = [ "tcp:0.0.0.0:7" ];'
has "$C" '		listen = [ "udp:0.0.0.0:7" ];'
has "$C" '		listen = [ "tcp:127.0.0.1:13" ];'
has "$C" '		command = [ "/usr/bin/printf", "hello\\n" ];'
has "$C" '		rate = 2.0;'
has "$C" '		burst = 120;'
has "$C" '	#	name = "time/tcp";'
has "$C" "# $I:9: disabled by update-inetd (#<off>#): written commented out"
has "$C" "# $I:12: not converted: RPC services are not supported"
has "$C" "# $I:13: not converted: unknown service 'nosuchservice/tcp'"
has "$C" "# $I:14: not converted: expected at least 6 fields"
has "$T/in.err" "sockd: warning: $I:14: expected at least 6 fields"
# The tcpd line: argv[0] apart from the program, or why not.
grep -qE "argv0 = \"/usr/sbin/in.fingerd\";|# $I:8: .*argv\[0\]" "$C" ||
	fail "$C: the tcpd line has neither argv0 nor a reason"

# ------------------------------------------------ 2. bad inputs

expect_rc 1 "$SOCKD" --convert inetd "$T/missing.conf"
expect_file_match "$T/err" "^sockd: --convert: $T/missing.conf: No such file or directory$"
expect_rc 1 "$SOCKD" --convert xinetd "$T/missing.d"
expect_file_match "$T/err" "$T/missing.d: No such file or directory$"
expect_rc 1 "$SOCKD" --convert inetd "$T"
expect_file_match "$T/err" "Is a directory"
mkfifo "$T/fifo"
expect_rc 1 timeout 10 "$SOCKD" --convert inetd "$T/fifo"
expect_file_match "$T/err" "$T/fifo: not a regular file$"
expect_rc 1 timeout 10 "$SOCKD" --convert xinetd "$T/fifo"
head -c 1100000 /dev/zero | tr '\0' '#' >"$T/big.conf"
expect_rc 1 "$SOCKD" --convert inetd "$T/big.conf"
expect_file_match "$T/err" "big.conf: larger than 1 MiB$"
expect_rc 64 "$SOCKD" --convert nosuch "$FIX/inetd.conf"
expect_file_match "$T/err" "unknown kind 'nosuch'"
expect_rc 64 "$SOCKD" --convert inetd
expect_rc 64 "$SOCKD" --convert inetd "$FIX/inetd.conf" extra

# Binary garbage: NUL and control bytes, bytes >= 0x80, braces; a fixed
# part and a random part. Nothing converts: exit 78, said once.
printf 'service \001x\n{\n\000\377}\nstream\000tcp\n' >"$T/garbage"
head -c 65536 /dev/urandom >>"$T/garbage"
for kind in inetd xinetd; do
	expect_rc 78 "$SOCKD" --convert $kind "$T/garbage"
	expect_file_match "$T/err" "no $kind service could be converted$"
	[ ! -s "$T/out" ] || fail "--convert $kind of garbage printed a configuration"
done

# A directory of junk: binary and broken files, a subdirectory, a FIFO;
# with one good service among them, that one converts.
mkdir "$T/junk" "$T/junk/sub"
cp "$T/garbage" "$T/junk/garbage"
printf 'service broken\n{\n\tsocket_type = stream\n' >"$T/junk/broken"
printf 'service x\n{\n}\n' >"$T/junk/sub/x"
mkfifo "$T/junk/pipe"
expect_rc 78 timeout 10 "$SOCKD" --convert xinetd "$T/junk"
printf 'service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n}\n' >"$T/junk/good"
expect_rc 0 timeout 10 "$SOCKD" --convert xinetd "$T/junk"
cp "$T/out" "$T/junk.conf"
expect_rc 0 "$SOCKD" -n -f "$T/junk.conf"
has "$T/junk.conf" '		service = "echo";'
has "$T/junk.conf" "# $T/junk/broken:1: service broken: not converted: no '}' before the end of the file"

# ------------------------------------------------ 3. converted, then served

P_ECHO=$(port 1)        # echo, tcp and udp
P_ONLY=$(port 2)        # echo, only_from = 127.0.0.2
P_DENY=$(port 3)        # echo, only_from = 127.0.0.0, no_access = 127.0.0.{3,4}
P_ENV=$(port 4)         # /usr/bin/env, with env and passenv
P_ARGV0=$(port 5)       # NAMEINARGS: cat /proc/self/cmdline as in.fingerd
P_OFF=$(port 6)         # disable = yes
P_WAIT=$(port 7)        # a udp wait program
P_INETD=$(port 8)       # inetd.conf: printf
SRC=$(port 50)          # source ports of the udp clients
ME=$(id -un)

mkdir "$T/xd" "$T/conf.d"
cat >"$T/xd/echo" <<EOF
service echo
{
	type		= INTERNAL UNLISTED
	id		= echo-stream
	port		= $P_ECHO
	socket_type	= stream
	wait		= no
	bind		= 127.0.0.1
}
service echo
{
	type		= INTERNAL UNLISTED
	id		= echo-dgram
	port		= $P_ECHO
	socket_type	= dgram
	wait		= yes
	bind		= 127.0.0.1
}
EOF
cat >"$T/xd/access" <<EOF
service echo
{
	type		= INTERNAL UNLISTED
	id		= echo-only
	port		= $P_ONLY
	socket_type	= stream
	wait		= no
	bind		= 127.0.0.1
	only_from	= 127.0.0.2
}
service echo
{
	type		= INTERNAL UNLISTED
	id		= echo-deny
	port		= $P_DENY
	socket_type	= stream
	wait		= no
	bind		= 127.0.0.1
	only_from	= 127.0.0.0
	no_access	= 127.0.0.{3,4}
}
service echo
{
	type		= INTERNAL UNLISTED
	id		= echo-off
	port		= $P_OFF
	socket_type	= stream
	wait		= no
	bind		= 127.0.0.1
	disable		= yes
}
EOF
cat >"$T/xd/env" <<EOF
service env
{
	type		= UNLISTED
	port		= $P_ENV
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= $ME
	bind		= 127.0.0.1
	server		= /usr/bin/env
	env		= GREETING=world
	passenv		= PATH
	per_source	= 4
	cps		= 20 5
	instances	= 8
	flags		= IPv4 REUSE
	frobnicate	= 1
}
EOF
cat >"$T/xd/argv0" <<EOF
service cmdline
{
	type		= UNLISTED
	port		= $P_ARGV0
	socket_type	= stream
	wait		= no
	user		= $ME
	bind		= 127.0.0.1
	server		= /bin/cat
	server_args	= in.fingerd /proc/self/cmdline
	flags		= NAMEINARGS
}
EOF
# A datagram program of the inetd wait kind: it reads from the socket it
# was given and answers each datagram until idle.
cat >"$T/udpwait.py" <<'EOF'
import socket
s = socket.socket(fileno=0)
s.settimeout(2)
try:
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(b"wait:" + data, peer)
except socket.timeout:
    pass
finally:
    s.detach()
EOF
cat >"$T/xd/udpwait" <<EOF
service udpwait
{
	type		= UNLISTED
	port		= $P_WAIT
	socket_type	= dgram
	wait		= yes
	user		= $ME
	bind		= 127.0.0.1
	server		= /usr/bin/python3
	server_args	= $T/udpwait.py
}
EOF
printf '127.0.0.1:%s\tstream\ttcp4\tnowait\t%s\t/usr/bin/printf\tprintf inetd-%%s\\n works\n' \
	"$P_INETD" "$ME" >"$T/inetd.conf"
printf '%s/inetd.sock\tstream\tunix\tnowait\t%s\t/usr/bin/printf\tprintf unix-%%s\\n ok\n' \
	"$T" "$ME" >>"$T/inetd.conf"

expect_rc 0 "$SOCKD" --convert xinetd "$T/xd"
cp "$T/out" "$T/conf.d/xinetd.conf"
expect_rc 0 "$SOCKD" --convert inetd "$T/inetd.conf"
cp "$T/out" "$T/conf.d/inetd.conf"
has "$T/conf.d/inetd.conf" '		command = [ "/usr/bin/printf", "inetd-%s\\n", "works" ];'
has "$T/conf.d/xinetd.conf" "# $T/xd/env:17: frobnicate = 1: not translated"
has "$T/conf.d/xinetd.conf" "# $T/xd/env:12: passenv PATH: sockd gives programs a default PATH"
has "$T/conf.d/xinetd.conf" '		argv0 = "in.fingerd";'
cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
	include_dir = "$T/conf.d";
};
endpoints = ();
EOF
expect_rc 0 "$SOCKD" -n -f "$T/sockd.conf"

WAIT=no
if grep -qF '		handoff = "wait";' "$T/conf.d/xinetd.conf"; then
	WAIT=yes
else
	# This build cannot hand a program its socket: the service is
	# written commented out, with the reason.
	has "$T/conf.d/xinetd.conf" '	#	name = "udpwait";'
	note "the udp wait service is not served here (see its comment): not checked"
fi

# The access matrix of the converted only_from/no_access services: one
# line per port and client address, "served" or "refused".
access_matrix() {
	for _p in $P_ONLY $P_DENY; do
		for _b in 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.1.9; do
			_got=$(echo "probe" | timeout 10 socat -t 3 - "TCP:127.0.0.1:$_p,bind=$_b" 2>/dev/null) || :
			[ "$_got" = probe ] && echo "$_p $_b served" || echo "$_p $_b refused"
		done
	done
}

# The same files under the real xinetd, as the reference: the converted
# endpoints must let in exactly whom xinetd lets in.
XINETD=no
if command -v xinetd >/dev/null && is_root; then
	XINETD=yes
	printf 'includedir %s\n' "$T/xd" >"$T/xinetd-ref.conf"
	start_bg xinetd xinetd -dontfork -f "$T/xinetd-ref.conf" -pidfile "$T/xinetd.pid"
	XINETD_PID=$BG_PID
	wait_until 10 sh -c "ss -ltnH 'sport = :$P_DENY' | grep -q ." ||
		fail "xinetd did not listen on $P_DENY: $(cat "$T/xinetd.err")"
	access_matrix >"$T/matrix.xinetd"
	kill -TERM "$XINETD_PID"
	wait_bg "$XINETD_PID" 20 || :
	wait_until 10 sh -c "! ss -ltnH 'sport = :$P_DENY or sport = :$P_ONLY' | grep -q ." ||
		fail "xinetd's sockets are still open"
else
	note "no xinetd, or not root: the comparison with xinetd is skipped"
fi

start_sockd "$T/sockd.conf"

served() {
	printf 'hello %s\n' "$2" >"$T/in"
	_rc=0
	timeout 15 socat -t 5 - "$2" <"$T/in" >"$T/got" 2>"$T/socat.err" || _rc=$?
	[ $_rc = 0 ] && cmp -s "$T/in" "$T/got" ||
		fail "$1: socat $2 was not echoed (status $_rc, got '$(cat "$T/got")'; $(cat "$T/socat.err"))"
}

# Accepted and closed at once, nothing sent back.
refused() {
	printf 'ping\n' >"$T/in"
	_rc=0
	timeout 15 socat -t 5 - "$2" <"$T/in" >"$T/got" 2>"$T/socat.err" || _rc=$?
	[ $_rc != 124 ] || fail "$1: socat $2 still open after 15 s"
	[ ! -s "$T/got" ] || fail "$1: socat $2 should be refused but got '$(cat "$T/got")'"
}

# reply WHAT SOCAT-ADDRESS: what the program sends, NULs as spaces.
reply() {
	_rc=0
	timeout 15 socat -t 5 -u "$2" STDOUT </dev/null >"$T/got" 2>"$T/socat.err" || _rc=$?
	[ $_rc = 0 ] || fail "$1: socat $2 failed (status $_rc; $(cat "$T/socat.err"))"
	tr '\0' ' ' <"$T/got"
}

# Internal services, tcp and udp.
served echo "TCP:127.0.0.1:$P_ECHO"
expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_ECHO" -m "converted udp" -B "127.0.0.1:$SRC" -t 5
expect_eq "$(cat "$T/out")" "converted udp" "udp echo"

# only_from and no_access, from different addresses of 127/8.
served only_from "TCP:127.0.0.1:$P_ONLY,bind=127.0.0.2"
refused only_from "TCP:127.0.0.1:$P_ONLY,bind=127.0.0.1"
refused only_from "TCP:127.0.0.1:$P_ONLY,bind=127.0.0.3"
served no_access "TCP:127.0.0.1:$P_DENY,bind=127.0.0.1"
served no_access "TCP:127.0.0.1:$P_DENY,bind=127.0.0.5"
refused no_access "TCP:127.0.0.1:$P_DENY,bind=127.0.0.3"
refused no_access "TCP:127.0.0.1:$P_DENY,bind=127.0.0.4"
wait_for_log "endpoint echo-only: refused 127\.0\.0\.1:[0-9]+ \(access denied\)"
if [ $XINETD = yes ]; then
	access_matrix >"$T/matrix.sockd"
	diff -u "$T/matrix.xinetd" "$T/matrix.sockd" >&2 ||
		fail "the converted endpoints admit other clients than xinetd does"
	expect_eq "$(grep -c served "$T/matrix.sockd")" 4 "clients served in the matrix"
fi

# disable = yes: nothing listens.
if timeout 10 socat -u "TCP:127.0.0.1:$P_OFF" STDOUT </dev/null >/dev/null 2>&1; then
	fail "the disabled service answers on port $P_OFF"
fi

# A program, its env, and what sockd tells it of the client.
got=$(reply env "TCP:127.0.0.1:$P_ENV")
expect_match "$got" "(^| )GREETING=world( |$)" "env of the program"
printf '%s\n' "$got" >"$T/env.out"
expect_file_match "$T/env.out" "^TCPREMOTEIP=127\.0\.0\.1$"
expect_file_match "$T/env.out" "^PATH="

# NAMEINARGS: the program runs with argv[0] from server_args.
got=$(reply argv0 "TCP:127.0.0.1:$P_ARGV0")
expect_eq "$got" "in.fingerd /proc/self/cmdline " "argv of the NAMEINARGS program"

# inetd.conf programs, tcp and unix.
expect_eq "$(reply inetd "TCP:127.0.0.1:$P_INETD")" "inetd-works" "inetd.conf printf"
expect_eq "$(reply inetd-unix "UNIX-CONNECT:$T/inetd.sock")" "unix-ok" "inetd.conf unix printf"

if [ $WAIT = yes ]; then
	expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_WAIT" -m "one" -B "127.0.0.1:$((SRC + 1))" -t 10
	expect_eq "$(cat "$T/out")" "wait:one" "udp wait program"
	expect_rc 0 "$TCLIENT" dgram -a "udp:127.0.0.1:$P_WAIT" -m "two" -B "127.0.0.1:$((SRC + 2))" -t 10
	expect_eq "$(cat "$T/out")" "wait:two" "udp wait program, again"
fi

expect_stop_ok
