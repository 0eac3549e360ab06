// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Recovery with no supervisor, on kernels carrying our patches (kernel/).
 *
 * The connection is mounted with tag=NAME and the server's INIT reply
 * negotiates FUSE_HAS_RECOVERY, so the kernel itself keeps the connection
 * (and the requests the dead server had read) when the last /dev/fuse fd
 * closes.  A restarted server opens /dev/fuse and binds it to the tag with
 * FUSE_DEV_IOC_ATTACH.  What the supervisor would hold lives elsewhere:
 *  - the INIT request and reply: RUNTIME_DIR/TAG.init, written once,
 *    atomically (rename), with a checksum;
 *  - "a live server holds this tag": the server keeps RUNTIME_DIR/TAG.lock
 *    locked for its whole life; the kernel drops the lock when it dies.
 * Root only: mounting with tag= needs mount(2) (fusermount3 would refuse
 * the option), so this file mounts by itself with the options libfuse
 * would have used.
 */
#include "fuse_recover_i.h"
#include "../kernel/fuse_recover_uapi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define INIT_MAGIC "FRINIT01"

struct init_file_hdr {
	char magic[8];
	uint32_t in_len, out_len, mnt_len, pad;
	uint64_t sum;	/* FNV-1a of everything after this header */
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ull;
	return h;
}

bool fr_kattach_supported(void)
{
	struct fuse_attach_in probe = { 0 };
	int fd, err;

	if (geteuid() != 0 || secure_getenv("FUSE_RECOVER_NO_KERNEL"))
		return false;
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	err = ioctl(fd, FUSE_DEV_IOC_ATTACH, &probe) < 0 ? errno : 0;
	close(fd);
	/* Patched: an empty tag is EINVAL.  Unpatched: ENOTTY. */
	return err == EINVAL;
}

/* Bound to the tagged connection, or -ENOENT if there is none. */
static int attach_once(const char *tag, int *fdp)
{
	struct fuse_attach_in in = { 0 };
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	snprintf(in.tag, sizeof(in.tag), "%s", tag);
	if (ioctl(fd, FUSE_DEV_IOC_ATTACH, &in) == 0) {
		*fdp = fd;
		return 0;
	}
	err = -errno;
	close(fd);
	return err;
}

/*
 * The kernel lets only the mounter attach (same euid, CAP_SYS_ADMIN) and
 * only while no /dev/fuse fd of the connection is open (else -EBUSY).  We
 * hold the tag lock, so no live server of ours has the tag; an fd can still
 * be open for a moment while the dead server's files are being closed, so
 * -EBUSY is retried briefly before it is reported.
 */
#define ATTACH_BUSY_TRIES 50
#define ATTACH_BUSY_WAIT_US 20000

static int attach_by_tag(const char *tag, int *fdp)
{
	int i, err = 0;

	for (i = 0; i < ATTACH_BUSY_TRIES; i++) {
		err = attach_once(tag, fdp);
		if (err != -EBUSY)
			break;
		usleep(ATTACH_BUSY_WAIT_US);
	}
	if (err == -EBUSY)
		fr_log(LOG_ERR,
		       "tag %s: a /dev/fuse fd of the connection is still open elsewhere (a live server), not taking it over",
		       tag);
	else if (err == -EPERM)
		fr_log(LOG_ERR,
		       "tag %s: only the mounter (same euid, CAP_SYS_ADMIN) may reattach",
		       tag);
	return err;
}

static int mount_tagged(const struct fuse_recover *fr, const char *mnt,
			int *fdp)
{
	const struct fr_mount_opts *m = &fr->mnt;
	char data[512], type[64], extra[64] = "";
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	/* recover_timeout becomes the kernel's own give-up timer. */
	n = snprintf(extra, sizeof(extra), ",recovery_timeout=%u",
		     fr->timeout_sec);
	if (!fr->timeout_sec)
		extra[0] = n = 0;
	if (m->max_read)
		snprintf(extra + n, sizeof(extra) - n, ",max_read=%u",
			 m->max_read);
	n = snprintf(data, sizeof(data),
		     "fd=%d,rootmode=40000,user_id=0,group_id=0,tag=%s%s%s%s",
		     fd, fr->tag, m->allow_other ? ",allow_other" : "",
		     m->default_permissions ? ",default_permissions" : "",
		     extra);
	snprintf(type, sizeof(type), "fuse%s%s", m->subtype ? "." : "",
		 m->subtype ? m->subtype : "");
	if (n >= (int)sizeof(data) ||
	    mount(m->fsname ? m->fsname : "fuse-recover", mnt, type, m->flags,
		  data) < 0) {
		n = n >= (int)sizeof(data) ? -E2BIG : -errno;
		close(fd);
		fr_log(LOG_ERR, "mounting %s with tag=%s: %s", mnt, fr->tag,
		       strerror(-n));
		return n;
	}
	*fdp = fd;
	return 0;
}

static int init_file_path(char *path, const char *tag)
{
	char dir[FR_PATH_MAX];
	int err = fr_runtime_dir(dir, sizeof(dir));

	return err ? err : fr_tag_path(path, dir, tag, "init");
}

