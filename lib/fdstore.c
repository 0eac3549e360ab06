// SPDX-License-Identifier: LGPL-2.1-or-later
/* systemd's fd store as the holder (not yet). */
#include "fuse_recover_i.h"

static bool systemd_usable(void)
{
	return false;
}

const struct fr_holder fr_holder_systemd = {
	.name = "systemd fd store",
	.usable = systemd_usable,
};
