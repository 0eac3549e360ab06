// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * statemem: memory the state store spends per tracked node, and what
 * opening a full store costs.
 *
 *   statemem [--nodes N] [--handles N]
 *
 * The store is laid out in a memfd of our own (fuse_recover_store_open_fd(),
 * the same code the supervisor-held store runs), filled with N nodes whose
 * identities are random, plus N / 100 open handles.  Memory is what the
 * memfd really holds (st_blocks, i.e. pages touched), before and after.
 * Then the store is opened again as a restarted server would, and timed.
 * Identity sizes: 32 bytes (bench/benchfs, about a file handle) and 144
 * (example/passthrough_hp's struct pt_ident).
 */
#define FUSE_USE_VERSION 312
#include <fuse_recover.h>

#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static long long memfd_bytes(int fd)
{
	struct stat s;

	if (fstat(fd, &s) < 0)
		die("fstat: %s", strerror(errno));
	return (long long)s.st_blocks * 512;
}

static void one(unsigned long nodes, unsigned long handles,
		uint32_t data_size, uint64_t max_nodes)
{
	struct fuse_recover_store_config cfg = {
		.server_version = 1,
		.node_data_size = data_size,
		.max_nodes = max_nodes,
	};
	unsigned char data[FUSE_RECOVER_NODE_DATA_MAX] = { 0 };
	struct fuse_recover_store *st;
	long long empty, full;
	uint64_t t0, t_fill, t_open, fh;
	fuse_ino_t ino = 0;
	unsigned long i;
	int fd, err;

	fd = memfd_create("statemem", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create: %s", strerror(errno));
	err = fuse_recover_store_open_fd(fd, &cfg, &st);
	if (err < 0)
		die("store_open_fd: %s", strerror(-err));
	err = fuse_recover_store_root(st, data);
	if (err)
		die("store_root: %s", strerror(-err));
	empty = memfd_bytes(fd);
	t0 = now_ns();
	for (i = 0; i < nodes; i++) {
		uint64_t key = mix(i + 1);

		memcpy(data, &key, sizeof(key));
		memcpy(data + data_size - sizeof(i), &i, sizeof(i));
		err = fuse_recover_node_ref(st, key, data, &ino, NULL);
		if (err)
			die("node_ref %lu: %s", i, strerror(-err));
		if (i < handles) {
			err = fuse_recover_fh_new(st, ino, 0, &fh);
			if (err < 0)
				die("fh_new: %s", strerror(-err));
		}
	}
	t_fill = now_ns() - t0;
	full = memfd_bytes(fd);
	fuse_recover_store_close(st);

	/* What a restarted server does with it: map, check, take journal. */
	t0 = now_ns();
	err = fuse_recover_store_open_fd(fd, &cfg, &st);
	t_open = now_ns() - t0;
	if (err != FUSE_RECOVER_RECOVERED)
		die("reopen: %d", err);
	err = fuse_recover_node_counts(st, ino, NULL, NULL);
	if (err)
		die("last node lost after reopen: %s", strerror(-err));
	fuse_recover_store_close(st);
	close(fd);

	printf("| %lu | %lu | %u B | %s | %.1f MiB | %.1f B | %.1f B | %.0f ns | %.3f ms |\n",
	       nodes, handles, data_size,
	       max_nodes ? "nodes + 1" : "default (4M)",
	       (full - empty) / 1048576.0,
	       (double)(full - empty) / nodes,
	       (double)(full - empty) / nodes - data_size -
		       (double)handles * 32 / nodes,
	       (double)t_fill / nodes, t_open / 1e6);
}

int main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ 0 }
	};
	unsigned long nodes = 1000000;
	int opt;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		if (opt != 'n') {
			fprintf(stderr, "usage: statemem [--nodes N]\n");
			return 2;
		}
		nodes = strtoul(optarg, NULL, 0);
	}
	if (nodes < 100)
		die("--nodes must be at least 100");
	printf("| nodes | open handles | identity | table capacity | memory used | per node | per node minus identity and handles | node_ref | reopen (restart) |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	one(nodes, nodes / 100, 32, 0);
	one(nodes, nodes / 100, 144, 0);
	one(nodes, nodes / 100, 32, nodes + 1);
	one(nodes, nodes / 100, 144, nodes + 1);
	printf("\nHandles cost 32 B each (struct st_handle); they are subtracted in the \"minus\" column.\n");
	return 0;
}
