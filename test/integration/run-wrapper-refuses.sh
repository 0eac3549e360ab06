# SPDX-License-Identifier: LGPL-2.1-or-later
# fuse-recover-run refuses what it cannot make recoverable, with a message
# and a non-zero exit, before anything is mounted; a server started through
# a script still gets recovery.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run-lib.sh"

# refused CODE PATTERN ARGS...: fuse-recover-run ARGS exits CODE saying PATTERN.
refused() {
	local code=$1 pattern=$2 rc=0
	shift 2
	"$RUN" "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$code" ] || fail "exit $rc, not $code, for $*: $(cat "$T/err")"
	grep -q -- "$pattern" "$T/err" || fail "unclear error for $*: $(cat "$T/err")"
	is_mounted "$MNT" && fail "mounted after a refusal: $*"
	[ -z "$(supervisor_pids rr)" ] || fail "supervisor left after: $*"
}

refused 2 "--tag is required" -- "$PLAIN_LL" -f "$MNT"
refused 2 "invalid tag" --tag ../rr -- "$PLAIN_LL" -f "$MNT"
refused 2 "bad -o\|only recover_restarts" --tag rr -o recover_restarts=x -- "$PLAIN_LL" -f "$MNT"
refused 2 "only recover_restarts" --tag rr -o allow_other -- "$PLAIN_LL" -f "$MNT"
refused 2 "with --tag, not -o tag=" --tag rr -o tag=x -- "$PLAIN_LL" -f "$MNT"
refused 2 "no server to run" --tag rr
refused 127 "no such executable" --tag rr -- "$T/nothing" "$MNT"
refused 126 "statically linked" --tag rr -- "$BUILD/test/static_prog" "$MNT"
refused 126 "does not use libfuse3" --tag rr -- /bin/true "$MNT"
refused 2 "auto_unmount" --tag rr -- "$PLAIN_LL" -f -o ro,auto_unmount "$MNT"
FUSE_RECOVER_PRELOAD=$T/none.so refused 1 "FUSE_RECOVER_PRELOAD" --tag rr -- "$PLAIN_LL" -f "$MNT"

# A script that execs the server: its shell is passed over, the server is
# made recoverable.
printf '#!/bin/sh\nexec "%s" -f "$@"\n' "$PLAIN_LL" >"$T/server.sh"
chmod +x "$T/server.sh"
start_server "$RUN" --tag rr -- "$T/server.sh" "$MNT"
grep -q "tag rr: mounted" "$SERVER_LOG" || fail "script's server not attached"
check_reads "through a script"
kill_server
start_server "$RUN" --tag rr -- "$T/server.sh" "$MNT"
grep -q "recovered the mount" "$SERVER_LOG" || fail "script's server not recovered"
check_reads "after restart through a script"
umount "$MNT"
wait_until 10 no_supervisor rr || fail "supervisor survived umount"
log "fuse-recover-run refused 11 bad starts and ran a script's server"
