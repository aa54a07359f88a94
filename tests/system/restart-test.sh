#!/bin/bash
# Restarts under a real systemd (issue 17): boots a Debian 12 container
# (container.sh), installs the sockd package, points sockd at a TCP, a Unix
# stream and a UDP echo endpoint, and runs bench/restart_probe against them
# (200 new connections/s, 200 datagrams/s, held connections) through:
#
#   restart     N x `systemctl restart sockd`
#   kill        N x `kill -9` of sockd (Restart=on-failure brings it back)
#   upgrade     N x `apt-get install` of the package with a higher version
#               (the .deb repacked with VERSION+restartK; its maintainer
#               scripts restart the service, checked below)
#   stopstart   N x `systemctl stop` then `start`, for contrast: systemd 252
#               empties the fd store on a stop, so this one refuses clients
#
# Each step is a marked window of the probe. The first three must refuse,
# reset and lose nothing; the new sockd must say its sockets were "kept
# from the previous sockd". Prints the probe's table and "N passed, N
# failed"; exits 0 only when all passed, 99 when the container could not be
# set up.
#
#   tests/system/restart-test.sh [-r N] [-k N] [-u N] [-s N] [-o OUTDIR] DEB PROBE
#
# PROBE is a restart_probe binary built on this host (the container runs
# the same Debian release). Defaults: -r 20 -k 5 -u 5 -s 2. OUTDIR keeps
# the probe's output (table and JSON) and the journal. Needs root.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/container.sh
. "$here/container.sh"

N_RESTART=20
N_KILL=5
N_UPGRADE=5
N_STOPSTART=2
OUT=
while getopts r:k:u:s:o: opt; do
	case $opt in
	r) N_RESTART=$OPTARG ;;
	k) N_KILL=$OPTARG ;;
	u) N_UPGRADE=$OPTARG ;;
	s) N_STOPSTART=$OPTARG ;;
	o) OUT=$OPTARG ;;
	*) exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] && [ -f "$1" ] && [ -x "$2" ] || { echo "usage: $0 [-r N] [-k N] [-u N] [-s N] [-o OUTDIR] DEB PROBE" >&2; exit 64; }
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
probe=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")

work=$(mktemp -d "${TMPDIR:-/tmp}/sockd-restart.XXXXXX")
[ -n "$OUT" ] || OUT=$work/out
mkdir -p "$OUT" "$work/debs" "$work/bin"
cp "$probe" "$work/bin/restart_probe"
cp "$deb" "$work/debs/"

passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
ko() { echo "FAIL: $*"; failed=$((failed + 1)); }

# ---- the packages of higher versions, and what their scripts do on upgrade
dpkg-deb -R "$deb" "$work/pkg" || exit 99
version=$(sed -n 's/^Version: //p' "$work/pkg/DEBIAN/control")
for k in $(seq "$N_UPGRADE"); do
	sed -i "s/^Version: .*/Version: $version+restart$k/" "$work/pkg/DEBIAN/control"
	dpkg-deb -b "$work/pkg" "$work/debs/sockd_$version+restart${k}_amd64.deb" >/dev/null || exit 99
done
# dh_installsystemd's postinst restarts the service on an upgrade ("$2" is
# the old version), and its prerm stops it only on a removal: an upgrade is
# `systemctl restart`, so the fd store carries the sockets over.
if grep -q '_dh_action=restart' "$work/pkg/DEBIAN/postinst" &&
    ! grep -B1 "deb-systemd-invoke stop 'sockd.service'" "$work/pkg/DEBIAN/prerm" | grep -q '"$1" = upgrade' &&
    grep -B1 "deb-systemd-invoke stop 'sockd.service'" "$work/pkg/DEBIAN/prerm" | grep -q '"$1" = remove'; then
	ok "postinst restarts sockd.service on an upgrade; prerm does not stop it"
else
	ko "the maintainer scripts do not restart on an upgrade:"
	grep -n 'deb-systemd-invoke' "$work/pkg/DEBIAN/postinst" "$work/pkg/DEBIAN/prerm" | sed 's/^/    /'
