#!/bin/sh
# daemon.include_dir: every *.conf file in it adds endpoints, in C-locale
# order; backups, package leftovers, hidden files and other endings are
# ignored; an entry named *.conf that is not a file to read (a directory,
# a FIFO, a dangling symlink) is skipped with a warning naming it, and a FIFO
# never blocks sockd; errors name the fragment's own file:line; a name used twice
# across files is an error naming both places; reload reads the directory
# again (added and removed fragments).
. "$(dirname "$0")/lib.sh"

P_MAIN=$(port 1)        # main.conf's own endpoint
P_A1=$(port 2)          # 10-a.conf
P_A2=$(port 3)          # 10-a.conf
P_B1=$(port 4)          # 20-b.conf
P_C=$(port 5)           # 20-C.conf ("C" < "b" in C order)
P_OLD=$(port 6)         # 30-c.conf.dpkg-old: ignored
P_HIDDEN=$(port 7)      # .hidden.conf: ignored
P_TILDE=$(port 8)       # x.conf~: ignored
P_TXT=$(port 9)         # notes.txt: ignored
P_DIR=$(port 10)        # sub.conf/ is a directory: ignored
P_D=$(port 11)          # 40-d.conf, added before a reload
P_BAD=$(port 12)        # in broken fragments only
D=$T/conf.d
MAIN=$T/main.conf
# Regular-expression forms of the paths, for grep -E.
re() {
	printf '%s' "$1" | sed 's/[.[\*^$+?(){}|]/\\&/g'
}
DRE=$(re "$D")

count_lines() {
	grep -Ec -- "$2" "$1" 2>/dev/null || :
}

refused() {
	_rc=0
	"$TCLIENT" echo -a "$1" -s 16 -t 5 >"$T/refused.out" 2>"$T/refused.err" || _rc=$?
	[ "$_rc" -ne 0 ] && grep -q 'Connection refused' "$T/refused.err"
}

expect_refused() {
	refused "tcp:127.0.0.1:$1" || fail "port $1 ($2) answers: $(cat "$T/refused.err")"
}

# expect_not_served PORT WHAT: sockd neither says nor does listen on PORT
# (a process of someone else may; then a refused connect cannot be asked).
expect_not_served() {
	if grep -E "^sockd: listening on .*:$1 " "$SOCKD_LOG" >&2; then
		fail "sockd listens on port $1 ($2)"
	fi
	_ss=$(ss -Htlnp "( sport = :$1 )" 2>/dev/null || :)
	if [ -z "$_ss" ]; then
		expect_refused "$1" "$2"
	else
		case $_ss in
		*"pid=$SOCKD_PID,"*) fail "sockd listens on port $1 ($2): $_ss" ;;
		esac
		note "port $1 is taken by another program: $_ss"
	fi
}

expect_echo() {
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$1" -s 10000 -t 30
}

# one_endpoint NAME PORT: one endpoint on one line (so that its line is the
# line of its group, of its name, and of its address alike).
one_endpoint() {
	printf '\t{ name = "%s"; listen = [ "tcp:127.0.0.1:%s" ]; service = "echo"; }' "$1" "$2"
}

