# SPDX-License-Identifier: LGPL-2.1-or-later
# A worker's request buffer is populated in full before its first read
# (lib/io.c touch_buffer()): a request copied into it while the server
# is being killed cannot fault, which would fail the request with EIO
# instead of leaving it for the next server.  Checked in /proc/PID/smaps:
# every anonymous mapping the size of libfuse's buffer is resident in
# full.  The same server without a tag (plain libfuse, no io hooks)
# leaves its buffers mostly untouched, which is what this would see if
# the populate went missing or stopped after its first slices.
# The multi-threaded loop only: the single-threaded one's buffer may come
# from the heap (glibc's mmap threshold rises after a large free), where
# smaps cannot tell it apart.
. "$(dirname "$0")/lib.sh"
# meson test sets it: malloc would then fill (and so populate) every
# buffer itself, and neither check would mean anything.
unset MALLOC_PERTURB_

# buffers PID: "K SIZE RSS" (SIZE and RSS in kB) of each anonymous mapping
# of K request buffers (libfuse 3.14's buffer is max_pages pages and one
# more, malloc'ed: mmap'ed on its own, 1032 kB with glibc's malloc, 1036
# with ASan's; up to 1044 allowed).  The kernel merges buffers mapped
# next to each other into one mapping (seen: 2064 and 3096 kB, 3 runs in
# 40), so K may be over 1; a mapping must be K buffers of one size
# exactly (ASan keeps mappings of 6516 and 10832 kB that are not), and
# of the size most buffers have (ASan's are 1036 kB, and an ASan server
# had one other mapping of 1032 kB, 12 kB of it resident).
buffers() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { anon = ($6 == "") }
	     /^Size:/ { size = $2 }
	     /^Rss:/ && anon { k = int(size / 1028)
			       if (k >= 1 && k <= 16 && size % k == 0 &&
				   size / k <= 1044) {
				       n++; K[n] = k; S[n] = size; R[n] = $2
				       per[size / k] += k
			       } }
	     END { for (b in per) if (per[b] > most) { most = per[b]; best = b }
		   for (i = 1; i <= n; i++)
			   if (S[i] / K[i] == best + 0) print K[i], S[i], R[i] }' \
		/proc/"$1"/smaps
}

# busy: requests enough to have the loop's workers read.
busy() {
	local i
	for i in $(seq 20); do
		stat "$MNT" >/dev/null
		cat "$MNT/hello" >/dev/null
	done
}

# count: N (buffers found) and FULL (of them in mappings resident in full).
count() {
	local k size rss
	n=0 full=0
	while read -r k size rss; do
		n=$((n + k))
		if [ "$rss" -ge $((size - 8)) ]; then full=$((full + k)); fi
	done < <(buffers "$SERVER_PID")
}

all_full() { count; [ $n -gt 0 ] && [ $full = $n ]; }

# A worker the last requests started may still be populating its buffer
# (it yields between slices) or still be answering its first request,
# read into a spare buffer: its own is populated before its next read.
# So the tagged check waits for every buffer to fill, boundedly.
check() {
	local what=$1 want=$2 n full maps
	case $want in
	all) wait_until 5 all_full || true ;;
	none) count ;;
	esac
	[ $n -gt 0 ] || fail "$what: no request buffer found in smaps"
	log "$what: $full of $n buffers resident in full"
	maps="buffers, size, rss (kB): $(buffers "$SERVER_PID" | tr '\n' ' ')"
	case $want in
	all) [ $full = $n ] || fail "$what: $((n - full)) of $n buffers not populated after 5 s; $maps" ;;
	none) [ $full = 0 ] || fail "$what: plain libfuse populated $full of $n buffers; this test cannot tell; $maps" ;;
	esac
}

start_server "$TESTFS" -f -o tag=bp "$MNT"
busy
check "tagged" all
umount "$MNT"
wait_until 10 exited "$SERVER_PID" || fail "server did not exit on unmount"

# No tag: fuse_session_attach() is fuse_session_mount(), no io hooks.
"$TESTFS" -f "$MNT" 2>"$T/plain.log" &
SERVER_PID=$!
wait_until 10 is_mounted "$MNT" || fail "plain server did not mount"
busy
check "no tag" none
umount "$MNT"
wait_until 10 exited "$SERVER_PID" || fail "plain server did not exit on unmount"
