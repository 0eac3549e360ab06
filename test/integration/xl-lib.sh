# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the translation tests (xl-*.sh), on top of lib.sh: servers
# written like everyone else's (test/servers: ptrfs with pointer node ids
# and fd-number handles, hlfs on high-level libfuse), which know nothing of
# recovery.  They survive a SIGKILL only if the library keeps the kernel's
# node ids and file handles stable for them.
#
# The first argument names the server variant:
#   ptrfs-mt ptrfs-st ptrfs-clone ptrfs-wb (writeback cache) hlfs
#   ptrfs-snap (directory offsets that only its own process understands)
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC"
mount -t tmpfs -o mode=755 xl-src "$SRC"
XCHECK=$BUILD/test/xl_check
PTEX=$BUILD/test/pt_exerciser
XL_TAG=${XL_TAG:-xl}
XL_VARIANT=${1:-ptrfs-mt}
[ $# -gt 0 ] && shift
# Dentries cached long, attributes not at all: path walks use the node
# ids the kernel already has (a dead server's, after a kill) and every stat
# reaches the server with one of them.
XL_ENTRY_TIMEOUT=${XL_ENTRY_TIMEOUT:-3600}
XL_ATTR_TIMEOUT=${XL_ATTR_TIMEOUT:-0}
XL_OPTS="tag=$XL_TAG,recover_restarts=1000000,allow_other"
XL_OPTS+=",entry_timeout=$XL_ENTRY_TIMEOUT,attr_timeout=$XL_ATTR_TIMEOUT"
# XL_PTRFS: another build of ptrfs.c (test/servers/meson.build).
PTRFS=$BUILD/test/servers/${XL_PTRFS:-ptrfs}
case $XL_VARIANT in
ptrfs-mt) XL_CMD=("$PTRFS" -f -o "$XL_OPTS") ;;
ptrfs-st) XL_CMD=("$PTRFS" -f -s -o "$XL_OPTS") ;;
ptrfs-clone) XL_CMD=("$PTRFS" -f -o "$XL_OPTS,clone_fd") ;;
ptrfs-wb) XL_CMD=("$PTRFS" -f -o "$XL_OPTS,writeback") ;;
ptrfs-snap) XL_CMD=("$PTRFS" -f -o "$XL_OPTS,snapdir") ;;
ptrfs-poison) XL_CMD=("$PTRFS-poison" -f -o "$XL_OPTS") ;;
hlfs) XL_CMD=("$BUILD/test/servers/hlfs" -f -o "$XL_OPTS,negative_timeout=0") ;;
*) fail "unknown server variant $XL_VARIANT" ;;
esac
XL_CMD+=(-o "source=$SRC" "$MNT")
XL_DEATHS=0

# An application call that must not hang the test when a server is broken.
# Works for shell functions too: a watchdog kills it (and its children).
# The watchdog ends by itself once the call is over: a signal sent to a
# subshell that bash has only just forked can run this shell's EXIT trap
# (cleanup) in it, killing the servers and removing $T under the test.
app() {
	local p w rc=0 limit=$((${XL_APP_TIMEOUT:-10} * 20))
	"$@" &
	p=$!
	(
		for ((i = 0; i < limit; i++)); do
			kill -0 $p 2>/dev/null || exit 0
			sleep 0.05
		done
		pkill -KILL -P $p
		kill -KILL $p
	) >/dev/null 2>&1 &
	w=$!
	wait $p || rc=$?
	wait $w
	[ $rc = 137 ] && echo "app: killed after ${XL_APP_TIMEOUT:-10} s: $*" >&2
	return $rc
}

start_x() { start_server "${XL_CMD[@]}"; }

# kill_x: SIGKILL the running server.  It must still be alive: a server
# that died by itself (SIGSEGV, abort) is a crash, and the test fails.
kill_x() {
	local st=0
	kill -0 "$SERVER_PID" 2>/dev/null ||
		{ wait "$SERVER_PID" || st=$?; crashed "$st"; }
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" || st=$?
	[ "$st" = 137 ] || crashed "$st"
	XL_DEATHS=$((XL_DEATHS + 1))
}

crashed() {
	local sig=$(($1 - 128))
	fail "server $NSERVERS died by itself (status $1$([ $sig -gt 0 ] && echo ", $(kill -l $sig)"))"
}

# XL_NO_KILL=1 checks a test's own logic: the same steps without the kill.
restart_x() {
	[ -n "${XL_NO_KILL:-}" ] && return 0
	kill_x
	start_x
}

# A failure names the server's state: "died of SIGSEGV" says more than the
# application's error.
eval "$(declare -f fail | sed '1s/^fail/lib_fail/')"
fail() {
	local st=0 why=
	if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
		wait "$SERVER_PID" 2>/dev/null || st=$?
		why=" [server $NSERVERS gone, status $st"
		[ $st -gt 128 ] && why+=" $(kill -l $((st - 128)))"
		why+="]"
	fi
	lib_fail "$*$why"
}

# The server that runs now must not have died on its own; call after a
# test's checks so that a crash while answering is reported as one.
server_alive() {
	local st=0
	kill -0 "$SERVER_PID" 2>/dev/null && return 0
	wait "$SERVER_PID" || st=$?
	crashed "$st"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# Listing with inode numbers, sizes and modes but no times.
tree_listing() {
	(cd "$1" && find . -printf '%i %M %n %s %p %l\n' | sort -k5)
}
