#!/bin/sh
# service "exec": one program per connection with the socket on its stdin
# and stdout. Its environment (ucspi-tcp/systemd variables over TCP and Unix,
# the configured env, nothing of sockd's own), its open fds, signal mask and
# dispositions; stderr into sockd's log and never to the client; user,
# umask, nice and rlimit; the instances limit; a binary gone at runtime;
# programs that exit at once; 200 short-lived children (all reaped, no fd
# left behind); shutdown: SIGTERM, then SIGKILL after shutdown_timeout.

# Start from a clean fd table: whatever the caller left open (make, a CI
# runner, a terminal multiplexer) would reach sockd and its children, and
# this test is about the fds sockd itself opens. Linux only, like sockd.
if [ -z "${SOCKD_TEST_FDS_CLOSED:-}" ] && command -v perl >/dev/null 2>&1; then
	SOCKD_TEST_FDS_CLOSED=1
	export SOCKD_TEST_FDS_CLOSED
	exec perl -e '
		use POSIX ();
		opendir(my $d, "/proc/self/fd") or die "/proc/self/fd: $!\n";
		my @fds = grep { /^\d+$/ && $_ > 2 } readdir($d);
		closedir($d);
		POSIX::close($_) for @fds;
		exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n";' /bin/sh "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"

P_ENV=$(port 1)         # env.sh
P_PATHENV=$(port 2)     # env.sh with PATH configured
P_FDS=$(port 3)         # fds.sh
P_ERR=$(port 4)         # stderr.sh
P_USER=$(port 5)        # id.sh as nobody
P_USERGRP=$(port 6)     # id.sh as nobody:daemon
P_LIMITS=$(port 7)      # limits.sh: umask, nice, nofile
P_INST=$(port 8)        # hold.sh, instances = 2
P_GONE=$(port 9)        # gone.sh, deleted before use
P_QUICK=$(port 10)      # /bin/echo hi
P_TRUE=$(port 11)       # /bin/true
P_FALSE=$(port 12)      # /bin/false
P_CAT=$(port 13)        # /bin/cat: an echo through a program
P_TERM=$(port 14)       # stubborn.sh: ignores SIGTERM
P_ENV6=$(port 15)       # env.sh on [::1]
P_DUAL=$(port 16)       # env.sh on [::] (IPv4 clients are v4-mapped there)
P_SIG=$(port 17)        # grep: the signal mask and dispositions it starts with

DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

NOBODY=no
if ! is_root; then
	note "not root: skipping the user, UNIXREMOTEUID-as-nobody and group checks"
elif ! getent passwd nobody >/dev/null || ! getent group daemon >/dev/null; then
	note "no user nobody or group daemon: skipping the user checks"
elif ! command -v runuser >/dev/null; then
	note "no runuser: skipping the user checks"
else
	NOBODY=yes
	NOBODY_UID=$(id -u nobody)
	NOBODY_GID=$(id -g nobody)
	DAEMON_GID=$(getent group daemon | cut -d: -f3)
	# nobody must reach the Unix socket and run the scripts.
	chmod 0711 "$T"
fi

