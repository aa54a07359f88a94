#!/bin/sh
# The man pages against the code:
#
# 1. Every key that src/config.c accepts is documented in sockd.conf(5), in
#    the section of its group: a tagged paragraph (.TP) whose tag starts
#    with \fBkey\fR (or .B key), under DAEMON SETTINGS for the keys that
#    load_daemon() reads, ENDPOINT SETTINGS for load_endpoint(), STRUCTURE
#    for the top level. Keys are taken from the parser itself, every
#    strcmp(k, "key") in those functions, less the ones whose branch only
#    says "not supported yet".
# 2. groff finds nothing to warn about in the man pages (-ww: all warnings).
#
# Environment (set by `make check`): top_srcdir.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
config_c=$top_srcdir/src/config.c
man5=$top_srcdir/man/sockd.conf.5

failed=0
passed=0

fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# "function key" for every key the parser compares a setting name with.
# A function definition starts at column 0 (the return type is on the line
# before); a branch that only rejects the key as unsupported does not count.
awk '
	/^[a-z_][a-z0-9_]*\(/ { fn = $0; sub(/\(.*/, "", fn) }
	pending != "" {
		if ($0 !~ /not supported yet/)
			print pending
		pending = ""
	}
	/strcmp\(k, "[^"]+"\) == 0/ {
		line = $0
		while (match(line, /strcmp\(k, "[^"]+"\) == 0/)) {
			k = substr(line, RSTART + 11, RLENGTH - 11)
			sub(/".*/, "", k)
			if (pending != "")
				print pending
			pending = fn " " k
			line = substr(line, RSTART + RLENGTH)
		}
	}
	END { if (pending != "") print pending }
' "$config_c" | sort -u >"$tmp/keys"

# Keys every version has: if these are not found, the extraction is broken,
# not the man page.
for want in "load_daemon workers" "load_endpoint listen" "load_root endpoints"; do
	if ! grep -qx "$want" "$tmp/keys"; then
		fail "could not find '$want' in $config_c: update the extraction in $0"
	fi
done

# The man page section that documents the keys of each parser function.
section_of() {
	case $1 in
	load_daemon) echo "DAEMON SETTINGS" ;;
	load_endpoint) echo "ENDPOINT SETTINGS" ;;
	load_root | load_fragment_root) echo "STRUCTURE" ;;
	*) return 1 ;;
	esac
}

# The tags of the .TP paragraphs of one section: "\fBkey\fR ..." or ".B key".
tags_in() {
	awk -v want="$1" '
		/^\.SH/ {
			s = $0
			sub(/^\.SH[ \t]+/, "", s)
			gsub(/"/, "", s)
			in_section = (s == want)
			next
		}
		in_section && tp {
			t = $0
			if (t ~ /^\\fB/) {
				sub(/^\\fB/, "", t)
				sub(/\\f[RIP].*/, "", t)
				print t
			} else if (t ~ /^\.B[R]? /) {
				sub(/^\.B[R]? /, "", t)
				sub(/[ \t].*/, "", t)
				print t
			}
		}
		{ tp = ($0 ~ /^\.TP/) }
	' "$man5"
}

n_keys=0
while read -r fn key; do
	n_keys=$((n_keys + 1))
	if ! section=$(section_of "$fn"); then
		fail "$config_c: $fn() reads key '$key', but $0 does not know which section of sockd.conf(5) documents the keys of $fn()"
		continue
	fi
	if tags_in "$section" | grep -qx -- "$key"; then
		passed=$((passed + 1))
	else
		fail "sockd.conf(5) does not document '$key' (read by $fn() in src/config.c) in section $section"
	fi
done <"$tmp/keys"
if [ "$n_keys" -lt 20 ]; then
	fail "only $n_keys keys found in $config_c: update the extraction in $0"
fi

# groff with every warning on; the output is thrown away, warnings are not.
if command -v groff >/dev/null 2>&1; then
	for page in "$top_srcdir"/man/*.[1-8]; do
		[ -e "$page" ] || continue
		groff -man -ww -z "$page" >"$tmp/groff" 2>&1
		if [ -s "$tmp/groff" ]; then
			fail "groff -man -ww warns about $page:"
			cat "$tmp/groff"
		else
			passed=$((passed + 1))
		fi
	done
else
	fail "groff is not installed (Debian package groff-base)"
fi

echo "man-keys.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
