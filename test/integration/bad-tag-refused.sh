# SPDX-License-Identifier: LGPL-2.1-or-later
# Tags that are not safe file names are refused with a clear error, and
# nothing gets mounted.
. "$(dirname "$0")/lib.sh"

long=$(printf 'a%.0s' $(seq 65))
for tag in ../x a/b .hidden "" "sp ace" "$long" "x;y"; do
	if "$TESTFS" -f -o "tag=$tag" "$MNT" 2>"$T/err"; then
		fail "tag '$tag' accepted"
	fi
	grep -qE "invalid tag|fuse_recover_new" "$T/err" ||
		fail "no clear error for '$tag': $(cat "$T/err")"
	is_mounted "$MNT" && fail "mounted with tag '$tag'"
done
"$TESTFS" -f -o tag=ok,auto_unmount "$MNT" 2>"$T/err" && fail "auto_unmount accepted"
grep -q auto_unmount "$T/err" || fail "no clear error for auto_unmount"
log "bad tags refused"
