# SPDX-License-Identifier: LGPL-2.1-or-later
# Chaos on a server that knows nothing of recovery: SIGKILL at random
# 20-300 ms intervals while three workloads run on the mount:
#   - extracting a tree with tar and verifying its checksums, round after
#     round (removing older rounds);
#   - pt_exerciser: random reads, writes and truncates, every read checked;
#   - mkdir/create/rename/link/unlink/rmdir churn, each step checked.
# Zero errors, zero wrong bytes, and no restarted server may die on its own
# (each must still be alive when it is killed; kill_x checks).
# Usage: xl-chaos.sh VARIANT [KILLS]; XL_CHAOS_KILLS overrides KILLS.
. "$(dirname "$0")/xl-lib.sh"
need_resend

# High-level libfuse renames a file unlinked while open to .fuse_hiddenN
# and removes it at the last release, which a restart in between never
# sees: the churn's rmdir would then get ENOTEMPTY (README, Limits of
# translation); README tells such servers to set hard_remove.
[ "$XL_VARIANT" = hlfs ] && XL_CMD+=(-o hard_remove)

kills=${XL_CHAOS_KILLS:-${1:-500}}
budget=${XL_CHAOS_SECONDS:-240}

mkdir -p "$T/tree"
for d in $(seq 1 6); do
	mkdir -p "$T/tree/dir$d/sub"
	for f in $(seq 1 20); do
		head -c $(((RANDOM * 7 + f * 131) % 70000)) /dev/urandom \
			>"$T/tree/dir$d/f$f"
	done
	echo "$d" >"$T/tree/dir$d/sub/leaf"
	ln -s ../dir$d/f1 "$T/tree/dir$d/sub/link"
done
ln "$T/tree/dir1/f2" "$T/tree/dir2/hard"
tar -C "$T/tree" -cf "$T/tree.tar" .
(cd "$T/tree" && find . -type f -print0 | sort -z | xargs -0r sha256sum) >"$T/tree.sums"

start_x
mkdir "$MNT/x" "$MNT/ex" "$MNT/churn"
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
			rm -rf "$MNT/x/r$((i - 1))" || { echo "round $i: rm -rf"; exit 1; }
		fi
		echo $i >"$T/x.rounds"
	done
) >"$T/extract.out" 2>&1 &
w_extract=$!
"$PTEX" "$MNT/ex" "$T/stop" 3 >"$T/exerciser.out" 2>"$T/exerciser.err" &
w_ex=$!
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
) >"$T/churn.out" 2>&1 &
w_churn=$!

alive() { kill -0 $w_extract && kill -0 $w_ex && kill -0 $w_churn; } 2>/dev/null
start=$SECONDS
for ((k = 1; k <= kills; k++)); do
	sleep "0.$(printf %03d $((20 + RANDOM % 281)))"
	restart_x
	# A restarted server that aborted says so on stderr before it dies.
	old=$T/server.$((NSERVERS - 1)).log
	! grep -qE "internal error|Assertion|abort" "$old" ||
		fail "server $((NSERVERS - 1)): $(grep -E "internal error|Assertion|abort" "$old" | head -n 3)"
	rm -f "$old"
	alive || break
	[ $((SECONDS - start)) -lt "$budget" ] ||
		fail "only $k kills in $budget s (too slow to be a test)"
done
touch "$T/stop"
for w in $w_extract $w_ex $w_churn; do
	wait_until 60 exited $w || fail "a workload hangs (pid $w)"
done
wait $w_extract || fail "extract: $(tail -n 5 "$T/extract.out")"
wait $w_ex || fail "exerciser: $(cat "$T/exerciser.out"; tail -n 5 "$T/exerciser.err")"
wait $w_churn || fail "churn: $(tail -n 5 "$T/churn.out")"
[ $k -gt "$kills" ] || fail "workloads ended early after $k kills"
final_checks() {
	local d
	for d in "$MNT"/x/r*; do
		(cd "$d" && sha256sum --quiet -c "$T/tree.sums") || { echo "$d differs"; return 1; }
	done
	[ -z "$(ls -A "$MNT/churn")" ] || { echo "churn left: $(ls -A "$MNT/churn")"; return 1; }
	tree_listing "$MNT" >"$T/mnt.listing"
}
XL_APP_TIMEOUT=60 app final_checks >"$T/final.out" 2>&1 || fail "$(cat "$T/final.out")"
diff <(tree_listing "$SRC") "$T/mnt.listing" >"$T/listing.diff" ||
	fail "mount and backing differ: $(head "$T/listing.diff")"
server_alive
log "$XL_VARIANT: $XL_DEATHS kills in $((SECONDS - start)) s; extract rounds $(cat "$T/x.rounds"), churn rounds $(cat "$T/churn.rounds"), exerciser $(cat "$T/exerciser.out"); zero errors, zero crashes"
