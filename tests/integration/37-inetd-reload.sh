#!/bin/sh
# The inetd.conf source follows its files: a line changed in place, a new
# file renamed over the old one, the file removed (a warning; sockd.conf's
# endpoints go on) and put back, fragments added to and removed from
# inetd_dir, a broken line added (a warning, the other lines stay) are all
# picked up without a signal, by a reload each; SIGHUP reads them again
# too; sockd.conf's own endpoint answers throughout.
. "$(dirname "$0")/lib.sh"

P_ECHO=$(port 1)        # sockd.conf's echo
P_A=$(port 2)           # inetd.conf, its text changes
P_B=$(port 3)           # inetd.conf, added by a rename
P_D=$(port 4)           # an inetd_dir fragment, added then removed
P_BAD=$(port 5)         # a broken line
P_TAKEN=$(port 6)       # a line on an address another program holds
CONF=$T/sockd.conf
INETD=$T/inetd.conf
DIR=$T/inetd.d
ME=$(id -un)            # the lines' user: sockd switches to no other when not root

cat >"$CONF" <<EOF
daemon = { workers = 1; shutdown_timeout = 2.0; inetd_conf = "$INETD"; inetd_dir = "$DIR"; };
endpoints = (
  { name = "echo"; listen = "tcp:127.0.0.1:$P_ECHO"; service = "echo"; }
);
EOF
mkdir "$DIR"
line() {
	printf '127.0.0.1:%s\tstream\ttcp\tnowait\t%s\t/bin/echo\techo\t%s\n' "$1" "$ME" "$2"
}
line "$P_A" one >"$INETD"

says() {
	[ "$(timeout 5 socat -u "TCP:127.0.0.1:$1" - 2>/dev/null)" = "$2" ]
}
expect_says() {
	wait_until 10 says "$1" "$2" || fail "$3: port $1 does not say '$2'"
}
expect_gone() {
	wait_until 10 eval "! timeout 5 socat -u TCP:127.0.0.1:$1 - >/dev/null 2>&1" ||
		fail "$2: port $1 still answers"
}
reloads() {
	grep -c '^sockd: reloaded: ' "$SOCKD_LOG" || :
}
# after_reload CMD...: run CMD, then wait for one more reload.
after_reload() {
	_before=$(reloads)
	"$@"
	wait_until 20 eval '[ "$(reloads)" -gt '"$_before"' ]' || fail "no reload within 20 s of: $*"
}

start_sockd "$CONF"
expect_says "$P_A" one "start"

# Rewritten in place (open, truncate, write, close).
after_reload sh -c "$(printf 'printf %%s "%s" >"%s"' "$(line "$P_A" two)" "$INETD")"
expect_says "$P_A" two "the line changed in place"

# A new file renamed over the old one, as update-inetd and editors do.
{ line "$P_A" two; line "$P_B" bee; } >"$T/new"
after_reload mv "$T/new" "$INETD"
expect_says "$P_B" bee "the line added by rename"
expect_says "$P_A" two "the line left alone"

# A broken line: a warning; the other lines stay.
printf '127.0.0.1:%s\tstream\ttcp\tnowait\t%s\trelative/prog\n' "$P_BAD" "$ME" >>"$T/add"
after_reload sh -c "cat '$INETD' '$T/add' >'$T/new' && mv '$T/new' '$INETD'"
wait_for_log "^sockd: warning: $INETD:3: server program 'relative/prog' is not an absolute path, ignoring\$"
expect_says "$P_A" two "beside a broken line"
expect_says "$P_B" bee "beside a broken line"

# A line whose address another program holds: the reload does not fail,
# the socket is left out with a warning, the rest is served.
start_bg taken socat "TCP-LISTEN:$P_TAKEN,bind=127.0.0.1,reuseaddr" EXEC:/bin/true
wait_until 10 eval "ss -Htln '( sport = :$P_TAKEN )' | grep -q ." || fail "socat did not listen on $P_TAKEN"
after_reload sh -c "$(printf 'printf %%s "%s" >"%s"' "$(line "$P_TAKEN" taken)" "$DIR/taken")"
wait_for_log "^sockd: warning: $DIR/taken:1: endpoint $P_TAKEN/tcp is not served on tcp:127.0.0.1:$P_TAKEN: Address already in use, ignoring\$"
expect_says "$P_A" two "beside a line that cannot bind"
after_reload rm "$DIR/taken"

# inetd_dir: a fragment comes and goes.
after_reload sh -c "$(printf 'printf %%s "%s" >"%s"' "$(line "$P_D" dee)" "$DIR/frag")"
expect_says "$P_D" dee "the inetd_dir fragment"
after_reload rm "$DIR/frag"
expect_gone "$P_D" "the removed fragment"

# The file removed: a warning, its services go, sockd.conf's stay.
after_reload mv "$INETD" "$T/saved"
wait_for_log "^sockd: warning: $INETD: cannot read: No such file or directory, ignoring\$"
expect_gone "$P_A" "inetd.conf removed"
expect_gone "$P_B" "inetd.conf removed"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 4096 -t 10
after_reload mv "$T/saved" "$INETD"
expect_says "$P_A" two "inetd.conf put back"

# SIGHUP reads the files again as well.
after_reload kill -HUP "$SOCKD_PID"
expect_says "$P_B" bee "after SIGHUP"
expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 4096 -t 10

# Files beside inetd.conf are not its concern.
_before=$(reloads)
echo x >"$T/unrelated"
sleep 1
expect_eq "$(reloads)" "$_before" "reloads after an unrelated file changed"

grep -q '^sockd: error: reload failed' "$SOCKD_LOG" && fail "a reload failed"
expect_stop_ok
expect_clean_log "server program 'relative/prog'|cannot read: No such file|$P_TAKEN"
