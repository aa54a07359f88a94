# shellcheck shell=bash
# tests/system/container.sh: Debian 12 containers with systemd-nspawn, for
# the system tests. Sourced (bash); needs root, systemd-nspawn
# (systemd-container), debootstrap and nsenter (util-linux) on the host.
#
#   ct_rootfs DIR PKGS   build DIR (debootstrap --variant=minbase bookworm
#                        plus the comma-separated PKGS) unless it is there
#   ct_rootfs_dir PKGS   the cache directory for a package list
#   ct_run ROOTFS ARGS   run a command in ROOTFS without booting it
#                        (systemd-nspawn ARGS), changes in a tmpfs overlay
#   ct_up                boot the test rootfs (CT_PACKAGES) with its own
#                        systemd, read-only with changes in a tmpfs overlay,
#                        on a private network with only lo, and wait until
#                        its systemd reports "running"
#   ct_exec CMD...       run CMD in the booted container, clean environment
#   ct_down              halt the booted container and clean up after it
#
# Root filesystems are cached in $CT_CACHE (default
# /var/tmp/sockd-system-test), one per package list: building one takes a
# minute or two once, booting it about a second. Every run starts from the
# pristine rootfs (--volatile=overlay), so nothing a test does stays in it.
#
# Knobs: CT_CACHE, CT_NAME (machine name, default sockd-test-PID),
# CT_MIRROR (Debian mirror; default: the host's first apt source),
# CT_BIND_RO ("SRC:DST ..." read-only bind mounts for ct_up).

CT_SUITE=bookworm
# What the tests run inside a booted container, plus the runtime libraries
# of the sockd package (dpkg -i cannot fetch them: there is no network),
# and what the inet-superserver test's packages need besides sockd
# (update-inetd, netbase; tcpd, which sockd recommends).
CT_PACKAGES=systemd,systemd-sysv,dbus,libconfig9,libsystemd0,iproute2,procps,socat,netcat-openbsd,rdate,update-inetd,netbase,tcpd
CT_CACHE=${CT_CACHE:-/var/tmp/sockd-system-test}
CT_NAME=${CT_NAME:-sockd-test-$$}
CT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ct_log() { printf 'container: %s\n' "$*" >&2; }
ct_die() { ct_log "$*"; exit 99; }

ct_host_has_systemd() { [ -d /run/systemd/system ]; }

ct_mirror() {
	local u
	if [ -n "${CT_MIRROR:-}" ]; then
		echo "$CT_MIRROR"
		return
	fi
	u=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$u" ] || u=$(awk -v s="$CT_SUITE" '$1 == "deb" && $3 == s { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null || true)
	echo "${u:-http://deb.debian.org/debian}"
}

# The cache directory of the rootfs for a package list.
ct_rootfs_dir() {
	echo "$CT_CACHE/rootfs-$CT_SUITE-$(printf '%s' "$1" | md5sum | cut -c1-8)"
}

