# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the passthrough_hp tests (pt-*.sh), on top of lib.sh.
# SRC is the backing directory: a tmpfs by default, or a directory on the
# filesystem of /tmp with PT_BACKING=dir.
. "$(dirname "$0")/lib.sh"

# The test build of passthrough_hp: the example plus test/pt_hooks.c.
PT=$BUILD/test/passthrough_hp_test
PTOPS=$BUILD/test/pt_ops
PTEX=$BUILD/test/pt_exerciser
SRC=$T/src
mkdir -p "$SRC"
# A first argument "tmpfs" or "dir" chooses the backing filesystem.
case ${1:-} in
tmpfs | dir)
	PT_BACKING=$1
	shift
	;;
esac
case ${PT_BACKING:-tmpfs} in
tmpfs) mount -t tmpfs -o mode=755 pt-src "$SRC" ;;
dir) ;;
*) fail "PT_BACKING must be tmpfs or dir" ;;
esac
PT_TAG=${PT_TAG:-pt}
PT_ARGS=(-f -o "tag=$PT_TAG,recover_restarts=1000000,allow_other")
PT_NORECOVER=
# "norecover" next: the same binary with recovery off (--norecover).
if [ "${1:-}" = norecover ]; then
	PT_NORECOVER=1
	PT_ARGS+=(--norecover)
	shift
fi
# "nopassthrough" next: kernel passthrough off (the fallback path).
if [ "${1:-}" = nopassthrough ]; then
	PT_ARGS+=(-o nopassthrough)
	shift
fi

# start_pt [EXTRA ARGS...]: passthrough_hp SRC MNT, waits until it serves.
start_pt() {
	if [ -n "$PT_NORECOVER" ]; then
		NSERVERS=$((NSERVERS + 1))
		SERVER_LOG=$T/server.$NSERVERS.log
		"${PT[@]}" "${PT_ARGS[@]}" "$@" "$SRC" "$MNT" 2>"$SERVER_LOG" &
		SERVER_PID=$!
		wait_until 10 is_mounted "$MNT" || fail "server did not mount"
		return
	fi
	start_server "${PT[@]}" "${PT_ARGS[@]}" "$@" "$SRC" "$MNT"
}

# start_pt_env VAR=VALUE... -- [EXTRA ARGS...]
start_pt_env() {
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	start_server env "${envs[@]}" "${PT[@]}" "${PT_ARGS[@]}" "$@" "$SRC" "$MNT"
}

# The server must die by its own test hook.
wait_server_died() {
	wait_until "${1:-10}" exited "$SERVER_PID" ||
		fail "server did not kill itself (hook not reached)"
	wait "$SERVER_PID" 2>/dev/null || true
}

# Listing with inode numbers, sizes and owners, but no times.
tree_listing() {
	(cd "$1" && find . -printf '%i %M %n %U %G %s %p %l\n' | sort -k7)
}

tree_sums() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

# Passthrough tests: live backing ids of the store (debug xattr), space
# used on SRC, both as conditions for wait_until (evaluated at each poll).
backing() { "$PTOPS" getxattr "$MNT" trusted.pthp.backing; }
used_kib() { df -k --output=used "$SRC" | tail -1 | tr -d ' '; }
backing_is() { [ "$(backing)" "$1" "$2" ]; }
space_back() { [ "$(used_kib)" -le "$1" ]; }

# start_pt_passthrough: the server with debug counters, or skip when the
# kernel or the privileges give no passthrough.
start_pt_passthrough() {
	start_pt_env PASSTHROUGH_HP_DEBUG_XATTR=1 --
	! grep -q "no kernel passthrough\|passthrough off" "$SERVER_LOG" ||
		skip "no passthrough here: $(grep passthrough "$SERVER_LOG")"
}
