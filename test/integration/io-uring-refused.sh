# SPDX-License-Identifier: LGPL-2.1-or-later
# -o io_uring (libfuse 3.18) answers requests without the io hooks recovery
# needs: with a tag it is refused clearly before anything is mounted.
. "$(dirname "$0")/lib.sh"

for o in tag=ur,io_uring tag=ur,io_uring_q_depth=8; do
	"$TESTFS" -f -o "$o" "$MNT" 2>"$T/err" && fail "-o $o accepted"
	grep -q "io_uring bypasses" "$T/err" ||
		fail "no clear error for -o $o: $(cat "$T/err")"
	is_mounted "$MNT" && fail "mounted with -o $o"
done
no_supervisor ur || fail "a supervisor was started"
log "io_uring refused with a tag"
