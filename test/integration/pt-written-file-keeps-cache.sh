# SPDX-License-Identifier: LGPL-2.1-or-later
# Without kernel passthrough, a file written through the mount keeps the
# kernel's page cache of what was written: reading it back right after
# comes from memory, not from the server again.  A change made to SOURCE
# behind the server's back, before or between our own writes, must still
# drop the cache at the next open.
# Usage: pt-written-file-keeps-cache.sh
. "$(dirname "$0")/pt-lib.sh" tmpfs nopassthrough
command -v fincore >/dev/null || skip "no fincore (util-linux)"

# Pages of a FUSE file in the page cache.  fincore opens the file itself:
# without keep_cache that open would drop them first.
resident() { fincore -n -b -o PAGES "$MNT/$1" | tr -d ' '; }

start_pt
head -c 1M /dev/urandom >"$T/a"
# A new file (CREATE), then writes to an existing one (OPEN).
cp "$T/a" "$MNT/w"
[ "$(resident w)" = 256 ] || fail "new file lost its page cache after our own writes: $(resident w) of 256 pages"
cmp -s "$SRC/w" "$T/a" || fail "backing file differs from what was written"
dd if="$T/a" of="$MNT/w" bs=64k conv=notrunc status=none
[ "$(resident w)" = 256 ] || fail "rewritten file lost its page cache: $(resident w) of 256 pages"
cmp -s "$MNT/w" "$T/a" || fail "cached data differ from what was written"

# A change behind our back while the file is open, then a write of our
# own to its first 4 KiB: the rest of the cached pages are stale, so the
# next open must not keep them.
head -c 1M /dev/urandom >"$T/b"
head -c 4k /dev/urandom >"$T/x"
exec 3<>"$MNT/w"
dd if="$T/b" of="$SRC/w" bs=1M conv=notrunc status=none
dd if="$T/x" bs=4k count=1 status=none >&3
exec 3>&-
{ cat "$T/x"; tail -c +4097 "$T/b"; } >"$T/want"
cmp -s "$SRC/w" "$T/want" || fail "backing file differs from what was written"
cmp -s "$MNT/w" "$T/want" || fail "stale page cache after a change behind the server's back before our write"

# A change behind our back after our writes: seen at the next open.
dd if="$T/a" of="$MNT/w" bs=1M conv=notrunc status=none
dd if="$T/b" of="$SRC/w" bs=1M conv=notrunc status=none
cmp -s "$MNT/w" "$T/b" || fail "stale page cache after a change behind the server's back after our write"

# Across a restart: the new server knows nothing of the old one's writes,
# so its first open drops the pages (a change while no server ran is seen).
cp "$T/a" "$MNT/w"
kill_server
dd if="$T/b" of="$SRC/w" bs=1M conv=notrunc status=none
start_pt
cmp -s "$MNT/w" "$T/b" || fail "stale page cache after a change while no server ran"
log "written file kept its page cache; changes in SOURCE seen at the next open"
