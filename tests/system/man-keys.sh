#!/bin/sh
# The man pages against the code:
#
# 1. Every key of the key tables (`sockd --list-keys`: the top level of
#    sockd.conf, daemon, the keys every endpoint has, and each service's
#    own) is documented in sockd.conf(5), in the section of its group: a
#    tagged paragraph (.TP) whose tag starts with \fBkey\fR (or .B key),
#    under STRUCTURE for the top level, DAEMON SETTINGS for daemon, ENDPOINT
#    SETTINGS for the others.
# 2. The tag gives the table's default: "(default \fBVALUE\fR)" when the
#    table has a value (strings in \(dq...\(dq, '-' as \-), "(required)" for
#    a required key, and no "(default \fB" at all otherwise.
# 3. groff finds nothing to warn about in the man pages (-ww: all warnings).
#
# Environment (set by `make check`): top_srcdir, SOCKD.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
SOCKD=${SOCKD:-src/sockd}
man5=$top_srcdir/man/sockd.conf.5

failed=0
passed=0

fail() {
	printf 'FAIL: %s\n' "$*"
	failed=$((failed + 1))
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

if ! "$SOCKD" --list-keys >"$tmp/keys" 2>"$tmp/err"; then
	echo "man-keys.sh: $SOCKD --list-keys failed:"
	cat "$tmp/err"
	exit 99
fi

# Keys every version has: if these are not found, the listing is broken,
# not the man page.
for want in "daemon workers" "endpoint listen" "top endpoints" "exec command"; do
	if ! cut -f1,2 "$tmp/keys" | tr '\t' ' ' | grep -qx "$want"; then
		fail "'$want' is not in sockd --list-keys: update $0"
	fi
done

# The man page section that documents the keys of each table.
section_of() {
	case $1 in
	top) echo "STRUCTURE" ;;
	daemon) echo "DAEMON SETTINGS" ;;
	*) echo "ENDPOINT SETTINGS" ;;
	esac
}

# The tag lines of the .TP paragraphs of one section, whole.
tags_in() {
	awk -v want="$1" '
		/^\.SH/ {
			s = $0
			sub(/^\.SH[ \t]+/, "", s)
			gsub(/"/, "", s)
			in_section = (s == want)
			next
		}
		in_section && tp { print }
		{ tp = ($0 ~ /^\.TP/) }
	' "$man5"
}

# The key a tag line documents: "\fBkey\fR ..." or ".B key".
tag_key() {
	sed -e 's/^\\fB\([^\\]*\)\\f[RIP].*/\1/' -e 's/^\.BR\{0,1\} \([^ ]*\).*/\1/'
}

# A default as the man page writes it.
man_default() {
	printf '%s' "$1" | sed -e 's/\\/\\e/g' -e 's/"/\\(dq/g' -e 's/-/\\-/g'
}

n_keys=0
tab=$(printf '\t')
while IFS=$tab read -r table key type def services addrs range doc; do
	n_keys=$((n_keys + 1))
	section=$(section_of "$table")
	tags_in "$section" >"$tmp/tags"
	line=
	while IFS= read -r t; do
		if [ "$(printf '%s\n' "$t" | tag_key)" = "$key" ]; then
			line=$t
			break
		fi
	done <"$tmp/tags"
	if [ -z "$line" ]; then
		fail "sockd.conf(5) does not document '$key' (table $table) in section $section"
		continue
	fi
	case $def in
	"(required)")
		case $line in
		*"(required)"*) passed=$((passed + 1)) ;;
		*) fail "sockd.conf(5): '$key' is required (table $table), its tag does not say so: $line" ;;
		esac
		;;
	"("*)
		case $line in
		*'(default \fB'*) fail "sockd.conf(5): '$key' has no default value in table $table, but its tag gives one: $line" ;;
		*) passed=$((passed + 1)) ;;
		esac
		;;
	*)
		want="(default \\fB$(man_default "$def")\\fR)"
		case $line in
		*"$want"*) passed=$((passed + 1)) ;;
		*) fail "sockd.conf(5): '$key' defaults to $def in table $table; its tag should have '$want': $line" ;;
		esac
		;;
	esac
done <"$tmp/keys"
if [ "$n_keys" -lt 40 ]; then
	fail "only $n_keys keys in sockd --list-keys: update $0"
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
