# SPDX-License-Identifier: LGPL-2.1-or-later
# FUSE_HANDLE_KILLPRIV_V2 (fuse_recover_set_killpriv()): the kernel leaves
# set-id kills to passthrough_hp, which must do them as the VFS would.
# User 65534 writing, truncating, open(O_TRUNC)ing, fallocating or
# copy_file_range()ing into a 06777 file clears both bits; root keeps
# them; a file with security.capability loses it on a non-root write.  And what the flag is for: after the first
# write of a file no more GETXATTR per write (counted in the server's -d
# log).  A SIGKILL and restart keeps the negotiated flag (the replayed INIT
# compares equal) and the behaviour.
# Usage: pt-killpriv.sh [nopassthrough]
. "$(dirname "$0")/pt-lib.sh" tmpfs "$@"

asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
setid() {
	rm -f "$SRC/$1"
	printf 'data' >"$SRC/$1"
	chmod 06777 "$SRC/$1"
	stat "$MNT/$1" >/dev/null # a fresh look-up: the kernel sees the bits
}
mode_is() {
	local m
	m=$(stat -c %a "$SRC/$1")
	[ "$m" = "$2" ] || fail "$3: $1 has mode $m on SOURCE, not $2"
	m=$(stat -c %a "$MNT/$1")
	[ "$m" = "$2" ] || fail "$3: $1 has mode $m on the mount, not $2"
}
getxattrs() { grep -c "opcode: GETXATTR" "$SERVER_LOG" || true; }

# kills PREFIX: new files each round (a cached dentry of a replaced file
# would name the old one).
kills() {
	setid ${1}w
	asnobody dd if=/dev/zero of="$MNT/${1}w" bs=4k count=1 conv=notrunc status=none
	mode_is ${1}w 777 "write by 65534"
	setid ${1}t
	asnobody truncate -s 1 "$MNT/${1}t"
	mode_is ${1}t 777 "truncate by 65534"
	setid ${1}o
	asnobody sh -c ": >'$MNT/${1}o'"
	mode_is ${1}o 777 "open(O_TRUNC) by 65534"
	setid ${1}f
	asnobody fallocate -l 64k "$MNT/${1}f"
	mode_is ${1}f 777 "fallocate by 65534"
	setid ${1}d
	printf 'from' >"$SRC/${1}s"
	asnobody /usr/bin/python3 -c 'import os, sys
i = os.open(sys.argv[1], os.O_RDONLY)
o = os.open(sys.argv[2], os.O_WRONLY)
os.copy_file_range(i, o, 4)' "$MNT/${1}s" "$MNT/${1}d"
	mode_is ${1}d 777 "copy_file_range to it by 65534"
	# S_ISGID without S_IXGRP is a mandatory-locking mark: it stays.
	setid ${1}g
	chmod 02767 "$SRC/${1}g"
	stat "$MNT/${1}g" >/dev/null
	asnobody dd if=/dev/zero of="$MNT/${1}g" bs=4k count=1 conv=notrunc status=none
	mode_is ${1}g 2767 "write by 65534 (no S_IXGRP)"
	setid ${1}r
	dd if=/dev/zero of="$MNT/${1}r" bs=4k count=1 conv=notrunc status=none
	truncate -s 1 "$MNT/${1}r"
	: >"$MNT/${1}r"
	mode_is ${1}r 6777 "write, truncate, open(O_TRUNC) by root"
	rm -f "$SRC/${1}c"
	printf 'data' >"$SRC/${1}c"
	chmod 0777 "$SRC/${1}c"
	setcap cap_net_raw+ep "$SRC/${1}c"
	stat "$MNT/${1}c" >/dev/null
	asnobody dd if=/dev/zero of="$MNT/${1}c" bs=4k count=1 conv=notrunc status=none
	[ -z "$(getcap "$SRC/${1}c")" ] || fail "security.capability kept after a write by 65534: $(getcap "$SRC/${1}c")"
}

# GETXATTRs for 200 writes to a new plain file, after its first write.
xattr_per_writes() {
	local before
	: >"$SRC/p$1"
	chmod 0666 "$SRC/p$1"
	asnobody dd if=/dev/zero of="$MNT/p$1" bs=4k count=1 conv=notrunc status=none
	before=$(getxattrs)
	asnobody dd if=/dev/zero of="$MNT/p$1" bs=4k count=100 conv=notrunc status=none
	dd if=/dev/zero of="$MNT/p$1" bs=4k count=100 conv=notrunc status=none
	echo $(($(getxattrs) - before))
}

command -v setcap >/dev/null || skip "no setcap"
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3 (copy_file_range)"
start_pt -d
grep -q "passthrough off\|no kernel passthrough" "$SERVER_LOG" &&
	[ "${1:-}" != nopassthrough ] && skip "no passthrough here"
kills a
n=$(xattr_per_writes a)
log "GETXATTRs for 200 writes after the first: $n"
[ "$n" -le 2 ] || fail "$n GETXATTRs for 200 writes: the kernel still asks for security.capability per write"

kill_server
# The flag is part of the negotiated capabilities: a server that does not
# ask for it may not take over (it would not do the kills).
timeout 20 "${PT[@]}" "${PT_ARGS[@]}" --nokillpriv "$SRC" "$MNT" 2>"$T/bad.err" &&
	fail "a server without the flag took over"
grep -q "capabilities differ" "$T/bad.err" || fail "unclear refusal: $(cat "$T/bad.err")"
start_pt -d
grep -q "recovered the mount" "$SERVER_LOG" || fail "restart did not recover"
kills b
n=$(xattr_per_writes b)
[ "$n" -le 2 ] || fail "after the restart, $n GETXATTRs for 200 writes"
log "set-id kills done by the server; no GETXATTR per write; kept across a restart"
