#!/bin/bash
# Run .ci/run as CI does on a fresh machine: a clean clone of one revision
# of this repository (committed work only) in a freshly built and booted
# Debian 12 container with its own systemd, made by systemd-sandbox, with
# the host's network for apt. Prints the time each step and the whole run
# took; the log of the run is kept.
#
#   tests/system/pristine-ci.sh [REV]       (as root; REV defaults to HEAD)
#
# SANDBOX        the systemd-sandbox tool (default /work/shared/tools/systemd-sandbox)
# SANDBOX_NAME   the container's name (default sockd-pristine-ci)
# SANDBOX_CACHE  its root filesystem (default /var/tmp/sockd-pristine-ci); it is
#                deleted and built again from debootstrap on every run, so
#                no earlier run can leave anything in it
# PRISTINE_LOG   the log (default /var/tmp/sockd-pristine-ci.log)
# PRISTINE_KEEP  1: keep the container's root filesystem afterwards (default:
#                deleted; it holds a few gigabytes)
# PRISTINE_PACKAGE_STEP
#                auto (default): run .ci/run's package and system-test step
#                when the container can start containers itself, else skip
#                only that step, saying why; yes: always run it; no: skip it
#
# The container is systemd-sandbox's debootstrap minbase with its base
# packages (systemd, dbus, python3, iproute2, procps, netcat-openbsd, socat,
# adduser, less); .ci/install-deps installs everything else, as on a CI
# machine. Its root filesystem is written directly (SANDBOX_PERSIST=1), not
# into a tmpfs: the toolchain and the builds take a few gigabytes.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
rev=${1:-HEAD}
SANDBOX=${SANDBOX:-/work/shared/tools/systemd-sandbox}
export SANDBOX_NAME=${SANDBOX_NAME:-sockd-pristine-ci}
export SANDBOX_CACHE=${SANDBOX_CACHE:-/var/tmp/sockd-pristine-ci}
export SANDBOX_NET=host
export SANDBOX_PERSIST=1
log=${PRISTINE_LOG:-/var/tmp/sockd-pristine-ci.log}
package_step=${PRISTINE_PACKAGE_STEP:-auto}

step() { printf '\n=== pristine-ci: %s (%s)\n' "$1" "$(date -u +%T)"; }
die() { echo "pristine-ci: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (systemd-nspawn)"
[ -x "$SANDBOX" ] || die "no systemd-sandbox at $SANDBOX (set SANDBOX)"
case $package_step in auto|yes|no) ;; *) die "PRISTINE_PACKAGE_STEP: auto, yes or no" ;; esac
commit=$(git -C "$top" rev-parse --verify "$rev^{commit}") || die "no revision '$rev'"

t_start=$SECONDS
clone=$(mktemp -d "${TMPDIR:-/tmp}/sockd-pristine.XXXXXX")
cleanup() {
	if [ "${PRISTINE_KEEP:-0}" = 1 ]; then
		"$SANDBOX" down >/dev/null 2>&1 || :
	else
		"$SANDBOX" destroy >/dev/null 2>&1 || :
	fi
	rm -rf "$clone"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

step "a clean clone of $commit"
git clone -q --no-local --no-checkout "$top" "$clone/sockd"
git -C "$clone/sockd" checkout -q --detach "$commit"
rm -rf "$clone/sockd/.git"

step "a fresh Debian 12 root filesystem, booted"
"$SANDBOX" destroy >/dev/null 2>&1 || :
"$SANDBOX" up
t_booted=$SECONDS
"$SANDBOX" cp-in "$clone/sockd" /root/sockd

skip_reason=
case $package_step in
no)
	skip_reason="PRISTINE_PACKAGE_STEP=no"
	;;
auto)
	# .ci/package-and-system-test builds and boots containers of its own
	# (debootstrap, systemd-nspawn). Inside this container that needs
	# new mount and PID namespaces and a cgroup it may write to.
	if ! "$SANDBOX" exec unshare --mount --pid --fork --mount-proc true 2>/dev/null; then
		skip_reason="this container cannot create mount and PID namespaces (nested systemd-nspawn)"
	elif ! "$SANDBOX" exec sh -c 'd=/sys/fs/cgroup/pristine-probe.$$; mkdir "$d" && rmdir "$d"' 2>/dev/null; then
		skip_reason="this container's cgroup is not writable (nested systemd-nspawn)"
	fi
	;;
esac
env_skip=
if [ -n "$skip_reason" ]; then
	echo "pristine-ci: the package and system-test step will be SKIPPED: $skip_reason"
	echo "pristine-ci: run .ci/package-and-system-test on a host instead"
	env_skip="SOCKD_CI_SKIP_PACKAGE=$skip_reason"
fi

step ".ci/run inside (log: $log)"
rc=0
# In the background, so that SIGTERM or Ctrl-C reaches the trap at once
# (bash runs a trap only between commands); stopping the container ends it.
# shellcheck disable=SC2016 # expanded inside
"$SANDBOX" exec /usr/bin/env ${env_skip:+"$env_skip"} bash -c 'cd /root/sockd && exec .ci/run' \
	>"$log" 2>&1 &
wait $! || rc=$?
grep '^=== ' "$log" || :
tail -n 20 "$log"

step "done"
printf 'pristine-ci: .ci/run exited %d; %d s in all (%d s to build and boot the container, %d s for .ci/run)\n' \
	"$rc" $((SECONDS - t_start)) $((t_booted - t_start)) $((SECONDS - t_booted))
[ -z "$skip_reason" ] || echo "pristine-ci: skipped: the package and system-test step ($skip_reason)"
exit "$rc"
