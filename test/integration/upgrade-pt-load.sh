# SPDX-License-Identifier: LGPL-2.1-or-later
# Live upgrades of passthrough_hp (state store) under a data-verifying
# load: zero application errors, zero resent requests, every upgrade
# confirmed and every old server gone.
# Usage: upgrade-pt-load.sh [UPGRADES] [st|mt|mt-clone]
. "$(dirname "$0")/pt-lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

case ${2:-mt} in
st) loop=(-s) ;;
mt) loop=() ;;
mt-clone) loop=(-o clone_fd) ;;
esac
start_pt "${loop[@]}"
upgrade_under_load "${1:-100}" "$PT_TAG" "${PT[@]}" "${PT_ARGS[@]}" \
	"${loop[@]}" "$SRC" "$MNT"
