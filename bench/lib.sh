#!/bin/bash
# bench/lib.sh: what bench/run and bench/profile share: the binaries, and
# starting and stopping every server on loopback. Sourced, not run.

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

BENCH_CACHE=${BENCH_CACHE:-/var/tmp/sockd-bench}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
# Servers and the load generator alike run at this nice level, so other work
# on the machine takes less of their CPUs (root only; 0 turns it off).
BENCH_NICE=${BENCH_NICE:--10}
[ "$(id -u)" -eq 0 ] || BENCH_NICE=0

bench_init() {         # the temp dir, the binaries, the optional anchors
	[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPUs (server and load generator on their own)"
	if [ -n "${INSTALL-1}" ]; then "$BENCH_DIR/install-deps"; fi
	T=$(mktemp -d /tmp/sockd-bench.XXXXXX)
	mkdir -p "$T/run"
	bench_binaries
}

# ---------------------------------------------------------------- binaries

CC=${CC:-cc}
CFLAGS_BENCH="-std=gnu11 -O2 -g -D_GNU_SOURCE=1 -pthread"

find_or_build() {       # NAME -> path of an executable
	local name=$1 var
	var=$(echo "$name" | tr a-z_ A-Z_)
	if [ -n "${!var:-}" ]; then
		echo "${!var}"
	elif [ -x "./bench/$name" ] && [ "./bench/$name" -nt "$BENCH_DIR/$name.c" ]; then
		echo "$PWD/bench/$name"
	else
		$CC $CFLAGS_BENCH -o "$T/$name" "$BENCH_DIR/$name.c" || die "cannot build $name"
		echo "$T/$name"
	fi
}

bench_binaries() {
	LOADGEN=$(find_or_build loadgen)
	REF_SERVER=$(find_or_build ref_server)
	SPAWN_FLOOR=$(find_or_build spawn_floor)
	if [ -z "${SOCKD:-}" ]; then
		for s in ./src/sockd "$SRC_DIR/src/sockd" "$SRC_DIR/build/src/sockd"; do
			[ -x "$s" ] && { SOCKD=$(cd "$(dirname "$s")" && pwd)/sockd; break; }
		done
	fi
	[ -x "${SOCKD:-}" ] || die "no sockd binary: build it (make) or set SOCKD=/path/to/sockd"

	# The trivial program of the exec workload writes "ok\n" and exits.
	# On x86-64 it is built without libc: glibc's start-up runs cpuid
	# dozens of times, and in a VM every cpuid traps to the hypervisor,
	# which would make the program's own start-up the bulk of what is
	# measured. Else a static libc program; else /bin/echo.
	HELLO="$T/hello"; HELLO_ARGS=
	if [ "$(uname -m)" = x86_64 ] && printf '%s\n' \
		'void _start(void) {' \
		'	static const char m[] = "ok\n";' \
		'	long r;' \
		'	__asm__ volatile ("syscall" : "=a"(r) : "a"(1L), "D"(1L), "S"(m), "d"(3L) : "rcx", "r11", "memory");' \
		'	__asm__ volatile ("syscall" : : "a"(60L), "D"(r != 3) : "rcx", "r11", "memory");' \
		'	for (;;) ;' \
		'}' | $CC -O2 -static -nostdlib -fno-stack-protector -x c -o "$HELLO" - 2>/dev/null &&
		[ "$("$HELLO")" = ok ]; then
		:
	elif printf '#include <unistd.h>\nint main(void) { return write(1, "ok\\n", 3) != 3; }\n' |
		$CC -O2 -static -x c -o "$HELLO" - 2>/dev/null; then
		:
	else
		HELLO=/bin/echo; HELLO_ARGS=ok
	fi

	INETD=$BENCH_CACHE/openbsd-inetd/usr/sbin/inetd
	[ -x "$INETD" ] || INETD=
	HAVE() { command -v "$1" >/dev/null 2>&1; }
	SSP=/lib/systemd/systemd-socket-proxyd
	[ -x "$SSP" ] || SSP=/usr/lib/systemd/systemd-socket-proxyd
}

# ---------------------------------------------------------------- servers

# A server is a process group started here (setsid), pinned to SERVER_CPU;
# its CPU time and memory are summed over the group.
declare -A PG=() ADDR=()
STARTED=()

cleanup() {
	local s
	for s in "${STARTED[@]}"; do
		stop_server "$s"
	done
	if [ -n "${T:-}" ] && [ -z "${KEEP:-}" ]; then rm -rf "$T/run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

group_pids() { pgrep -g "$1" 2>/dev/null || true; }

group_ticks() {         # utime+stime+cutime+cstime over the group, in clock ticks
	local p s sum=0 f
	for p in $(group_pids "$1"); do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		s=${s##*) }
		read -r -a f <<<"$s"
		sum=$((sum + f[11] + f[12] + f[13] + f[14]))
	done
	echo "$sum"
}

cpu_busy_ticks() {      # CPU: busy clock ticks of that CPU since boot (/proc/stat)
	awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

machine_busy_pct() {    # how busy the whole machine is over one second, in %
	local a b
	a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	sleep 1
	b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; p = 0; if (t > 0) p = 100 * (y[1] - x[1]) / t; printf "%.0f\n", p }'
}

group_kb() {            # sum of KEY (VmHWM, VmRSS) over the group, in kB
	local p v sum=0
	for p in $(group_pids "$1"); do
		v=$(awk -v k="$2:" '$1 == k { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

start_server() {        # NAME PROBE-ADDR CMD...: start, wait until PROBE-ADDR accepts
	local name=$1 probe=$2
	shift 2
	if "$LOADGEN" -w probe -a "$probe" -d 0 2>/dev/null; then
		die "something already listens on $probe: stop it first"
	fi
	nice -n "$BENCH_NICE" taskset -c "$SERVER_CPU" setsid "$@" >"$T/run/$name.log" 2>&1 </dev/null &
	PG[$name]=$!
	STARTED+=("$name")
	if ! "$LOADGEN" -w probe -a "$probe" -d 15 2>>"$T/run/$name.log" ||
		! kill -0 "${PG[$name]}" 2>/dev/null; then
		tail -5 "$T/run/$name.log" >&2
		die "$name did not start"
	fi
}

stop_server() {
	local name=$1 pg=${PG[$1]:-} i
	[ -n "$pg" ] || return 0
	kill -TERM -- "-$pg" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 -- "-$pg" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
	wait "$pg" 2>/dev/null || true
	unset "PG[$name]"
	local s rest=()
	for s in "${STARTED[@]}"; do [ "$s" = "$name" ] || rest+=("$s"); done
	STARTED=("${rest[@]}")
}

# Each server gets its own port block; Unix sockets live in $T/run.
# Roles: echo_tcp echo_unix echo_udp discard_tcp daytime_tcp time_tcp
# fwd_tcp fwd_unix fwd_udp exec_tcp.

sockd_conf() {          # the generated config: sockd's defaults, except udp_rate
	local f=$T/run/sockd.conf
	{
		echo 'daemon = { workers = 0; log_level = "info"; };'
		echo 'endpoints = ('
		local first=1
		while [ $# -gt 0 ]; do
			[ -n "$first" ] || echo ','
			first=
			echo "  $1"
			shift
		done
		echo ');'
	} >"$f"
	"$SOCKD" -n -f "$f" >&2 || die "sockd rejects the generated config $f"
	echo "$f"
}

start_builtin() {       # sockd, ref, xinetd, openbsd-inetd with the RFC services
	local r=$T/run
	ADDR[sockd:echo_tcp]=tcp:127.0.0.1:21007
	ADDR[sockd:echo_unix]=unix:$r/sockd-echo.sock
	ADDR[sockd:echo_udp]=udp:127.0.0.1:21007
	ADDR[sockd:discard_tcp]=tcp:127.0.0.1:21009
	ADDR[sockd:daytime_tcp]=tcp:127.0.0.1:21013
	ADDR[sockd:time_tcp]=tcp:127.0.0.1:21037
	# UDP replies are rate-limited per source by default (udp_rate = 20/s,
	# an amplification guard): off here, as the one client is loopback.
	start_server sockd tcp:127.0.0.1:21007 "$SOCKD" -F -f "$(sockd_conf \
		"{ name = \"echo\"; listen = [ \"tcp:127.0.0.1:21007\", \"unix:$r/sockd-echo.sock\", \"udp:127.0.0.1:21007\" ]; service = \"echo\"; udp_rate = 0; }" \
		'{ name = "discard"; listen = [ "tcp:127.0.0.1:21009" ]; service = "discard"; }' \
		'{ name = "daytime"; listen = [ "tcp:127.0.0.1:21013" ]; service = "daytime"; }' \
		'{ name = "time"; listen = [ "tcp:127.0.0.1:21037" ]; service = "time"; }')"

	ADDR[ref:echo_tcp]=tcp:127.0.0.1:22007
	ADDR[ref:echo_unix]=unix:$r/ref-echo.sock
	ADDR[ref:echo_udp]=udp:127.0.0.1:22007
	ADDR[ref:discard_tcp]=tcp:127.0.0.1:22009
	ADDR[ref:daytime_tcp]=tcp:127.0.0.1:22013
	ADDR[ref:time_tcp]=tcp:127.0.0.1:22037
	start_server ref tcp:127.0.0.1:22007 "$REF_SERVER" echo=tcp:127.0.0.1:22007 \
		echo=unix:"$r"/ref-echo.sock echo=udp:127.0.0.1:22007 discard=tcp:127.0.0.1:22009 \
		daytime=tcp:127.0.0.1:22013 time=tcp:127.0.0.1:22037

	if HAVE xinetd; then
		ADDR[xinetd:echo_tcp]=tcp:127.0.0.1:23007
		ADDR[xinetd:echo_udp]=udp:127.0.0.1:23007
		ADDR[xinetd:discard_tcp]=tcp:127.0.0.1:23009
		ADDR[xinetd:daytime_tcp]=tcp:127.0.0.1:23013
		ADDR[xinetd:time_tcp]=tcp:127.0.0.1:23037
		{
			# xinetd's default cps (50/s, then 10 s off) would stop
			# the benchmark at once: lifted, like every limit.
			printf 'defaults\n{\n\tinstances = UNLIMITED\n\tper_source = UNLIMITED\n\tcps = 1000000 1\n'
			printf '\tlog_type = FILE %s/xinetd.log\n\tlog_on_success =\n\tlog_on_failure =\n}\n' "$r"
			local s
			for s in echo:stream:tcp:23007 echo:dgram:udp:23007 discard:stream:tcp:23009 \
				daytime:stream:tcp:23013 time:stream:tcp:23037; do
				IFS=: read -r name st proto port <<<"$s"
				printf 'service %s\n{\n\ttype = INTERNAL UNLISTED\n\tid = %s-%s\n' "$name" "$name" "$st"
				printf '\tsocket_type = %s\n\tprotocol = %s\n\tport = %s\n\tbind = 127.0.0.1\n' "$st" "$proto" "$port"
				printf '\twait = %s\n\tuser = root\n}\n' "$([ "$st" = dgram ] && echo yes || echo no)"
			done
		} >"$r/xinetd.conf"
		start_server xinetd tcp:127.0.0.1:23013 xinetd -dontfork -f "$r/xinetd.conf" -pidfile "$r/xinetd.pid"
	fi

	if [ -n "$INETD" ]; then
		# BSD inetd runs built-ins only under their /etc/services
		# names, so it gets the standard ports 7, 9, 13 and 37.
		ADDR[inetd:echo_tcp]=tcp:127.0.0.1:7
		ADDR[inetd:discard_tcp]=tcp:127.0.0.1:9
		ADDR[inetd:daytime_tcp]=tcp:127.0.0.1:13
		ADDR[inetd:time_tcp]=tcp:127.0.0.1:37
		local s
		for s in echo discard daytime time; do
			echo "127.0.0.1:$s stream tcp nowait.1000000 root internal"
		done >"$r/inetd.conf"
		start_server inetd tcp:127.0.0.1:13 "$INETD" -i -R 1000000 -q 1024 "$r/inetd.conf"
	fi
}

start_idle() {          # $1 = sockd or ref, fresh for every run
	local r=$T/run
	case $1 in
	sockd)
		ADDR[sockd:echo_tcp]=tcp:127.0.0.1:21007
		start_server sockd tcp:127.0.0.1:21007 "$SOCKD" -F -f "$(sockd_conf \
			'{ name = "echo"; listen = [ "tcp:127.0.0.1:21007" ]; service = "echo"; }')" ;;
	ref)
		ADDR[ref:echo_tcp]=tcp:127.0.0.1:22007
		start_server ref tcp:127.0.0.1:22007 "$REF_SERVER" echo=tcp:127.0.0.1:22007 ;;
	esac
}

start_forward() {       # the upstream, then sockd and every proxy in front of it
	local r=$T/run
	local up_tcp=127.0.0.1:25007 up_unix=$T/run/up-echo.sock up_udp=127.0.0.1:25007
	# The upstream shares the server CPU: every proxy pays for it alike.
	start_server upstream tcp:$up_tcp "$REF_SERVER" echo=tcp:$up_tcp echo=unix:"$up_unix" echo=udp:$up_udp
	ADDR[direct:fwd_tcp]=tcp:$up_tcp
	ADDR[direct:fwd_unix]=unix:$up_unix
	ADDR[direct:fwd_udp]=udp:$up_udp
	PG[direct]=${PG[upstream]}

	ADDR[sockd:fwd_tcp]=tcp:127.0.0.1:21100
	ADDR[sockd:fwd_unix]=tcp:127.0.0.1:21101
	ADDR[sockd:fwd_udp]=udp:127.0.0.1:21102
	start_server sockd tcp:127.0.0.1:21100 "$SOCKD" -F -f "$(sockd_conf \
		"{ name = \"fwd-tcp\"; listen = [ \"tcp:127.0.0.1:21100\" ]; service = \"forward\"; upstream = [ \"tcp:$up_tcp\" ]; }" \
		"{ name = \"fwd-unix\"; listen = [ \"tcp:127.0.0.1:21101\" ]; service = \"forward\"; upstream = [ \"unix:$up_unix\" ]; }" \
		"{ name = \"fwd-udp\"; listen = [ \"udp:127.0.0.1:21102\" ]; service = \"forward\"; upstream = [ \"udp:$up_udp\" ]; udp_rate = 0; }")"

	if HAVE haproxy; then
		ADDR[haproxy:fwd_tcp]=tcp:127.0.0.1:26100
		ADDR[haproxy:fwd_unix]=tcp:127.0.0.1:26101
		cat >"$r/haproxy.cfg" <<-EOF
		global
		    maxconn 9000
		defaults
		    mode tcp
		    timeout connect 5s
		    timeout client 60s
		    timeout server 60s
		listen fwd_tcp
		    bind 127.0.0.1:26100
		    server up $up_tcp
		listen fwd_unix
		    bind 127.0.0.1:26101
		    server up unix@$up_unix
		EOF
		start_server haproxy tcp:127.0.0.1:26100 haproxy -db -f "$r/haproxy.cfg"
	fi

	if HAVE nginx && [ -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
		ADDR[nginx:fwd_tcp]=tcp:127.0.0.1:27100
		ADDR[nginx:fwd_unix]=tcp:127.0.0.1:27101
		ADDR[nginx:fwd_udp]=udp:127.0.0.1:27102
		mkdir -p "$r/nginx"
		cat >"$r/nginx.conf" <<-EOF
		load_module /usr/lib/nginx/modules/ngx_stream_module.so;
		# root, like the others: the upstream's Unix socket is root's.
		user root;
		worker_processes 1;
		worker_rlimit_nofile 20000;
		pid $r/nginx.pid;
		error_log $r/nginx-error.log;
		events { worker_connections 20000; }
		stream {
		    server { listen 127.0.0.1:27100; proxy_pass $up_tcp; }
		    server { listen 127.0.0.1:27101; proxy_pass unix:$up_unix; }
		    server { listen 127.0.0.1:27102 udp; proxy_pass $up_udp; proxy_responses 1; }
		}
		EOF
		start_server nginx tcp:127.0.0.1:27100 nginx -p "$r/nginx" -e "$r/nginx-error.log" \
			-c "$r/nginx.conf" -g 'daemon off;'
	fi

	if HAVE rinetd; then
		ADDR[rinetd:fwd_tcp]=tcp:127.0.0.1:28100
		# No UDP: rinetd 0.73 relays every datagram as an empty one.
		printf '127.0.0.1 28100 %s %s\n' "${up_tcp%:*}" "${up_tcp##*:}" >"$r/rinetd.conf"
		start_server rinetd tcp:127.0.0.1:28100 rinetd -f -c "$r/rinetd.conf"
	fi

	if HAVE socat; then
		ADDR[socat:fwd_tcp]=tcp:127.0.0.1:29100
		ADDR[socat:fwd_unix]=tcp:127.0.0.1:29101
		ADDR[socat:fwd_udp]=udp:127.0.0.1:29102
		start_server socat tcp:127.0.0.1:29101 sh -c "
			socat TCP-LISTEN:29100,bind=127.0.0.1,reuseaddr,fork,backlog=1024 TCP:$up_tcp &
			socat TCP-LISTEN:29101,bind=127.0.0.1,reuseaddr,fork,backlog=1024 UNIX-CONNECT:$up_unix &
			socat UDP-LISTEN:29102,bind=127.0.0.1,reuseaddr,fork UDP:$up_udp &
			wait"
		"$LOADGEN" -w probe -a tcp:127.0.0.1:29100 -d 10 || die "socat did not start"
	fi

	if [ -x "$SSP" ] && HAVE systemd-socket-activate; then
		ADDR[ssp:fwd_tcp]=tcp:127.0.0.1:30100
		ADDR[ssp:fwd_unix]=tcp:127.0.0.1:30101
		start_server ssp tcp:127.0.0.1:30101 sh -c "
			systemd-socket-activate -l 127.0.0.1:30100 $SSP -c 20000 $up_tcp &
			systemd-socket-activate -l 127.0.0.1:30101 $SSP -c 20000 $up_unix &
			wait"
		"$LOADGEN" -w probe -a tcp:127.0.0.1:30100 -d 10 || die "systemd-socket-proxyd did not start"
	fi

	# The floor: the least a proxy can do (ref_server's forward mode).
	ADDR[floor:fwd_tcp]=tcp:127.0.0.1:31100
	ADDR[floor:fwd_unix]=tcp:127.0.0.1:31101
	start_server floor tcp:127.0.0.1:31100 "$REF_SERVER" forward=tcp:127.0.0.1:31100,tcp:$up_tcp \
		forward=tcp:127.0.0.1:31101,unix:"$up_unix"
}

start_exec() {
	local r=$T/run
	ADDR[sockd:exec_tcp]=tcp:127.0.0.1:21200
	start_server sockd tcp:127.0.0.1:21200 "$SOCKD" -F -f "$(sockd_conf \
		"{ name = \"exec\"; listen = [ \"tcp:127.0.0.1:21200\" ]; service = \"exec\"; command = [ \"$HELLO\"${HELLO_ARGS:+, \"$HELLO_ARGS\"} ]; }")"
	if HAVE tcpserver; then
		ADDR[tcpserver:exec_tcp]=tcp:127.0.0.1:31200
		# -R -H -l 0: no ident or DNS lookups; -c: its default limit is 40.
		start_server tcpserver tcp:127.0.0.1:31200 tcpserver -R -H -l 0 -c 10000 -b 1024 \
			127.0.0.1 31200 "$HELLO" $HELLO_ARGS
	fi
	if HAVE xinetd; then
		ADDR[xinetd:exec_tcp]=tcp:127.0.0.1:23200
		cat >"$r/xinetd-exec.conf" <<-EOF
		defaults
		{
		    instances = UNLIMITED
		    per_source = UNLIMITED
		    cps = 1000000 1
		    log_type = FILE $r/xinetd-exec.log
		    log_on_success =
		    log_on_failure =
		}
		service hello
		{
		    type = UNLISTED
		    socket_type = stream
		    protocol = tcp
		    port = 23200
		    bind = 127.0.0.1
		    wait = no
		    user = root
		    server = $HELLO
		    ${HELLO_ARGS:+server_args = $HELLO_ARGS}
		}
		EOF
		start_server xinetd tcp:127.0.0.1:23200 xinetd -dontfork -f "$r/xinetd-exec.conf" -pidfile "$r/xinetd-exec.pid"
	fi
	if [ -n "$INETD" ]; then
		ADDR[inetd:exec_tcp]=tcp:127.0.0.1:24200
		echo "127.0.0.1:24200 stream tcp nowait.1000000 root $HELLO hello $HELLO_ARGS" >"$r/inetd-exec.conf"
		start_server inetd tcp:127.0.0.1:24200 "$INETD" -i -R 1000000 -q 1024 "$r/inetd-exec.conf"
	fi
}

rotate() {              # N words...: the words rotated left by N
	local n=$1; shift
	local a=("$@") k=${#a[@]} i
	for ((i = 0; i < k; i++)); do printf '%s ' "${a[$(((i + n) % k))]}"; done
}

stop_all() {
	local s
	for s in "${STARTED[@]}"; do stop_server "$s"; done
	PG=()
	ADDR=()
}