fi

CT_NAME=${CT_NAME:-sockd-restart-$$}
CT_BIND_RO="$work/debs:/mnt/debs $work/bin:/mnt/bin"
cleanup() {
	ct_down
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
ct_up || exit 99

cx() { ct_exec timeout 120 "$@"; }
sh_in() { cx bash -c "$1"; }
wait_for() { # wait_for SECONDS SCRIPT
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		sh_in "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
main_pid() { cx systemctl show -p MainPID --value sockd.service; }

if ! cx dpkg -i "/mnt/debs/$(basename "$deb")" >/dev/null; then
	ko "dpkg -i $(basename "$deb")"
	exit 1
fi
[ "$(cx systemctl show -p FileDescriptorStoreMax --value sockd.service)" -gt 0 ] &&
	ok "sockd.service has an fd store (FileDescriptorStoreMax=$(cx systemctl show -p FileDescriptorStoreMax --value sockd.service))" ||
	ko "sockd.service has no fd store"

P=7007
sh_in "cat >/etc/sockd/sockd.conf <<CONF
daemon = {
  user = \"sockd\";
  group = \"sockd\";
  workers = 2;
  shutdown_timeout = 1.0;
  control = \"/run/sockd/control.sock\";
};
endpoints = (
  { name = \"echo\"; listen = [ \"tcp:127.0.0.1:$P\", \"unix:/run/sockd/probe.sock\", \"udp:127.0.0.1:$P\" ];
    service = \"echo\"; udp_rate = 0; }
);
CONF
systemctl restart sockd"
wait_for 20 "[ \"\$(systemctl is-active sockd)\" = active ] && test -S /run/sockd/probe.sock" ||
	{ ko "sockd does not serve the test configuration"; cx journalctl -q -o cat -u sockd -n 20; exit 1; }

TARGETS="tcp:127.0.0.1:$P unix:/run/sockd/probe.sock udp:127.0.0.1:$P"

# figures FILE: "refused reset timeout closed wrong error lost", summed over
# the targets' "all" rows of the probe's table (stream rows have 11
# numbers: attempts ok refused reset timeout closed wrong error p50 p99
# max; udp rows 10: sent ok lost late wrong refused error p50 p99 max).
figures() {
	awk '{ for (i = 1; i <= NF; i++) if ($i == "all") break }
		i > NF { next }
		{ n = NF - i }
		n == 11 { rf += $(i+3); rs += $(i+4); to += $(i+5); cl += $(i+6); wr += $(i+7); er += $(i+8) }
		n == 10 { ls += $(i+3); wr += $(i+5); rf += $(i+6); er += $(i+7) }
		END { print rf+0, rs+0, to+0, cl+0, wr+0, er+0, ls+0 }' "$1"
}

# One probe per kind of restart, each step a marked window. Held
# connections (2 per stream target, a line a second) stay with the old
# sockd until its shutdown_timeout; a kill -9 resets them, so none there.
run_kind() { # run_kind KIND COUNT ACTION
	local kind=$1 n=$2 action=$3 i old t0 t1 times= held=2 rf rs to cl wr er ls
	[ "$n" -gt 0 ] || return 0
	[ "$action" = kill ] && held=0
	sh_in "rm -f /root/probe-$kind.*; systemd-run -q --unit=probe-$kind \
		-p StandardOutput=file:/root/probe-$kind.out -p StandardError=file:/root/probe-$kind.err \
		/mnt/bin/restart_probe -d 3600 -r 200 -H $held -i 1000 -t 5000 $TARGETS"
	wait_for 20 "grep -q 'running: 3 targets' /root/probe-$kind.err" ||
		{ ko "$kind: the probe did not start"; return; }
	sleep 1
	for i in $(seq "$n"); do
		old=$(main_pid)
		cx systemctl kill -s USR1 "probe-$kind"
		wait_for 10 "grep -q 'window $i begins at' /root/probe-$kind.err" || { ko "$kind $i: no window"; return; }
		t0=$(date +%s%N)
		case $action in
		restart) cx systemctl restart sockd ;;
		kill) cx kill -9 "$old" ;;
		upgrade) cx env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			-o Dpkg::Options::=--force-confold "/mnt/debs/sockd_$version+restart${i}_amd64.deb" >/dev/null 2>&1 ||
			ko "$kind $i: apt-get install failed" ;;
		stopstart) cx systemctl stop sockd; cx systemctl start sockd ;;
		esac
		# Until a new sockd serves: another MainPID, active.
		wait_for 30 "p=\$(systemctl show -p MainPID --value sockd); [ \"\$p\" != 0 ] && [ \"\$p\" != $old ] &&
			[ \"\$(systemctl is-active sockd)\" = active ]" || ko "$kind $i: no new sockd"
		t1=$(date +%s%N)
		times="$times $(( (t1 - t0) / 1000000 ))"
		cx systemctl kill -s USR2 "probe-$kind"
		wait_for 10 "grep -q 'window $i ends at' /root/probe-$kind.err" || { ko "$kind $i: window did not end"; return; }
		sleep 1
	done
	echo "$kind: ms from the command to a new sockd serving:$times"
	cx systemctl kill -s INT "probe-$kind"
	wait_for 30 "! systemctl is-active -q probe-$kind" || ko "$kind: the probe did not end"
	ct_exec cat "/root/probe-$kind.out" >"$OUT/probe-$kind.txt"
	ct_exec cat "/root/probe-$kind.err" >"$OUT/probe-$kind.err"
	echo "--- $kind: $n x $action"
	cat "$OUT/probe-$kind.txt"
	read -r rf rs to cl wr er ls <<<"$(figures "$OUT/probe-$kind.txt")"
	echo "$kind: refused $rf, reset $rs, timeout $to, closed $cl, wrong $wr, error $er, datagrams lost $ls"
	case $action in
	stopstart)
		[ "$rf" -gt 0 ] && ok "stop + start refuses clients ($rf): systemd 252 empties the fd store on a stop" ||
			ko "stop + start refused nobody: the probe did not see what it should" ;;
	kill)
		# What the killed process had accepted or read and not yet
		# answered is lost with it: in flight, a few at most.
		if [ "$rf" = 0 ] && [ "$to" = 0 ] && [ "$wr" = 0 ] && [ "$er" = 0 ] &&
		    [ $((rs + cl + ls)) -le $((3 * n)) ]; then
			ok "$kind: $n x kill -9, nothing refused; $((rs + cl)) connections and $ls datagrams in flight lost"
		else
			ko "$kind: $n x kill -9: clients saw more than what was in flight"
		fi ;;
	*)
		[ "$((rf + rs + to + cl + wr + er + ls))" = 0 ] &&
			ok "$kind: $n x $action, nothing refused, reset or lost" ||
			ko "$kind: $n x $action: clients saw failures" ;;
	esac
}

mark=$(ct_jmark)
run_kind restart "$N_RESTART" restart
n_kept=$(cx journalctl -q -o cat -u sockd --cursor="$mark" | grep -c 'kept from the previous sockd)$')
[ "$n_kept" -ge $((3 * N_RESTART)) ] && ok "journal: $n_kept sockets 'kept from the previous sockd' over $N_RESTART restarts" ||
	ko "journal: only $n_kept sockets kept over $N_RESTART restarts"
run_kind kill "$N_KILL" kill
[ "$(cx systemctl show -p NRestarts --value sockd)" -ge "$N_KILL" ] && ok "systemd restarted sockd after each kill -9" ||
	ko "NRestarts=$(cx systemctl show -p NRestarts --value sockd)"
run_kind upgrade "$N_UPGRADE" upgrade
[ "$(cx dpkg-query -W -f='${Version}' sockd)" = "$version+restart$N_UPGRADE" ] && ok "sockd $version+restart$N_UPGRADE installed" ||
	ko "installed: $(cx dpkg-query -W -f='${Version}' sockd)"
run_kind stopstart "$N_STOPSTART" stopstart
cx journalctl -q -o short-monotonic -u sockd >"$OUT/journal.txt" 2>&1 || :

echo "restart-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
