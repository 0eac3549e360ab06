// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live upgrade, the new server's side: standby.  The supervisor offered
 * the connection with STANDBY, not RECOVER: another server still serves
 * it.  We replay and compare INIT and check what the state says while it
 * serves on (a refusal here is all the old server never notices), tell
 * the supervisor we are ready, and wait, for as long as it takes, for GO:
 * the old server has drained (or died: then the kernel resends what it
 * had read).  upgrade.c is the old server's side.
 */
#include "fuse_recover_i.h"
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static int decline(struct fr_session *s, int err, const char *why)
{
	fr_log(LOG_ERR, "upgrade: refused in standby: %s; the old server serves on",
	       why);
	return s->holder->decline(s, err, why);
}

/* What fr_session_start() would refuse, found before anyone drains. */
static const char *mode_mismatch(const struct fr_session *s)
{
	if (s->uses_store && fr_kept_fd(FR_KEEP_STATE, FR_KEY_IDMAP) >= 0)
		return "the old server runs with translated ids and this one opens a state store";
	if (!s->uses_store && fr_kept_fd(FR_KEEP_STATE, FR_KEY_STORE) >= 0)
		return "the old server keeps its ids in a state store and this one does not open it";
	return NULL;
}

/*
 * The socket to whoever offered the connection failed with @err: on the
 * kernel path that is the old server itself; did it die?
 */
static bool offerer_died(struct fr_session *s, int err, bool restart)
{
	return (err == -ECONNRESET || err == -EPIPE) &&
	       s->holder->offerer_died && s->holder->offerer_died(s, restart);
}

/* Its death before GO makes this a restart, as a supervisor would say. */
static int offerer_gone(struct fr_session *s, int err, uint64_t *flags)
{
	if (!offerer_died(s, err, true))
		return err;
	fr_log(LOG_WARNING, "upgrade: the old server died before GO: taking over as a restart (resend)");
	*flags = FRP_GO_RESEND | FRP_GO_ORPHANED;
	return 0;
}

/* Waits, for as long as it takes, for GO or a refusal. */
static int wait_go(struct fr_session *s, uint64_t *flags)
{
	char buf[FRP_MAX_MSG];
	struct frp_msg r;
	int err;

	for (;;) {
		struct pollfd p = { .fd = s->sock, .events = POLLIN };

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		err = frp_recv(s->sock, buf, &r);
		if (err == -EAGAIN || err == -EINTR)
			continue;
		if (err)
			return offerer_gone(s, err, flags);
		frp_close_fds(&r);
		if (r.type == FRP_GO) {
			*flags = r.arg[0];
			if (r.blob_len[0])
				fr_hot_marks_from(r.blob[0], r.blob_len[0]);
			return 0;
		}
		if (r.type == FRP_ACK && r.status < 0) {
			fr_log(LOG_ERR, "upgrade: the supervisor called it off: %.*s",
			       (int)r.blob_len[0], (const char *)r.blob[0]);
			return r.status;
		}
		return -EPROTO;
	}
}

static void *warm_thread(void *arg)
{
	volatile char frame[8192];

	frame[0] = frame[sizeof(frame) - 1] = 0;
	/* Its malloc arena, too, is the next thread's (no new heap). */
	free(malloc(64));
	return arg;
}

/*
 * The server's loop starts its first thread once attach returned, on
 * the takeover's path: a thread started and joined now leaves the C
 * library a stack of the default size in its cache, mapped, its top
 * pages (thread control block, TLS, first frames) faulted in, and a
 * malloc arena, which that thread then gets.  Only a thread of another
 * stack size misses the stack.
 */
static void warm_thread_start(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, warm_thread, NULL) == 0)
		pthread_join(t, NULL);
}

/*
 * The supervisor answered our HELLO with STANDBY (supervised.c): the
 * connection is offered, but another server serves it.
 */
