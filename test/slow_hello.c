// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * slow_hello.so: LD_PRELOAD into a server to play one starved of CPU right
 * after it reached its supervisor.  The first connect() to a "*.sock" unix
 * socket path returns only after $SLOW_HELLO_MS milliseconds, i.e. after
 * the supervisor's HELLO deadline; later connects are not delayed.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	static int done;
	const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
	const char *ms = getenv("SLOW_HELLO_MS");
	size_t n;
	int ret;

	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))
			dlsym(RTLD_NEXT, "connect");
	ret = real(fd, sa, len);
	if (ret || done || !ms || sa->sa_family != AF_UNIX)
		return ret;
	n = strnlen(un->sun_path, sizeof(un->sun_path));
	if (n < 5 || strcmp(un->sun_path + n - 5, ".sock") != 0)
		return ret;
	done = 1;
	{
		long v = atol(ms);
		struct timespec ts = { .tv_sec = v / 1000,
				       .tv_nsec = (v % 1000) * 1000000 };

		while (nanosleep(&ts, &ts))
			;
	}
	return ret;
}
