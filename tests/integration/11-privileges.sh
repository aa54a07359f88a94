#!/bin/sh
# daemon.user / daemon.group: started as root, sockd binds everything (a
# port below 1024 too), applies the Unix sockets' owner/group/mode, then
# drops to the user for good (every thread: real, effective, saved and fs
# ids; no supplementary groups but the one). A reload after the drop binds
# unprivileged endpoints and says clearly when one needs the privileges it
# gave up. Without daemon.user, one warning that it serves as root.
. "$(dirname "$0")/lib.sh"

is_root || skip "not running as root"
getent passwd nobody >/dev/null || skip "no user 'nobody'"

P_HIGH=$(port 1)        # an unprivileged port, added by a reload
P_ECHO=$(port 2)        # an unprivileged port from the start
P_NOUSER=$(port 3)

NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

# Two free TCP ports below 1024 on 127.0.0.1.
low_free() {
	[ -z "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]
}
LOW1=
LOW2=
for p in 787 788 789 790 791 792 793 794 795 796 797 798; do
	low_free "$p" || continue
	if [ -z "$LOW1" ]; then
		LOW1=$p
	elif [ -z "$LOW2" ]; then
		LOW2=$p
	fi
done
[ -n "$LOW2" ] || skip "no two free TCP ports in 787-798"

# A group other than nobody's own, for the socket file and for the run
# with daemon.group set to something else than the primary group.
OTHER_GROUP=
for g in adm users daemon staff; do
	gid=$(getent group "$g" | cut -d: -f3) || continue
	if [ -n "$gid" ] && [ "$gid" != "$NOBODY_GID" ] && [ "$gid" != 0 ]; then
		OTHER_GROUP=$g
		OTHER_GID=$gid
		break
	fi
done
[ -n "$OTHER_GROUP" ] || skip "no group besides root and nobody's own (tried adm users daemon staff)"
SOCK_OWNER=daemon
getent passwd "$SOCK_OWNER" >/dev/null || SOCK_OWNER=nobody

count_lines() {
	grep -Ec -- "$2" "$1" 2>/dev/null || :
}

refused() {
	_rc=0
	"$TCLIENT" echo -a "$1" -s 16 -t 5 >"$T/refused.out" 2>"$T/refused.err" || _rc=$?
	[ "$_rc" -ne 0 ] && grep -q 'Connection refused' "$T/refused.err"
}

expect_echo() {
	expect_rc 0 "$TCLIENT" echo -a "$1" -s 65536 -t 30
}

# check_ids UID GID: every thread of sockd has uid UID and gid GID as real,
# effective, saved and filesystem id, and GID as its only group.
check_ids() {
	_ntask=0
	for _st in /proc/"$SOCKD_PID"/task/*/status; do
		_ntask=$((_ntask + 1))
		_u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$_st")
		_g=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$_st")
		_gr=$(awk '/^Groups:/ { $1 = ""; print }' "$_st" | tr -s ' ' | sed 's/^ //; s/ $//')
		expect_eq "$_u" "$1 $1 $1 $1" "Uid (real, effective, saved, fs) of $_st"
		expect_eq "$_g" "$2 $2 $2 $2" "Gid (real, effective, saved, fs) of $_st"
		expect_eq "$_gr" "$2" "supplementary groups of $_st"
	done
	[ "$_ntask" -ge 2 ] || fail "sockd has $_ntask threads: expected the acceptor and workers too"
}

# The socket files go to a directory nobody owns (so that sockd can remove
# them after the drop); $T itself must be searchable to reach it, and the
# config file readable for reloads.
chmod 0711 "$T"
RUN=$T/run
mkdir "$RUN"
chown nobody "$RUN"
U_SOCK=$RUN/echo.sock

# After the drop, sockd still sends to $NOTIFY_SOCKET, which needs write
# permission on the socket file (systemd's own is 0777): start_sockd's
# notify listener gets a umask of 0 through a wrapper.
cat >"$T/tclient-umask0" <<EOF
#!/bin/sh
umask 000
exec "$TCLIENT" "\$@"
EOF
chmod 0755 "$T/tclient-umask0"
start_dropping() {
	_real_tclient=$TCLIENT
	TCLIENT=$T/tclient-umask0
	start_sockd "$@"
	TCLIENT=$_real_tclient
}

# write_conf USERLINES EXTRA_ENDPOINTS
write_conf() {
	cat >"$T/sockd.conf" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
$1
};
endpoints = (
	{ name = "priv"; listen = [ "tcp:127.0.0.1:$LOW1" ]; service = "echo"; },
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO" ]; service = "echo"; },
	{ name = "unix"; listen = [ "unix:$U_SOCK" ]; service = "echo";
	  owner = "$SOCK_OWNER"; group = "$OTHER_GROUP"; mode = "0660"; }$2
);
EOF
	chmod 0644 "$T/sockd.conf"
}

reload_wait() {
	_ok=$(count_lines "$SOCKD_LOG" '^sockd: (reloaded: |error: reload failed)')
	kill -HUP "$SOCKD_PID"
	wait_until 20 eval 'test "$(count_lines "$SOCKD_LOG" "^sockd: (reloaded: |error: reload failed)")" -gt '"$_ok" ||
		fail "no end of reload in the log within 20 s"
	sockd_alive || fail "sockd exited during a reload"
}

# ---- 1. user = "nobody", group left to nobody's primary group.
write_conf '	user = "nobody";' ''
start_dropping "$T/sockd.conf"
expect_file_match "$SOCKD_LOG" "^sockd: serving as user nobody \(uid $NOBODY_UID, gid $NOBODY_GID\)$"
if grep -E 'serving as root' "$SOCKD_LOG" >&2; then
	fail "sockd warns about root although it switched to nobody"
fi
check_ids "$NOBODY_UID" "$NOBODY_GID"
expect_eq "$(stat -c '%U %G %a' "$U_SOCK")" "$SOCK_OWNER $OTHER_GROUP 660" "owner, group and mode of $U_SOCK"
test -S "$U_SOCK" || fail "$U_SOCK is not a socket"
expect_echo "tcp:127.0.0.1:$LOW1"
expect_echo "tcp:127.0.0.1:$P_ECHO"
expect_echo "unix:$U_SOCK"
# The mode is what the kernel enforces: nobody is neither the owner nor in
# the group, so it cannot connect.
if runuser -u nobody -- test -x "$TCLIENT" 2>/dev/null; then
	rc=0
	runuser -u nobody -- "$TCLIENT" echo -a "unix:$U_SOCK" -s 16 -t 5 >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "nobody could connect to a 0660 socket of $SOCK_OWNER:$OTHER_GROUP"
	expect_file_match "$T/err" 'Permission denied' "nobody's connect to $U_SOCK"
else
	note "$TCLIENT is not executable by nobody: skipping the connect-as-nobody check"
fi

# A reload after the drop binds an unprivileged port...
write_conf '	user = "nobody";' ",
	{ name = \"high\"; listen = [ \"tcp:127.0.0.1:$P_HIGH\" ]; service = \"echo\"; }"
reload_wait
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_HIGH \(high\)$"
expect_file_match "$SOCKD_LOG" '^sockd: reloaded: 4 endpoints, 4 listeners \(3 kept, 1 new\), 2 workers$'
expect_echo "tcp:127.0.0.1:$P_HIGH"
expect_echo "tcp:127.0.0.1:$LOW1"
# ... but not a privileged one: the whole reload fails, saying why.
write_conf '	user = "nobody";' ",
	{ name = \"high\"; listen = [ \"tcp:127.0.0.1:$P_HIGH\" ]; service = \"echo\"; },
	{ name = \"low2\"; listen = [ \"tcp:127.0.0.1:$LOW2\" ]; service = \"echo\"; }"
reload_wait
expect_file_match "$SOCKD_LOG" \
	"^sockd: error: endpoint low2 needs privileges sockd gave up when it switched to user 'nobody': restart sockd to bind it$"
expect_file_match "$SOCKD_LOG" '^sockd: error: reload failed \(.*\): still serving the previous configuration$'
refused "tcp:127.0.0.1:$LOW2" || fail "port $LOW2 answers after the failed reload"
expect_echo "tcp:127.0.0.1:$LOW1"
expect_echo "tcp:127.0.0.1:$P_HIGH"
expect_echo "unix:$U_SOCK"
check_ids "$NOBODY_UID" "$NOBODY_GID"
expect_stop_ok
expect_clean_log "low2 needs privileges|reload failed|$LOW2"
[ ! -e "$U_SOCK" ] || fail "sockd left $U_SOCK behind"

# ---- 2. group = "nogroup" (by name) and group = another group.
for grp in nogroup "$OTHER_GROUP"; do
	getent group "$grp" >/dev/null || {
		note "no group $grp: skipping that run"
		continue
	}
	gid=$(getent group "$grp" | cut -d: -f3)
	write_conf "	user = \"nobody\";
	group = \"$grp\";" ''
	start_dropping "$T/sockd.conf"
	expect_file_match "$SOCKD_LOG" "^sockd: serving as user nobody \(uid $NOBODY_UID, gid $gid\)$"
	check_ids "$NOBODY_UID" "$gid"
	expect_eq "$(stat -c '%U %G %a' "$U_SOCK")" "$SOCK_OWNER $OTHER_GROUP 660" "owner, group and mode of $U_SOCK"
	expect_echo "tcp:127.0.0.1:$LOW1"
	expect_echo "unix:$U_SOCK"
	expect_stop_ok
	expect_clean_log
done

# ---- 3. No daemon.user, as root: one warning at start, none at reloads.
cat >"$T/root.conf" <<EOF
daemon = { workers = 1; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_NOUSER" ]; service = "echo"; }
);
EOF
start_sockd "$T/root.conf"
expect_echo "tcp:127.0.0.1:$P_NOUSER"
reload_wait
reload_wait
expect_eq "$(count_lines "$SOCKD_LOG" '^sockd: reloaded: ')" 2 "successful reloads"
expect_stop_ok
expect_eq "$(count_lines "$SOCKD_LOG" '^sockd: warning: no daemon\.user set: serving as root$')" 1 \
	"warnings about serving as root"
if grep -E '^sockd: serving as user' "$SOCKD_LOG" >&2; then
	fail "sockd claims to have switched user without daemon.user"
fi
exit 0
