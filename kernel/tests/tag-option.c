// SPDX-License-Identifier: GPL-2.0
/*
 * tag-option: "tag=" labels a connection and shows up in /proc/mounts; the
 * label is not unique (connections are named by an fd of their mount, so
 * a second mount with the same tag is fine: v2 refused it with EEXIST),
 * and malformed tags (a '/', bytes >= 0x80, more than 64 bytes) are
 * refused with EINVAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "ftest.h"

#define MNT1 "/mnt/tag1"
#define MNT2 "/mnt/tag2"
#define TAG "tag-test.1"

static int mounts_contain(const char *needle)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

int main(void)
{
	char longtag[FUSE_TAG_MAX + 2];
	int fd1, fd2, bad = 0;

	ft_name = "tag-option";
	ft_deadline(30);
	if (ft_mkdir(MNT1) || ft_mkdir(MNT2))
		return FT_FAIL;

	fd1 = ft_mount(MNT1, TAG, 0, NULL);
	if (fd1 < 0) {
		ft_log("mount with tag: %s", strerror(-fd1));
		return FT_FAIL;
	}
	if (!mounts_contain(",tag=" TAG)) {
		ft_log("tag not shown in /proc/mounts");
		bad = 1;
	}

	fd2 = ft_mount(MNT2, TAG, 0, NULL);
	if (fd2 < 0) {
		ft_log("second mount with the same tag: %s, wanted success",
		       strerror(-fd2));
		bad = 1;
	} else {
		umount2(MNT2, MNT_DETACH);
		close(fd2);
	}

	fd2 = ft_mount(MNT2, "bad/tag", 0, NULL);
	if (fd2 != -EINVAL) {
		ft_log("bad tag: got %d, wanted EINVAL", fd2);
		bad = 1;
	}
	if (fd2 >= 0) {
		umount2(MNT2, MNT_DETACH);
		close(fd2);
	}

	/*
	 * Only ASCII: 0xe9 is a letter (e acute) to the kernel's Latin-1
	 * isalnum(), so a check built on it alone accepts this tag.
	 */
	fd2 = ft_mount(MNT2, "caf\xe9", 0, NULL);
	if (fd2 != -EINVAL) {
		ft_log("tag with byte 0xe9: got %d, wanted EINVAL", fd2);
		bad = 1;
	}
	if (fd2 >= 0) {
		umount2(MNT2, MNT_DETACH);
		close(fd2);
	}
	/* the same letter in UTF-8 */
	fd2 = ft_mount(MNT2, "caf\xc3\xa9", 0, NULL);
	if (fd2 != -EINVAL) {
		ft_log("tag with UTF-8 bytes: got %d, wanted EINVAL", fd2);
		bad = 1;
	}
	if (fd2 >= 0) {
		umount2(MNT2, MNT_DETACH);
		close(fd2);
	}

	memset(longtag, 'a', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = '\0';
	fd2 = ft_mount(MNT2, longtag, 0, NULL);
	if (fd2 != -EINVAL) {
		ft_log("65-char tag: got %d, wanted EINVAL", fd2);
		bad = 1;
	}

	/* a 64-char tag is fine */
	longtag[FUSE_TAG_MAX] = '\0';
	fd2 = ft_mount(MNT2, longtag, 0, NULL);
	if (fd2 < 0) {
		ft_log("64-char tag: %s", strerror(-fd2));
		bad = 1;
	} else {
		umount2(MNT2, MNT_DETACH);
		close(fd2);
	}

	/* once the first connection is gone its tag is free again */
	umount2(MNT1, MNT_DETACH);
	close(fd1);
	fd2 = ft_mount(MNT2, TAG, 0, NULL);
	if (fd2 < 0) {
		ft_log("reusing a released tag: %s", strerror(-fd2));
		bad = 1;
	} else {
		umount2(MNT2, MNT_DETACH);
		close(fd2);
	}
	return bad ? FT_FAIL : FT_PASS;
}