ct_rootfs() {
	local dir=$1 pkgs=$2 t0=$SECONDS
	mkdir -p "$CT_CACHE"
	# Two runs must not build the same rootfs at once.
	exec 8>"$CT_CACHE/.build.lock"
	flock 8
	if [ ! -e "$dir/.complete" ]; then
		ct_log "building a $CT_SUITE rootfs in $dir (once): $pkgs"
		rm -rf "$dir" "$dir.partial"
		mkdir -p "$CT_CACHE/debs"
		if ! debootstrap --variant=minbase --include="$pkgs" \
		    --cache-dir="$CT_CACHE/debs" "$CT_SUITE" "$dir.partial" "$(ct_mirror)" \
		    >"$CT_CACHE/debootstrap.log" 2>&1; then
			tail -n 20 "$CT_CACHE/debootstrap.log" >&2
			exec 8>&-
			ct_die "debootstrap failed (log: $CT_CACHE/debootstrap.log)"
		fi
		echo sockd-test >"$dir.partial/etc/hostname"
		# A machine id makes every boot a normal one, not a first boot.
		systemd-machine-id-setup --root="$dir.partial" >/dev/null 2>&1 ||
			od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir.partial/etc/machine-id"
		# Nobody reads the console.
		mkdir -p "$dir.partial/etc/systemd/system"
		ln -sf /dev/null "$dir.partial/etc/systemd/system/console-getty.service"
		rm -f "$dir.partial"/var/cache/apt/archives/*.deb
		echo "$pkgs" >"$dir.partial/.complete"
		mv "$dir.partial" "$dir"
		ct_log "rootfs built in $((SECONDS - t0)) s"
	fi
	# Root filesystems of old package lists go after two weeks unused.
	touch "$dir"
	find "$CT_CACHE" -mindepth 1 -maxdepth 1 -name 'rootfs-*' -mtime +14 \
		-exec rm -rf {} + 2>/dev/null || true
	exec 8>&-
}

# Without systemd on the host, nspawn cannot ask for a scope: it runs in a
# cgroup of its own that we make, one per hierarchy it uses.
ct_cgroups() {
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		echo "/sys/fs/cgroup/$CT_NAME"
	else
		local h
		for h in systemd unified; do
			[ -d "/sys/fs/cgroup/$h" ] && echo "/sys/fs/cgroup/$h/$CT_NAME"
		done
	fi
}

ct_cgroups_remove() {
	local d
	ct_host_has_systemd && return 0
	for d in $(ct_cgroups); do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}

ct_state() { echo "$CT_CACHE/run-$CT_NAME"; }

# The pid of our systemd-nspawn (for a moment after the start, still the
# bash or setsid that execs it).
ct_nspawn_pid() {
	local p
	p=$(cat "$(ct_state)/nspawn.pid" 2>/dev/null) || return 1
	[ -n "$p" ] || return 1
	case $(cat "/proc/$p/comm" 2>/dev/null) in
	systemd-nspawn | bash | setsid) echo "$p" ;;
	*) return 1 ;;
	esac
}

# The container's PID 1 (as the host sees it).
ct_leader() {
	local n
	n=$(ct_nspawn_pid) || return 1
	pgrep -P "$n" -x systemd | head -n 1 | grep .
}

ct_exec() {
	local l
	l=$(ct_leader) || ct_die "the container $CT_NAME is not running"
	nsenter --target "$l" --all --root --wd -- /usr/bin/env -i PATH="$CT_PATH" \
		HOME=/root LANG=C.UTF-8 SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 "$@"
}

# ct_jmark: a cursor for "from now on" in the container's journal. It
# writes a marker entry of its own and prints that entry's cursor: read
# with `journalctl --cursor=...` it starts at the marker, which matches no
# unit filter. (`--after-cursor` with `-u` is wrong in systemd 252: it
# always skips one entry after seeking, so when the cursor entry is not
# the unit's own, it hides the unit's first line after the mark.)
ct_jmark() {
	local tag i c
	tag="sockd-test-mark-$$-$RANDOM$RANDOM"
	ct_exec systemd-cat -t sockd-test-mark echo "$tag" || return 1
	for ((i = 0; i < 50; i++)); do
		c=$(ct_exec journalctl -q --no-pager -o cat -t sockd-test-mark -n 1 --show-cursor)
		if [ "${c%%$'\n'*}" = "$tag" ]; then
			sed -n 's/^-- cursor: //p' <<<"$c"
			return 0
		fi
		sleep 0.1
	done
	ct_log "the journal mark $tag never appeared"
	return 1
}

# Arguments for systemd-nspawn on this host, into the array ct_args, and
# the shell commands that put nspawn into its own cgroups, into ct_pre.
ct_prepare() {
	local d
	ct_args=(--quiet --volatile=overlay --private-network -M "$CT_NAME")
	ct_pre=""
	if ! ct_host_has_systemd; then
		ct_args+=(--register=no --keep-unit)
		ct_cgroups_remove
		for d in $(ct_cgroups); do
			mkdir -p "$d"
			ct_pre+="echo \$\$ >$d/cgroup.procs; "
		done
		# nspawn wants /run/systemd/nspawn on a tmpfs to clean up after itself.
		mkdir -p /run/systemd/nspawn
		mountpoint -q /run/systemd/nspawn ||
			mount -t tmpfs -o mode=0755 sockd-test-nspawn /run/systemd/nspawn
	fi
}

ct_run() {
	local rootfs=$1 rc=0
	shift
	ct_prepare
	# shellcheck disable=SC2016
	bash -c "$ct_pre"'exec systemd-nspawn "$@"' systemd-nspawn "${ct_args[@]}" \
		-D "$rootfs" "$@" 8>&- 9>&- || rc=$?
	ct_cgroups_remove
	ct_umount_propagate
	return "$rc"
}

ct_up() {
	local state rootfs b st
	rootfs=$(ct_rootfs_dir "$CT_PACKAGES")
	ct_rootfs "$rootfs" "$CT_PACKAGES"
	state=$(ct_state)
	mkdir -p "$state"
	ct_prepare
	ct_args+=(-D "$rootfs" --console=pipe -b)
	for b in ${CT_BIND_RO:-}; do
		ct_args+=("--bind-ro=$b")
	done
	# shellcheck disable=SC2016
	setsid bash -c "$ct_pre"'exec systemd-nspawn "$@"' systemd-nspawn "${ct_args[@]}" \
		</dev/null >"$state/console.log" 2>&1 8>&- 9>&- &
	echo $! >"$state/nspawn.pid"
	for _ in $(seq 200); do
		ct_leader >/dev/null && break
		if ! ct_nspawn_pid >/dev/null; then
			tail -n 20 "$state/console.log" >&2
			ct_die "systemd-nspawn exited during boot"
		fi
		sleep 0.1
	done
	ct_leader >/dev/null || ct_die "no systemd in the container (see $state/console.log)"
	for _ in $(seq 200); do
		ct_exec test -S /run/systemd/private 2>/dev/null && break
		sleep 0.1
	done
	st=$(ct_exec timeout 90 systemctl is-system-running --wait 2>/dev/null || true)
	case $st in
	running) ;;
	degraded)
		ct_log "the container booted degraded:"
		ct_exec systemctl --failed --no-legend >&2 || true
		;;
	*)
		tail -n 20 "$state/console.log" >&2
		ct_die "the container's systemd did not start (state '$st')"
		;;
	esac
	ct_log "$CT_NAME is up"
}

# Unmount our tmpfs on /run/systemd/nspawn once no nspawn needs it.
ct_umount_propagate() {
	if ! ct_host_has_systemd && mountpoint -q /run/systemd/nspawn &&
	    ! pgrep -x systemd-nspawn >/dev/null; then
		umount /run/systemd/nspawn 2>/dev/null || true
	fi
	return 0
}

ct_down() {
	local n state
	state=$(ct_state)
	if n=$(ct_nspawn_pid); then
		# SIGTERM makes nspawn ask the container's systemd to halt.
		kill -TERM "$n"
		for _ in $(seq 300); do
			kill -0 "$n" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$n" 2>/dev/null; then
			ct_log "the container did not halt in 30 s: killing it"
			kill -KILL "$n"
			sleep 1
		fi
	fi
	rm -rf "$state"
	ct_cgroups_remove
	ct_umount_propagate
}
