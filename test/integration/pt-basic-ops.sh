# SPDX-License-Identifier: LGPL-2.1-or-later
# passthrough_hp as a filesystem (no crash): what libfuse 3.14's
# passthrough_hp gets wrong works here.  New objects belong to the caller
# (uid, gid, supplementary groups for setgid dirs) and permission checks
# are the backing filesystem's; rename flags, fallocate modes, O_DIRECT,
# copy_file_range and xattrs pass through; tens of thousands of cached
# inodes need no fd each.
. "$(dirname "$0")/pt-lib.sh"

# A hard RLIMIT_NOFILE of 512: one fd per cached inode would not fit.
PT=(prlimit --nofile=512:512 "$PT")
start_pt --timeout=86400
if [ -n "$PT_NORECOVER" ]; then
	[ -z "$(supervisor_pids "$PT_TAG")" ] || fail "--norecover started a supervisor"
fi

# --- ownership and permissions, as user nobody (65534) ---
chmod 1777 "$MNT"
u=nobody
g=$(id -g $u)
runas() { setpriv --reuid=65534 --regid="$g" --init-groups -- "$@"; }
runas mkdir "$MNT/ndir" || fail "mkdir as $u"
runas touch "$MNT/ndir/f" || fail "create as $u"
runas mkfifo "$MNT/ndir/p" || fail "mkfifo as $u"
runas ln -s f "$MNT/ndir/l" || fail "symlink as $u"
[ "$(stat -c %u:%g "$SRC/ndir")" = "65534:$g" ] || fail "dir owner $(stat -c %u:%g "$SRC/ndir")"
[ "$(stat -c %u:%g "$SRC/ndir/f")" = "65534:$g" ] || fail "file owner"
[ "$(stat -c %u "$SRC/ndir/p")" = 65534 ] || fail "fifo owner"
[ "$(stat -c %u "$SRC/ndir/l")" = 65534 ] || fail "symlink owner"
echo root >"$MNT/rootfile"
chmod 600 "$MNT/rootfile"
runas cat "$MNT/rootfile" 2>/dev/null && fail "$u read a 0600 root file"
runas sh -c "echo x >>'$MNT/rootfile'" 2>/dev/null && fail "$u wrote a 0600 root file"
runas rm -f "$MNT/rootfile" 2>/dev/null && fail "$u removed root's file from a sticky dir"
runas chmod 666 "$MNT/rootfile" 2>/dev/null && fail "$u chmod'ed root's file"
runas chmod 640 "$MNT/ndir/f" || fail "chmod of own file"
runas truncate -s 100 "$MNT/ndir/f" || fail "truncate of own file"
runas touch -d @86400 "$MNT/ndir/f" || fail "utimes of own file"
[ "$(stat -c %a:%s:%Y "$SRC/ndir/f")" = 640:100:86400 ] ||
	fail "setattr as owner: $(stat -c %a:%s:%Y "$SRC/ndir/f")"
runas touch -d @86400 "$MNT/rootfile" 2>/dev/null && fail "$u set times of root's file"
runas chown 65534 "$MNT/ndir/f" || fail "chown to self"
runas chown 0 "$MNT/ndir/f" 2>/dev/null && fail "$u gave a file away"
# Permissions the kernel checks itself (default_permissions): search
# permission through cached dentries, opening FIFOs.
runas mkdir "$MNT/sd"
runas touch "$MNT/sd/f"
runas stat "$MNT/sd/f" >/dev/null || fail "stat in own dir"
runas chmod 0644 "$MNT/sd"
runas stat "$MNT/sd/f" >/dev/null 2>&1 && fail "$u searched a directory without x"
runas mkfifo -m 0600 "$MNT/sd2"
setpriv --reuid=65533 --regid=65533 --clear-groups "$PTOPS" open-nonblock "$MNT/sd2" 2>/dev/null &&
	fail "another user opened a 0600 FIFO"
runas "$PTOPS" open-nonblock "$MNT/sd2" || fail "owner could not open the FIFO"
# Set-id bits go when someone else writes.
echo x >"$MNT/suid"
chmod 04777 "$MNT/suid"
runas sh -c "echo y >>'$MNT/suid'" || fail "$u could not write a 0777 file"
[ "$(stat -c %a "$SRC/suid")" = 777 ] || fail "set-uid bit kept after a write: $(stat -c %a "$SRC/suid")"
# Supplementary group: setgid dir of a group only through groups.
groupadd -f ptgrp
gid=$(getent group ptgrp | cut -d: -f3)
usermod -a -G ptgrp nobody
mkdir "$MNT/gdir"
chgrp ptgrp "$MNT/gdir"
chmod 2770 "$MNT/gdir"
runas touch "$MNT/gdir/x" || fail "create through a supplementary group"
[ "$(stat -c %g "$SRC/gdir/x")" = "$gid" ] || fail "setgid dir: group $(stat -c %g "$SRC/gdir/x")"

