# SPDX-License-Identifier: LGPL-2.1-or-later
# libfuse 3.18's io_uring transport answers requests without the io hooks
# recovery needs: with a tag it is refused clearly before anything is
# mounted, whether asked for by -o io_uring or by FUSE_URING_ENABLE (which
# libfuse >= 3.18 reads).  On a libfuse that has the transport, the same
# option without a tag must be accepted: the refusal is ours, not libfuse's.
. "$(dirname "$0")/lib.sh"

# Minor version of the libfuse3 the test server really loads.
lib=$(ldd "$TESTFS" | awk '$1 ~ /^libfuse3\.so/ { print $3 }')
real=$(readlink -f "$lib")
minor=$(echo "${real##*/}" | sed -n 's/^libfuse3\.so\.3\.\([0-9]*\).*/\1/p')
[ -n "$minor" ] || fail "cannot tell the libfuse version of $lib ($real)"
log "testfs runs with ${real##*/}"

refused() {
	grep -q "$1" "$T/err" || fail "no clear error for $2: $(cat "$T/err")"
	is_mounted "$MNT" && fail "mounted with $2"
	return 0
}

for o in tag=ur,io_uring tag=ur,io_uring_q_depth=8; do
	"$TESTFS" -f -o "$o" "$MNT" 2>"$T/err" && fail "-o $o accepted"
	refused "io_uring bypasses" "-o $o"
done

# Mounts without recovery, then unmounts (the server exits on umount).
plain_mount() {
	local pid
	"$@" 2>"$T/err" &
	pid=$!
	wait_until 10 is_mounted "$MNT" || fail "$* did not mount: $(cat "$T/err")"
	umount "$MNT"
	wait_until 10 exited $pid || fail "$* did not exit after umount"
}

if [ "$minor" -ge 18 ]; then
	FUSE_URING_ENABLE=1 "$TESTFS" -f -o tag=ur "$MNT" 2>"$T/err" &&
		fail "FUSE_URING_ENABLE=1 with a tag accepted"
	refused "FUSE_URING_ENABLE=1 turns on" "FUSE_URING_ENABLE=1"
	plain_mount "$TESTFS" -f -o io_uring "$MNT"
	log "libfuse 3.$minor takes -o io_uring without a tag"
else
	# libfuse before 3.18 ignores the variable: nothing to refuse.
	FUSE_URING_ENABLE=1 plain_mount "$TESTFS" -f "$MNT"
fi
no_supervisor ur || fail "a supervisor was started"
log "io_uring refused with a tag"
