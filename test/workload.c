// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * workload: what an application on a restartable mount sees.
 *
 *   workload DIR STOPFILE [THREADS]
 *
 * Each thread loops over stat(DIR/data), a verified read of DIR/hello and a
 * verified 64 KiB read at a random offset of DIR/data (testfs content),
 * until STOPFILE exists.  Prints operations, errors (each one named) and the
 * longest time one operation took, which is what an application notices of
 * a server restart.  Exit 0 only with zero errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DATA_SIZE (1 << 20)
#define CHUNK 65536

static const char *dir, *stopfile;
static long total_ops, total_errors;
static double worst_ms;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int one_round(unsigned int *seed, char *buf, char *what, size_t wlen)
{
	char path[4096];
	struct stat st;
	off_t off;
	int fd, i;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/data", dir);
	if (stat(path, &st) < 0 || st.st_size != DATA_SIZE) {
		snprintf(what, wlen, "stat data: %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/hello", dir);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, 64);
	if (fd >= 0)
		close(fd);
	if (n != 13 || memcmp(buf, "Hello World!\n", 13) != 0) {
		snprintf(what, wlen, "read hello: %zd %s", n, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/data", dir);
	off = (rand_r(seed) % (DATA_SIZE / CHUNK)) * CHUNK;
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : pread(fd, buf, CHUNK, off);
	if (fd >= 0)
		close(fd);
	if (n != CHUNK) {
		snprintf(what, wlen, "read data: %zd %s", n, strerror(errno));
		return -1;
	}
	for (i = 0; i < CHUNK; i++) {
		long k = off + i;

		if ((unsigned char)buf[i] != ((k * 7 + k / 4096) & 0xff)) {
			snprintf(what, wlen, "data corrupt at %ld", k);
			return -1;
		}
	}
	return 0;
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned int)(long)arg;
	char *buf = malloc(CHUNK);
	long ops = 0, errors = 0;
	double worst = 0;

	while (access(stopfile, F_OK) != 0) {
		char what[256];
		double t = now_ms(), d;

		if (one_round(&seed, buf, what, sizeof(what)) < 0) {
			errors++;
			fprintf(stderr, "workload: %s\n", what);
			if (errors > 20)
				break;
		}
		d = now_ms() - t;
		if (d > worst)
			worst = d;
		ops++;
	}
	pthread_mutex_lock(&lock);
	total_ops += ops;
	total_errors += errors;
	if (worst > worst_ms)
		worst_ms = worst;
	pthread_mutex_unlock(&lock);
	free(buf);
	return NULL;
}

int main(int argc, char *argv[])
{
	pthread_t th[64];
	int n = argc > 3 ? atoi(argv[3]) : 2, i;

	if (argc < 3 || n < 1 || n > 64) {
		fprintf(stderr, "usage: workload DIR STOPFILE [THREADS]\n");
		return 2;
	}
	dir = argv[1];
	stopfile = argv[2];
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)(long)(i + 1));
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("workload: %ld rounds, %ld errors, longest round %.1f ms\n",
	       total_ops, total_errors, worst_ms);
	return total_errors ? 1 : 0;
}
