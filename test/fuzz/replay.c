// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Runs a fuzz target over the files of its corpus, without libFuzzer: the
 * corpus (seeds and every crash input that was fixed) becomes a regression
 * test in the ordinary and sanitizer builds, with gcc too.
 *
 *   replay-NAME DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	unsigned char *buf;
	size_t n;
	long len;
	FILE *f = fopen(path, "rb");

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	buf = malloc(len ? len : 1);
	n = buf ? fread(buf, 1, len, f) : 0;
	fclose(f);
	if (!buf || n != (size_t)len) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char *argv[])
{
	unsigned int files = 0;
	int i, bad = 0;

	for (i = 1; i < argc; i++) {
		struct dirent *e;
		DIR *d = opendir(argv[i]);

		if (!d) {
			perror(argv[i]);
			return 1;
		}
		while ((e = readdir(d))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 e->d_name);
			bad |= run_file(path) < 0;
			files++;
		}
		closedir(d);
	}
	printf("%u inputs\n", files);
	return bad || files == 0;
}
