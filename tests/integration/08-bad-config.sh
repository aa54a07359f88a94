#!/bin/sh
# Configuration errors and the command line: every error as file:line,
# exit 78 from both `sockd -n` and a real start; usage errors exit 64.
. "$(dirname "$0")/lib.sh"

P1=$(port 1)
P2=$(port 2)

# Five independent mistakes, each on a line of its own (the line numbers
# below are what the test expects).
cat >"$T/bad.conf" <<EOF
daemon = {
	workers = "two";
	bogus_key = 1;
};
endpoints = (
	{
		name = "a";
		listen = [ "tcp:127.0.0.1:$P1" ];
		service = "nosuch";
	},
	{
		name = "b";
		listen = [ "tcp:127.0.0.1:notaport" ];
		service = "echo";
		frobnicate = true;
	}
);
EOF
BAD_LINES="2 3 9 13 15"

# check_errors FILE PREFIX: FILE holds exactly one PREFIX"bad.conf:N: message"
# line for each N in BAD_LINES, naming what is wrong.
check_errors() {
	_f=$1
	_pre=$2
	_conf="$T/bad\.conf"
	expect_file_match "$_f" "^$_pre$_conf:2: .*workers" "error about workers"
	expect_file_match "$_f" "^$_pre$_conf:3: .*bogus_key" "error about bogus_key"
	expect_file_match "$_f" "^$_pre$_conf:9: .*nosuch" "error about the unknown service"
	expect_file_match "$_f" "^$_pre$_conf:13: .*(notaport|port)" "error about the bad address"
	expect_file_match "$_f" "^$_pre$_conf:15: .*frobnicate" "error about frobnicate"
	_lines=$(grep -E "^$_pre$_conf:[0-9]+: " "$_f" | sed -E "s|^$_pre$_conf:([0-9]+): .*|\1|" |
		sort -n | tr '\n' ' ' | sed 's/ $//')
	expect_eq "$_lines" "$BAD_LINES" "lines named in the errors"
}

# ---- sockd -n: the errors and nothing else on stderr, nothing on stdout.
expect_rc 78 "$SOCKD" -n -f "$T/bad.conf"
check_errors "$T/err" ""
if grep -Ev "^$T/bad\.conf:[0-9]+: " "$T/err" >&2; then
	fail "sockd -n printed lines other than file:line: message"
fi
expect_eq "$(wc -c <"$T/out" | tr -d ' ')" 0 "bytes on stdout of sockd -n with a bad config"

# ---- a real start: the same errors as log lines, exit 78, nothing bound.
expect_rc 78 timeout 20 "$SOCKD" -F -f "$T/bad.conf"
check_errors "$T/err" "sockd: error: "
expect_rc 1 "$TCLIENT" echo -a "tcp:127.0.0.1:$P1" -t 5

# ---- a syntax error: libconfig stops at the first one, still file:line.
cat >"$T/syntax.conf" <<EOF
daemon = {
	workers = 2;
	queue = ;
};
EOF
expect_rc 78 "$SOCKD" -n -f "$T/syntax.conf"
expect_file_match "$T/err" "^$T/syntax\.conf:3: " "syntax error"
expect_rc 78 timeout 20 "$SOCKD" -F -f "$T/syntax.conf"
expect_file_match "$T/err" "^sockd: error: $T/syntax\.conf:3: " "syntax error at start"

# ---- a missing file names the path.
expect_rc 78 "$SOCKD" -n -f "$T/missing.conf"
expect_file_match "$T/err" "$T/missing\.conf" "error about the missing file"
expect_rc 78 timeout 20 "$SOCKD" -F -f "$T/missing.conf"
expect_file_match "$T/err" "$T/missing\.conf" "error about the missing file at start"

# ---- a good config: -n is silent, -nv prints a config that checks again.
cat >"$T/good.conf" <<EOF
daemon = { workers = 1; };
endpoints = (
	{ name = "good-echo"; listen = [ "tcp:127.0.0.1:$P2" ]; service = "echo"; }
);
EOF
expect_rc 0 "$SOCKD" -n -f "$T/good.conf"
expect_eq "$(cat "$T/out" "$T/err")" "" "output of sockd -n with a good config"
expect_rc 0 "$SOCKD" -n -v -f "$T/good.conf"
cp "$T/out" "$T/normalised.conf"
expect_file_match "$T/normalised.conf" 'good-echo' "sockd -nv output"
expect_file_match "$T/normalised.conf" "tcp:127\.0\.0\.1:$P2" "sockd -nv output"
expect_rc 0 "$SOCKD" -n -f "$T/normalised.conf"

# ---- the command line
expect_rc 64 "$SOCKD" -x
expect_file_match "$T/err" '[Uu]sage' "usage after an unknown option"
expect_eq "$(wc -c <"$T/out" | tr -d ' ')" 0 "bytes on stdout after an unknown option"
expect_rc 64 "$SOCKD" -n -f "$T/good.conf" stray
expect_file_match "$T/err" '[Uu]sage' "usage after a stray argument"
expect_rc 0 "$SOCKD" -h
expect_file_match "$T/out" '[Uu]sage' "sockd -h"
expect_rc 0 "$SOCKD" -V
version=$(sed -n 's/^AC_INIT(\[sockd\], *\[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac" 2>/dev/null || :)
expect_match "$(cat "$T/out")" '^sockd [0-9]+\.[0-9]+\.[0-9]+' "sockd -V"
if [ -n "$version" ]; then
	expect_eq "$(cat "$T/out")" "sockd $version" "sockd -V"
fi
exit 0
