#!/bin/bash
# The sockd Debian package under a real systemd: boots a Debian 12
# container (systemd-nspawn, see container.sh), installs the package and
# checks what an operator relies on:
#
#   install     the sockd user, the service enabled and active, active only
#               once sockd sent READY=1, serving as root with only the unit's
#               capabilities (as inetd: inetd.conf lines name their users);
#               an empty /etc/inetd.conf
#   endpoints   echo over TCP (IPv4, IPv6) and the Unix socket, discard,
#               daytime, chargen, time; the autopkgtest smoke test
#   reload      a new endpoint in sockd.conf and one in conf.d answer, a
#               connection open across the reload survives; exec and
#               forward work inside the unit's sandbox; a port sockd
#               may no longer bind is refused clearly; a broken file: the
#               reload fails with file:line, sockd keeps serving
#   watchdog    a short WatchdogSec= does not kill a healthy sockd
#   exec user   without daemon.user, an exec program runs as another user
#   activation  sockd.socket starts sockd on the first connection and sockd
#               serves on the sockets it was given, by address; a socket
#               unit of one endpoint hands its socket over by name
#   stop        clean: exit 0, no SIGKILL, open connections drained
#   inetd       packages from the Debian mirror that use update-inetd
#               (fingerd, and nullidentd, which depends on inet-superserver)
#               install with sockd as the provider, not openbsd-inetd; their
#               services answer; update-inetd --disable and --enable take
#               effect at once, and an echo connection held open through it
#               all still echoes; in.fingerd shows a user's ~/.plan only
#               with the inetd-compat drop-in (/usr/share/sockd)
#   purge       dpkg --purge removes the service, and the empty inetd.conf
#
#   tests/system/package-test.sh DEB
#
# Needs root (see container.sh). Prints "N passed, N failed"; exits 0 only
# when all passed, 99 when the container could not be set up.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/system/container.sh
. "$here/container.sh"

