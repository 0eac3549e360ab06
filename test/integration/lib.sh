# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for integration tests; sourced by each test, which runs as pid 1
# of a private pid + mount namespace (see run-isolated).
#
# Exit codes follow meson: 0 pass, 77 skip, anything else fail.
set -euo pipefail

: "${BUILD:?BUILD must name the meson build directory}"
T=$(mktemp -d "${TMPDIR:-/tmp}/fr-test.XXXXXX")
chmod 755 "$T"
MNT=$T/mnt
mkdir -p "$MNT" "$T/marks"
export FUSE_RECOVERD=$BUILD/supervisor/fuse-recoverd
export FUSE_RECOVER_RUNTIME_DIR=$T/run
export FUSE_RECOVERD_LOG=$T/recoverd.log
TESTFS=$BUILD/test/testfs
HELLO=$BUILD/example/hello_ll
FRTOOL=$BUILD/test/frtool
SERVER_PID=
NSERVERS=0

log() { echo "# $*"; }

dump_logs() {
	local f
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "---- ${f##*/} (last 30 lines)"
		tail -n 30 "$f"
	done
}

fail() {
	echo "FAIL: $*"
	dump_logs
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

cleanup() {
	local rc=$?
	# bash can run this trap in a subshell that a signal hit right after
	# fork (seen: a test's servers killed and $T removed under it); only
	# the test's own shell cleans up.
	[ "$BASHPID" = "$$" ] || exit $rc
	set +e
	# A test's own teardown first (test_teardown, if it defines one).
	declare -F test_teardown >/dev/null && test_teardown
	# Servers first (they hold the mount), then anything mounted here.
	pkill -KILL -f "$T" 2>/dev/null
	grep -o " $T/[^ ]*" /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

# abort_mount DIR: aborts the FUSE connection mounted on DIR through a
# fusectl mounted in this test's private mount namespace: the last resort
# for a server that hangs in its exit on a FLUSH of its own mount.
abort_mount() {
	local id
	id=$(awk -v m="$1" '$5 == m { split($3, d, ":"); print d[2] }' \
		/proc/self/mountinfo | tail -n 1)
	[ -n "$id" ] || return 0
	findmnt /sys/fs/fuse/connections >/dev/null ||
		mount -t fusectl fusectl /sys/fs/fuse/connections || return 1
	[ -e "/sys/fs/fuse/connections/$id/abort" ] &&
		echo 1 >"/sys/fs/fuse/connections/$id/abort"
}

# wait_until SECONDS COMMAND...: poll COMMAND every 10 ms, bounded.
# Its locals have names no caller's check uses: bash's scoping is
# dynamic, and a check reading the caller's $i would see this loop's.
wait_until() {
	local _wu_limit=$1 _wu_n
	shift
	for ((_wu_n = 0; _wu_n < _wu_limit * 100; _wu_n++)); do
		"$@" && return 0
		sleep 0.01
	done
	return 1
}

is_mounted() { grep -q " $1 fuse" /proc/self/mounts; }

# start_server CMD ARGS...: run a server in the background, its stderr in
# $T/server.N.log; returns once it has mounted or recovered.
start_server() {
	NSERVERS=$((NSERVERS + 1))
	SERVER_LOG=$T/server.$NSERVERS.log
	"$@" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	wait_until 10 grep -sqE "mounted|recovered the mount|fuse_session_attach" \
		"$SERVER_LOG" || fail "server did not start: $*"
	grep -qE "mounted|recovered the mount" "$SERVER_LOG" ||
		fail "server failed: $(cat "$SERVER_LOG")"
}

kill_server() {
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
}

supervisor_pids() { pgrep -f "fuse-recoverd --tag $1( |\$)" || true; }
no_supervisor() { [ -z "$(supervisor_pids "$1")" ]; }
exited() { ! kill -0 "$1" 2>/dev/null; }

# stop_process PID: SIGSTOP it and wait until every thread has stopped.
# kill(2) returns before the other threads see the stop, and one of them
# can still take and answer a request in between.
all_stopped() {
	local st
	for st in /proc/"$1"/task/*/stat; do
		[ "$(awk '{ print $3 }' "$st" 2>/dev/null)" = T ] || return 1
	done
}
stop_process() {
	kill -STOP "$1" || return 1
	wait_until 10 all_stopped "$1"
}

# fuse_dev_for UID: make /dev/fuse openable by UID.  Debian's udev makes
# it 0666; some machines do not: then this namespace (only) gets a node
# anyone may open.
fuse_dev_for() {
	setpriv --reuid="$1" --regid="$1" --clear-groups test -r /dev/fuse &&
		return 0
	mknod -m 666 "$T/fuse" c 10 229
	mount --bind "$T/fuse" /dev/fuse
}

# The kernel must be able to resend in-flight requests (Linux >= 6.9).
need_resend() {
	local v
	v=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
	[ "$v" -ge 6009 ] || skip "kernel $(uname -r) has no FUSE_NOTIFY_RESEND"
}

[ "$(id -u)" = 0 ] || skip "integration tests need root"
[ -c /dev/fuse ] || skip "no /dev/fuse"
