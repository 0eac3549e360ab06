# SPDX-License-Identifier: LGPL-2.1-or-later
# When the supervisor gives up, the mount stays, dead: stat of the mount
# point answers ENOTCONN and a create fails instead of landing, silently,
# in the directory underneath the mount point.
. "$(dirname "$0")/lib.sh"

start_server "$TESTFS" -f -o tag=gd,recover_timeout=1 "$MNT"
kill_server
wait_until 10 grep -q "giving up" "$FUSE_RECOVERD_LOG" || fail "no give-up"
wait_until 5 no_supervisor gd || fail "supervisor still running"

is_mounted "$MNT" || fail "the mount is gone: applications now write below it"
stat "$MNT" >/dev/null 2>"$T/stat.err" && fail "stat of the dead mount point worked"
grep -q "not connected" "$T/stat.err" || fail "stat saw: $(cat "$T/stat.err")"
(echo lost >"$MNT/created") 2>"$T/create.err" && fail "a create succeeded"
grep -q "not connected" "$T/create.err" || fail "create saw: $(cat "$T/create.err")"
grep -q "stays mounted but dead" "$FUSE_RECOVERD_LOG" ||
	fail "the log does not tell the administrator what to do"

# The administrator unmounts it; nothing was written underneath.
umount "$MNT" || fail "cannot unmount the dead mount"
[ -z "$(ls -A "$MNT")" ] || fail "files landed under the mount point: $(ls -A "$MNT")"
log "dead mount kept until unmounted; nothing landed underneath"