# ---- the programs
cat >"$T/env.sh" <<'EOF'
#!/bin/sh
# The environment exactly as execve() gave it (the shell adds PWD to what
# it passes on), then a marker line.
tr '\0' '\n' </proc/$$/environ
echo "--end--"
EOF
cat >"$T/fds.sh" <<'EOF'
#!/bin/sh
# ls -l of its own fds (the directory it reads among them), straight to
# the client.
exec ls -l /proc/self/fd
EOF
cat >"$T/stderr.sh" <<'EOF'
#!/bin/sh
echo "diagnostic-for-the-log-$$" >&2
echo visible
echo "more-diagnostics" >&2
EOF
cat >"$T/id.sh" <<'EOF'
#!/bin/sh
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
EOF
cat >"$T/limits.sh" <<'EOF'
#!/bin/sh
echo "umask=$(umask) nofile=$(ulimit -n) nice=$(cut -d' ' -f19 /proc/$$/stat)"
EOF
cat >"$T/hold.sh" <<'EOF'
#!/bin/sh
echo "started $$"
exec cat >/dev/null
EOF
cat >"$T/stubborn.sh" <<'EOF'
#!/bin/sh
# SIG_IGN survives execve: sleep itself ignores SIGTERM.
trap '' TERM
echo "started $$"
exec sleep 60
EOF
printf '#!/bin/sh\necho gone-but-back\n' >"$T/gone.sh"
chmod 0755 "$T"/*.sh

V6_ENDPOINTS=
if have_ipv6; then
	V6_ENDPOINTS="
	{ name = \"env6\"; listen = [ \"tcp:[::1]:$P_ENV6\" ]; service = \"exec\";
	  command = [ \"$T/env.sh\" ]; },
	{ name = \"dual\"; listen = [ \"tcp:[::]:$P_DUAL\" ]; service = \"exec\";
	  command = [ \"$T/env.sh\" ]; },"
else
	note "::1 is not configured on lo: skipping the IPv6 checks"
fi
USER_ENDPOINTS=
if [ $NOBODY = yes ]; then
	USER_ENDPOINTS="
	{ name = \"user\"; listen = [ \"tcp:127.0.0.1:$P_USER\" ]; service = \"exec\";
	  command = [ \"$T/id.sh\" ]; user = \"nobody\"; },
	{ name = \"usergrp\"; listen = [ \"tcp:127.0.0.1:$P_USERGRP\" ]; service = \"exec\";
	  command = [ \"$T/id.sh\" ]; user = \"nobody:daemon\"; },"
fi

cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 1.0;
};
endpoints = (
	{ name = "env"; listen = [ "tcp:127.0.0.1:$P_ENV" ]; service = "exec";
	  command = [ "$T/env.sh" ];
	  env = [ "GREETING=hello world", "EMPTY=" ]; },
	{ name = "envunix"; listen = [ "unix:$T/env.sock" ]; service = "exec"; mode = "0666";
	  command = [ "$T/env.sh" ]; },
	{ name = "pathenv"; listen = [ "tcp:127.0.0.1:$P_PATHENV" ]; service = "exec";
	  command = [ "$T/env.sh" ]; env = [ "PATH=/usr/bin:/bin:$T" ]; },
	{ name = "fds"; listen = [ "tcp:127.0.0.1:$P_FDS" ]; service = "exec";
	  command = [ "$T/fds.sh" ]; },
	{ name = "sig"; listen = [ "tcp:127.0.0.1:$P_SIG" ]; service = "exec";
	  command = [ "/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status" ]; },
	{ name = "stderr"; listen = [ "tcp:127.0.0.1:$P_ERR" ]; service = "exec";
	  command = [ "$T/stderr.sh" ]; },$USER_ENDPOINTS$V6_ENDPOINTS
	{ name = "limits"; listen = [ "tcp:127.0.0.1:$P_LIMITS" ]; service = "exec";
	  command = [ "$T/limits.sh" ]; umask = "0027"; nice = 7; rlimit = { nofile = 64; }; },
	{ name = "inst"; listen = [ "tcp:127.0.0.1:$P_INST" ]; service = "exec";
	  command = [ "$T/hold.sh" ]; instances = 2; },
	{ name = "gone"; listen = [ "tcp:127.0.0.1:$P_GONE" ]; service = "exec";
	  command = [ "$T/gone.sh" ]; },
	{ name = "quick"; listen = [ "tcp:127.0.0.1:$P_QUICK" ]; service = "exec";
	  command = [ "/bin/echo", "hi" ]; },
	{ name = "true"; listen = [ "tcp:127.0.0.1:$P_TRUE" ]; service = "exec";
	  command = [ "/bin/true" ]; },
	{ name = "false"; listen = [ "tcp:127.0.0.1:$P_FALSE" ]; service = "exec";
	  command = [ "/bin/false" ]; },
	{ name = "cat"; listen = [ "tcp:127.0.0.1:$P_CAT", "unix:$T/cat.sock" ]; service = "exec";
	  command = [ "/bin/cat" ]; },
	{ name = "term"; listen = [ "tcp:127.0.0.1:$P_TERM" ]; service = "exec";
	  command = [ "$T/stubborn.sh" ]; }
);
EOF

# fetch NAME SOCAT-ADDRESS [COMMAND-PREFIX...]: read what the program
# writes until it closes the connection (nothing is sent to it) into
# $T/NAME.got; fail unless that ends well within the time limit.
fetch() {
	_name=$1
	_addr=$2
	shift 2
	_rc=0
	timeout 20 "$@" socat -d -d -u "$_addr" STDOUT >"$T/$_name.got" 2>"$T/$_name.err" || _rc=$?
	[ $_rc = 0 ] || fail "$_name: ${*:+$* }socat $_addr: status $_rc ($(grep ' [EW] ' "$T/$_name.err"))"
}

# client_port NAME: the local port of the TCP client of fetch NAME (the
# kernel picks it: a fixed one could be in TIME_WAIT from an earlier run).
client_port() {
	_port=$(sed -n 's/.*successfully connected from local address AF=[0-9]* .*:\([0-9][0-9]*\)$/\1/p' "$T/$1.err" | head -n 1)
	[ -n "$_port" ] || fail "$1: socat did not say its local port: $(cat "$T/$1.err")"
	echo "$_port"
}

# env_of NAME VAR: the value of VAR in $T/NAME.got ("<unset>" if absent).
env_of() {
	if grep -q "^$2=" "$T/$1.got"; then
		sed -n "s/^$2=//p" "$T/$1.got" | head -n 1
	else
		echo "<unset>"
	fi
}

# expect_env_names NAME LIST: exactly these variables, each once.
expect_env_names() {
	grep -q '^--end--$' "$T/$1.got" || fail "$1: the program's output is cut short: $(cat "$T/$1.got")"
	_got=$(sed -n '/^--end--$/q; s/=.*//p' "$T/$1.got" | sort | tr '\n' ' ')
	_want=$(printf '%s\n' $2 | sort | tr '\n' ' ')
	expect_eq "$_got" "$_want" "$1: the variables in the program's environment"
}

