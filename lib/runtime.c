// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Runtime directory and per-tag files.  The directory's ownership and mode
 * are what keeps other users away from the socket that hands out /dev/fuse
 * fds; the supervisor's SO_PEERCRED check is the second line.
 */
#include "runtime.h"
#include "fuse_recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

int fuse_recover_tag_valid(const char *tag)
{
	size_t i, n;

	if (!tag)
		return -EINVAL;
	n = strlen(tag);
	if (n == 0)
		return -EINVAL;
	if (n > FUSE_RECOVER_TAG_MAX)
		return -ENAMETOOLONG;
	for (i = 0; i < n; i++) {
		char c = tag[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '-' && c != '_')))
			return -EINVAL;
	}
	return 0;
}

/*
 * @hint: what the user can do about a refusal; NULL checks quietly (a
 * candidate that is passed over).
 */
static int check_private_dir(const char *dir, const char *hint)
{
	const char *what = NULL;
	struct stat st;

	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		what = "is not a directory (or is a symlink)";
	else if (st.st_uid != geteuid())
		what = "belongs to another user";
	else if (st.st_mode & 077)
		what = "is open to other users (mode is not 0700)";
	if (!what)
		return 0;
	if (hint)
		fr_log(LOG_ERR,
		       "runtime directory %s %s: it must be a directory of uid %u with mode 0700; %s",
		       dir, what, (unsigned int)geteuid(), hint);
	return -EPERM;
}

static int make_private_dir(const char *dir, const char *hint)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int err = -errno;

		fr_log(LOG_ERR, "cannot create runtime directory %s: %s; %s",
		       dir, strerror(-err), hint);
		return err;
	}
	return check_private_dir(dir, hint);
}

int fr_runtime_dir(char *dir, size_t size)
{
	const char *env = secure_getenv("FUSE_RECOVER_RUNTIME_DIR");
	const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
	const char *hint;
	uid_t uid = geteuid();
	int n;

	if (env && *env) {
		/*
		 * Relative, it would name another directory for every
		 * working directory: server and supervisor would not meet.
		 */
		if (env[0] != '/') {
			fr_log(LOG_ERR,
			       "FUSE_RECOVER_RUNTIME_DIR=%s is relative; give an absolute path",
			       env);
			return -EINVAL;
		}
		n = snprintf(dir, size, "%s", env);
		hint = "fix it or point FUSE_RECOVER_RUNTIME_DIR elsewhere";
	} else if (uid == 0) {
		n = snprintf(dir, size, "/run/fuse-recover");
		hint = "remove it, or set FUSE_RECOVER_RUNTIME_DIR to a private directory";
	} else if (xdg && *xdg && xdg[0] == '/' &&
		   check_private_dir(xdg, NULL) == 0) {
		n = snprintf(dir, size, "%s/fuse-recover", xdg);
		hint = "remove it, or set FUSE_RECOVER_RUNTIME_DIR to a private directory";
	} else {
		n = snprintf(dir, size, "/tmp/fuse-recover-%u",
			     (unsigned int)uid);
		hint = "remove it (it may have been made by someone else to block you), or set XDG_RUNTIME_DIR or FUSE_RECOVER_RUNTIME_DIR to a private directory";
	}
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return make_private_dir(dir, hint);
}

int fr_tag_path(char *out, const char *dir, const char *tag,
		const char *suffix)
{
	int n = snprintf(out, FR_PATH_MAX, "%s/%s.%s", dir, tag, suffix);

	if (n < 0 || n >= FR_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int fr_lock_tag(const char *dir, const char *tag, int *fdp)
{
	char path[FR_PATH_MAX];
	int err = fr_tag_path(path, dir, tag, "lock");

	if (err)
		return err;
	/*
	 * The previous holder unlinks the file on exit; a lock taken on the
	 * unlinked inode would not exclude the next opener, so retry until
	 * the locked file is the one at the path.
	 */
	for (int tries = 0; tries < 100; tries++) {
		struct stat a, b;
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			      0600);

		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			*fdp = fd;
			return 0;
		}
		close(fd);
	}
	return -EAGAIN;
}

void fr_remove_tag_files(const char *dir, const char *tag)
{
	char path[FR_PATH_MAX];

	if (fr_tag_path(path, dir, tag, "sock") == 0)
		unlink(path);
	if (fr_tag_path(path, dir, tag, "lock") == 0)
		unlink(path);
}

/* A decimal number ending at @stop (no sign, no space: strtoull takes both). */
static bool parse_decimal(const char *s, char stop, const char **end,
			  unsigned long long *v)
{
	char *e;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &e, 10);
	if (errno || *e != stop)
		return false;
	*end = e;
	return true;
}

int fr_kept_file_path(char *out, const char *dir, const char *tag,
		      unsigned int kind, uint64_t key)
{
	char name[FR_PATH_MAX];

	snprintf(name, sizeof(name), "keep-%u-%llu", kind,
		 (unsigned long long)key);
	return fr_tag_path(out, dir, tag, name);
}

int fr_kept_files_each(const char *dir, const char *tag,
		       int (*fn)(int dirfd, const char *name,
				 unsigned int kind, uint64_t key, void *arg),
		       void *arg)
{
	size_t tlen = strlen(tag);
	struct dirent *e;
	int err = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while (!err && (e = readdir(d))) {
		const char *p = e->d_name, *end;
		unsigned long long kind, key;

		if (strncmp(p, tag, tlen) != 0 ||
		    strncmp(p + tlen, ".keep-", 6) != 0)
			continue;
		p += tlen + 6;
		if (!parse_decimal(p, '-', &end, &kind) || kind > UINT32_MAX ||
		    !parse_decimal(end + 1, '\0', &end, &key))
			continue;
		err = fn(dirfd(d), e->d_name, (unsigned int)kind, key, arg);
	}
	closedir(d);
	return err;
}
