// SPDX-License-Identifier: GPL-2.0-or-later
/* A statically linked program: fuse-recover-run must refuse it. */
int main(void)
{
	return 0;
}
