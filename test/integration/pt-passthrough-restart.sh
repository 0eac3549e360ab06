# SPDX-License-Identifier: LGPL-2.1-or-later
# Kernel passthrough across a SIGKILL: a file opened in passthrough mode
# before the kill keeps reading and mapping (mapped writes too) while no
# server runs (only passthrough can do that; write(2) waits, the kernel
# asks the server about security.capability first), and reads, writes and
# maps after the restart; a new open of it
# after the restart succeeds (same backing id, no EIO) and sees the same
# data; the backing id is closed once the file is unlinked and forgotten,
# and the backing filesystem (when it is our tmpfs) gets its space back.
# Usage: pt-passthrough-restart.sh [tmpfs|dir]
. "$(dirname "$0")/pt-lib.sh"
need_resend
PTHOLD=$BUILD/test/pt_pthold

start_pt_passthrough
base=$(used_kib)
mkdir "$T/m"
"$PTHOLD" "$MNT/f" "$T/m" >"$T/holder.log" 2>&1 &
holder=$!
wait_until 20 test -e "$T/m/ready1" || fail "holder did not start: $(cat "$T/holder.log")"
[ "$(backing)" = 1 ] || fail "backing ids: $(backing), want 1"

kill_server
touch "$T/m/go1"
wait_until 15 test -e "$T/m/ready2" -o ! -d /proc/$holder ||
	fail "holder stuck with no server: $(cat /proc/$holder/stack 2>&1; grep State /proc/$holder/status)"
[ -e "$T/m/ready2" ] || fail "holder without a server: $(cat "$T/holder.log")"

start_pt_env PASSTHROUGH_HP_DEBUG_XATTR=1 --
grep -q "backing id(s) live" "$SERVER_LOG" ||
	fail "takeover did not report the live backing id"
touch "$T/m/go2"
wait_until 30 exited $holder || fail "holder hangs after the restart"
wait $holder || fail "holder: $(cat "$T/holder.log")"
[ -e "$T/m/done" ] || fail "holder: $(cat "$T/holder.log")"
[ "$(backing)" = 1 ] || fail "backing ids after the restart: $(backing), want 1"
cmp -s "$MNT/f" "$SRC/f" || fail "mount and backing file differ"

# Unlinked and closed: the kernel forgets the inode, the id is closed, and
# the backing file (held by the id) is freed.
rm "$MNT/f"
wait_until 10 backing_is = 0 || fail "backing id not closed: $(backing) live"
# Only our own tmpfs tells: others write to the filesystem of /tmp.
if [ "${PT_BACKING:-tmpfs}" = tmpfs ]; then
	wait_until 10 space_back "$((base + 64))" ||
		fail "backing file space not freed: $(used_kib) KiB used, $base before"
fi
log "passthrough file survived the kill (with and without a server), new open ok, id closed at forget"