# Anything of sockd's own environment would show up in its children.
SOCKD_TEST_MARKER=must-not-leak
LISTEN_FDS=7
LISTEN_PID=1
export SOCKD_TEST_MARKER LISTEN_FDS LISTEN_PID
# ... and so would an fd it inherited (a make jobserver pipe, a terminal).
exec 7>"$T/inherited-fd"
start_sockd "$T/sockd.conf"
exec 7>&-
unset LISTEN_FDS LISTEN_PID
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_ENV \(env\)$"

# ---- TCP environment: who connected, from where, to where.
fetch env "TCP:127.0.0.1:$P_ENV,bind=127.0.0.2"
SRC=$(client_port env)
expect_env_names env "PROTO TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT REMOTE_ADDR REMOTE_PORT PATH GREETING EMPTY"
expect_eq "$(env_of env PROTO)" TCP "PROTO over TCP"
expect_eq "$(env_of env TCPREMOTEIP)" 127.0.0.2 "TCPREMOTEIP"
expect_eq "$(env_of env TCPREMOTEPORT)" "$SRC" "TCPREMOTEPORT"
expect_eq "$(env_of env REMOTE_ADDR)" 127.0.0.2 "REMOTE_ADDR"
expect_eq "$(env_of env REMOTE_PORT)" "$SRC" "REMOTE_PORT"
expect_eq "$(env_of env TCPLOCALIP)" 127.0.0.1 "TCPLOCALIP"
expect_eq "$(env_of env TCPLOCALPORT)" "$P_ENV" "TCPLOCALPORT"
expect_eq "$(env_of env PATH)" "$DEFAULT_PATH" "the default PATH"
expect_eq "$(env_of env GREETING)" "hello world" "configured env GREETING"
expect_eq "$(env_of env EMPTY)" "" "configured env EMPTY"
for v in NOTIFY_SOCKET LISTEN_FDS LISTEN_PID SOCKD_TEST_MARKER LC_ALL HOME; do
	expect_eq "$(env_of env $v)" "<unset>" "$v in the program's environment (sockd's own)"