# fragment FILE NAME PORT [NAME PORT]...: an endpoints list; line 1 is a
# comment, line 2 "endpoints = (", the endpoints on lines 3, 4, ...
fragment() {
	_file=$1
	shift
	{
		printf '# %s\nendpoints = (\n' "$(basename "$_file")"
		_sep=
		while [ $# -ge 2 ]; do
			printf '%s' "$_sep"
			one_endpoint "$1" "$2"
			_sep=",
"
			shift 2
		done
		printf '\n);\n'
	} >"$_file"
}

mkdir "$D"
cat >"$MAIN" <<EOF
daemon = {
	workers = 2;
	shutdown_timeout = 2.0;
	include_dir = "$D";
};
endpoints = (
$(one_endpoint main "$P_MAIN")
);
EOF
fragment "$D/10-a.conf" a1 "$P_A1" a2 "$P_A2"
fragment "$D/20-b.conf" b1 "$P_B1"
fragment "$D/20-C.conf" c "$P_C"
fragment "$D/30-c.conf.dpkg-old" old "$P_OLD"
fragment "$D/.hidden.conf" hidden "$P_HIDDEN"
fragment "$D/x.conf~" tilde "$P_TILDE"
fragment "$D/notes.txt" txt "$P_TXT"
mkdir "$D/sub.conf"
fragment "$D/sub.conf/inner.conf" indir "$P_DIR"
mkfifo "$D/50-fifo.conf"
ln -s "$T/nowhere.conf" "$D/60-gone.conf"
# What sockd says about the three it skips, in C order (sockd -n: bare).
SKIPPED="$D/50-fifo.conf: skipped: not a regular file, ignoring
$D/60-gone.conf: skipped: a dangling symbolic link, ignoring
$D/sub.conf: skipped: a directory, ignoring"

# ---- sockd -n -v: the main file's endpoint, then the fragments' in C order
# (20-C.conf before 20-b.conf), none of the ignored ones.
expect_rc 0 "$SOCKD" -n -v -f "$MAIN"
names=$(sed -n 's/^ *{ *name = "\([^"]*\)".*/\1/p' "$T/out" | tr '\n' ' ' | sed 's/ $//')
expect_eq "$names" "main a1 a2 c b1" "endpoints listed by sockd -n -v"
for p in "$P_OLD" "$P_HIDDEN" "$P_TILDE" "$P_TXT" "$P_DIR"; do
	if grep -F ":$p\"" "$T/out" >&2; then
		fail "sockd -n -v lists an endpoint from a file it must ignore (port $p)"
	fi
done
expect_eq "$(cat "$T/err")" "$SKIPPED" "stderr of sockd -n -v"
# The order does not depend on the caller's locale.
for loc in en_US.UTF-8 C.UTF-8; do
	expect_rc 0 env LC_ALL="$loc" "$SOCKD" -n -v -f "$MAIN"
	names=$(sed -n 's/^ *{ *name = "\([^"]*\)".*/\1/p' "$T/out" | tr '\n' ' ' | sed 's/ $//')
	expect_eq "$names" "main a1 a2 c b1" "endpoints listed by sockd -n -v with LC_ALL=$loc"
done
expect_rc 0 "$SOCKD" -n -f "$MAIN"
expect_eq "$(wc -c <"$T/out" | tr -d ' ')" 0 "bytes on stdout of sockd -n on a good config"
expect_eq "$(cat "$T/err")" "$SKIPPED" "stderr of sockd -n on a good config"

# ---- Running: every fragment's endpoint serves, the ignored ones do not.
start_sockd "$MAIN"
expect_file_match "$SOCKD_LOG" '^sockd: ready: 5 listeners, 2 workers$'
for p in "$P_MAIN" "$P_A1" "$P_A2" "$P_B1" "$P_C"; do
	expect_echo "$p"
done
expect_not_served "$P_OLD" "30-c.conf.dpkg-old"
expect_not_served "$P_HIDDEN" ".hidden.conf"
expect_not_served "$P_TILDE" "x.conf~"
expect_not_served "$P_TXT" "notes.txt"
expect_not_served "$P_DIR" "a file inside the directory sub.conf"
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_B1 \(b1\)$"
for f in 50-fifo.conf 60-gone.conf sub.conf; do
	expect_file_match "$SOCKD_LOG" "^sockd: warning: $DRE/$(re "$f"): skipped: .*, ignoring$" "warning for $f"
done

# ---- Reload: a new fragment is read, a removed one's endpoint goes away.
fragment "$D/40-d.conf" d "$P_D"
expect_not_served "$P_D" "40-d.conf before the reload"
kill -HUP "$SOCKD_PID"
wait_for_log '^sockd: reloaded: 6 endpoints, 6 listeners \(5 kept, 1 new\), 2 workers$' 20
expect_file_match "$SOCKD_LOG" "^sockd: listening on tcp:127\.0\.0\.1:$P_D \(d\)$"
expect_echo "$P_D"
expect_echo "$P_B1"
rm "$D/20-b.conf"
kill -HUP "$SOCKD_PID"
wait_for_log '^sockd: reloaded: 5 endpoints, 5 listeners \(5 kept, 0 new\), 2 workers$' 20
expect_file_match "$SOCKD_LOG" "^sockd: closing tcp:127\.0\.0\.1:$P_B1 \(b1\)$"
wait_until 10 refused "tcp:127.0.0.1:$P_B1" || fail "the removed fragment's endpoint still answers"
for p in "$P_MAIN" "$P_A1" "$P_A2" "$P_C" "$P_D"; do
	expect_echo "$p"
done

# A fragment with an error fails the reload with its own file:line, and the
# previous configuration goes on serving.
fragment "$D/20-b.conf" b1 "$P_B1" b2 "$P_BAD"
sed -i 's/service = "echo"; }/service = "nosuch"; }/' "$D/20-b.conf"
kill -HUP "$SOCKD_PID"
wait_for_log '^sockd: error: reload failed' 20
expect_file_match "$SOCKD_LOG" "^sockd: error: $DRE/20-b\.conf:3: .*nosuch" "reload error in 20-b.conf"
expect_file_match "$SOCKD_LOG" "^sockd: error: $DRE/20-b\.conf:4: .*nosuch" "reload error in 20-b.conf"
expect_not_served "$P_BAD" "endpoint of a rejected fragment"
expect_refused "$P_B1" "endpoint of a rejected fragment"
expect_echo "$P_D"
sockd_alive || fail "sockd exited after a failed reload"
rm "$D/20-b.conf"
expect_stop_ok
expect_clean_log "20-b\.conf:[0-9]+: |reload failed|: skipped: "

# ---- Errors in fragments, from sockd -n: exit 78, the fragment's file:line.
cat >"$D/20-b.conf" <<EOF
# 20-b.conf with a mistake on line 5
endpoints = (
$(one_endpoint b1 "$P_B1"),
	{ name = "b2"; listen = [ "tcp:127.0.0.1:$P_BAD" ];
	  service = "echo"; frobnicate = 1; }
);
EOF
expect_rc 78 "$SOCKD" -n -f "$MAIN"
expect_file_match "$T/err" "^$DRE/20-b\.conf:5: .*frobnicate" "error from sockd -n"
if grep -Ev "^$DRE/20-b\.conf:5: " "$T/err" >&2; then
	fail "sockd -n printed other lines than the fragment's error"
fi
# A start with it fails the same way, and binds nothing.
expect_rc 78 timeout 20 "$SOCKD" -F -f "$MAIN"
expect_file_match "$T/err" "^sockd: error: $DRE/20-b\.conf:5: .*frobnicate" "error when starting"
expect_refused "$P_MAIN" "main endpoint after a failed start"

# A syntax error inside a fragment is that fragment's file:line too.
printf '# broken\nendpoints = (\n\t{ name = "b1" listen = [ ] }\n);\n' >"$D/20-b.conf"
expect_rc 78 "$SOCKD" -n -f "$MAIN"
expect_file_match "$T/err" "^$DRE/20-b\.conf:3: " "syntax error in a fragment"

# A fragment may only add endpoints.
printf '# daemon in a fragment\ndaemon = { workers = 3; };\nendpoints = ();\n' >"$D/20-b.conf"
expect_rc 78 "$SOCKD" -n -f "$MAIN"
expect_file_match "$T/err" "^$DRE/20-b\.conf:2: .*daemon" "daemon group in a fragment"

# A fragment larger than CONFIG_FILE_MAX is refused unread, with its size.
{ printf 'endpoints = ();\n#'; head -c 1048576 /dev/zero | tr '\0' 'x'; } >"$D/20-b.conf"
expect_rc 78 timeout 20 "$SOCKD" -n -f "$MAIN"
expect_file_match "$T/err" "^$DRE/20-b\.conf: too large \(1048593 bytes, limit 1048576\)$" "a fragment too large"

# ---- The same endpoint name in two files: exit 78, both places named. a2 is
# on line 4 of 10-a.conf; the copy in 20-b.conf is on its line 3.
fragment "$D/20-b.conf" a2 "$P_BAD"
expect_rc 78 "$SOCKD" -n -f "$MAIN"
expect_file_match "$T/err" "^$DRE/20-b\.conf:3: .*'a2'.*$DRE/10-a\.conf:4" "duplicate name across files"
expect_eq "$(count_lines "$T/err" '.')" 1 "lines on stderr for one duplicate name"
# ... also against the main file's endpoint.
fragment "$D/20-b.conf" main "$P_BAD"
expect_rc 78 "$SOCKD" -n -f "$MAIN"
MRE=$(re "$MAIN")
expect_file_match "$T/err" "^$DRE/20-b\.conf:3: .*'main'.*$MRE:7" "duplicate of the main file's name"
rm "$D/20-b.conf"
expect_rc 0 "$SOCKD" -n -f "$MAIN"
exit 0