[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: $0 DEB" >&2; exit 64; }
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

# The inetd test's packages: the container has no network, so they are
# fetched here, on the host, from its Debian mirror.
inetd_debs=$(mktemp -d /tmp/sockd-inetd-debs.XXXXXX)
chmod 755 "$inetd_debs"         # apt reads them as its user _apt
if (cd "$inetd_debs" && apt-get download fingerd finger nullidentd) >"$inetd_debs/download.log" 2>&1; then
	inetd_debs_ok=1
else
	inetd_debs_ok=0
fi
CT_BIND_RO="$(dirname "$deb"):/mnt/debs $top/debian/tests:/mnt/autopkgtest $inetd_debs:/mnt/inetd-debs"
# SOCKD_TEST_KEEP=1 leaves the container running for a look inside.
if [ "${SOCKD_TEST_KEEP:-0}" = 1 ]; then
	trap 'ct_log "kept running: CT_NAME=$CT_NAME; source tests/system/container.sh; ct_exec ...; ct_down"' EXIT
else
	trap 'ct_down; rm -rf "$inetd_debs"' EXIT
fi
trap 'exit 1' HUP INT TERM
ct_up || exit 99

passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
ko() { echo "FAIL: $*"; failed=$((failed + 1)); }

# cx CMD...: run CMD in the container, at most 60 s.
cx() { ct_exec timeout 60 "$@"; }
# sh SCRIPT: run a shell script in the container.
sh_in() { cx bash -c "$1"; }
# check DESCRIPTION CMD...: the command succeeds in the container.
check() {
	local what=$1 out
	shift
	if out=$(cx "$@" 2>&1); then
		ok "$what"
	else
		ko "$what"
		printf '%s\n' "$out" | sed 's/^/    /' | tail -n 20
	fi
}
# wait_for SECONDS SCRIPT: until the script succeeds in the container.
wait_for() {
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		sh_in "$2" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
# The journal position now, and the unit's messages after it.
jmark() { ct_jmark; }
jsince() { cx journalctl -q --no-pager -o cat -u "${2:-sockd.service}" --cursor="$1"; }
unit_prop() { cx systemctl show -p "$2" --value "$1"; }

echo_ok() { # echo_ok TEXT NC-ARGS...: echo answers TEXT over nc
	local text=$1
	shift
	[ "$(echo "$text" | cx nc -N -w 10 "$@")" = "$text" ]
}
unix_echo_ok() { # unix_echo_ok PATH
	[ "$(echo "unix $1" | cx socat -t 10 - "UNIX-CONNECT:$1")" = "unix $1" ]
}
conf=/etc/sockd/sockd.conf

# ------------------------------------------------------------ install
echo "=== install"
if out=$(cx dpkg -i "/mnt/debs/$(basename "$deb")" 2>&1); then
	ok "dpkg -i $(basename "$deb")"
else
	ko "dpkg -i $(basename "$deb")"
	echo "$out" | sed 's/^/    /'
	echo "$passed passed, $failed failed"
	exit 1
fi
check "sockd user and group exist" sh -c 'getent passwd sockd && getent group sockd'
check "sockd user has no login shell" sh -c 'getent passwd sockd | grep -q ":/usr/sbin/nologin$"'
[ "$(cx systemctl is-enabled sockd.service)" = enabled ] && ok "sockd.service is enabled" ||
	ko "sockd.service is not enabled"
[ "$(cx systemctl is-active sockd.service)" = active ] && ok "sockd.service is active right after dpkg -i" ||
	ko "sockd.service is $(cx systemctl is-active sockd.service) after dpkg -i"
[ "$(cx systemctl is-enabled sockd.socket)" = disabled ] && ok "sockd.socket is installed, not enabled" ||
	ko "sockd.socket is $(cx systemctl is-enabled sockd.socket)"
# dpkg -i returned once systemctl start did, i.e. once READY=1 came: so
# every listener answers now, without retrying.
echo_ok "first try" 127.0.0.1 7 && ok "echo answers at once when dpkg -i returns" ||
	ko "echo does not answer when dpkg -i returns"
status=$(unit_prop sockd.service StatusText)
[[ $status == *endpoints* ]] && ok "STATUS= reaches systemd: '$status'" || ko "StatusText is '$status'"

pid=$(unit_prop sockd.service MainPID)
check "sockd serves as root, as inetd" sh -c "[ \"\$(ps -o user= -p $pid)\" = root ]"
# CAP_CHOWN, CAP_SETGID, CAP_SETUID, CAP_NET_BIND_SERVICE: 0x4c1.
check "sockd has only the capabilities of the unit's bounding set" sh -c \
	"grep -q '^CapEff:[[:space:]]*00000000000004c1\$' /proc/$pid/status"
check "an empty /etc/inetd.conf was created" sh -c \
	'[ -f /etc/inetd.conf ] && ! grep -q "^[[:alnum:]/[]" /etc/inetd.conf && grep -q "^#:INFO:" /etc/inetd.conf'
check "the shipped sockd.conf reads /etc/inetd.conf" sh -c \
	'grep -q "^  inetd_conf = \"/etc/inetd.conf\";" /etc/sockd/sockd.conf'
check "the shipped configuration passes sockd -n" sockd -n
check "systemd-analyze verify sockd.service sockd.socket" sh -c \
	'out=$(systemd-analyze verify --man=no sockd.service sockd.socket 2>&1); echo "$out"; [ -z "$out" ]'

# Type=notify: systemd calls the unit active only once sockd says READY=1,
# not when the process starts. A drop-in delays sockd's start by 4 s: all
# that time the unit must be "activating" with nothing listening.
sh_in 'mkdir -p /run/systemd/system/sockd.service.d &&
	printf "[Service]\nExecStart=\nExecStart=/bin/sh -c \"sleep 4; exec /usr/sbin/sockd -F\"\n" \
		>/run/systemd/system/sockd.service.d/delay.conf &&
	systemctl daemon-reload && systemctl stop sockd && systemctl start --no-block sockd'
state=$(cx systemctl is-active sockd.service)
listening=$(cx ss -Hltn 'sport = :7' | wc -l)
if [ "$state" = activating ] && [ "$listening" -eq 0 ]; then
	ok "before READY=1: sockd.service is 'activating', nothing listens"
else
	ko "before READY=1: sockd.service is '$state', $listening listeners on port 7"
fi
cx timeout 30 systemctl start sockd.service # waits for the start job
state=$(cx systemctl is-active sockd.service)
listening=$(cx ss -Hltn 'sport = :7' | wc -l)
if [ "$state" = active ] && [ "$listening" -ge 2 ]; then
	ok "after READY=1: sockd.service is 'active', port 7 listens"
else
	ko "after READY=1: sockd.service is '$state', $listening listeners on port 7"
fi
sh_in 'rm -rf /run/systemd/system/sockd.service.d && systemctl daemon-reload && systemctl restart sockd'

# ------------------------------------------------------------ endpoints
echo "=== endpoints"
for host in 127.0.0.1 ::1; do
	echo_ok "hello $host" "$host" 7 && ok "echo over TCP on $host" || ko "echo over TCP on $host"
	line=$(cx nc -w 10 "$host" 13 </dev/null)
	[[ $line =~ ^[A-Z][a-z]+day,\ [A-Z][a-z]+\ [0-9]{2},\ [0-9]{4}\ [0-9]{2}:[0-9]{2}:[0-9]{2}-[A-Z]+$'\r'$ ]] &&
		ok "daytime on $host: '${line%$'\r'}'" || ko "daytime on $host: '$line'"
	check "time on $host (rdate)" rdate -p -o 37 "$host"
	check "discard on $host" sh -c "head -c 100000 /dev/zero | nc -N -w 10 $host 9"
done
unix_echo_ok /run/sockd/echo.sock && ok "echo over the Unix socket" || ko "echo over the Unix socket"

# time: seconds since 1900 within a minute of the container's clock
bytes=$(cx sh -c 'socat -u -t 10 TCP:127.0.0.1:37 - | od -An -tu1')
read -r b0 b1 b2 b3 <<<"$bytes"
now=$(cx date +%s)
if [ -n "${b3:-}" ]; then
	t=$(((b0 << 24 | b1 << 16 | b2 << 8 | b3) - 2208988800))
	((t - now < 60 && now - t < 60)) && ok "time says $t, the clock says $now" ||
		ko "time says $t, the clock says $now"
else
	ko "time sent '$bytes'"
fi

# chargen: the RFC 864 pattern, line N starts N characters into the ring
ring=$(printf '%s' "$(awk 'BEGIN { for (i = 32; i < 127; i++) printf "%c", i }')")
expect=""
for n in 0 1; do
	expect+="${ring:n:72}"$'\r\n'
done
got=$(cx sh -c 'nc -w 10 127.0.0.1 19 </dev/null | head -c 148' | od -An -c | tr -s ' \n' ' ')
want=$(printf '%s' "$expect" | od -An -c | tr -s ' \n' ' ')
[ "$got" = "$want" ] && ok "chargen sends the RFC 864 pattern" || ko "chargen sent: $got"

if out=$(cx /mnt/autopkgtest/smoke 2>&1); then
	ok "debian/tests/smoke (autopkgtest)"
else
	ko "debian/tests/smoke (autopkgtest):"
	echo "$out" | sed 's/^/    /'
fi

# ------------------------------------------------------------ reload
echo "=== reload"
# A client holds a connection to echo across the reload.
sh_in 'cat >/root/hold.sh <<EOF
exec 3<>/dev/tcp/127.0.0.1/7
echo before >&3; read -r line <&3; echo "\$line" >/tmp/hold.1
while [ ! -e /tmp/hold.go ]; do sleep 0.1; done
echo after >&3; read -r line <&3; echo "\$line" >/tmp/hold.2
EOF
rm -f /tmp/hold.*; systemd-run -q --unit=hold bash /root/hold.sh'
wait_for 10 'grep -qx before /tmp/hold.1' && ok "a client holds a connection to echo" ||
	ko "the holding client did not get its first echo"

sh_in "cp $conf /root/sockd.conf.orig"
# The new endpoint goes first in the list, so it needs no comma after the
# one before it.
sh_in "sed -i '0,/^endpoints = (/s//endpoints = (\\n  { name = \"echo2\"; listen = [ \"tcp:127.0.0.1:2007\", \"unix:\\/run\\/sockd\\/echo2.sock\" ]; service = \"echo\"; },/' $conf"
sh_in 'printf "endpoints = ( { name = \"echo3\"; listen = \"tcp:127.0.0.1:2008\"; service = \"echo\"; } );\n" >/etc/sockd/conf.d/echo3.conf'
# exec and forward inside the unit's sandbox: a program per connection, and
# a Unix socket server (a stand-in for mysqld) made reachable over TCP.
sh_in 'mkdir -p /run/fakedb && systemd-run -q --unit=fakedb \
	socat UNIX-LISTEN:/run/fakedb/db.sock,fork,mode=0666 EXEC:/bin/cat'
sh_in 'cat >/etc/sockd/conf.d/services.conf <<EOF
endpoints = (
  { name = "whoami"; listen = "tcp:127.0.0.1:7100"; service = "exec";
    command = [ "/bin/sh", "-c", "id -un; env" ]; env = "GREETING=hello"; },
  { name = "db"; listen = "tcp:127.0.0.1:3307"; service = "forward";
    upstream = "unix:/run/fakedb/db.sock"; }
);
EOF'
check "the edited configuration passes sockd -n" sockd -n
mark=$(jmark)
check "systemctl reload sockd" systemctl reload sockd
wait_for 20 'echo x | nc -N -w 2 127.0.0.1 2007 | grep -qx x' && ok "new endpoint in sockd.conf answers (tcp:127.0.0.1:2007)" ||
	ko "new endpoint tcp:127.0.0.1:2007 does not answer"
unix_echo_ok /run/sockd/echo2.sock && ok "new Unix socket in /run/sockd answers" ||
	ko "new Unix socket /run/sockd/echo2.sock does not answer"
echo_ok "conf.d" 127.0.0.1 2008 && ok "new endpoint in conf.d/echo3.conf answers" || ko "conf.d endpoint does not answer"
out=$(cx nc -w 10 127.0.0.1 7100 </dev/null)
if [ "$(head -n 1 <<<"$out")" = root ] && grep -qx 'TCPREMOTEIP=127.0.0.1' <<<"$out" &&
    grep -qx 'GREETING=hello' <<<"$out"; then
	ok "exec: the program runs as sockd does (root), with TCPREMOTEIP and env"
else
	ko "exec answered:"
	echo "$out" | sed 's/^/    /' | head -n 20
fi
echo_ok "through forward" 127.0.0.1 3307 && ok "forward: tcp:127.0.0.1:3307 reaches the Unix socket server" ||
	ko "forward to unix:/run/fakedb/db.sock does not answer"
echo_ok "old" 127.0.0.1 7 && ok "old endpoint still answers" || ko "old endpoint does not answer after the reload"
cx touch /tmp/hold.go
wait_for 10 'grep -qx after /tmp/hold.2' && ok "the connection opened before the reload still echoes" ||
	ko "the connection opened before the reload was lost"
jsince "$mark" | grep -q '^reloaded:' && ok "journal: 'reloaded:'" || ko "no 'reloaded:' in the journal"
[ "$(unit_prop sockd.service MainPID)" = "$pid" ] || pid=$(unit_prop sockd.service MainPID)

# With daemon.user, a port below 1024 needs a privilege sockd gave up: the
# reload must say so and keep the configuration running.
sh_in "sed -i 's/^  #user = \"sockd\";/  user = \"sockd\";/; s/^  #group = \"sockd\";/  group = \"sockd\";/' $conf &&
	systemctl restart sockd"
pid=$(unit_prop sockd.service MainPID)
check "with daemon.user, sockd serves as user sockd" sh -c "[ \"\$(ps -o user= -p $pid)\" = sockd ]"
check "with daemon.user, sockd has no capabilities left" sh -c "grep -q '^CapEff:[[:space:]]*0*\$' /proc/$pid/status"
sh_in "cp $conf /root/sockd.conf.good && sed -i 's/\"tcp:127.0.0.1:2007\"/\"tcp:127.0.0.1:2007\", \"tcp:127.0.0.1:99\"/' $conf"
mark=$(jmark)
cx systemctl reload sockd >/dev/null 2>&1
if wait_for 20 "journalctl -q -o cat -u sockd --cursor='$mark' | grep -q 'needs privileges'"; then
	ok "journal: a new port below 1024 'needs privileges sockd gave up'"
else
	ko "no 'needs privileges' message:"
	jsince "$mark" | sed 's/^/    /' | tail -n 10
fi
[ "$(cx systemctl is-active sockd)" = active ] && echo_ok "still" 127.0.0.1 2007 &&
	ok "sockd keeps serving after the refused reload" || ko "sockd stopped serving after the refused reload"
sh_in "cp /root/sockd.conf.good $conf"

# A broken file: `systemctl reload` fails and says where; sockd keeps
# serving. Then SIGHUP straight to sockd: sockd itself refuses the file.
sh_in "echo 'bogus_key = 1;' >>$conf"
line=$(cx sh -c "wc -l <$conf")
mark=$(jmark)
if cx systemctl reload sockd >/dev/null 2>&1; then
	ko "systemctl reload succeeded with a broken sockd.conf"
else
	ok "systemctl reload fails on a broken sockd.conf"
fi
jsince "$mark" | grep -q "^$conf:$line: unknown top-level key 'bogus_key'" &&
	ok "journal: '$conf:$line: unknown top-level key' (from ExecReload)" ||
	{ ko "journal lacks '$conf:$line:'"; jsince "$mark" | sed 's/^/    /' | tail -n 10; }
mark=$(jmark)
cx systemctl kill -s HUP --kill-who=main sockd
if wait_for 20 "journalctl -q -o cat -u sockd --cursor='$mark' | grep -q 'still serving the previous configuration'"; then
	ok "sockd refuses the broken file on SIGHUP and keeps the old configuration"
else
	ko "sockd did not log that it keeps the previous configuration"
fi
jsince "$mark" | grep -q "^$conf:$line: unknown top-level key 'bogus_key'" &&
	ok "journal: sockd's own '$conf:$line:' error" || ko "sockd did not log '$conf:$line:'"
[ "$(cx systemctl is-active sockd)" = active ] && ok "sockd.service stays active" || ko "sockd.service is not active"
echo_ok "kept" 127.0.0.1 2007 && echo_ok "kept" 127.0.0.1 7 && ok "the old configuration still serves" ||
	ko "the old configuration does not serve"
[[ $(unit_prop sockd.service StatusText) == *"reload failed"* ]] && ok "STATUS= says the last reload failed" ||
	ko "StatusText: $(unit_prop sockd.service StatusText)"
sh_in "cp /root/sockd.conf.good $conf"
check "systemctl reload sockd with the file fixed" systemctl reload sockd
wait_for 20 "systemctl show -p StatusText --value sockd | grep -qv 'reload failed'" &&
	ok "STATUS= clears after a good reload" || ko "STATUS= still says the reload failed"

if cx test -x /usr/bin/sockctl; then
	check "sockctl status over the control socket" sockctl status
fi

# ------------------------------------------------------------ watchdog
echo "=== watchdog"
sh_in 'mkdir -p /run/systemd/system/sockd.service.d &&
	printf "[Service]\nWatchdogSec=2s\n" >/run/systemd/system/sockd.service.d/wd.conf &&
	systemctl daemon-reload && systemctl restart sockd'
pid=$(unit_prop sockd.service MainPID)
sleep 6
if [ "$(unit_prop sockd.service MainPID)" = "$pid" ] && [ "$(cx systemctl is-active sockd)" = active ] &&
    [ "$(unit_prop sockd.service NRestarts)" = 0 ]; then
	ok "WatchdogSec=2s: sockd pings in time (same pid after 6 s)"
else
	ko "WatchdogSec=2s: sockd was restarted or failed"
	cx journalctl -q -o cat -u sockd -n 10 | sed 's/^/    /'
fi
sh_in 'rm -rf /run/systemd/system/sockd.service.d && systemctl daemon-reload && systemctl restart sockd'

# ------------------------------------------------------------ exec as root
echo "=== exec as another user"
# Without daemon.user sockd serves as root, and an exec endpoint may run
# its program as any user: the unit's capabilities must allow the switch.
sh_in "cp $conf /root/sockd.conf.good && sed -i '/^  user = \"sockd\";/d; /^  group = \"sockd\";/d' $conf &&
	printf 'endpoints = ( { name = \"asnobody\"; listen = \"tcp:127.0.0.1:7101\"; service = \"exec\";
	command = [ \"/usr/bin/id\", \"-un\" ]; user = \"nobody\"; } );\n' >/etc/sockd/conf.d/asnobody.conf &&
	systemctl restart sockd"
out=$(cx nc -w 10 127.0.0.1 7101 </dev/null)
[ "$out" = nobody ] && ok "exec user = \"nobody\" runs the program as nobody" || ko "exec as nobody answered '$out'"
sh_in "cp /root/sockd.conf.good $conf && rm -f /etc/sockd/conf.d/asnobody.conf && systemctl restart sockd"

# ------------------------------------------------------------ stop
echo "=== stop"
# With a connection open, stop waits for it (daemon.shutdown_timeout, 10 s
# in the shipped file), then sockd closes it and exits 0: no SIGKILL.
sh_in 'rm -f /tmp/hold.*; systemd-run -q --unit=hold2 bash /root/hold.sh'
wait_for 10 'grep -qx before /tmp/hold.1' || ko "the holding client did not connect"
mark=$(jmark)
check "systemctl stop sockd (a connection open)" timeout 40 systemctl stop sockd
result=$(unit_prop sockd.service Result)
code=$(unit_prop sockd.service ExecMainCode)
status=$(unit_prop sockd.service ExecMainStatus)
# ExecMainCode 1 is CLD_EXITED: sockd exited by itself, not by a signal.
if [ "$result" = success ] && [ "$code" = 1 ] && [ "$status" = 0 ]; then
	ok "sockd exited 0 on stop (Result=success)"
else
	ko "stop: Result=$result ExecMainCode=$code ExecMainStatus=$status"
fi
cx touch /tmp/hold.go
if jsince "$mark" | grep -Ei 'SIGKILL|timed out|Killing'; then
	ko "the journal shows a forced stop"
else
	ok "no SIGKILL or timeout in the journal"
fi

# ------------------------------------------------------------ activation
echo "=== socket activation"
sh_in "cp /root/sockd.conf.orig $conf && rm -f /etc/sockd/conf.d/*.conf"
check "systemctl enable --now sockd.socket" systemctl enable --now sockd.socket
[ "$(cx systemctl is-active sockd.service)" = inactive ] && ok "sockd.service waits for a client" ||
	ko "sockd.service is $(cx systemctl is-active sockd.service) before any client"
mark=$(jmark)
echo_ok "activated" 127.0.0.1 7 && ok "the first connection starts sockd and gets its echo" ||
	ko "no echo through sockd.socket"
[ "$(cx systemctl is-active sockd.service)" = active ] && ok "sockd.service is active" ||
	ko "sockd.service is $(cx systemctl is-active sockd.service)"
n_socket=$(cx sh -c 'grep -c "^Listen" /lib/systemd/system/sockd.socket')
n_adopted=$(jsince "$mark" | grep -c 'from systemd)$')
n_bound=$(jsince "$mark" | grep '^listening on' | grep -vc 'from systemd)$')
if [ "$n_adopted" -eq "$n_socket" ] && [ "$n_bound" -eq 0 ]; then
	ok "sockd serves on the $n_socket sockets systemd passed, binds none itself"
else
	ko "sockd adopted $n_adopted of $n_socket sockets and bound $n_bound itself:"
	jsince "$mark" | grep '^listening' | sed 's/^/    /'
fi
if out=$(cx /mnt/autopkgtest/smoke 2>&1); then
	ok "every endpoint answers under socket activation (smoke)"
else
	ko "smoke under socket activation:"
	echo "$out" | sed 's/^/    /'
fi
check "systemctl reload under socket activation" systemctl reload sockd
wait_for 20 "journalctl -q -o cat -u sockd --cursor='$mark' | grep -q '^reloaded:'" &&
	echo_ok "after reload" 127.0.0.1 7 && ok "passed sockets serve after a reload" ||
	ko "passed sockets do not serve after a reload"
# Stopping the service leaves the sockets with systemd, the Unix one too.
check "systemctl stop sockd.service" systemctl stop sockd.service
[ "$(unit_prop sockd.service Result)" = success ] && ok "clean stop under socket activation" ||
	ko "stop under socket activation: Result=$(unit_prop sockd.service Result)"
unix_echo_ok /run/sockd/echo.sock && ok "the Unix socket starts sockd again" ||
	ko "the Unix socket of sockd.socket does not start sockd again"
sh_in 'systemctl stop sockd.service sockd.socket && systemctl disable -q sockd.socket'

# One endpoint under socket activation by name: a socket on another
# address, FileDescriptorName=echo, goes to the endpoint echo.
sh_in 'printf "[Socket]\nListenStream=127.0.0.1:3007\nFileDescriptorName=echo\nService=sockd.service\n" \
	>/etc/systemd/system/sockd-echo.socket && systemctl daemon-reload &&
	systemctl start sockd-echo.socket'
mark=$(jmark)
echo_ok "by name" 127.0.0.1 3007 && ok "a socket named echo on port 3007 starts sockd and echoes" ||
	ko "no echo on the socket named echo"
jsince "$mark" | grep -q '^listening on tcp:127.0.0.1:3007 (echo, from systemd)$' &&
	ok "journal: sockd gave the socket to endpoint echo by name" ||
	{ ko "sockd did not take the named socket"; jsince "$mark" | grep '^listening' | sed 's/^/    /'; }
echo_ok "self" 127.0.0.1 7 && ok "sockd binds the endpoint's own addresses itself" ||
	ko "the endpoint's own address does not answer"
sh_in 'systemctl stop sockd.service sockd-echo.socket; rm -f /etc/systemd/system/sockd-echo.socket;
	systemctl daemon-reload && systemctl start sockd.service'

# ------------------------------------------------------------ inetd
echo "=== inet-superserver"
# An echo connection held open through all of it: it sends "eN" whenever
# /tmp/h3.N appears and writes what came back to /tmp/h3.out.
sh_in 'cat >/root/hold3.sh <<EOF
exec 3<>/dev/tcp/127.0.0.1/7
n=0
while [ \$n -le 3 ] && [ ! -e /tmp/h3.end ]; do
	if [ \$n = 0 ] || [ -e /tmp/h3.\$n ]; then
		echo "e\$n" >&3; read -r line <&3; echo "\$line" >>/tmp/h3.out; n=\$((n + 1))
	fi
	sleep 0.1
done
EOF
rm -f /tmp/h3.*; systemd-run -q --unit=hold3 bash /root/hold3.sh'
held_echo() { # held_echo N: step N of the held connection echoes
	cx touch "/tmp/h3.$1"
	wait_for 10 "grep -qx e$1 /tmp/h3.out"
}
if [ "$inetd_debs_ok" = 1 ]; then
	wait_for 10 'grep -qx e0 /tmp/h3.out' && ok "a client holds a connection to echo" ||
		ko "the holding client did not get its first echo"
	# apt, not dpkg: it must find nullidentd's "openbsd-inetd |
	# inet-superserver" in sockd, or fail (there is no network to fetch
	# openbsd-inetd with).
	mark=$(jmark)
	if out=$(cx sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    /mnt/inetd-debs/fingerd_*.deb /mnt/inetd-debs/finger_*.deb /mnt/inetd-debs/nullidentd_*.deb 2>&1'); then
		ok "apt-get install fingerd finger nullidentd (from the Debian mirror, via the host)"
	else
		ko "apt-get install fingerd nullidentd:"
		echo "$out" | sed 's/^/    /' | tail -n 20
	fi
	if cx dpkg-query -W -f='${Status}' openbsd-inetd 2>/dev/null | grep -q 'install ok installed' ||
	    grep -q openbsd-inetd <<<"$out"; then
		ko "openbsd-inetd was pulled in"
	else
		ok "openbsd-inetd was not pulled in: sockd provides inet-superserver"
	fi
	check "fingerd's line is in /etc/inetd.conf" grep -Eq \
		'^finger[[:space:]]+stream[[:space:]]+tcp[[:space:]]+nowait[[:space:]]+nobody[[:space:]]+/usr/sbin/tcpd[[:space:]]+/usr/sbin/in.fingerd' \
		/etc/inetd.conf
	if wait_for 20 "printf 'root\\r\\n' | nc -w 5 127.0.0.1 79 | grep -q 'Login: root'"; then
		ok "finger: in.fingerd through tcpd answers a query for root on port 79"
	else
		ko "finger does not answer on port 79:"
		jsince "$mark" | sed 's/^/    /' | tail -n 15
	fi
	if wait_for 20 "printf '4000, 79\\r\\n' | nc -w 5 127.0.0.1 113 | grep -q USERID"; then
		ok "ident: nullidentd answers on port 113"
	else
		ko "nullidentd does not answer on port 113"
	fi
	# journald may file the line a moment after the reload it announces
	if wait_for 10 "journalctl -q --no-pager -o cat -u sockd.service --cursor='$mark' | grep -q '^inetd.conf changed'"; then
		ok "journal: sockd saw update-inetd's changes by itself"
	else
		ko "no 'inetd.conf changed' in the journal:"
		cx journalctl -q --no-pager -o short-precise --cursor="$mark" | sed 's/^/    /' | tail -n 60
	fi
	check "sockctl status names finger/tcp" sh -c 'sockctl status | grep -q finger/tcp'
	held_echo 1 && ok "the held connection echoes after the packages' installs" ||
		ko "the held connection does not echo after the installs"

	check "update-inetd --disable finger" update-inetd --disable finger
	wait_for 20 '! printf "root\r\n" | nc -w 5 127.0.0.1 79 | grep -q Login' &&
		ok "finger is off after update-inetd --disable" || ko "finger still answers after --disable"
	held_echo 2 && ok "the held connection echoes after --disable" ||
		ko "the held connection does not echo after --disable"
	check "update-inetd --enable finger" update-inetd --enable finger
	wait_for 20 "printf 'root\\r\\n' | nc -w 5 127.0.0.1 79 | grep -q 'Login: root'" &&
		ok "finger answers again after update-inetd --enable" || ko "finger does not answer after --enable"
	held_echo 3 && ok "the held connection still echoes after --enable" ||
		ko "the held connection does not echo after --enable"
	jsince "$mark" | grep -q 'reload failed' && ko "a reload failed" || ok "no reload failed"
	[ "$(unit_prop sockd.service NRestarts)" = 0 ] && ok "sockd was never restarted" ||
		ko "sockd was restarted"

	# The sandbox binds inetd's programs: in.fingerd cannot read a
	# user's ~/.plan (ProtectHome=yes) until the inetd-compat drop-in
	# that sockd(8) shows is installed.
	sh_in 'useradd -m -s /bin/sh alice && echo plan-of-alice-7f3 >/home/alice/.plan &&
		chmod 755 /home/alice && chmod 644 /home/alice/.plan'
	plan() { printf 'alice\r\n' | cx nc -w 5 127.0.0.1 79; }
	out=$(plan)
	if grep -q 'Login: alice' <<<"$out" && ! grep -q 'plan-of-alice-7f3' <<<"$out"; then
		ok "sandboxed: finger answers for alice, without her ~/.plan"
	else
		ko "sandboxed: finger says:"
		sed 's/^/    /' <<<"$out"
	fi
	sh_in 'mkdir -p /etc/systemd/system/sockd.service.d &&
		cp /usr/share/sockd/inetd-compat.conf /etc/systemd/system/sockd.service.d/ &&
		systemctl daemon-reload && systemctl restart sockd.service' &&
		ok "restart with /usr/share/sockd/inetd-compat.conf as a drop-in" ||
		ko "restart with the inetd-compat drop-in"
	pid=$(unit_prop sockd.service MainPID)
	check "inetd-compat: sockd keeps root's capabilities, as inetd" sh -c \
		"[ \"\$(awk '/^CapEff:/ {print \$2}' /proc/$pid/status)\" = \"\$(awk '/^CapBnd:/ {print \$2}' /proc/$pid/status)\" ] &&
		 ! grep -q '^CapEff:[[:space:]]*00000000000004c1\$' /proc/$pid/status"
	out=$(plan)
	if grep -q 'plan-of-alice-7f3' <<<"$out"; then
		ok "inetd-compat: finger shows alice's ~/.plan"
	else
		ko "inetd-compat: finger does not show alice's ~/.plan:"
		sed 's/^/    /' <<<"$out"
	fi
	echo_ok "compat" 127.0.0.1 7 && ok "inetd-compat: echo answers" || ko "inetd-compat: echo does not answer"
	sh_in 'rm -r /etc/systemd/system/sockd.service.d && systemctl daemon-reload && systemctl restart sockd.service'
	pid=$(unit_prop sockd.service MainPID)
	check "without the drop-in again: only the unit's capabilities" sh -c \
		"grep -q '^CapEff:[[:space:]]*00000000000004c1\$' /proc/$pid/status"
	check "dpkg --purge fingerd nullidentd" dpkg --purge fingerd nullidentd
	wait_for 20 '! nc -z -w 2 127.0.0.1 79' && ok "finger is gone with its package" ||
		ko "port 79 still listens after fingerd's purge"
else
	echo "SKIP: inet-superserver: the host could not download fingerd and nullidentd:"
	sed 's/^/    /' "$inetd_debs/download.log" | tail -n 5
fi
cx touch /tmp/h3.end

# ------------------------------------------------------------ purge
echo "=== purge"
check "dpkg --purge sockd" dpkg --purge sockd
[ "$(cx systemctl is-active sockd.service)" != active ] && ok "sockd.service is no longer running" ||
	ko "sockd.service still runs"
check "no sockd process" sh -c '! pgrep -x sockd'
check "the units are gone" sh -c '[ ! -e /lib/systemd/system/sockd.service ] && [ ! -e /lib/systemd/system/sockd.socket ] &&
	! systemctl cat sockd.service >/dev/null 2>&1'
check "no enablement symlinks are left" sh -c '! find /etc/systemd -name "sockd*" | grep .'
check "/etc/sockd/sockd.conf is gone" sh -c '[ ! -e /etc/sockd/sockd.conf ]'
check "/etc/inetd.conf, without a service line, is gone" sh -c '[ ! -e /etc/inetd.conf ]'

echo "package-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