done

# A configured PATH replaces the default one; it is there once.
fetch pathenv "TCP:127.0.0.1:$P_PATHENV"
expect_env_names pathenv "PROTO TCPREMOTEIP TCPREMOTEPORT TCPLOCALIP TCPLOCALPORT REMOTE_ADDR REMOTE_PORT PATH"
expect_eq "$(env_of pathenv PATH)" "/usr/bin:/bin:$T" "the configured PATH"
expect_eq "$(env_of pathenv TCPREMOTEIP)" 127.0.0.1 "TCPREMOTEIP from 127.0.0.1"

if have_ipv6; then
	fetch env6 "TCP6:[::1]:$P_ENV6"
	expect_eq "$(env_of env6 TCPREMOTEIP)" ::1 "TCPREMOTEIP over IPv6"
	expect_eq "$(env_of env6 TCPLOCALIP)" ::1 "TCPLOCALIP over IPv6"
	expect_eq "$(env_of env6 TCPLOCALPORT)" "$P_ENV6" "TCPLOCALPORT over IPv6"
	# A dual-stack socket sees ::ffff:127.0.0.3; programs get the IPv4 form.
	fetch dual "TCP:127.0.0.1:$P_DUAL,bind=127.0.0.3"
	expect_eq "$(env_of dual TCPREMOTEIP)" 127.0.0.3 "TCPREMOTEIP of an IPv4 client on [::]"
	expect_eq "$(env_of dual TCPREMOTEPORT)" "$(client_port dual)" "TCPREMOTEPORT of an IPv4 client on [::]"
	expect_eq "$(env_of dual TCPLOCALIP)" 127.0.0.1 "TCPLOCALIP of an IPv4 client on [::]"
fi

# ---- Unix environment: the peer's credentials (SO_PEERCRED).
start_bg unixenv socat -u "UNIX-CONNECT:$T/env.sock" STDOUT
UNIX_CLIENT=$BG_PID
wait_bg "$UNIX_CLIENT" 20 || fail "socat to $T/env.sock failed: $(cat "$T/unixenv.err")"
cp "$T/unixenv.out" "$T/unixenv.got"
expect_env_names unixenv "PROTO UNIXREMOTEUID UNIXREMOTEGID UNIXREMOTEPID PATH"
expect_eq "$(env_of unixenv PROTO)" UNIX "PROTO over a Unix socket"
expect_eq "$(env_of unixenv UNIXREMOTEUID)" "$(id -u)" "UNIXREMOTEUID"
expect_eq "$(env_of unixenv UNIXREMOTEGID)" "$(id -g)" "UNIXREMOTEGID"
expect_eq "$(env_of unixenv UNIXREMOTEPID)" "$UNIX_CLIENT" "UNIXREMOTEPID (the connecting socat)"
for v in TCPREMOTEIP TCPLOCALIP REMOTE_ADDR; do
	expect_eq "$(env_of unixenv $v)" "<unset>" "$v over a Unix socket"
done
if [ $NOBODY = yes ]; then
	fetch unixnobody "UNIX-CONNECT:$T/env.sock" runuser -u nobody --
	expect_eq "$(env_of unixnobody UNIXREMOTEUID)" "$NOBODY_UID" "UNIXREMOTEUID of nobody"
	expect_eq "$(env_of unixnobody UNIXREMOTEGID)" "$NOBODY_GID" "UNIXREMOTEGID of nobody"
	expect_match "$(env_of unixnobody UNIXREMOTEPID)" '^[1-9][0-9]*$' "UNIXREMOTEPID of nobody's client"
fi

