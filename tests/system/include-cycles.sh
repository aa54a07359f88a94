#!/bin/sh
# The source tree's dependencies run one way: no module reaches itself
# through #include.
#
# A module is a base name: src/foo.c and src/foo.h are module foo. Each
# #include "bar.h" of a file of module foo (bar.h in src/, bar != foo) is
# an edge foo -> bar. The check fails, naming the loop, when some module
# can reach itself along those edges. Only quoted includes of headers that
# exist in src/ count; system headers are not ours.
#
# Usage: include-cycles.sh [SRCDIR]   (default: $top_srcdir/src)
# Environment (set by `make check`): top_srcdir.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
src=${1:-$top_srcdir/src}

if [ ! -d "$src" ] || ! ls "$src"/*.h >/dev/null 2>&1; then
	echo "include-cycles: no headers in $src" >&2
	exit 99
fi

# One "from to" line per edge, then a depth-first search in awk that
# reports the first back edge it meets as a loop of module names.
for f in "$src"/*.c "$src"/*.h; do
	[ -e "$f" ] || continue
	m=$(basename "$f")
	m=${m%.*}
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)\.h".*/\1/p' "$f" |
	while read -r h; do
		[ "$h" != "$m" ] && [ -e "$src/$h.h" ] && echo "$m $h"
	done
done | sort -u | awk '
{
	if (!($1 in seen)) { seen[$1] = 1; nodes[++n] = $1 }
	if (!($2 in seen)) { seen[$2] = 1; nodes[++n] = $2 }
	out[$1] = out[$1] " " $2
	edges++
}
function visit(v,    k, i, w, list, loop) {
	state[v] = 1            # on the current path
	path[++depth] = v
	k = split(out[v], list, " ")
	for (i = 1; i <= k; i++) {
		w = list[i]
		if (state[w] == 1) {
			for (j = depth; j >= 1 && path[j] != w; j--)
				;
			loop = ""
			for (; j <= depth; j++)
				loop = loop path[j] " -> "
			print "include cycle: " loop w
			found++
			continue
		}
		if (state[w] == 0)
			visit(w)
	}
	depth--
	state[v] = 2            # done
}
END {
	for (i = 1; i <= n; i++)
		if (state[nodes[i]] == 0)
			visit(nodes[i])
	if (found) {
		print "FAIL: " found " include cycle(s) among " n " modules"
		exit 1
	}
	print "PASS: " n " modules, " edges " include edges, no cycle"
}'
