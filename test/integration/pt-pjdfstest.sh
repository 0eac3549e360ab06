# SPDX-License-Identifier: LGPL-2.1-or-later
# POSIX conformance: pjdfstest (several uids) on the backing tmpfs and on
# passthrough_hp -o allow_other over it; the mount must not fail any test
# file the backing filesystem passes.  Skips unless PJDFSTEST names a
# built pjdfstest tree (its pjdfstest binary next to tests/) and prove(1)
# exists.  Takes about 12 minutes: run it with
#   PJDFSTEST=/path/to/pjdfstest TEST_TIME_LIMIT=1800 \
#     meson test -C build pt-pjdfstest -t 4
. "$(dirname "$0")/pt-lib.sh"

[ -n "${PJDFSTEST:-}" ] && [ -x "$PJDFSTEST/pjdfstest" ] &&
	[ -d "$PJDFSTEST/tests" ] || skip "PJDFSTEST does not name a built pjdfstest"
command -v prove >/dev/null || skip "no prove(1)"

failures() {
	sed -n '/^Test Summary Report/,$p' "$1" |
		grep -oE '^\S+\.t +\(Wstat: [0-9]+ Tests: [0-9]+ Failed: [1-9][0-9]*\)' |
		awk '{ print $1 }' | sort || true
}

mkdir -m 755 "$SRC/backing" "$SRC/mount"
(cd "$SRC/backing" && prove -r "$PJDFSTEST/tests" >"$T/backing.prove" 2>&1) || true
start_pt
(cd "$MNT/mount" && prove -r "$PJDFSTEST/tests" >"$T/mount.prove" 2>&1) || true
grep -q '^Result: ' "$T/mount.prove" || fail "prove did not finish: $(tail -n 5 "$T/mount.prove")"
failures "$T/backing.prove" >"$T/backing.failed"
failures "$T/mount.prove" >"$T/mount.failed"
extra=$(comm -13 "$T/backing.failed" "$T/mount.failed")
[ -z "$extra" ] || fail "fail on the mount only: $extra"
log "pjdfstest: $(tail -n 2 "$T/mount.prove" | head -n 1); $(wc -l <"$T/mount.failed") failing files, as on the backing fs"