# ---- fds: 0 and 1 are the connection, 2 is sockd's log, and nothing
# else but the directory ls reads. Several connections and children stay
# open meanwhile, so that there is something to leak.
start_bg held1 "$TCLIENT" hold -a "tcp:127.0.0.1:$P_CAT" -n 3 -t 60
HELD1=$BG_PID
wait_for_file_match "$T/held1.out" '^held 3$' 20
fetch fds "TCP:127.0.0.1:$P_FDS"
# "fd target" per line, but for the directory ls reads.
awk '/ -> / && $NF !~ "^/proc/[0-9]+/fd$" { print $(NF - 2), $NF }' "$T/fds.got" >"$T/fds.list"
if grep -q " $T/inherited-fd\$" "$T/fds.list"; then
	fail "fd $(grep " $T/inherited-fd\$" "$T/fds.list" | cut -d' ' -f1), which sockd inherited from the test, reached the program"
fi
expect_eq "$(cut -d' ' -f1 "$T/fds.list" | sort -n | tr '\n' ' ')" "0 1 2 " \
	"the program's open fds besides ls's own ($(tr '\n' ';' <"$T/fds.got"))"
expect_eq "$(awk '$1 == 0 { print $2 }' "$T/fds.list")" "$(awk '$1 == 1 { print $2 }' "$T/fds.list")" \
	"fds 0 and 1: the same socket"
expect_match "$(awk '$1 == 0 { print $2 }' "$T/fds.list")" '^socket:\[[0-9]+\]$' "fd 0 of the program"
expect_eq "$(awk '$1 == 2 { print $2 }' "$T/fds.list")" "$(readlink -f "$SOCKD_LOG")" "fd 2 of the program: sockd's log"
kill -TERM "$HELD1"
wait_bg "$HELD1" || :

# ---- sockd blocks the signals it reads from a signalfd and ignores
# SIGPIPE; a shell started in the background ignores SIGINT and SIGQUIT,
# and sockd was started by one: the program starts with nothing blocked
# and nothing ignored (grep is exec'd directly: no shell in between).
fetch sig "TCP:127.0.0.1:$P_SIG"
expect_eq "$(sed -n 's/^SigBlk:[[:space:]]*//p' "$T/sig.got")" 0000000000000000 "the program's blocked signals"
expect_eq "$(sed -n 's/^SigIgn:[[:space:]]*//p' "$T/sig.got")" 0000000000000000 "the program's ignored signals"

# ---- stderr goes to sockd's log, never to the client.
fetch stderr "TCP:127.0.0.1:$P_ERR"
expect_eq "$(cat "$T/stderr.got")" visible "what the client of stderr.sh got"
wait_for_log '^diagnostic-for-the-log-[0-9]+$'
wait_for_log '^more-diagnostics$'

# ---- the program runs as the configured user and group, and in no
# supplementary group of sockd's.
if [ $NOBODY = yes ]; then
	fetch user "TCP:127.0.0.1:$P_USER"
	expect_eq "$(cat "$T/user.got")" "uid=$NOBODY_UID gid=$NOBODY_GID groups=$NOBODY_GID" "id of user = \"nobody\""
	fetch usergrp "TCP:127.0.0.1:$P_USERGRP"
	expect_eq "$(cat "$T/usergrp.got")" "uid=$NOBODY_UID gid=$DAEMON_GID groups=$DAEMON_GID" \
		"id of user = \"nobody:daemon\""
fi

# ---- umask, nice, rlimit
fetch limits "TCP:127.0.0.1:$P_LIMITS"
expect_eq "$(cat "$T/limits.got")" "umask=0027 nofile=64 nice=7" "umask, nofile and nice of the program"

# ---- a program as the echo: data through it both ways, with half-close
# (cat ends at EOF), many at once, over TCP and Unix.
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_CAT" -s 1000000 -t 60
expect_rc 0 "$TCLIENT" echo -a "unix:$T/cat.sock" -s 300000 -t 60
expect_rc 0 "$TCLIENT" echo-many -a "tcp:127.0.0.1:$P_CAT" -n 40 -s 2000 -r 2 -t 60