# --- rename flags ---
echo a >"$MNT/ra"
echo b >"$MNT/rb"
"$PTOPS" rename "$MNT/ra" "$MNT/rb" noreplace 2>/dev/null && fail "RENAME_NOREPLACE replaced"
"$PTOPS" rename "$MNT/ra" "$MNT/rb" exchange || fail "RENAME_EXCHANGE"
[ "$(cat "$MNT/ra")$(cat "$MNT/rb")" = ba ] || fail "exchange did not swap"
"$PTOPS" rename "$MNT/ra" "$MNT/rc" noreplace || fail "RENAME_NOREPLACE to a new name"

# --- fallocate modes, O_DIRECT, copy_file_range ---
head -c 65536 /dev/urandom >"$MNT/fa"
# Every mode the backing filesystem supports must work, the others fail.
# (The kernel's FUSE module itself refuses collapse and insert ranges.)
nmodes=0
for m in 0 keep punch zero; do
	head -c 65536 /dev/zero >"$SRC/.probe"
	if "$PTOPS" fallocate "$SRC/.probe" $m 4096 4096 2>/dev/null; then
		"$PTOPS" fallocate "$MNT/fa" $m 4096 4096 || fail "fallocate $m"
		nmodes=$((nmodes + 1))
	else
		"$PTOPS" fallocate "$MNT/fa" $m 4096 4096 2>/dev/null &&
			fail "fallocate $m works here but not on the backing fs"
	fi
done
rm -f "$SRC/.probe"
cmp "$MNT/fa" "$SRC/fa" || fail "fallocate: mount and backing differ"
"$PTOPS" odirect-write "$MNT/od" || fail "O_DIRECT write"
"$PTOPS" copy-range "$MNT/fa" "$MNT/fb" 65536 || fail "copy_file_range"
cmp "$MNT/fa" "$MNT/fb" || fail "copy_file_range copied wrong data"

# --- locks are the kernel's (no lock ops): flock and POSIX locks work ---
flock -n "$MNT/fa" true || fail "flock"
flock -n "$MNT/fa" sh -c "flock -n '$MNT/fa' true" 2>/dev/null &&
	fail "flock did not exclude"

# --- xattrs, hard links, symlinks ---
"$PTOPS" setxattr "$MNT/fa" user.k v1 || fail "setxattr"
[ "$("$PTOPS" getxattr "$MNT/fa" user.k)" = v1 ] || fail "getxattr"
"$PTOPS" listxattr "$MNT/fa" | grep -qx user.k || fail "listxattr"
"$PTOPS" removexattr "$MNT/fa" user.k || fail "removexattr"
"$PTOPS" getxattr "$MNT/fa" user.k 2>/dev/null && fail "removed xattr still there"
ln "$MNT/fa" "$MNT/fa2" || fail "link"
[ "$(stat -c %i "$MNT/fa")" = "$(stat -c %i "$MNT/fa2")" ] || fail "hard link inode"
[ "$(stat -c %h "$MNT/fa")" = 2 ] || fail "link count"
[ "$(readlink "$MNT/ndir/l")" = f ] || fail "readlink"

# --- many cached inodes, no fd each ---
mkdir "$SRC/many"
(cd "$SRC/many" && seq 1 20000 | xargs touch)
n=$(find "$MNT/many" -type f -printf '%s\n' | wc -l)
[ "$n" = 20000 ] || fail "saw $n of 20000 files"
find "$MNT/many" -type f -exec stat -c %i {} + >/dev/null || fail "stat of all cached inodes"
fds=$(ls /proc/"$SERVER_PID"/fd | wc -l)
[ "$fds" -lt 100 ] || fail "server holds $fds fds"
# (Directories left out: "many" was filled behind the kernel's back, and
# the attributes it caches for a day are those of before.)
nodirs() { grep -v '^[0-9]* d'; }
diff <(tree_listing "$SRC" | nodirs) <(tree_listing "$MNT" | nodirs) ||
	fail "mount and backing listings differ"
log "ownership, permissions, rename flags, $nmodes fallocate modes, O_DIRECT, copy_file_range, xattrs, 20000 inodes with $fds fds"
