# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the upgrade and standby tests that run on either kind of
# server: pt (passthrough_hp, state store: pt-lib.sh) or a translation
# variant of xl-lib.sh (ptrfs-mt, ptrfs-clone, hlfs, ...); then the upgrade
# helpers.  Usage (sourced): upgrade-family.sh FAMILY; sets fam.
fam=${1:-pt}
if [ "$fam" = pt ]; then
	. "$(dirname "$0")/pt-lib.sh"
else
	. "$(dirname "$0")/xl-lib.sh" "$fam"
fi
. "$(dirname "$0")/upgrade-lib.sh"
need_resend