# ---- programs that exit at once: the client gets EOF, the status is logged.
fetch true "TCP:127.0.0.1:$P_TRUE"
[ ! -s "$T/true.got" ] || fail "/bin/true: the client got '$(cat "$T/true.got")'"
fetch false "TCP:127.0.0.1:$P_FALSE"
[ ! -s "$T/false.got" ] || fail "/bin/false: the client got '$(cat "$T/false.got")'"
wait_for_log '^sockd: endpoint true: pid [0-9]+ exited with status 0 after [0-9.]+s$'
wait_for_log '^sockd: endpoint false: pid [0-9]+ exited with status 1 after [0-9.]+s$'

# ---- instances = 2: two held, the third is accepted and closed at once.
start_bg inst1 socat -u "TCP:127.0.0.1:$P_INST" STDOUT
INST1=$BG_PID
wait_for_file_match "$T/inst1.out" '^started [0-9]+$' 20
start_bg inst2 socat -u "TCP:127.0.0.1:$P_INST" STDOUT
INST2=$BG_PID
wait_for_file_match "$T/inst2.out" '^started [0-9]+$' 20
INST1_CHILD=$(sed -n 's/^started //p' "$T/inst1.out")
INST2_CHILD=$(sed -n 's/^started //p' "$T/inst2.out")
kill -0 "$INST1_CHILD" 2>/dev/null || fail "the first held child ($INST1_CHILD) is not running"
fetch inst3 "TCP:127.0.0.1:$P_INST"
[ ! -s "$T/inst3.got" ] || fail "a third client over instances = 2 got '$(cat "$T/inst3.got")'"
wait_for_log "^sockd: endpoint inst: refused 127\.0\.0\.1:[0-9]+ \(instances reached\)"
expect_eq "$(grep -c '^started' "$T/inst1.out" "$T/inst2.out" | cut -d: -f2 | tr '\n' ' ')" "1 1 " \
	"children of the two held clients"
# The first client leaves: its child sees EOF and exits; once it is
# reaped, a new client is served.
kill -TERM "$INST1"
wait_bg "$INST1" || :
wait_for_log "^sockd: endpoint inst: pid $INST1_CHILD exited with status 0 after [0-9.]+s$" 20
start_bg inst4 socat -u "TCP:127.0.0.1:$P_INST" STDOUT
INST4=$BG_PID
wait_for_file_match "$T/inst4.out" '^started [0-9]+$' 20
INST4_CHILD=$(sed -n 's/^started //p' "$T/inst4.out")
kill -TERM "$INST4"
wait_bg "$INST4" || :
wait_for_log "^sockd: endpoint inst: pid $INST4_CHILD exited with status 0 after [0-9.]+s$" 20
# inst2's child stays until shutdown, where it gets SIGTERM.

# ---- a program that is gone at runtime: the client is closed, the error
# logged, and the endpoint serves again once the program is back.
mv "$T/gone.sh" "$T/gone.sh.away"
fetch gone "TCP:127.0.0.1:$P_GONE"
[ ! -s "$T/gone.got" ] || fail "a missing program: the client got '$(cat "$T/gone.got")'"
wait_for_log "^sockd: error: endpoint gone: execve $T/gone\.sh: No such file or directory$"
# Not executable: the same, with its own reason.
cp "$T/gone.sh.away" "$T/gone.sh"
chmod 0644 "$T/gone.sh"
fetch gone "TCP:127.0.0.1:$P_GONE"
[ ! -s "$T/gone.got" ] || fail "a program without x bit: the client got '$(cat "$T/gone.got")'"
wait_for_log "^sockd: error: endpoint gone: execve $T/gone\.sh: Permission denied$"
chmod 0755 "$T/gone.sh"
fetch gone "TCP:127.0.0.1:$P_GONE"
expect_eq "$(cat "$T/gone.got")" gone-but-back "the program back in place"
fetch quick "TCP:127.0.0.1:$P_QUICK"
expect_eq "$(cat "$T/quick.got")" hi "another endpoint after the failures"

