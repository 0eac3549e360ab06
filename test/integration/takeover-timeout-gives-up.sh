# SPDX-License-Identifier: LGPL-2.1-or-later
# Nobody restarts the server: after recover_timeout seconds the supervisor
# aborts the connection, so a waiting application fails instead of hanging;
# the dead mount stays until an administrator unmounts it.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=tt,recover_timeout=1 "$MNT"
kill_server
start=$(date +%s%N)
stat "$MNT/hello" >/dev/null 2>"$T/stat.err" && fail "served by nobody"
elapsed=$((($(date +%s%N) - start) / 1000000))
grep -qE "not connected|connection abort" "$T/stat.err" ||
	fail "application saw: $(cat "$T/stat.err")"
[ "$elapsed" -lt 5000 ] || fail "took ${elapsed} ms"
wait_until 5 no_supervisor tt ||
	fail "supervisor still running"
is_mounted "$MNT" || fail "gave up by unmounting"
log "waiting application failed after ${elapsed} ms"
