# SPDX-License-Identifier: LGPL-2.1-or-later
# Live upgrades of a server under the translation layer (ptrfs: pointer
# node ids, fd-number handles) under a data-verifying load: the id map
# goes to the new server, which resolves the old one's ids on first use.
# Zero application errors, zero resent requests.
# Usage: upgrade-xl-load.sh VARIANT [UPGRADES]
. "$(dirname "$0")/xl-lib.sh"
. "$(dirname "$0")/upgrade-lib.sh"
need_resend

start_x
upgrade_under_load "${1:-100}" "$XL_TAG" "${XL_CMD[@]}"
