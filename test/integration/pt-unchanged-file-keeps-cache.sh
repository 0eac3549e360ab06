# SPDX-License-Identifier: LGPL-2.1-or-later
# Without kernel passthrough, an open of a file whose backing file is
# unchanged since the node's previous open keeps the kernel's page cache
# of it (readers that open a file again and again are served from memory);
# a change made to SOURCE behind the server's back (same size, new data)
# is seen by the next open, also right after a restart.
# Usage: pt-unchanged-file-keeps-cache.sh
. "$(dirname "$0")/pt-lib.sh" tmpfs nopassthrough
command -v fincore >/dev/null || skip "no fincore (util-linux)"

# Pages of the FUSE file in the page cache.  fincore opens the file
# itself: without keep_cache that open would drop them first.
resident() { fincore -n -b -o PAGES "$MNT/f" | tr -d ' '; }

start_pt
head -c 1M /dev/urandom >"$SRC/f"
cat "$MNT/f" >/dev/null
cat "$MNT/f" >/dev/null
[ "$(resident)" = 256 ] || fail "reopened unchanged file lost its page cache: $(resident) of 256 pages"
cmp -s "$MNT/f" "$SRC/f" || fail "cached data differ from the backing file"

# Same size, new data, written directly to SOURCE: the next open must not
# keep the old pages, however soon it comes.
head -c 1M /dev/urandom >"$T/new"
dd if="$T/new" of="$SRC/f" bs=1M conv=notrunc status=none
cmp -s "$MNT/f" "$T/new" || fail "stale page cache after a change behind the server's back"

# After a restart the server knows nothing of earlier opens: the first
# open drops the pages, so a change made while no server ran is seen too.
cat "$MNT/f" >/dev/null
kill_server
head -c 1M /dev/urandom >"$T/new2"
dd if="$T/new2" of="$SRC/f" bs=1M conv=notrunc status=none
start_pt
cmp -s "$MNT/f" "$T/new2" || fail "stale page cache after a change while no server ran"
[ "$(resident)" = 256 ] || fail "page cache not kept after the restart: $(resident) of 256 pages"
log "unchanged file kept its page cache; changes in SOURCE seen at the next open"
