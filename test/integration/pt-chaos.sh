# SPDX-License-Identifier: LGPL-2.1-or-later
# Chaos: passthrough_hp is SIGKILLed at random intervals (20-300 ms) while
# three workloads run on the mount:
#   - extracting a tree with tar and verifying its checksums, round after
#     round (removing older rounds);
#   - pt_exerciser: random reads, writes and truncates on a few files,
#     every read checked against a model;
#   - mkdir/rename/unlink/rmdir churn, each step checked.
# The workloads must see zero errors, and the final tree must be exactly
# the expected one (also compared against the backing directory).
# Usage: pt-chaos.sh [KILLS] [st|mt|mt-clone]; PT_CHAOS_KILLS overrides
# KILLS (e.g. PT_CHAOS_KILLS=5000 for a long run).
. "$(dirname "$0")/pt-lib.sh"
need_resend

kills=${PT_CHAOS_KILLS:-${1:-500}}
case ${2:-mt} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac

# The tree to extract: dirs, files of varied sizes, symlinks, a hard link.
mkdir -p "$T/tree"
for d in $(seq 1 8); do
	mkdir -p "$T/tree/dir$d/sub"
	for f in $(seq 1 25); do
		head -c $(((RANDOM * 7 + f * 131) % 70000)) /dev/urandom \
			>"$T/tree/dir$d/f$f"
	done
	echo "$d" >"$T/tree/dir$d/sub/leaf"
	ln -s ../dir$d/f1 "$T/tree/dir$d/sub/link"
done
ln "$T/tree/dir1/f2" "$T/tree/dir2/hard"
tar -C "$T/tree" -cf "$T/tree.tar" .
tree_sums "$T/tree" >"$T/tree.sums"
tree_listing "$T/tree" | awk '{ print $2, $7, $8 }' >"$T/tree.shape"

start_pt "${loop[@]}"
mkdir "$MNT/x" "$MNT/ex" "$MNT/churn"

# 1. extract + verify
(
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		d=$MNT/x/r$i
		mkdir "$d" || { echo "round $i: mkdir"; exit 1; }
		tar -C "$d" -xf "$T/tree.tar" || { echo "round $i: tar"; exit 1; }
		(cd "$d" && sha256sum --quiet -c "$T/tree.sums") ||
			{ echo "round $i: checksums"; exit 1; }
		if [ $i -gt 1 ]; then
			rm -rf "$MNT/x/r$((i - 1))" ||
				{ echo "round $i: rm -rf"; exit 1; }
		fi
		echo $i >"$T/x.rounds"
	done
) >"$T/extract.log" 2>&1 &
w_extract=$!

# 2. data-verifying exerciser
"$PTEX" "$MNT/ex" "$T/stop" 3 >"$T/exerciser.out" 2>"$T/exerciser.log" &
w_ex=$!

# 3. namespace churn
(
	i=0
	c=$MNT/churn
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		mkdir "$c/d$i" || { echo "$i: mkdir"; exit 1; }
		echo $i >"$c/d$i/f" || { echo "$i: create"; exit 1; }
		mv "$c/d$i" "$c/e$i" || { echo "$i: rename dir"; exit 1; }
		mv "$c/e$i/f" "$c/e$i/g" || { echo "$i: rename file"; exit 1; }
		ln "$c/e$i/g" "$c/e$i/h" || { echo "$i: link"; exit 1; }
		[ "$(cat "$c/e$i/h")" = $i ] || { echo "$i: content"; exit 1; }
		rm "$c/e$i/g" "$c/e$i/h" || { echo "$i: unlink"; exit 1; }
		rmdir "$c/e$i" || { echo "$i: rmdir"; exit 1; }
		echo $i >"$T/churn.rounds"
	done
) >"$T/churn.log" 2>&1 &
w_churn=$!

alive() { kill -0 $w_extract && kill -0 $w_ex && kill -0 $w_churn; } 2>/dev/null
start=$SECONDS
for ((k = 1; k <= kills; k++)); do
	sleep "0.$(printf %03d $((20 + RANDOM % 281)))"
	kill_server
	start_pt "${loop[@]}"
	[ -n "${PT_KEEP_LOGS:-}" ] || rm -f "$T/server.$((NSERVERS - 1)).log"
	alive || break
done
touch "$T/stop"
for w in $w_extract $w_ex $w_churn; do
	wait_until 60 exited $w || fail "a workload hangs (pid $w)"
done
wait $w_extract || fail "extract: $(tail -n 5 "$T/extract.log")"
wait $w_ex || fail "exerciser: $(cat "$T/exerciser.out"; tail -n 5 "$T/exerciser.log")"
wait $w_churn || fail "churn: $(tail -n 5 "$T/churn.log")"
[ $k -gt "$kills" ] || fail "workloads ended early after $k kills"

# The final tree: one or two extracted rounds, the exerciser's files, an
# empty churn directory; the mount shows exactly the backing directory.
for d in "$MNT"/x/r*; do
	(cd "$d" && sha256sum --quiet -c "$T/tree.sums") || fail "$d differs"
	tree_listing "$d" | awk '{ print $2, $7, $8 }' >"$T/shape"
	diff "$T/tree.shape" "$T/shape" || fail "$d: tree shape differs"
done
[ -z "$(ls -A "$MNT/churn")" ] || fail "churn left: $(ls -A "$MNT/churn")"
[ "$(ls "$MNT/ex")" = "$(printf 'ex.0\nex.1\nex.2')" ] || fail "exerciser dir: $(ls "$MNT/ex")"
diff <(tree_listing "$SRC") <(tree_listing "$MNT") >"$T/listing.diff" ||
	fail "mount and backing differ: $(head "$T/listing.diff")"
diff <(tree_sums "$SRC") <(tree_sums "$MNT") >/dev/null || fail "contents differ"
log "$kills kills in $((SECONDS - start)) s; extract rounds $(cat "$T/x.rounds"), churn rounds $(cat "$T/churn.rounds"), exerciser $(cat "$T/exerciser.out"); zero errors"