static int save_init(const struct fr_session *s, const char *tag)
{
	char path[FR_PATH_MAX], tmp[FR_PATH_MAX + 8];
	struct init_file_hdr h = { .magic = INIT_MAGIC };
	size_t mlen = strlen(s->mountpoint);
	int fd, err = init_file_path(path, tag);
	ssize_t w = 0;

	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	h.in_len = s->init_in.len;
	h.out_len = s->init_out.len;
	h.mnt_len = mlen;
	h.sum = fnv1a(0xcbf29ce484222325ull, s->init_in.data, h.in_len);
	h.sum = fnv1a(h.sum, s->init_out.data, h.out_len);
	h.sum = fnv1a(h.sum, s->mountpoint, mlen);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	if (write(fd, &h, sizeof(h)) != sizeof(h) ||
	    write(fd, s->init_in.data, h.in_len) != (ssize_t)h.in_len ||
	    write(fd, s->init_out.data, h.out_len) != (ssize_t)h.out_len ||
	    (w = write(fd, s->mountpoint, mlen)) != (ssize_t)mlen)
		err = w < 0 ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int load_init(struct fr_session *s, const char *tag, char **mnt)
{
	char path[FR_PATH_MAX];
	struct init_file_hdr h;
	char *buf = NULL;
	size_t total;
	int fd, err = init_file_path(path, tag);

	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	err = -EBADMSG;
	if (read(fd, &h, sizeof(h)) != sizeof(h) ||
	    memcmp(h.magic, INIT_MAGIC, 8) != 0 || h.in_len > 4096 ||
	    h.out_len > 4096 || h.mnt_len > 4096)
		goto out;
	total = (size_t)h.in_len + h.out_len + h.mnt_len;
	buf = malloc(total + 1);
	if (!buf || read(fd, buf, total) != (ssize_t)total ||
	    fnv1a(0xcbf29ce484222325ull, buf, total) != h.sum)
		goto out;
	buf[total] = 0;
	err = fr_blob_dup(&s->init_in, buf, h.in_len);
	if (!err)
		err = fr_blob_dup(&s->init_out, buf + h.in_len, h.out_len);
	if (!err) {
		*mnt = strdup(buf + h.in_len + h.out_len);
		err = *mnt ? 0 : -ENOMEM;
	}
out:
	if (err == -EBADMSG)
		fr_log(LOG_ERR, "%s is corrupt; not touching the mount", path);
	free(buf);
	close(fd);
	return err;
}

void fr_kattach_forget(const char *tag)
{
	char path[FR_PATH_MAX];

	if (init_file_path(path, tag) == 0)
		unlink(path);
}

/*
 * Unmounting on purpose: tell the kernel no server is coming back, so that
 * if the unmount below fails (busy, or lazy and still in use) or a request
 * is in flight, applications get an error when our fd closes instead of
 * waiting for a server.  Kernels without FUSE_DEV_IOC_EXIT (ENOTTY) just
 * keep waiting, as before.
 */
void fr_kattach_exit(int fd)
{
	if (fd >= 0 && ioctl(fd, FUSE_DEV_IOC_EXIT) != 0 && errno != ENOTTY)
		fr_log(LOG_WARNING, "FUSE_DEV_IOC_EXIT: %s", strerror(errno));
}

static int kattach_fresh(struct fr_session *s, const struct fuse_recover *fr)
{
	char devfd[32];
	int fd = -1, err;

	fr_kept_remove_files(fr->tag); /* from a mount that is gone */
	err = mount_tagged(fr, s->mountpoint, &fd);
	if (err)
		return err;
	snprintf(devfd, sizeof(devfd), "/dev/fd/%d", fd);
	s->main_fd = fd;
	s->init_add_flags = FUSE_HAS_RECOVERY;
	if (fuse_session_mount(s->se, devfd) != 0)
		err = -EIO;
	if (!err)
		err = fr_io_install(s->se, fd);
	if (!err)
		err = fr_init_capture(s);
	if (!err)
		err = fr_probe_init_in(s->init_in.data, s->init_in.len,
				       &s->kernel);
	if (!err && !(s->kernel.flags & FUSE_HAS_RECOVERY)) {
		fr_log(LOG_ERR, "kernel did not offer FUSE_HAS_RECOVERY");
		err = -EOPNOTSUPP;
	}
	if (!err)
		err = save_init(s, fr->tag);
	if (!err)
		err = fr_session_start(s);
	if (err)
		fr_unmount(s->mountpoint);
	return err;
}

static int kattach_recover(struct fr_session *s, const struct fuse_recover *fr,
			   int fd)
{
	char *mnt = NULL;
	int err = load_init(s, fr->tag, &mnt);

	if (!err && strcmp(mnt, s->mountpoint) != 0) {
		fr_log(LOG_ERR, "tag is mounted on %s, not on %s", mnt,
		       s->mountpoint);
		err = -EXDEV;
	}
	free(mnt);
	if (err) {
		close(fd);
		return err;
	}
	s->init_add_flags = FUSE_HAS_RECOVERY;
	/*
	 * The kernel requeued what the dead server had read when its last fd
	 * closed; the resend in fr_replay_and_resend() also covers a server
	 * that died between ATTACH and here.
	 */
	err = fr_adopt_fd(s, fd);
	if (!err)
		err = fr_kept_load_files(s);
	return err ? err : fr_replay_and_resend(s);
}

int fr_kattach(struct fr_session *s, const struct fuse_recover *fr)
{
	char dir[FR_PATH_MAX];
	int fd = -1, err = fr_runtime_dir(dir, sizeof(dir));

	if (!err)
		err = fr_lock_tag(dir, fr->tag, &s->lock_fd);
	if (err == -EWOULDBLOCK) {
		fr_log(LOG_ERR, "tag %s is held by a live server", fr->tag);
		return -EBUSY;
	}
	if (err)
		return err;
	err = attach_by_tag(fr->tag, &fd);
	if (err == -ENOENT)
		return kattach_fresh(s, fr);
	if (err == -EBUSY || err == -EPERM)
		return err;	/* attach_by_tag() said why */
	if (err) {
		fr_log(LOG_ERR, "FUSE_DEV_IOC_ATTACH %s: %s", fr->tag,
		       strerror(-err));
		return err;
	}
	err = kattach_recover(s, fr, fd);
	return err ? err : FUSE_RECOVER_RECOVERED;
}