# ---- 200 short-lived children, one after the other: all answered, all
# reaped, and sockd's fd table back where it was.
wait_until 10 eval '[ "$(grep -c "^sockd: endpoint quick: pid [0-9]* exited" "$SOCKD_LOG")" -ge 1 ]' ||
	fail "the first quick child was not reaped"
fd_count() {
	ls "/proc/$SOCKD_PID/fd" | wc -l | tr -d ' '
}
FDS_BEFORE=$(fd_count)
i=0
while [ $i -lt 200 ]; do
	fetch quick "TCP:127.0.0.1:$P_QUICK"
	[ "$(cat "$T/quick.got")" = hi ] || fail "quick child $i: the client got '$(cat "$T/quick.got")'"
	i=$((i + 1))
done
quick_reaped() {
	[ "$(grep -c '^sockd: endpoint quick: pid [0-9]* exited with status 0' "$SOCKD_LOG")" -ge 201 ]
}
wait_until 30 quick_reaped ||
	fail "$(grep -c 'endpoint quick: pid' "$SOCKD_LOG") of 201 quick children logged as exited"
no_zombies() {
	! ps --ppid "$SOCKD_PID" -o stat= | grep -q Z
}
wait_until 10 no_zombies || fail "zombies among sockd's children: $(ps --ppid "$SOCKD_PID" -o pid=,stat=,args=)"
fds_back() {
	[ "$(fd_count)" -le "$FDS_BEFORE" ]
}
wait_until 10 fds_back || fail "sockd had $FDS_BEFORE fds before 200 children, $(fd_count) after: $(ls -l "/proc/$SOCKD_PID/fd")"

# ---- shutdown: children get SIGTERM; one that ignores it gets SIGKILL
# after shutdown_timeout (1 s), and sockd exits 0.
start_bg term socat -u "TCP:127.0.0.1:$P_TERM" STDOUT
TERM_CLIENT=$BG_PID
wait_for_file_match "$T/term.out" '^started [0-9]+$' 20
TERM_CHILD=$(sed -n 's/^started //p' "$T/term.out")
kill -0 "$INST2_CHILD" 2>/dev/null || fail "inst2's child ($INST2_CHILD) is not running"
expect_stop_ok 10
kill -0 "$TERM_CHILD" 2>/dev/null && fail "the child that ignores SIGTERM ($TERM_CHILD) outlived sockd"
kill -0 "$INST2_CHILD" 2>/dev/null && fail "inst2's child ($INST2_CHILD) outlived sockd"
expect_file_match "$SOCKD_LOG" "^sockd: endpoint term: pid $TERM_CHILD killed by SIGKILL after [0-9.]+s$"
expect_file_match "$SOCKD_LOG" "^sockd: endpoint inst: pid $INST2_CHILD killed by SIGTERM after [0-9.]+s$"
wait_bg "$TERM_CLIENT" 10 || :
wait_bg "$INST2" 10 || :
expect_clean_log "endpoint gone: execve"

# ---- datagram exec is a configuration error.
cat >"$T/dgram.conf" <<EOF
endpoints = (
	{ name = "dexec"; listen = [ "udp:127.0.0.1:$P_ENV" ]; service = "exec";
	  command = [ "$T/env.sh" ]; }
);
EOF
expect_rc 78 "$SOCKD" -n -f "$T/dgram.conf"
expect_file_match "$T/err" "^$T/dgram\.conf:[0-9]+: .*exec.*udp:127\.0\.0\.1:$P_ENV" "sockd -n on a datagram exec"
# A relative or missing program is refused when the config is read.
sed "s|$T/env.sh|env.sh|; s|udp:|tcp:|" "$T/dgram.conf" >"$T/relative.conf"
expect_rc 78 "$SOCKD" -n -f "$T/relative.conf"
expect_file_match "$T/err" "^$T/relative\.conf:[0-9]+: " "sockd -n on a relative command"
exit 0
