#!/bin/sh
# Memory pressure: sockd runs under an address-space limit (ulimit -v) only
# 4 MB above what it needs to start with 2 workers and serve every endpoint
# once (echo over TCP, UDP and Unix, chargen, forward, exec). Then comes more
# than that can hold: clients that never read (each may cost sockd a buffer
# of up to 64 kB), forward connections, 60 kB datagrams and exec children.
# Expectations: sockd refuses or closes what it cannot serve, and the limit
# is really reached (some client is closed, or sockd says it is out of
# memory); it never crashes; once the load is gone every endpoint serves
# normally again, byte for byte, and SIGTERM still ends it with status 0.
# (Sanitizer runtimes reserve terabytes of address space: skipped under
# them.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust.sh"

sockd_sanitized && skip "sockd is built with a sanitizer: no ulimit -v under it"

P_ECHO=$(port 1)
P_CHARGEN=$(port 2)
P_FWD=$(port 3)
P_EXEC=$(port 4)
P_SRC=$(port 50)        # UDP client source ports: +0 .. +9

cat >"$T/sockd.conf" <<EOF
daemon = { workers = 2; shutdown_timeout = 2.0; };
endpoints = (
	{ name = "echo"; listen = [ "tcp:127.0.0.1:$P_ECHO", "udp:127.0.0.1:$P_ECHO", "unix:$T/echo.sock" ];
	  service = "echo"; },
	{ name = "chargen"; listen = [ "tcp:127.0.0.1:$P_CHARGEN" ]; service = "chargen"; },
	{ name = "fwd"; listen = [ "tcp:127.0.0.1:$P_FWD" ]; service = "forward";
	  upstream = [ "tcp:127.0.0.1:$P_ECHO" ]; },
	{ name = "cat"; listen = [ "tcp:127.0.0.1:$P_EXEC" ]; service = "exec"; command = [ "/bin/cat" ]; }
);
EOF

# sockd under a given address-space limit; the stack limit is fixed too,
# since thread stacks are most of what sockd maps.
cat >"$T/sockd-lowmem" <<EOF
#!/bin/sh
ulimit -s 8192 || exit 1
ulimit -v "\$SOCKD_AS_KB" || exit 1
exec "$SOCKD" "\$@"
EOF
chmod +x "$T/sockd-lowmem"
REAL_SOCKD=$SOCKD

# every_endpoint_serves: one checked exchange with each endpoint.
every_endpoint_serves() {
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_ECHO" -s 65536 -t 20
	expect_rc 0 "$TCLIENT" echo -a "unix:$T/echo.sock" -s 65536 -t 20
	expect_rc 0 "$TCLIENT" echo -a "udp:127.0.0.1:$P_ECHO" -s 60000 -B "127.0.0.1:$P_SRC" -t 20
	expect_rc 0 "$TCLIENT" chargen -a "tcp:127.0.0.1:$P_CHARGEN" -b 1000000 -t 20
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_FWD" -s 1000000 -t 20
	expect_rc 0 "$TCLIENT" echo -a "tcp:127.0.0.1:$P_EXEC" -s 100000 -t 20
}

vm_size_kb() {
	awk '$1 == "VmSize:" { print $2 }' "/proc/$SOCKD_PID/status"
}

# ---- what sockd needs: measured under a limit far above it (about 35 MB)
# yet too low for glibc to reserve one of its 64 MB per-thread malloc
# arenas on top: they would not exist under the real limit either. (At
# 128 MB one sometimes fit, once in distcheck, and the real limit came out
# 64 MB too high to ever be reached.)
SOCKD_AS_KB=92160
export SOCKD_AS_KB
SOCKD=$T/sockd-lowmem
start_sockd "$T/sockd.conf"
SOCKD=$REAL_SOCKD
every_endpoint_serves
need=$(vm_size_kb)
[ -n "$need" ] || fail "cannot read VmSize of sockd"
[ $((need + 65536)) -gt "$SOCKD_AS_KB" ] ||
	fail "sockd maps only $need kB: lower the measuring limit ($SOCKD_AS_KB kB) so no 64 MB malloc arena fits"
expect_stop_ok
note "sockd maps $need kB after serving each endpoint once"

# ---- the real run: 4 MB to spare.
SOCKD_AS_KB=$((need + 4096))
SOCKD=$T/sockd-lowmem
start_sockd "$T/sockd.conf"
SOCKD=$REAL_SOCKD
expect_eq "$(awk '$1 == "Max" && $2 == "address" { print $5 }' "/proc/$SOCKD_PID/limits")" \
	$((SOCKD_AS_KB * 1024)) "sockd's address space limit (bytes)"
