#!/bin/sh
# Real inetd programs behind exec (handoff "nowait"), with their own clients:
#
# (a) argv0: a program sees the argv[0] configured, not its path
#     (/proc/self/cmdline of cat).
# (b) Debian's inetd.conf line `finger stream tcp nowait nobody /usr/sbin/tcpd
#     /usr/sbin/in.fingerd`: command = [ "/usr/sbin/tcpd" ] with argv0 =
#     "/usr/sbin/in.fingerd" answers a finger query sent from a socket
#     (finger(1) only speaks to port 79). tcpd finds in.fingerd from its
#     argv[0]; without argv0 it would run itself. Skipped when this host's
#     /etc/hosts.allow and hosts.deny refuse in.fingerd for 127.0.0.1
#     (tcpdmatch says so): the test does not edit host files.
# (c) `git daemon --inetd` with `git clone git://...`.
# (d) `rsync --daemon` (inetd mode: its stdin is a socket) with rsync.
#
# Each part is skipped with a note when its Debian package is missing
# (.ci/install-deps installs them: tcpd fingerd finger git rsync); the test
# is SKIP when none of (b)-(d) could run.

. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "no socat"

P_ARGV0=$(port 1)
P_FINGER=$(port 2)
P_GIT=$(port 3)
P_RSYNC=$(port 4)

ran=0
ENDPOINTS=
USER_KEY=
is_root && USER_KEY='user = "nobody";'

# (b) tcpd + in.fingerd
FINGER=no
if [ ! -x /usr/sbin/tcpd ] || [ ! -x /usr/sbin/in.fingerd ] || [ ! -x /usr/bin/finger ]; then
	note "no /usr/sbin/tcpd, /usr/sbin/in.fingerd or /usr/bin/finger (tcpd, fingerd, finger): skipping (b)"
elif command -v tcpdmatch >/dev/null && ! tcpdmatch in.fingerd 127.0.0.1 2>/dev/null | grep -q 'access:.*granted'; then
	note "this host's hosts.allow/hosts.deny refuse in.fingerd from 127.0.0.1 (tcpdmatch): skipping (b)"
else
	FINGER=yes
	ENDPOINTS="$ENDPOINTS
	{ name = \"finger\"; listen = [ \"tcp:127.0.0.1:$P_FINGER\" ]; service = \"exec\"; $USER_KEY
	  command = [ \"/usr/sbin/tcpd\" ]; argv0 = \"/usr/sbin/in.fingerd\"; },"
fi

# (c) git daemon
GIT=no
if ! command -v git >/dev/null; then
	note "no git: skipping (c)"
else
	GIT=yes
	mkdir -p "$T/git"
	git init -q --bare "$T/git/repo.git"
	git init -q "$T/work"
	(cd "$T/work" && echo "served by sockd" >README &&
		git add README && git -c user.name=t -c user.email=t@example.org commit -q -m one &&
		git push -q "$T/git/repo.git" HEAD:refs/heads/main) || fail "cannot make a git repository"
	git -C "$T/git/repo.git" symbolic-ref HEAD refs/heads/main
	WANT=$(git -C "$T/git/repo.git" rev-parse main)
	GIT_BIN=$(command -v git)
	ENDPOINTS="$ENDPOINTS
	{ name = \"git\"; listen = [ \"tcp:127.0.0.1:$P_GIT\" ]; service = \"exec\";
	  command = [ \"$GIT_BIN\", \"daemon\", \"--inetd\", \"--export-all\", \"--base-path=$T/git\" ]; },"
fi

# (d) rsync daemon
RSYNC=no
if ! command -v rsync >/dev/null; then
	note "no rsync: skipping (d)"
else
	RSYNC=yes
	mkdir -p "$T/rsdata/sub"
	head -c 200000 /dev/urandom >"$T/rsdata/sub/blob"
	echo hello >"$T/rsdata/a.txt"
	cat >"$T/rsyncd.conf" <<EOF
use chroot = no
uid = $(id -u)
gid = $(id -g)
log file = $T/rsyncd.log
[data]
	path = $T/rsdata
	read only = yes
EOF
	RSYNC_BIN=$(command -v rsync)
	ENDPOINTS="$ENDPOINTS
	{ name = \"rsync\"; listen = [ \"tcp:127.0.0.1:$P_RSYNC\" ]; service = \"exec\";
	  command = [ \"$RSYNC_BIN\", \"--daemon\", \"--config=$T/rsyncd.conf\" ]; },"
fi

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = ($ENDPOINTS
	{ name = "argv0"; listen = [ "tcp:127.0.0.1:$P_ARGV0" ]; service = "exec";
	  command = [ "/bin/cat", "/proc/self/cmdline" ]; argv0 = "renamed-cat"; }
);
EOF
start_sockd "$T/sockd.conf"

# ---- (a)
got=$(timeout 10 socat -u "TCP:127.0.0.1:$P_ARGV0" STDOUT | tr '\0' ' ')
expect_eq "$got" "renamed-cat /proc/self/cmdline " "argv of the program"

# ---- (b)
if [ $FINGER = yes ]; then
	got=$(printf 'root\r\n' | timeout 20 socat -t 10 - "TCP:127.0.0.1:$P_FINGER")
	expect_match "$got" '^Login: root' "finger reply through tcpd"
	expect_match "$got" 'Directory: /root' "finger reply through tcpd"
	wait_for_log 'endpoint finger: pid [0-9]+ exited with status 0' 10
	note "(b) tcpd ran in.fingerd, which answered: $(echo "$got" | head -n 1)"
	ran=$((ran + 1))
fi

# ---- (c)
if [ $GIT = yes ]; then
	timeout 60 git clone -q "git://127.0.0.1:$P_GIT/repo.git" "$T/clone" >"$T/clone.out" 2>&1 ||
		fail "git clone failed: $(cat "$T/clone.out")"
	expect_eq "$(git -C "$T/clone" rev-parse HEAD)" "$WANT" "the cloned commit"
	expect_eq "$(cat "$T/clone/README")" "served by sockd" "the cloned file"
	note "(c) git clone over git:// got $WANT"
	ran=$((ran + 1))
fi

# ---- (d)
if [ $RSYNC = yes ]; then
	timeout 60 rsync -a "rsync://127.0.0.1:$P_RSYNC/data/" "$T/rsout/" >"$T/rsync.out" 2>&1 ||
		fail "rsync failed: $(cat "$T/rsync.out"; cat "$T/rsyncd.log" 2>/dev/null)"
	diff -r "$T/rsdata" "$T/rsout" >/dev/null || fail "rsync: the copy differs"
	note "(d) rsync copied a tree from rsync --daemon"
	ran=$((ran + 1))
fi

expect_stop_ok
expect_clean_log
[ $ran -gt 0 ] || skip "none of tcpd/fingerd, git, rsync is installed: only argv0 was checked"
exit 0