int fr_upgrade_standby(struct fr_session *s, const struct fuse_recover *fr)
{
	struct frp_msg ready = { .type = FRP_STANDBY_READY };
	struct frp_msg resumed = { .type = FRP_RESUMED };
	const char *why;
	uint64_t flags = 0;
	char *mnt = NULL;
	int fd = -1, err = s->holder->take(s, &fd, &mnt);

	if (err)
		return err;
	if (strcmp(mnt, s->mountpoint) != 0) {
		free(mnt);
		close(fd);
		return decline(s, -EXDEV, "mounted on another mount point");
	}
	free(mnt);
	__atomic_store_n(&s->standby, true, __ATOMIC_RELEASE);
	err = fr_adopt_fd(s, fd);
	if (!err)
		err = s->holder->take_kept(s);
	if (!err)
		err = fr_init_replay(s);
	if (err == -EPROTO)
		return decline(s, err, "capabilities differ from the mount's");
	if (err)
		return decline(s, err, strerror(-err));
	/* Its init cannot fail INIT; a filesystem that refuses exits. */
	if (fuse_session_exited(s->se))
		return decline(s, -EPROTO,
			       "the filesystem's init ended the session (it refused what it found)");
	why = mode_mismatch(s);
	if (why)
		return decline(s, -EPROTO, why);
	/*
	 * What a server sets up once it serves costs threads that must get
	 * a CPU, round trips to the supervisor and page faults: the event
	 * socket, the supervisor watch (the holder's standing_by(); on the
	 * kernel path both come after GO) and a faulted-in read buffer are
	 * set up now, off the takeover's path (the pause of an upgrade, the
	 * recovery from a crash).  The first two do nothing before GO: the
	 * supervisor drains only the server it counts as serving, and the
	 * watch leaves a standby to end with its supervisor (rehome.c).
	 */
	if (s->holder->standing_by)
		s->holder->standing_by(s, fr);
	fr_io_prefault(s);
	warm_thread_start();
	fr_log(LOG_INFO, "upgrade: standby: INIT replayed and compared; waiting for %s",
	       fr_hot_standby_wanted() ? "the serving server to die (hot standby)" :
	       "the old server to drain");
	err = frp_send(s->sock, &ready);
	if (err)
		err = offerer_gone(s, err, &flags);
	else
		err = wait_go(s, &flags);
	if (err)
		return err;
	__atomic_store_n(&s->standby, false, __ATOMIC_RELEASE);
	/*
	 * Files the old server kept or dropped while we waited: without
	 * them an unlinked open file would reach only the next restart.
	 * A round trip, but only after such a change.
	 */
	if (flags & FRP_GO_REFETCH) {
		err = fr_kept_refresh(s);
		if (err)
			return decline(s, err,
				       "could not fetch the kept files again");
	}
	err = fr_store_activate();
	fr_hot_mark(FR_HM_STORE);
	if (!err)
		err = fr_session_start(s);
	fr_hot_mark(FR_HM_START);
	if (err)
		return decline(s, err, "could not start serving");
	if ((flags & FRP_GO_RESEND) && s->kernel.resend) {
		err = fr_resend_request(s->main_fd);
		if (err)
			fr_log(LOG_ERR, "FUSE_NOTIFY_RESEND failed: %s",
			       strerror(-err));
	}
	fr_hot_mark(FR_HM_RESEND);
	/* In case it could not be set up before: drainable from now on. */
	fr_upgrade_start(s);
	/*
	 * We serve at once: the supervisor's ACK is read before our next
	 * call on the socket (fr_client_read_owed()), not on the path to
	 * the first reply.
	 */
	pthread_mutex_lock(&s->sock_lock);
	if (flags & FRP_GO_ORPHANED)
		err = 0;	/* nobody left to tell */
	else
		err = s->sock < 0 ? -ENOTCONN : frp_send(s->sock, &resumed);
	if (!err)
		s->acks_owed++;
	pthread_mutex_unlock(&s->sock_lock);
	/*
	 * The old server sent GO once it had drained: killed since, it
	 * left nothing to resend and nobody to tell, and we serve already.
	 */
	if (err && offerer_died(s, err, false)) {
		fr_log(LOG_WARNING, "upgrade: the old server died after GO; serving without telling it");
		err = 0;
	}
	fr_hot_mark(FR_HM_RESUMED);
	if (!err)
		fr_log(LOG_INFO, "upgrade: takeover: pid %d serves tag %s%s",
		       (int)getpid(), s->tag,
		       (flags & FRP_GO_RESEND) ?
		       " (the old server died: resend asked)" : "");
	return err;
}
