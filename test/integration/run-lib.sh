# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the tests of unmodified servers and fork(); sourced after
# lib.sh.
RUN=$BUILD/run/fuse-recover-run
export FUSE_RECOVER_PRELOAD=$BUILD/run/libfuse-recover-preload.so
PLAIN_LL=$BUILD/test/plain_ll
PLAIN_HL=$BUILD/test/plain_hl

# Expected content of /data of plain_ll and oldapi_ll (hello_ops.h).
make_data() {
	perl -e 'print pack("C*", map { ($_ * 7 + int($_ / 4096)) & 255 }
		0 .. 1048575)' >"$T/data.want"
}

check_reads() {
	[ "$(cat "$MNT/hello")" = "Hello World!" ] || fail "hello read wrong $1"
	if [ -f "$T/data.want" ]; then
		cmp -s "$MNT/data" "$T/data.want" || fail "data read wrong $1"
	fi
}

# start_readers: requests made while no server runs; they must wait.
start_readers() {
	READERS=()
	local i
	for i in 1 2 3; do
		(cat "$MNT/hello" >"$T/out.$i") 2>"$T/err.$i" &
		READERS+=($!)
	done
	sleep 0.3
	for i in "${READERS[@]}"; do
		kill -0 "$i" 2>/dev/null ||
			fail "a request finished with no server running"
	done
}

check_readers() {
	local i
	for i in 1 2 3; do
		wait "${READERS[$((i - 1))]}" ||
			fail "request $i failed: $(cat "$T/err.$i")"
		[ "$(cat "$T/out.$i")" = "Hello World!" ] ||
			fail "request $i read garbage"
	done
}

# The one process whose command line starts with $1 (a daemonized server).
only_pid() {
	local p
	p=$(pgrep -f "^$1") || return 1
	[ "$(echo "$p" | wc -l)" = 1 ] || return 1
	echo "$p"
}

# start_daemon SERVER ARGS...: a server that daemonizes; its parent must
# exit well and leave one daemon, in $DAEMON.
start_daemon() {
	start_server "$@"
	wait "$SERVER_PID" || fail "daemonizing parent failed"
	DAEMON=$(only_pid "$1") || fail "no single daemon"
	[ "$DAEMON" != "$SERVER_PID" ] || fail "did not daemonize"
}
