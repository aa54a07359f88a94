#!/bin/bash
# Build the sockd Debian package as on a fresh Debian 12 machine: in a
# container that holds debootstrap's minbase, build-essential and the
# Build-Depends of debian/control, nothing else, and no network.
#
#   tests/system/build-deb.sh [-n] SRCDIR OUTDIR
#
# SRCDIR is a sockd source tree (a git work tree: its tracked and
# untracked-but-not-ignored files are copied, so build outputs lying around
# do not leak in; otherwise everything). OUTDIR receives the .deb, .changes
# and .buildinfo, and build.log. -n builds with DEB_BUILD_OPTIONS=nocheck
# (no `make check`). Needs root; see container.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/container.sh
. "$here/container.sh"

nocheck=
if [ "${1:-}" = -n ]; then
	nocheck=1
	shift
fi
[ $# -eq 2 ] || { echo "usage: $0 [-n] SRCDIR OUTDIR" >&2; exit 64; }
src=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)

# Build-Depends as a package list: versions, architectures and profiles
# dropped, the first of alternatives, debhelper-compat is debhelper.
build_depends() {
	awk '
		/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, ""); print; next }
		on && /^[ \t]/ { print; next }
		{ on = 0 }
	' "$src/debian/control" | tr '\n' ' ' | tr ',' '\n' |
		sed -e 's/|.*//' -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/<[^>]*>//g' \
			-e 's/[[:space:]]//g' -e 's/^debhelper-compat$/debhelper/' |
		grep -v '^$' | sort -u | paste -sd, -
}

pkgs="build-essential,$(build_depends)"
rootfs=$(ct_rootfs_dir "$pkgs")
ct_rootfs "$rootfs" "$pkgs"

work=$(mktemp -d "${TMPDIR:-/tmp}/sockd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/sockd"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# systemd/sockd.service is made from its .in by an in-tree build; a
	# stale copy would look newer than the Makefile and be packaged.
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		grep -zvx 'systemd/sockd.service' | xargs -0 cp -P --parents -t "$work/sockd")
else
	cp -a "$src/." "$work/sockd"
fi

opts="parallel=$(nproc)"
[ -n "$nocheck" ] && opts="$opts nocheck"
ct_log "building the package in a clean $CT_SUITE container (DEB_BUILD_OPTIONS=$opts)"
rc=0
ct_run "$rootfs" --bind="$work:/build" --chdir=/build/sockd \
	--setenv=DEB_BUILD_OPTIONS="$opts" --setenv=LC_ALL=C.UTF-8 --setenv=HOME=/build \
	-- dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$out/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed ($rc); log: $out/build.log" >&2
	exit 1
fi
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out/"
ls -1 "$out"/*.deb
