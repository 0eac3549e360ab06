# SPDX-License-Identifier: LGPL-2.1-or-later
# Runtime directories that cannot be trusted are refused with a message
# that says what is wrong and what to do: a relative
# FUSE_RECOVER_RUNTIME_DIR, and a /tmp/fuse-recover-UID made by another user
# (or a symlink planted there).  Nothing gets mounted.
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || skip "no setpriv"

mkdir -p "$T/rel"
if (cd "$T" && FUSE_RECOVER_RUNTIME_DIR=rel "$TESTFS" -f -o tag=rel "$MNT") \
	2>"$T/err"; then
	fail "relative runtime dir accepted"
fi
grep -q "FUSE_RECOVER_RUNTIME_DIR=rel is relative" "$T/err" ||
	fail "no clear error for a relative dir: $(cat "$T/err")"
is_mounted "$MNT" && fail "mounted with a relative runtime dir"
[ -z "$(ls -A "$T/rel")" ] || fail "something was made in the relative dir"

# The default for an unprivileged user without XDG_RUNTIME_DIR is under
# /tmp: give this test a /tmp of its own (a nested mount namespace) so the
# machine's /tmp is never touched.
if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r /dev/fuse; then
	mknod -m 666 "$T/fuse" c 10 229
	mount --bind "$T/fuse" /dev/fuse
fi
build=$(realpath "$BUILD")
foreign() {
	unshare --mount --propagation private bash -c '
		set -e
		exec 9<"$4"
		mount -t tmpfs -o mode=1777 fr-test-tmp /tmp
		# A build under /tmp (a CI clone) must stay reachable.
		case $4 in /tmp/*)
			mkdir -p "$4"
			mount --no-canonicalize --bind /proc/self/fd/9 "$4" ;;
		esac
		exec 9<&-
		mkdir -m 755 /tmp/mnt && chown 65534:65534 /tmp/mnt
		case $1 in
		root-owned) mkdir -m 700 /tmp/fuse-recover-65534 ;;
		open-mode) mkdir -m 777 /tmp/fuse-recover-65534
			   chown 65534:65534 /tmp/fuse-recover-65534 ;;
		symlink) mkdir -m 700 /tmp/elsewhere
			 chown 65534:65534 /tmp/elsewhere
			 ln -s /tmp/elsewhere /tmp/fuse-recover-65534 ;;
		esac
		! setpriv --reuid=65534 --regid=65534 --clear-groups \
			env -u XDG_RUNTIME_DIR -u FUSE_RECOVER_RUNTIME_DIR \
			FUSE_RECOVERD="$2" "$3" -f -o tag=blocked /tmp/mnt
		! grep -q " /tmp/mnt " /proc/self/mounts' \
		foreign "$1" "$FUSE_RECOVERD" "$TESTFS" "$build"
}
for how in root-owned open-mode symlink; do
	foreign $how 2>"$T/err" || fail "$how: accepted or mounted: $(cat "$T/err")"
	case $how in
	root-owned) want="belongs to another user" ;;
	open-mode) want="is open to other users" ;;
	symlink) want="is not a directory" ;;
	esac
	grep -q "/tmp/fuse-recover-65534 $want" "$T/err" ||
		fail "$how: does not say what is wrong: $(cat "$T/err")"
	grep -q "set XDG_RUNTIME_DIR or FUSE_RECOVER_RUNTIME_DIR" "$T/err" ||
		fail "$how: does not say what to do: $(cat "$T/err")"
done
log "untrusted runtime directories refused with advice"