every_endpoint_serves
base_fds=$(settled_fds)

# The load, all at once. Small client socket buffers, so that the data
# piles up in sockd rather than in the kernel.
start_bg nr_unix "$STRESS" noread-many -a "unix:$T/echo.sock" -n 600 -b 307200 -k 4096 -t 120
NR_UNIX=$BG_PID
start_bg nr_tcp "$STRESS" noread-many -a "tcp:127.0.0.1:$P_ECHO" -n 300 -b 307200 -k 4096 -t 120
NR_TCP=$BG_PID
start_bg nr_chargen "$STRESS" noread-many -a "tcp:127.0.0.1:$P_CHARGEN" -n 300 -b 0 -k 4096 -t 120
NR_CHARGEN=$BG_PID
start_bg nr_fwd "$STRESS" noread-many -a "tcp:127.0.0.1:$P_FWD" -n 300 -b 307200 -k 4096 -t 120
NR_FWD=$BG_PID
start_bg udp "$STRESS" udp-flood -a "udp:127.0.0.1:$P_ECHO" -p "$((P_SRC + 1)),$((P_SRC + 2))" -s 60000 \
	-R 1000 -d 10 -t 60
UDP=$BG_PID
for n in nr_unix nr_tcp nr_chargen nr_fwd; do
	wait_for_file_match "$T/$n.out" '^held ' 60
done
# Exec children while the rest holds on: they may or may not be served.
i=0
EXECS=
while [ $i -lt 10 ]; do
	start_bg "exec$i" "$TCLIENT" echo -a "tcp:127.0.0.1:$P_EXEC" -s 10000 -t 20
	EXECS="$EXECS $BG_PID"
	i=$((i + 1))
done
for p in $EXECS; do
	wait_bg "$p" 40 || :
done
if ! sockd_alive; then
	wait_sockd_exit 5 || :
	fail "sockd died under memory pressure (status $SOCKD_STATUS)"
fi
note "under load: VmSize $(vm_size_kb) kB of $SOCKD_AS_KB kB, VmRSS $(rss_kb) kB, $(fd_count) fds"
wait_bg "$UDP" 60 || fail "the datagram flood failed: $(cat "$T/udp.err")"
note "60 kB datagrams: $(tail -n 1 "$T/udp.out")"

# The limit was reached: clients were closed, or sockd said why it could not serve.
closed=0
for n in nr_unix nr_tcp nr_chargen nr_fwd; do
	c=$(sed -n 's/^held .* closed=\([0-9]*\) .*/\1/p' "$T/$n.out")
	note "$n: $(cat "$T/$n.out")"
	closed=$((closed + ${c:-0}))
done
oom=$(grep -Ec 'Cannot allocate memory|out of memory' "$SOCKD_LOG" || :)
note "$closed held clients closed by sockd, $oom log lines about memory"
[ $((closed + oom)) -gt 0 ] || fail "the load never reached the address space limit ($SOCKD_AS_KB kB)"

for p in $NR_UNIX $NR_TCP $NR_CHARGEN $NR_FWD; do
	stop_bg "$p"
done
if ! sockd_alive; then
	wait_sockd_exit 5 || :
	fail "sockd died when the load went away (status $SOCKD_STATUS)"
fi
wait_until 30 fds_at_most "$base_fds" || {
	ls -l "/proc/$SOCKD_PID/fd" >&2
	fail "sockd has $(fd_count) fds 30 s after the load, $base_fds before"
}
[ "$(pipe_count)" -le 128 ] || fail "sockd keeps $(pipe_count) pipe fds, more than 2 workers' pools"

# ---- recovered: every endpoint, and many clients checked byte for byte.
every_endpoint_serves
expect_rc 0 "$STRESS" echo-rand -a "tcp:127.0.0.1:$P_ECHO" -c 50 -n 2000 -S 65536 -t 60
expect_rc 0 "$STRESS" echo-rand -a "tcp:127.0.0.1:$P_FWD" -c 50 -n 2000 -S 65536 -t 60
expect_rc 0 "$STRESS" echo-rand -a "unix:$T/echo.sock" -c 50 -n 2000 -S 65536 -t 60
expect_stop_ok
expect_clean_log 'Cannot allocate memory|out of memory'
exit 0
