/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the bench/ programs: clocks, CPU time, child processes,
 * mounts, quantiles.
 */
#ifndef BENCH_H_
#define BENCH_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

uint64_t now_ns(void);
/* CPU time of the calling thread so far (ns). */
uint64_t thread_cpu_ns(void);
/* CPU time of all threads of process @p so far (ns; 0 when p <= 0). */
uint64_t server_cpu_ns(pid_t p);
void sleep_ms(long ms);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
					      noreturn));

/* Called by die() before exiting, e.g. to stop servers. */
void on_die(void (*fn)(void));

/* fork + execv, stdout and stderr on @errfd (-1: unchanged). */
pid_t spawn(char *const argv[], int errfd);
/* Wait at most @ms for our child @pid to end, and reap it. */
bool wait_exit(pid_t pid, int ms);
int pidfd_of(pid_t pid);
/* SIGTERM, then SIGKILL after @ms; reaps. */
void stop_child(pid_t pid, int ms);

/* Is a FUSE filesystem mounted on @dir (absolute, as in /proc/mounts)? */
bool fuse_mounted(const char *dir);
/* Wait at most @ms for it; false if @pid died first or time ran out. */
bool wait_mounted(const char *dir, pid_t pid, int ms);

/* Nearest-rank quantile @q (0..1) of @n values; NAN when n == 0. */
double quantile(const double *v, int n, double q);

#endif /* BENCH_H_ */
